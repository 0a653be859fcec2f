from dataclasses import dataclass

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.models import Organization, Role, Team, User
from accounts.services import create_api_token
from boards import services
from boards.models import Board, Column
from tests.factories import OrganizationFactory, TeamFactory, member


@dataclass
class World:
    """Two organisations. In Acme: alice (owner), adam (admin), bob (member of Sales), mia
    (member of Product only), victor (viewer, even on Sales); a Sales board with the default
    columns. In Globex: gina (owner) and her board, which Acme must never see."""

    acme: Organization
    sales: Team
    product: Team
    alice: User
    adam: User
    bob: User
    mia: User
    victor: User
    board: Board
    globex: Organization
    gina: User
    globex_board: Board

    def column(self, name: str, board: Board | None = None) -> Column:
        return (board or self.board).columns.get(name=name)


@pytest.fixture(autouse=True)
def _fresh_counters():
    """Each test starts with no login failures and no API requests counted (the test settings'
    cache is this process's memory; kanban.counters keeps its outage fallback there too), and
    no board's checks believed queued (boards.flow.followups' memory of them)."""
    from boards.flow import followups
    from kanban import counters

    cache.clear()
    counters._local.clear()
    followups._not_started_until.clear()
    yield


@pytest.fixture
def world(db) -> World:
    acme = OrganizationFactory.create(name="Acme", slug="acme")
    sales = TeamFactory.create(organization=acme, name="Sales", slug="sales")
    product = TeamFactory.create(organization=acme, name="Product", slug="product")
    alice = member(acme, "alice", Role.OWNER)
    adam = member(acme, "adam", Role.ADMIN)
    bob = member(acme, "bob", Role.MEMBER, teams=(sales,))
    mia = member(acme, "mia", Role.MEMBER, teams=(product,))
    victor = member(acme, "victor", Role.VIEWER, teams=(sales,))
    board = services.create_board(team=sales, name="Sales pipeline", actor=alice)

    globex = OrganizationFactory.create(name="Globex", slug="globex")
    globex_team = TeamFactory.create(organization=globex, name="Ops", slug="ops")
    gina = member(globex, "gina", Role.OWNER, teams=(globex_team,))
    globex_board = services.create_board(team=globex_team, name="Globex ops", actor=gina)
    return World(
        acme, sales, product, alice, adam, bob, mia, victor, board, globex, gina, globex_board
    )


@pytest.fixture
def api():
    """api(user) -> an APIClient authenticated with a real API token of `user`
    (api(None): no credentials)."""

    def make(user: User | None) -> APIClient:
        client = APIClient()
        if user is not None:
            _, key = create_api_token(user=user, name="test")
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    return make
