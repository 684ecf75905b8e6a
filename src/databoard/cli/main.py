"""The ``databoard`` command.

Commands that manage the installation itself (``init``, ``serve``, ``migrate``, ``createadmin``,
``demo``) work on the data home directly. Everything else speaks only the REST API through
:class:`databoard.client.Client`: to the server at ``DATABOARD_URL`` when it is set, otherwise
in-process to the local installation, acting as the local administrator or ``--as USER``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from databoard.client import ApiError, Client, ClientError

try:  # typer >= 0.25 carries its own copy of click
    from typer._click import exceptions as click_exc
except ImportError:  # pragma: no cover - older typer uses click itself
    from click import exceptions as click_exc

app = typer.Typer(name="databoard", help="databoard: challenges, registry, datastore and labels.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
user_app = typer.Typer(help="Manage users (administrators).", no_args_is_help=True)
team_app = typer.Typer(help="Teams and invites.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(team_app, name="team")
app.add_typer(token_app, name="token")

console = Console()
err_console = Console(stderr=True)


class _State:
    as_user: str | None = None


state = _State()


class CommandError(Exception):
    """A command cannot go on; the message is printed and the exit code is 1."""


@app.callback()
def _global(
    home: Optional[Path] = typer.Option(None, "--home", help="Data home (default: $DATABOARD_HOME or ./.databoard)."),
    as_user: Optional[str] = typer.Option(None, "--as", help="Act as this local user (local installation only)."),
) -> None:
    if home is not None:
        os.environ["DATABOARD_HOME"] = str(home)
        from databoard.config import reset_config_cache

        reset_config_cache()
    state.as_user = as_user


def _client() -> Client:
    return Client.from_env(as_user=state.as_user)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _table(rows: list[dict], columns: list[tuple[str, str]], title: str | None = None) -> None:
    table = Table(title=title, show_lines=False)
    for _, header in columns:
        table.add_column(header)
    for row in rows:
        table.add_row(*["" if row.get(key) is None else str(row.get(key)) for key, _ in columns])
    console.print(table)
    if not rows:
        console.print("[dim](none)[/dim]")


def _list_out(rows: list[dict], columns: list[tuple[str, str]], as_json: bool, title: str | None = None) -> None:
    if as_json:
        _print_json(rows)
    else:
        _table(rows, columns, title)


def _prompt_password(confirm: bool = True) -> str:
    value = os.environ.get("DATABOARD_PASSWORD")
    if value:
        return value
    if not sys.stdin.isatty():
        raise click_exc.UsageError("--password is missing (or set DATABOARD_PASSWORD); "
                               "there is no terminal to prompt on.")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=confirm)


# --------------------------------------------------------------------------- installation


def _migrate(verbosity: int = 1) -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=verbosity)


@app.command()
def init() -> None:
    """Create the data home, a commented config file with a fresh secret key, and the database."""
    from databoard.config import config_path, get_config, reset_config_cache, write_config_file

    path = config_path()
    written = write_config_file(path)
    reset_config_cache()
    config = get_config()
    for folder in (config.home, config.home / "static", config.home / "artifacts"):
        folder.mkdir(parents=True, exist_ok=True)
    from databoard.cli.setup import django_setup

    django_setup()
    _migrate(verbosity=0)
    console.print(f"Data home: [bold]{config.home.resolve()}[/bold]")
    console.print(f"Config:    {path.resolve()} " + ("(written)" if written else "(kept as it was)"))
    console.print(f"Database:  {_redact(config.effective_database_url)} (migrated)")
    console.print("Next: [bold]databoard createadmin[/bold], then [bold]databoard serve[/bold].")


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        if ":" in creds:
            return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
    return url


@app.command()
def migrate() -> None:
    """Apply database migrations."""
    from databoard.cli.setup import django_setup

    django_setup()
    _migrate()


def _check_migrated() -> None:
    from django.db import DatabaseError, connection
    from django.db.migrations.executor import MigrationExecutor

    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        raise CommandError(f"The database cannot be read ({exc}); run `databoard init`.") from exc
    if pending:
        raise CommandError(f"The database has {len(pending)} unapplied migration(s); run `databoard migrate`.")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, max=64, help="Web worker processes."),
) -> None:
    """Serve the web site and the API (uvicorn)."""
    from databoard.cli.setup import django_setup

    django_setup()
    _check_migrated()
    import uvicorn

    console.print(f"databoard on [bold]http://{host}:{port}/[/bold] (Ctrl+C stops)")
    uvicorn.run("databoard.asgi:application", host=host, port=port, workers=workers, log_level="info",
                lifespan="off")


@app.command()
def createadmin(
    username: Optional[str] = typer.Option(None, help="Admin username (prompted when missing)."),
    email: Optional[str] = typer.Option(None, help="Admin email (prompted when missing)."),
    password: Optional[str] = typer.Option(None, help="Password; prefer the prompt or DATABOARD_PASSWORD."),
) -> None:
    """Create an administrator account in the local installation."""
    from databoard.cli.setup import django_setup

    django_setup()
    _check_migrated()
    from databoard.accounts import services

    if username is None:
        username = typer.prompt("Username")
    if email is None:
        email = typer.prompt("Email")
    if password is None:
        password = _prompt_password()
    user = services.user_create(username=username, email=email, password=password, approved=True,
                                is_superuser=True, email_verified=True)
    console.print(f"Administrator [bold]{user.username}[/bold] created.")


# --------------------------------------------------------------------------- users

USER_COLUMNS = [("username", "Username"), ("email", "Email"), ("display_name", "Name"),
                ("affiliation", "Affiliation"), ("approval", "Approval"), ("is_staff", "Staff")]


@user_app.command("add")
def user_add(
    username: str = typer.Argument(..., help="Username."),
    email: str = typer.Option(..., help="Email address."),
    password: Optional[str] = typer.Option(None, help="Password; prompted (or DATABOARD_PASSWORD) when missing."),
    first_name: str = typer.Option("", help="First name."),
    last_name: str = typer.Option("", help="Last name."),
    affiliation: str = typer.Option("", help="Affiliation."),
    approved: bool = typer.Option(False, "--approved", help="Approve the account at once."),
    staff: bool = typer.Option(False, "--staff", help="Make the user an administrator."),
    as_json: bool = typer.Option(False, "--json", help="Print the user as JSON."),
) -> None:
    """Create a user."""
    if password is None:
        password = _prompt_password()
    with _client() as client:
        user = client.users.create(username=username, email=email, password=password, first_name=first_name,
                                   last_name=last_name, affiliation=affiliation, approved=approved,
                                   is_staff=staff)
    if as_json:
        _print_json(user)
    else:
        console.print(f"User [bold]{user['username']}[/bold] created ({user['approval']}).")


@user_app.command("list")
def user_list(
    approval: Optional[str] = typer.Option(None, help="Only users in this state: pending, approved, rejected."),
    search: Optional[str] = typer.Option(None, "--search", "-q", help="Search username, email, names."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List users."""
    if approval is not None and approval not in ("pending", "approved", "rejected"):
        raise typer.BadParameter("use pending, approved or rejected", param_hint="--approval")
    with _client() as client:
        rows = client.users.list(approval=approval, q=search)
    _list_out(rows, USER_COLUMNS, as_json, "Users")


