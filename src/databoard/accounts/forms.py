"""Web forms of the accounts app. They check shapes only; the services apply the rules."""

from __future__ import annotations

from django import forms
from django.contrib.auth import forms as auth_forms

from databoard.accounts import services
from databoard.accounts.models import ApiToken, User
from databoard.web.request import client_ip


PASSWORD_HELP = "At least 8 characters, not only digits, not a common password."


def _password(label: str, autocomplete: str, **kwargs) -> forms.CharField:
    return forms.CharField(label=label, max_length=4096, widget=forms.PasswordInput(
        attrs={"autocomplete": autocomplete}), **kwargs)


def _text(autocomplete: str, **kwargs) -> forms.CharField:
    return forms.CharField(widget=forms.TextInput(attrs={"autocomplete": autocomplete}), **kwargs)


class SignupForm(forms.Form):
    username = _text("username", max_length=150, help_text="Letters, digits, '.', '_' or '-'.")
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    first_name = _text("given-name", max_length=150, required=False)
    last_name = _text("family-name", max_length=150, required=False)
    affiliation = _text("organization", max_length=200, required=False, help_text="School, lab or company.")
    password1 = _password("Password", "new-password", help_text=PASSWORD_HELP)
    password2 = _password("Password again", "new-password")

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password2") and data["password1"] != data["password2"]:
            self.add_error("password2", "The two passwords differ.")
        return data


class LoginForm(forms.Form):
    username = _text("username", label="Username or email", max_length=254)
    password = _password("Password", "current-password")


class ProfileForm(forms.Form):
    first_name = _text("given-name", max_length=150, required=False)
    last_name = _text("family-name", max_length=150, required=False)
    affiliation = _text("organization", max_length=200, required=False, help_text="School, lab or company.")
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))


class PasswordChangeForm(forms.Form):
    old_password = _password("Current password", "current-password")
    new_password1 = _password("New password", "new-password", help_text=PASSWORD_HELP)
    new_password2 = _password("New password again", "new-password")

    def clean(self):
        data = super().clean()
        if data.get("new_password1") and data.get("new_password2") and data["new_password1"] != data["new_password2"]:
            self.add_error("new_password2", "The two passwords differ.")
        return data


class PasswordResetRequestForm(auth_forms.PasswordResetForm):
    """Django's reset form, but the service finds the account, emails the link and audits it."""

    def save(self, *, request=None, **ignored):
        services.password_reset_request(email=self.cleaned_data["email"],
                                        ip=client_ip(request) if request is not None else None)


class ResetPasswordForm(auth_forms.SetPasswordForm):
    """The new password from a reset link, set (and audited) by the service."""

    def save(self, commit=True):
        return services.user_set_password(user=self.user, password=self.cleaned_data["new_password1"])


class ConfirmPasswordForm(forms.Form):
    password = _password("Your password", "current-password",
                         help_text="To be sure it is you: nobody else can delete this account from here.")


class TeamCreateForm(forms.Form):
    name = forms.CharField(max_length=100, label="Team name")


class InviteForm(forms.Form):
    who = forms.CharField(max_length=254, label="Username or email", help_text="e.g. kim or kim@example.org")


class TokenCreateForm(forms.Form):
    name = forms.CharField(max_length=100, required=False, help_text="To recognise it later, e.g. 'laptop'.")
    scope = forms.ChoiceField(choices=[])
    expires_in_days = forms.IntegerField(min_value=1, max_value=3650, required=False,
                                         label="Expires after (days)", help_text="Empty: never expires.")

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(ApiToken.Scope.READ, "read — look only"), (ApiToken.Scope.WRITE, "write — everything you may do")]
        if user.is_staff:
            choices.append((ApiToken.Scope.ADMIN, "admin — administrator actions"))
        self.fields["scope"].choices = choices
        self.fields["scope"].initial = ApiToken.Scope.WRITE


class RejectForm(forms.Form):
    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
                             help_text="The user is told this reason.")


class CsvImportForm(forms.Form):
    file = forms.FileField(label="CSV file", widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
                           help_text="UTF-8, at most 5 MB; the format is described beside this form.")
    send_emails = forms.BooleanField(required=False, label="Email each user their password instead of showing it here")


class AuditFilterForm(forms.Form):
    action = forms.CharField(max_length=64, required=False, widget=forms.TextInput(
        attrs={"placeholder": "e.g. login, token.create"}))
    actor = forms.CharField(max_length=150, required=False)
    ip = forms.GenericIPAddressField(required=False, label="IP")
    since = forms.DateTimeField(required=False, label="Since (UTC)", widget=forms.DateTimeInput(
        attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
    until = forms.DateTimeField(required=False, label="Until (UTC)", widget=forms.DateTimeInput(
        attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
