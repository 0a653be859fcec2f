from rest_framework import serializers

from accounts.models import InvitationStatus, Role


class TokenInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, trim_whitespace=False)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class TokenOut(serializers.Serializer):
    token = serializers.CharField(help_text="Shown once: only its hash is stored.")


class OrganizationInput(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    slug = serializers.SlugField(max_length=60, required=False, allow_blank=True, default="")


class TeamInput(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    slug = serializers.SlugField(max_length=60, required=False, allow_blank=True, default="")
    members = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        default=list,
        max_length=500,
        help_text="User ids of members of the organisation.",
    )


class MemberUpdateInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    wip_limit = serializers.IntegerField(
        min_value=1,
        max_value=1000,
        required=False,
        allow_null=True,
        help_text="Personal WIP limit; null for none.",
    )


class InvitationInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices, help_text="The role it joins with.")
    email = serializers.EmailField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Whom it is meant for: a note shown on the accept page. No mail is sent and "
        "no user is looked up by it.",
    )


class AcceptInvitationInput(serializers.Serializer):
    key = serializers.CharField(max_length=100, trim_whitespace=True)


class OrganizationOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices, help_text="Your role in it.")


class TeamOut(serializers.Serializer):
    id = serializers.IntegerField()
    organization = serializers.CharField()
    name = serializers.CharField()
    slug = serializers.CharField()
    members = serializers.ListField(child=serializers.IntegerField())


class MemberOut(serializers.Serializer):
    user = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices)
    wip_limit = serializers.IntegerField(allow_null=True)


class MeOut(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField()
    email = serializers.CharField()
    organizations = OrganizationOut(many=True)


class InvitationOut(serializers.Serializer):
    id = serializers.IntegerField()
    role = serializers.ChoiceField(choices=Role.choices)
    email = serializers.CharField()
    expires_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=InvitationStatus.choices)


class NewInvitationOut(InvitationOut):
    key = serializers.CharField(help_text="Shown once: only its hash is stored.")
    accept_url = serializers.URLField(help_text="The page where it is accepted (holds the key).")


class JoinedOut(MemberOut):
    organization = serializers.CharField(help_text="The organisation's slug.")


class ApiTokenInput(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    expires_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="When the token stops working (within ten years); null or omitted: never.",
    )


class ApiTokenOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The key's first characters, to tell tokens apart.")
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)


class ApiTokenCreatedOut(ApiTokenOut):
    token = serializers.CharField(help_text="The key: shown this once, only its hash is stored.")
