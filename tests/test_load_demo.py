"""The demo loader: `manage.py load_demo` builds Acme through the services, with a believable
history, and loading it twice changes nothing.

The demo is loaded once for the module (it is the slow part) inside a transaction that is
rolled back at the end; each test runs inside its own savepoint on top of it.
"""

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from accounts.models import Membership, Organization, Role, Team, TeamMembership, User
from boards.demo.loader import DEMO_USERNAMES, remove_demo
from boards.models import (
    Block,
    Board,
    Card,
    CardMove,
    ClassOfService,
    Column,
    Comment,
    Event,
    Stage,
    WipPolicy,
)
from tests.factories import OrganizationFactory, UserFactory, assert_cells_consistent, member

pytestmark = pytest.mark.django_db


def load(*args: str) -> str:
    out = StringIO()
    call_command("load_demo", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """Load the demo once; give the tests its output and the moment it finished."""
    with django_db_blocker.unblock(), transaction.atomic():
        output = load()
        # Run the foreign-key checks Postgres defers to commit now, once: otherwise every
        # test's teardown runs them again over the whole demo, inside its savepoint.
        connection.check_constraints()
        yield {"output": output, "loaded_at": timezone.now()}
        transaction.set_rollback(True)


def acme_cards():
    return Card.objects.filter(board__organization__slug="acme")


def figures() -> dict[str, int]:
    org = Organization.objects.get(slug="acme")
    return {
        "organisations": Organization.objects.filter(name="Acme").count(),
        "users": User.objects.count(),
        "memberships": Membership.objects.filter(organization=org).count(),
        "teams": Team.objects.filter(organization=org).count(),
        "boards": Board.objects.filter(organization=org).count(),
        "columns": Column.objects.filter(board__organization=org).count(),
        "cards": Card.objects.filter(board__organization=org).count(),
        "moves": CardMove.objects.filter(board__organization=org).count(),
        "blocks": Block.objects.filter(board__organization=org).count(),
        "comments": Comment.objects.filter(card__board__organization=org).count(),
        "events": Event.objects.filter(board__organization=org).count(),
    }


def test_the_demo_builds_acme_with_three_teams_and_four_boards(demo):
    org = Organization.objects.get(slug="acme")
    assert org.name == "Acme"
    assert set(Team.objects.filter(organization=org).values_list("name", flat=True)) == {
        "Sales",
        "Product",
        "IT",
    }
    boards = Board.objects.filter(organization=org).select_related("team")
    assert boards.count() == 4
    assert {b.team.name for b in boards} == {"Sales", "Product", "IT"}
    assert "Loaded the Acme demo" in demo["output"]


def test_alice_owns_bob_is_a_sales_member_and_victor_views(demo):
    org = Organization.objects.get(slug="acme")

    def role(username: str) -> str:
        return Membership.objects.get(organization=org, user__username=username).role

    assert role("alice") == Role.OWNER
    assert role("bob") == Role.MEMBER
    assert role("victor") == Role.VIEWER
    assert TeamMembership.objects.filter(
        team__organization=org, team__name="Sales", user__username="bob"
    ).exists()
    alice = User.objects.get(username="alice")
    assert alice.first_name and alice.last_name
    # the colleagues who move the cards are members of the teams whose boards they work on
    assert Membership.objects.filter(organization=org).count() >= 9


@pytest.mark.parametrize("username", ["alice", "bob", "victor"])
def test_demo_users_log_in_with_the_password_demo(demo, username):
    user = authenticate(username=username, password="demo")
    assert user is not None and user.username == username


def test_the_boards_hold_a_few_hundred_cards_with_real_columns(demo):
    cards = acme_cards()
    assert 200 <= cards.count() <= 300
    for board in Board.objects.filter(organization__slug="acme"):
        stages = list(board.columns.order_by("position").values_list("stage", flat=True))
        assert stages[0] == Stage.BACKLOG and stages[-1] == Stage.DONE
        assert {Stage.WAIT, Stage.ACTIVE} <= set(stages)
        assert board.columns.exclude(policy="").exists()
        assert board.labels.exists()
    columns = Column.objects.filter(board__organization__slug="acme")
    assert columns.filter(wip_policy=WipPolicy.HARD, wip_limit__isnull=False).exists()
    assert columns.filter(wip_policy=WipPolicy.SOFT, wip_limit__isnull=False).exists()
    assert (
        Board.objects.annotate(lanes=Count("swimlanes"))
        .filter(organization__slug="acme", lanes__gte=2)
        .exists()
    )
    assert cards.filter(class_of_service=ClassOfService.EXPEDITE).exists()
    assert cards.filter(class_of_service=ClassOfService.FIXED_DATE, due_date__isnull=False).exists()
    assert cards.exclude(customer="").count() == cards.count()
    assert cards.filter(assignees__isnull=False).distinct().count() > 100


def test_the_history_spans_four_months_of_working_hours_in_the_past(demo):
    moves = CardMove.objects.filter(board__organization__slug="acme")
    span = moves.aggregate(first=Min("at"), last=Max("at"))
    assert span["last"] - span["first"] >= timedelta(days=100)
    assert span["last"] <= demo["loaded_at"]
    assert span["last"] >= demo["loaded_at"] - timedelta(days=5)
    events = Event.objects.filter(board__organization__slug="acme")
    assert events.aggregate(last=Max("at"))["last"] <= demo["loaded_at"]
    for at in moves.values_list("at", flat=True):
        assert at.weekday() < 5 and 8 <= at.hour < 20, at


def test_the_boards_are_alive_some_work_done_some_in_progress_some_blocked(demo):
    cards = acme_cards().filter(archived=False)
    assert cards.filter(column__stage=Stage.DONE, finished_at__isnull=False).count() > 50
    assert cards.filter(column__stage=Stage.ACTIVE).count() >= 4
    assert cards.filter(column__stage=Stage.BACKLOG).exists()
    blocked = cards.filter(blocked=True)
    assert blocked.exists()
    assert all(card.block_reason for card in blocked)
    blocks = Block.objects.filter(board__organization__slug="acme")
    assert blocks.filter(ended_at__isnull=False).count() > 20
    assert blocks.filter(ended_at__isnull=True).count() == blocked.count()
    assert Comment.objects.filter(card__board__organization__slug="acme").count() > 50


def test_some_cards_were_reopened_and_some_old_done_cards_archived(demo):
    reopened = CardMove.objects.filter(
        board__organization__slug="acme", from_stage=Stage.DONE
    ).exclude(to_stage=Stage.DONE)
    assert reopened.exists()
    archived = acme_cards().filter(archived=True)
    assert archived.exists()
    assert all(card.finished_at and card.archived_at for card in archived)


def test_no_hard_wip_limit_is_exceeded(demo):
    hard = Column.objects.filter(
        board__organization__slug="acme", wip_policy=WipPolicy.HARD, wip_limit__isnull=False
    ).annotate(wip=Count("cards", filter=Q(cards__archived=False)))
    assert hard.exists()
    for column in hard:
        assert column.wip <= column.wip_limit, (column.name, column.wip, column.wip_limit)


def test_every_cell_is_counted_ranked_and_numbered_densely(demo):
    boards = Board.objects.filter(organization__slug="acme")
    assert boards.exists()
    for board in boards:
        assert_cells_consistent(board)


def test_every_board_log_is_gap_free_and_in_time_order(demo):
    for board in Board.objects.filter(organization__slug="acme"):
        rows = list(Event.objects.filter(board=board).order_by("seq").values_list("seq", "at"))
        assert [seq for seq, _ in rows] == list(range(1, len(rows) + 1))
        assert board.last_seq == len(rows)
        times = [at for _, at in rows]
        assert times == sorted(times), board.name


def test_loading_it_again_changes_nothing(demo):
    before = figures()

    output = load()

    assert "already loaded" in output
    assert figures() == before


def test_reset_removes_the_demo_and_leaves_other_organisations_alone(demo):
    # given another organisation next to the demo
    globex = OrganizationFactory(name="Globex", slug="globex")
    gina = member(globex, "gina", Role.OWNER)
    other_cards = Card.objects.exclude(board__organization__slug="acme").count()

    # when the demo is removed, as `--reset` does before loading it again
    remove_demo()

    # then nothing of Acme is left, and Globex is untouched
    assert not Organization.objects.filter(slug="acme").exists()
    assert not User.objects.filter(username__in=DEMO_USERNAMES).exists()
    assert not Board.objects.filter(organization__name="Acme").exists()
    assert Card.objects.count() == other_cards
    assert Membership.objects.filter(organization=globex, user=gina).exists()


def test_demo_usernames_taken_outside_the_demo_need_reset(demo):
    remove_demo()
    UserFactory(username="bob")

    with pytest.raises(CommandError, match="--reset"):
        load()

    assert not Organization.objects.filter(slug="acme").exists()
