from django import forms


class InvitationSignUpForm(forms.Form):
    """The invitation page's sign-up: the form checks only what a person typed twice; the
    service (sign_up_with_invitation) applies the username and password rules."""

    username = forms.CharField(max_length=150)
    password1 = forms.CharField(label="Password", strip=False, widget=forms.PasswordInput)
    password2 = forms.CharField(
        label="Repeat the password", strip=False, widget=forms.PasswordInput
    )

    def clean(self):
        data = super().clean() or {}
        if data.get("password1") and data.get("password2") != data["password1"]:
            self.add_error("password2", "The two passwords differ.")
        return data


class FirstRunForm(forms.Form):
    """The first run's owner and organisation: the form checks what was typed twice; the
    service (set_up_first_owner) applies the username and password rules."""

    organization_name = forms.CharField(label="Organisation", max_length=120)
    team_name = forms.CharField(label="First team", max_length=120, required=False)
    username = forms.CharField(max_length=150)
    email = forms.CharField(label="Email", max_length=254, required=False)
    password1 = forms.CharField(label="Password", strip=False, widget=forms.PasswordInput)
    password2 = forms.CharField(
        label="Repeat the password", strip=False, widget=forms.PasswordInput
    )

    def clean(self):
        data = super().clean() or {}
        if data.get("password1") and data.get("password2") != data["password1"]:
            self.add_error("password2", "The two passwords differ.")
        return data
