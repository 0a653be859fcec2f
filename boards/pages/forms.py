"""The setting-up pages' forms: they check the shape of what was typed (lengths, numbers,
choices); the services check the rules (rights, limits, names taken) and say why."""

from django import forms

from accounts.models import Role
from boards.models import ClassOfService, Stage, WipPolicy
from boards.services import BOARD_TEMPLATES


class NewBoardForm(forms.Form):
    name = forms.CharField(max_length=120)
    team = forms.IntegerField()
    template = forms.ChoiceField(choices=[(key, t["title"]) for key, t in BOARD_TEMPLATES.items()])
    description = forms.CharField(max_length=5000, required=False)


class ColumnForm(forms.Form):
    name = forms.CharField(max_length=80)
    stage = forms.ChoiceField(choices=Stage.choices)
    wip_limit = forms.IntegerField(min_value=1, max_value=999, required=False)
    wip_policy = forms.ChoiceField(choices=WipPolicy.choices)
    policy = forms.CharField(max_length=2000, required=False)


class ServiceLevelForm(forms.Form):
    class_of_service = forms.ChoiceField(choices=ClassOfService.choices)
    sle_days = forms.FloatField(
        label="Service level expectation", min_value=0.1, max_value=3650, required=False
    )
    wip_limit = forms.IntegerField(min_value=1, max_value=999, required=False)
    wip_policy = forms.ChoiceField(choices=WipPolicy.choices)


class SwimlaneForm(forms.Form):
    name = forms.CharField(max_length=80)


class LabelForm(forms.Form):
    name = forms.CharField(max_length=40)
    color = forms.RegexField(
        regex=r"^#[0-9a-fA-F]{6}$", error_messages={"invalid": "Write the colour as #rrggbb."}
    )


class ReleaseForm(forms.Form):
    # Empty: never.
    release_done_after_days = forms.IntegerField(
        min_value=1, max_value=365, required=False, label="Archive finished cards after (days)"
    )


class InvitationForm(forms.Form):
    email = forms.EmailField(required=False)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


class MemberForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
    wip_limit = forms.IntegerField(min_value=1, max_value=999, required=False)


class TeamForm(forms.Form):
    name = forms.CharField(max_length=120)


def first_error(form: forms.Form) -> str:
    """One sentence for the page's message: the first field's first error, named."""
    for name, errors in form.errors.items():
        field = form.fields.get(name)
        label = (field.label or name.replace("_", " ")).capitalize() if field else ""
        return f"{label}: {errors[0]}" if label else str(errors[0])
    return "Check the form."
