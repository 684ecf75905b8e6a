"""Web forms of the challenges. They check shapes only (types, lengths, formats); the services apply the rules."""

from __future__ import annotations

from django import forms
from django.core.validators import RegexValidator

from databoard.challenges.models import Event
from databoard.challenges.services import PRIORITY_RANGE

SLUG_HELP = "1–100 lower-case letters, digits, '-' or '_', starting with a letter or digit."
SUBMISSION_NAME_HELP = "1–40 letters, digits, '-' or '_'."
GIT_PREFIXES = ("https://", "http://", "git://", "ssh://", "git@")
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".zip", ".tar", ".tar.bz2", ".tar.xz")
DATE_HELP = "Server time ({tz}). Empty: {empty}."

slug_validator = RegexValidator(r"^[a-z0-9][a-z0-9_-]{0,99}\Z", f"Use {SLUG_HELP}")
submission_name_validator = RegexValidator(r"^[A-Za-z0-9_-]{1,40}\Z", f"A submission name is {SUBMISSION_NAME_HELP}")
queue_validator = RegexValidator(r"^[A-Za-z0-9_-]{1,50}\Z", "A queue name is 1–50 letters, digits, '-' or '_'.")


def archive_suffix(name: str) -> str | None:
    """The archive suffix of an uploaded file's name (``.zip``, ``.tar.gz``…), or None."""
    lowered = (name or "").lower()
    return next((s for s in ARCHIVE_SUFFIXES if lowered.endswith(s)), None)


def _archive_field(label: str, help_text: str) -> forms.FileField:
    return forms.FileField(label=label, required=False, help_text=help_text, widget=forms.ClearableFileInput(
        attrs={"accept": ".zip,.tar.gz,.tgz,.tar,.tar.bz2,.tar.xz"}))


class ProblemImportForm(forms.Form):
    name = forms.CharField(max_length=100, validators=[slug_validator],
                           help_text=f"The problem's id in URLs: {SLUG_HELP}")
    title = forms.CharField(max_length=200, required=False, help_text="Empty: the kit's own problem_title.")
    kit = _archive_field("Kit archive", "A .zip or .tar.gz of the RAMP kit (problem.py, submissions/, data/…).")
    git_url = forms.CharField(label="…or a git URL", max_length=500, required=False,
                              help_text="A repository holding the kit: https://…, ssh://… or git@….")
    data = _archive_field("Private data archive", "Optional: a .zip or .tar.gz with the private data/ folder, when "
                                                  "the kit's own data are the public ones.")

    def clean_kit(self):
        kit = self.cleaned_data.get("kit")
        if kit and archive_suffix(kit.name) is None:
            raise forms.ValidationError(f"'{kit.name[:100]}' is not a .zip or .tar.gz archive.")
        return kit

    def clean_data(self):
        data = self.cleaned_data.get("data")
        if data and archive_suffix(data.name) is None:
            raise forms.ValidationError(f"'{data.name[:100]}' is not a .zip or .tar.gz archive.")
        return data

    def clean_git_url(self):
        url = self.cleaned_data.get("git_url", "").strip()
        if url and (not url.startswith(GIT_PREFIXES) or any(c.isspace() for c in url)):
            raise forms.ValidationError("Give a git URL (https://…, ssh://…, git@…).")
        return url

    def clean(self):
        data = super().clean()
        if not self.errors:
            if bool(data.get("kit")) == bool(data.get("git_url")):
                raise forms.ValidationError("Upload a kit archive or give a git URL (one of the two).")
            if data.get("git_url") and data.get("data"):
                self.add_error("data", "A private data archive goes with an uploaded kit, not a git URL.")
        return data


class _DateTimeField(forms.DateTimeField):
    """A ``datetime-local`` input, read in the server's time zone."""

    def __init__(self, *, label: str, empty: str):
        from django.utils import timezone

        super().__init__(label=label, required=False, help_text=DATE_HELP.format(
            tz=timezone.get_current_timezone_name(), empty=empty), widget=forms.DateTimeInput(
            attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))


