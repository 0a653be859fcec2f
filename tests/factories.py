"""Factories for tests. Boards and cards are made through the services, as in production,
so that every test starts from states the product can actually reach."""

import factory

from accounts.models import Membership, Organization, Role, Team, TeamMembership, User


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pw")


class OrganizationFactory(factory.django.DjangoModelFactory[Organization]):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Org {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")


class MembershipFactory(factory.django.DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.MEMBER


class TeamFactory(factory.django.DjangoModelFactory[Team]):
    class Meta:
        model = Team

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")


def member(
    organization: Organization, username: str, role: str = Role.MEMBER, teams: tuple[Team, ...] = ()
) -> User:
    # .create(): what calling the factory does, typed as the model for mypy.
    user = UserFactory.create(username=username)
    MembershipFactory.create(organization=organization, user=user, role=role)
    for team in teams:
        TeamMembership.objects.create(team=team, user=user)
    return user
