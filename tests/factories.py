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


def position_of(card) -> int | None:
    """The card's position as the API gives it (its index in its cell), read afresh."""
    from boards import selectors

    return selectors.card_position(card.pk)


def assert_cells_consistent(board) -> None:
    """Every cell of the board: its count is its live cards, their ranks are distinct, and the
    API numbers them 0..n-1 in rank order."""
    from django.db.models import Count

    from boards import selectors
    from boards.models import Card, Cell

    live = {
        (row["column_id"], row["swimlane_id"]): row["n"]
        for row in Card.objects.filter(board=board, archived=False)
        .values("column_id", "swimlane_id")
        .annotate(n=Count("id"))
    }
    counted = {
        (c.column_id, c.swimlane_id): c.size
        for c in Cell.objects.filter(column__board=board)
        if c.size
    }
    assert counted == live
    cards = selectors.cards_as_dicts(
        Card.objects.filter(board=board, archived=False).order_by(
            "column_id", "swimlane_id", "rank"
        )
    )
    by_cell: dict[tuple[int, int], list[int | None]] = {}
    for card in cards:
        by_cell.setdefault((card["column"], card["swimlane"]), []).append(card["position"])
    for cell, positions in by_cell.items():
        assert positions == list(range(len(positions))), (cell, positions)
    ranks = Card.objects.filter(board=board, archived=False).values_list(
        "column_id", "swimlane_id", "rank"
    )
    assert len(set(ranks)) == len(ranks)
    assert not Card.objects.filter(board=board, archived=True, rank__isnull=False).exists()


def bulk_add_cards(cards: list) -> list:
    """Arrangement for big boards: unsaved live cards appended to their cells in list order,
    ranked and counted as the services would, in a few statements (the services would take
    minutes for tens of thousands)."""
    from collections import Counter

    from django.db.models import Max

    from boards.models import RANK_GAP, Card, Cell

    last: dict[tuple[int, int], int] = {}
    for card in cards:
        cell = (card.column_id, card.swimlane_id)
        if cell not in last:
            last[cell] = (
                Card.objects.filter(column_id=cell[0], swimlane_id=cell[1]).aggregate(
                    m=Max("rank")
                )["m"]
                or 0
            )
        last[cell] += RANK_GAP
        card.rank = last[cell]
    created = Card.objects.bulk_create(cards, batch_size=2_000)
    for (column_id, swimlane_id), n in Counter((c.column_id, c.swimlane_id) for c in cards).items():
        counted, _ = Cell.objects.get_or_create(column_id=column_id, swimlane_id=swimlane_id)
        counted.size += n
        counted.save(update_fields=["size"])
    return created