class EventForm(forms.Form):
    """Every option of ``services.EVENT_OPTIONS``; ``problem`` and ``slug`` only when the event is new."""

    problem = forms.ChoiceField(choices=[])
    slug = forms.CharField(label="Name", max_length=100, validators=[slug_validator],
                           help_text=f"The event's id in URLs: {SLUG_HELP}")
    title = forms.CharField(max_length=200, required=False, help_text="Empty: the problem's title.")
    description = forms.CharField(max_length=100_000, required=False, widget=forms.Textarea(attrs={"rows": 8}),
                                  help_text="Markdown.")
    is_public = forms.BooleanField(required=False, initial=True, label="Public: listed and visible to anyone")
    approval_required = forms.BooleanField(required=False, label="Sign-ups wait for an event admin's approval")
    signup_opens_at = _DateTimeField(label="Sign-up opens", empty="sign-up is open now")
    opens_at = _DateTimeField(label="Submissions open", empty="open now")
    closes_at = _DateTimeField(label="Closes", empty="never closes")
    public_opens_at = _DateTimeField(label="Code public from", empty="code stays private")
    max_submissions_per_day = forms.IntegerField(label="Submissions a day, per team", min_value=1, max_value=100_000,
                                                 required=False, help_text="Empty: no limit.")
    max_submissions_total = forms.IntegerField(label="Submissions in all, per team", min_value=1,
                                               max_value=1_000_000, required=False, help_text="Empty: no limit.")
    min_minutes_between = forms.IntegerField(label="Minutes between submissions", min_value=0, max_value=10_080,
                                             initial=0)
    max_train_seconds = forms.IntegerField(label="Training time limit (s)", min_value=1, max_value=604_800,
                                           initial=600)
    max_memory_mb = forms.IntegerField(label="Memory limit (MB)", min_value=64, max_value=1_048_576, initial=4096)
    show_private_after_close = forms.BooleanField(required=False, initial=True,
                                                  label="Show the private leaderboard to everyone after close")
    queue = forms.CharField(max_length=50, initial="default", validators=[queue_validator],
                            help_text="The workers' queue that trains this event's submissions.")

    NEW_ONLY = ("problem", "slug")

    def clean_description(self):
        return self.cleaned_data["description"].replace("\r\n", "\n")

    def __init__(self, *args, problems=None, event: Event | None = None, **kwargs):
        if event is not None and "initial" not in kwargs:
            kwargs["initial"] = {name: getattr(event, name) for name in self.option_names()}
        super().__init__(*args, **kwargs)
        if event is not None:
            for name in self.NEW_ONLY:
                del self.fields[name]
            self.fields["title"].required = True
            self.fields["title"].help_text = ""
        else:
            self.fields["problem"].choices = [("", "—")] + [(p.name, f"{p.title} ({p.name})") for p in problems or []]

    @classmethod
    def option_names(cls) -> list[str]:
        return [name for name in cls.base_fields if name not in cls.NEW_ONLY]

    def options(self) -> dict:
        """The cleaned event options (``title`` left out when empty, so the service's default applies)."""
        options = {name: self.cleaned_data[name] for name in self.option_names()}
        if not options["title"]:
            options.pop("title")
        return options


class SignupForm(forms.Form):
    team = forms.ChoiceField(choices=[], help_text="The team you take part with; its members share submissions.")

    def __init__(self, *args, teams=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = [(t.slug, f"{t.name} (just you)" if t.is_personal else t.name) for t in teams]


class SandboxForm(forms.Form):
    """The sandbox: one code field and one upload per workflow element, a name, and the button pressed.

    Field names are ``code_<n>`` / ``file_<n>`` with ``n`` the element's position (element names are
    the kit's, not ours to put in HTML names).
    """

    action = forms.ChoiceField(choices=[("save", "Save draft"), ("submit", "Submit")], widget=forms.HiddenInput)
    name = forms.CharField(max_length=40, required=False, validators=[submission_name_validator],
                           help_text=SUBMISSION_NAME_HELP, widget=forms.TextInput(attrs={
                               "autocomplete": "off", "pattern": "[A-Za-z0-9_\\-]{1,40}", "maxlength": "40"}))

    def __init__(self, *args, filenames: list[str], max_bytes: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.filenames = filenames
        self.max_bytes = max_bytes
        for i, filename in enumerate(filenames):
            self.fields[f"code_{i}"] = forms.CharField(label=filename, required=False, strip=False,
                                                       max_length=max_bytes, widget=forms.Textarea(attrs={
                                                           "data-editor": "python", "rows": 18,
                                                           "spellcheck": "false", "class": "code"}))
            self.fields[f"file_{i}"] = forms.FileField(label=f"…or upload {filename}", required=False)

    def clean(self):
        data = super().clean()
        if data.get("action") == "submit" and not data.get("name") and "name" not in self.errors:
            self.add_error("name", "Give the submission a name.")
        for i, filename in enumerate(self.filenames):
            upload = data.get(f"file_{i}")
            if upload is not None and upload.size is not None and upload.size > self.max_bytes:
                self.add_error(f"file_{i}", f"File '{filename}' is {upload.size // 1024} KB; the limit is "
                                            f"{self.max_bytes // 1024} KB.")
        return data

    def element_fields(self):
        """(filename, code field, upload field) of each element, for the template."""
        return [(f, self[f"code_{i}"], self[f"file_{i}"]) for i, f in enumerate(self.filenames)]

    def files_by_name(self) -> dict[str, str | bytes]:
        """Each element's content: the uploaded file when one was sent (its own name is ignored: it is
        stored under the element's name), else the editor's text."""
        files: dict[str, str | bytes] = {}
        for i, filename in enumerate(self.filenames):
            upload = self.cleaned_data.get(f"file_{i}")
            files[filename] = upload.read(self.max_bytes + 1) if upload else self.cleaned_data.get(f"code_{i}", "")
        return files


class RejectForm(forms.Form):
    reason = forms.CharField(max_length=2000,
                             widget=forms.TextInput(attrs={"placeholder": "Reason (the user sees it)"}))


class ParticipantForm(forms.Form):
    username = forms.CharField(max_length=150, widget=forms.TextInput(attrs={"autocomplete": "off"}))


class PriorityForm(forms.Form):
    """An event admin's priority for a submission (the service's range; higher is trained first)."""

    priority = forms.IntegerField(min_value=PRIORITY_RANGE[0], max_value=PRIORITY_RANGE[1],
                                  help_text=f"{PRIORITY_RANGE[0]} to {PRIORITY_RANGE[1]}; higher is trained first.",
                                  widget=forms.NumberInput(attrs={"step": "1"}))
