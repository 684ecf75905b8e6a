"""Web pages of the accounts app (being written)."""

from django.http import Http404


def _todo(request, *args, **kwargs):
    raise Http404("This page is not written yet.")


signup = login_view = logout_view = verify_email = password_change = password_reset = _todo
password_reset_done = password_reset_confirm = password_reset_complete = profile = delete_account = _todo
teams = team_detail = invite_answer = tokens = token_revoke = approvals = users_import = audit = _todo
