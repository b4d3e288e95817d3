"""The invitation form (staff and team admins) and the form an invitee makes their account with."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth.forms import UserCreationForm

from runware_web.accounts.models import Role, Team, User


class InvitationForm(forms.Form):
    team = forms.ModelChoiceField(label="Team", queryset=Team.objects.none(), empty_label=None)
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.MEMBER,
                             help_text="A team admin can invite people to this team too.")
    days = forms.IntegerField(label="Link works for (days)", min_value=1, max_value=90)
    email = forms.EmailField(label="Send the link to (optional)", required=False,
                             help_text="Leave empty to copy the link yourself.")

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = user.managed_teams()
        self.fields["days"].initial = settings.INVITATION_DEFAULT_DAYS
        if user.team_id is not None:
            self.fields["team"].initial = user.team_id


class JoinForm(UserCreationForm):
    """A username and a password (twice) for the new member; the team and role come from the invitation."""

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].label = "Email address (optional, for password resets)"