@user_app.command("approve")
def user_approve(usernames: list[str] = typer.Argument(..., help="Users to approve.")) -> None:
    """Approve sign-ups (the users are emailed)."""
    with _client() as client:
        for username in usernames:
            client.users.approve(username)
            console.print(f"Approved [bold]{username}[/bold].")


@user_app.command("reject")
def user_reject(username: str = typer.Argument(...),
                reason: str = typer.Option(..., help="Why; the user is told.")) -> None:
    """Reject a sign-up with a reason."""
    with _client() as client:
        client.users.reject(username, reason=reason)
    console.print(f"Rejected [bold]{username}[/bold].")


@user_app.command("delete")
def user_delete(username: str = typer.Argument(...),
                yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation.")) -> None:
    """Delete (anonymize) an account; its results stay attributed to "deleted user"."""
    if not yes:
        typer.confirm(f"Delete the account '{username}'? Personal data is erased for good.", abort=True)
    with _client() as client:
        client.users.delete(username)
    console.print(f"Deleted [bold]{username}[/bold].")


@user_app.command("import-csv")
def user_import_csv(
    path: Path = typer.Argument(..., help="CSV with username,email[,first_name,last_name,affiliation,team]."),
    send_emails: bool = typer.Option(False, "--send-emails", help="Email passwords instead of printing them."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the result CSV here."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Create users from a CSV file. A bad row rejects the whole file."""
    if not path.is_file():
        raise typer.BadParameter(f"'{path}' is not a file", param_hint="PATH")
    with _client() as client, path.open("rb") as handle:
        try:
            result = client.users.import_csv(handle, filename=path.name, send_emails=send_emails)
        except ApiError as exc:
            for row in exc.details.get("errors", []):
                err_console.print(f"line {row['line']}: {row['message']}")
            raise
    if output is not None:
        output.write_text(result["csv"], encoding="utf-8")
        output.chmod(0o600)
    if as_json:
        _print_json(result)
    elif output is None:
        sys.stdout.write(result["csv"])
    err_console.print(f"Created {result['created']} user(s)" + (f"; result in {output}" if output else "") + ".")


# --------------------------------------------------------------------------- teams

TEAM_COLUMNS = [("slug", "Team"), ("name", "Name"), ("is_personal", "Personal"), ("created_at", "Created")]


@team_app.command("list")
def team_list(all_teams: bool = typer.Option(False, "--all", help="Every team (administrators)."),
              as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Your teams."""
    with _client() as client:
        rows = client.teams.list(all=all_teams)
    _list_out(rows, TEAM_COLUMNS, as_json, "Teams")


@team_app.command("create")
def team_create(name: str = typer.Argument(...)) -> None:
    """Create a team you own."""
    with _client() as client:
        team = client.teams.create(name=name)
    console.print(f"Team [bold]{team['slug']}[/bold] created.")


@team_app.command("show")
def team_show(slug: str = typer.Argument(...), as_json: bool = typer.Option(False, "--json")) -> None:
    """A team and its members."""
    with _client() as client:
        team = client.teams.get(slug)
    if as_json:
        _print_json(team)
        return
    _table(team["members"], [("username", "Member"), ("display_name", "Name"), ("role", "Role"),
                             ("joined_at", "Joined")], title=f"{team['name']} ({team['slug']})")


@team_app.command("invite")
def team_invite(slug: str = typer.Argument(...), who: str = typer.Argument(..., help="Username or email.")) -> None:
    """Invite a user (by username or email) to a team you own."""
    with _client() as client:
        if "@" in who:
            client.teams.invite(slug, email=who)
        else:
            client.teams.invite(slug, username=who)
    console.print(f"Invited [bold]{who}[/bold] to {slug}.")


@team_app.command("invites")
def team_invites(as_json: bool = typer.Option(False, "--json")) -> None:
    """Invites waiting for your answer."""
    with _client() as client:
        rows = client.invites.list()
    _list_out(rows, [("id", "Id"), ("team", "Team"), ("invited_by", "From"), ("created_at", "Sent")], as_json,
              "Invites")


@team_app.command("accept")
def team_accept(invite_id: int = typer.Argument(...)) -> None:
    """Accept an invite."""
    with _client() as client:
        team = client.invites.accept(invite_id)
    console.print(f"You joined [bold]{team['slug']}[/bold].")


@team_app.command("decline")
def team_decline(invite_id: int = typer.Argument(...)) -> None:
    """Decline an invite."""
    with _client() as client:
        client.invites.decline(invite_id)
    console.print("Invite declined.")


@team_app.command("leave")
def team_leave(slug: str = typer.Argument(...), yes: bool = typer.Option(False, "--yes")) -> None:
    """Leave a team."""
    if not yes:
        typer.confirm(f"Leave the team '{slug}'?", abort=True)
    with _client() as client:
        client.teams.leave(slug)
    console.print(f"You left {slug}.")


@team_app.command("remove")
def team_remove(slug: str = typer.Argument(...), username: str = typer.Argument(...),
                yes: bool = typer.Option(False, "--yes")) -> None:
    """Remove a member from a team you own."""
    if not yes:
        typer.confirm(f"Remove '{username}' from '{slug}'?", abort=True)
    with _client() as client:
        client.teams.remove_member(slug, username=username)
    console.print(f"Removed {username} from {slug}.")


# --------------------------------------------------------------------------- tokens

TOKEN_COLUMNS = [("id", "Id"), ("name", "Name"), ("prefix", "Prefix"), ("scope", "Scope"), ("user", "User"),
                 ("created_at", "Created"), ("last_used_at", "Last used"), ("expires_at", "Expires"),
                 ("active", "Active")]


@token_app.command("create")
def token_create(
    user: Optional[str] = typer.Option(None, help="Create it for this user (administrators); default: yourself."),
    scope: str = typer.Option("write", help="read, write or admin."),
    name: str = typer.Option("", help="A name to recognise it by."),
    expires_in_days: Optional[int] = typer.Option(None, min=1, max=3650, help="Expire after this many days."),
    as_json: bool = typer.Option(False, "--json", help="Print an object with a 'token' field."),
) -> None:
    """Create an API token and print it (it is shown only once)."""
    if scope not in ("read", "write", "admin"):
        raise typer.BadParameter("use read, write or admin", param_hint="--scope")
    with _client() as client:
        token = client.tokens.create(name=name, scope=scope, user=user, expires_in_days=expires_in_days)
    if as_json:
        _print_json(token)
    else:
        sys.stdout.write(token["token"] + "\n")
        err_console.print(f"Token #{token['id']} for {token['user']} ({token['scope']}). "
                          "Keep it now: it will not be shown again.")


@token_app.command("list")
def token_list(user: Optional[str] = typer.Option(None, help="Another user's tokens (administrators)."),
               as_json: bool = typer.Option(False, "--json")) -> None:
    """List API tokens (never the tokens themselves)."""
    with _client() as client:
        rows = client.tokens.list(user=user)
    _list_out(rows, TOKEN_COLUMNS, as_json, "API tokens")


@token_app.command("revoke")
def token_revoke(token_id: int = typer.Argument(..., help="The token's id (see `token list`).")) -> None:
    """Revoke an API token at once."""
    with _client() as client:
        token = client.tokens.revoke(token_id)
    console.print(f"Token #{token['id']} ({token['prefix']}…) revoked.")


# --------------------------------------------------------------------------- audit


@app.command()
def audit(
    action: Optional[str] = typer.Option(None, help="Actions starting with this, e.g. login or token.create."),
    actor: Optional[str] = typer.Option(None, help="Only this user's actions."),
    limit: int = typer.Option(50, min=1, max=100_000, help="At most this many events."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Show the audit log, newest first (administrators)."""
    with _client() as client:
        rows = client.audit.list(action=action, actor=actor, limit=limit)
    _list_out(rows, [("created_at", "When"), ("actor", "Actor"), ("action", "Action"), ("target_repr", "Target"),
                     ("ip", "IP")], as_json, "Audit log")


@app.command()
def whoami(as_json: bool = typer.Option(False, "--json")) -> None:
    """Who this command acts as, and where."""
    with _client() as client:
        me = client.me()
        where = "local installation" if client.is_local else client.base_url
    if as_json:
        _print_json({**me, "server": where})
    else:
        console.print(f"{me['username']} ({me['display_name']}) on {where}")


from databoard.cli import demo as _demo  # noqa: E402  (registers the demo command)

_demo.register(app)


from databoard.cli import challenges as _challenges  # noqa: E402,F401  (registers its commands on `app`)


def main(argv: list[str] | None = None) -> None:
    """Entry point: one-line errors; exit 2 for usage errors, 1 for failures."""
    try:
        code = app(args=argv, prog_name="databoard", standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("Aborted.")
        sys.exit(1)
    except click_exc.NoArgsIsHelpError as exc:
        sys.stdout.write(exc.format_message() + "\n")
        sys.exit(2)
    except click_exc.UsageError as exc:
        path = exc.ctx.command_path.split(" ", 1) if exc.ctx else []
        hint = f"databoard {path[1]} --help" if len(path) > 1 else "databoard --help"
        sys.stderr.write(f"databoard: error: {exc.format_message()} (see '{hint}')\n")
        sys.exit(2)
    except click_exc.ClickException as exc:
        sys.stderr.write(f"databoard: error: {exc.format_message()}\n")
        sys.exit(exc.exit_code)
    except (ClientError, CommandError) as exc:
        sys.stderr.write(f"databoard: error: {exc}\n")
        sys.exit(1)
    except Exception as exc:  # domain errors of the commands that work on the data home directly
        from databoard.config import ConfigError
        from databoard.errors import DataboardError

        if isinstance(exc, (DataboardError, ConfigError)):
            sys.stderr.write(f"databoard: error: {exc}\n")
            sys.exit(1)
        raise
    sys.exit(code if isinstance(code, int) else 0)
