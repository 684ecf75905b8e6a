"""Web forms of the accounts app. They check shapes only; the services apply the rules."""

from __future__ import annotations

from django import forms

from databoard.accounts.models import ApiToken, User


class SignupForm(forms.Form):
    username = forms.CharField(max_length=150, help_text="Letters, digits, '.', '_' or '-'.")
    email = forms.EmailField(max_length=254)
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    affiliation = forms.CharField(max_length=200, required=False, help_text="School, lab or company.")
    password1 = forms.CharField(label="Password", widget=forms.PasswordInput, max_length=4096,
                                help_text="At least 8 characters, not only digits, not a common password.")
    password2 = forms.CharField(label="Password again", widget=forms.PasswordInput, max_length=4096)

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password2") and data["password1"] != data["password2"]:
            self.add_error("password2", "The two passwords differ.")
        return data


class LoginForm(forms.Form):
    username = forms.CharField(label="Username or email", max_length=254)
    password = forms.CharField(widget=forms.PasswordInput, max_length=4096)


class ProfileForm(forms.Form):
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    affiliation = forms.CharField(max_length=200, required=False)
    email = forms.EmailField(max_length=254)


class PasswordChangeForm(forms.Form):
    old_password = forms.CharField(label="Current password", widget=forms.PasswordInput, max_length=4096)
    new_password1 = forms.CharField(label="New password", widget=forms.PasswordInput, max_length=4096)
    new_password2 = forms.CharField(label="New password again", widget=forms.PasswordInput, max_length=4096)

    def clean(self):
        data = super().clean()
        if data.get("new_password1") and data.get("new_password2") and data["new_password1"] != data["new_password2"]:
            self.add_error("new_password2", "The two passwords differ.")
        return data


class PasswordResetRequestForm(forms.Form):
    email = forms.EmailField(max_length=254)


class ConfirmPasswordForm(forms.Form):
    password = forms.CharField(label="Your password", widget=forms.PasswordInput, max_length=4096)


class TeamCreateForm(forms.Form):
    name = forms.CharField(max_length=100, label="Team name")


class InviteForm(forms.Form):
    who = forms.CharField(max_length=254, label="Username or email")


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
    file = forms.FileField(label="CSV file",
                           help_text="Columns: username, email, and optionally first_name, last_name, affiliation, team.")
    send_emails = forms.BooleanField(required=False, label="Email each user their password instead of showing it here")


class AuditFilterForm(forms.Form):
    action = forms.CharField(max_length=64, required=False, help_text="e.g. login, token.create")
    actor = forms.CharField(max_length=150, required=False)
    ip = forms.GenericIPAddressField(required=False, label="IP")
    since = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    until = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
