"""Browser tests: Playwright's sync API driving Debian's Chromium against the app served by a
real ASGI server (uvicorn in a subprocess, on pytest's test database, production settings).

The server is another process: it sees only committed data, so the tests use
`django_db(transaction=True)`. Their data (`acme`) is built through the services once per run
(~4 s, as every service also runs its after-commit tasks) and the rows reloaded for each test.
The demo loader is not used: it simulates 120 days and took ~50 s here, more than the whole
browser suite may take; `acme` has the demo's people and a board shaped for the checks (a
column at its hard limit, one with room, blocked and ageing work, an Expedite lane).
Screenshots go to artifacts/screenshots/ (ignored by git) for anyone to look at.
"""

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import Organization, Role, User
from boards import services
from boards.models import Board, Card, ClassOfService, Column, Label, Stage, Swimlane, WipPolicy
from tests.servers import asgi_server

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHROMIUM_MISSING = (
    f"The browser tests need Chromium at {CHROMIUM}: install it with "
    "'apt-get update && apt-get install -y chromium' (.ci/run does so when it is missing)."
)
WIDE = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PASSWORD = "demo"


def pytest_collection_modifyitems(config, items):
    # The browser tests are part of the suite: without Chromium the run fails, in one sentence,
    # rather than passing with them silently skipped.
    browser = [i for i in items if "tests/browser/" in str(i.fspath).replace(os.sep, "/")]
    if browser and not Path(CHROMIUM).exists():
        pytest.exit(CHROMIUM_MISSING, returncode=1)


# --- the server and the browser ----------------------------------------------------------------


@pytest.fixture(scope="module")
def live_server_url(django_db_setup) -> Iterator[str]:
    """uvicorn serving kanban.asgi on the test database, for a module of tests (stopped after
    it, so that no idle server holds connections while the rest of the suite runs). It shares
    the test settings' SECRET_KEY so that a session made here (`force_login`) is valid there."""
    with asgi_server(env={"SECRET_KEY": settings.SECRET_KEY}) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread; Django would take any
    # ORM call made here meanwhile (fixtures, assertions) for one made from async code.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="session")
def screenshots_dir() -> Path:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def screenshot(screenshots_dir) -> Callable:
    def take(page, name: str, **options) -> Path:
        path = screenshots_dir / f"{name}.png"
        page.screenshot(path=str(path), **options)
        return path

    return take


# Run in every page before its own scripts: a Content-Security-Policy violation (a script,
# style, image or connection the policy blocked) is reported on the console, where open_page
# collects it along with Chromium's own report of it.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`Content Security Policy violation: ${event.effectiveDirective} blocked `
    + `${event.blockedURI} (${event.sourceFile}:${event.lineNumber})`);
});
"""


@pytest.fixture
def csp_violations() -> list[str]:
    """What the pages open_page opened reported as blocked by the Content-Security-Policy."""
    return []


@pytest.fixture
def open_page(browser, live_server_url, csp_violations) -> Iterator[Callable]:
    """open_page(user, path, viewport=WIDE) -> a Page logged in as `user` (None: anonymous),
    at `path`. Fails the test on any JavaScript error the page raised, and on anything the
    Content-Security-Policy blocked (a test that means to be blocked empties `csp_violations`)."""
    contexts = []
    errors: list[str] = []

    def on_console(message) -> None:
        if "Content Security Policy" in message.text:
            csp_violations.append(message.text)

    def make(user: User | None, path: str = "/", viewport: dict | None = None):
        context = browser.new_context(viewport=viewport or WIDE, base_url=live_server_url)
        contexts.append(context)
        if user is not None:
            client = Client()
            client.force_login(user)
            context.add_cookies(
                [
                    {
                        "name": settings.SESSION_COOKIE_NAME,
                        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                        "url": live_server_url,
                    }
                ]
            )
        context.add_init_script(REPORT_CSP_VIOLATIONS)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", on_console)
        page.goto(path)
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
    assert not csp_violations, f"Blocked by the Content-Security-Policy: {csp_violations}"


# --- the data: Acme, built through the services ------------------------------------------------


@dataclass
class Acme:
    """Acme as in the demo: alice (owner), bob and carol (Sales), frank (IT), victor (viewer).
    Sales' "Customer onboarding" board has the default columns, Doing with room under a hard
    limit of 4, Review full at its hard limit of 2, an Expedite lane, labels, blocked and
    ageing work and a finished history; IT's "IT operations" board is someone else's for bob."""

    org: Organization
    alice: User
    bob: User
    carol: User
    frank: User
    victor: User
    board: Board
    it_board: Board
    columns: dict[str, Column]
    lanes: dict[str, Swimlane]
    labels: dict[str, Label]
    cards: dict[str, Card]

    def refetched(self) -> "Acme":
        """The same objects read afresh from the database."""

        def fresh(model, objects: dict) -> dict:
            rows = model.objects.in_bulk([o.pk for o in objects.values()])
            return {key: rows[o.pk] for key, o in objects.items()}

        users = fresh(User, {u.username: u for u in (self.alice, self.bob, self.carol,
                                                     self.frank, self.victor)})  # fmt: skip
        boards = fresh(Board, {"board": self.board, "it": self.it_board})
        return Acme(
            org=Organization.objects.get(pk=self.org.pk),
            alice=users["alice"],
            bob=users["bob"],
            carol=users["carol"],
            frank=users["frank"],
            victor=users["victor"],
            board=boards["board"],
            it_board=boards["it"],
            columns=fresh(Column, self.columns),
            lanes=fresh(Swimlane, self.lanes),
            labels=fresh(Label, self.labels),
            cards=fresh(Card, self.cards),
        )


@pytest.fixture(scope="session")
def password_hash() -> str:
    # The server runs the production settings (PBKDF2); the test settings hash with MD5, which
    # the server would not recognise. One hash, computed once, for every user.
    return PBKDF2PasswordHasher().encode(PASSWORD, "browsertestsalt")


@pytest.fixture(scope="session")
def acme_snapshot(django_db_setup, django_db_blocker, password_hash, tmp_path_factory):
    """Acme built once through the services (a few seconds: every service also runs its
    after-commit tasks), then kept as a fixture file that each test loads in a fraction of
    that: the rows are exactly the ones the services wrote."""
    path = tmp_path_factory.mktemp("acme") / "acme.json"
    with django_db_blocker.unblock():
        with transaction.atomic():
            acme = build_acme(password_hash)
        call_command("dumpdata", "accounts", "boards", output=str(path), verbosity=0)
        call_command("flush", interactive=False, verbosity=0)
    return path, acme


@pytest.fixture
def acme(transactional_db, acme_snapshot) -> Acme:
    path, built = acme_snapshot
    call_command("loaddata", str(path), verbosity=0)
    return built.refetched()


# Columns of the Sales board: (name, stage, WIP limit, policy, column policy text).
SALES_COLUMNS = (
    ("Backlog", Stage.BACKLOG, None, WipPolicy.SOFT, "Ordered by value: the top card is next."),
    ("Ready", Stage.WAIT, 6, WipPolicy.SOFT,
     "Entry: contract signed and the kick-off date agreed with the customer."),
    ("Doing", Stage.ACTIVE, 4, WipPolicy.HARD,
     "Entry: an owner is assigned.\nExit: the account is set up and the first users log in."),
    ("Review", Stage.WAIT, 2, WipPolicy.HARD,
     "Exit: a second person walked through the set-up with the customer."),
    ("Done", Stage.DONE, None, WipPolicy.SOFT,
     "Definition of done: the customer confirmed and the hand-over note is written."),
)  # fmt: skip


@dataclass(frozen=True)
class CardSpec:
    """A card of the Sales board: created in the backlog `created` days ago, then moved along
    `path`, (column, days ago) pairs, oldest first."""

    title: str
    path: tuple[tuple[str, float], ...] = ()
    created: float = 5
    lane: str = "Standard"
    who: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    value: int = 50
    cos: str = ClassOfService.STANDARD
    customer: str = ""
    due_in_days: int | None = None
    description: str = ""


SALES_CARDS = {
    "review1": CardSpec(
        "Migrate Blue Harbor's boards from Trello",
        path=(("Ready", 12), ("Doing", 11), ("Review", 2)),
        created=14,
        who=("carol",),
        tags=("migration", "enterprise"),
        customer="Blue Harbor Logistics",
        value=70,
    ),
    "review2": CardSpec(
        "Set up SSO for Silverline Rail",
        path=(("Ready", 9), ("Doing", 8), ("Review", 1)),
        created=10,
        who=("bob",),
        tags=("enterprise",),
        customer="Silverline Rail",
        value=64,
    ),
    "doing1": CardSpec(
        "Import Tidewater Foods' users",
        path=(("Ready", 16), ("Doing", 14)),
        created=18,
        who=("bob", "carol"),
        tags=("migration",),
        customer="Tidewater Foods",
        value=58,
        description="Their CSV export has **3,400 users**; import in batches of 500.\n\n"
        "- check the e-mail domains first\n- keep the old ids in a custom field",
    ),
    "doing2": CardSpec(
        "Train Vantage Motors' team leads",
        path=(("Ready", 5), ("Doing", 3)),
        created=6,
        who=("carol",),
        tags=("training",),
        customer="Vantage Motors",
        value=45,
    ),
    "expedite1": CardSpec(
        "Restore Willow Care Homes' deleted board",
        path=(("Ready", 1), ("Doing", 0.8)),
        created=1,
        lane="Expedite",
        who=("bob",),
        tags=("enterprise",),
        cos=ClassOfService.EXPEDITE,
        customer="Willow Care Homes",
        value=95,
    ),
    "ready1": CardSpec(
        "Onboard Redwood Outdoor",
        path=(("Ready", 4),),
        created=7,
        who=("bob",),
        tags=("smb",),
        customer="Redwood Outdoor",
        value=62,
    ),
    "ready2": CardSpec(
        "Kick-off call with Quarry Lane Architects",
        path=(("Ready", 2),),
        created=3,
        tags=("smb",),
        customer="Quarry Lane Architects",
        value=48,
        cos=ClassOfService.FIXED_DATE,
        due_in_days=5,
    ),
    "ready3": CardSpec(
        "Admin training for Yellowfin Media",
        path=(("Ready", 1),),
        created=2,
        tags=("training",),
        customer="Yellowfin Media",
        value=36,
    ),
    "backlog1": CardSpec("Onboard Zephyr Airlines (1,200 seats)", tags=("enterprise",), value=88),
    "backlog2": CardSpec("Migrate Alder Energy from Jira", tags=("migration",), value=74),
    "backlog3": CardSpec("Onboard Cobalt Mining", tags=("smb",), who=("alice",), value=52),
    "backlog4": CardSpec("Train Ember Studios on WIP limits", tags=("training",), value=30),
    "backlog5": CardSpec(
        "Document the onboarding checklist", value=20, cos=ClassOfService.INTANGIBLE
    ),
}

# Finished work, (customer, cycle days): the board's typical cycle time (p85) is 6.75 days.
SALES_FINISHED = (
    ("Fernwood Dental", 2),
    ("Kestrel Insurance", 3),
    ("Larkspur Schools", 4),
    ("Meridian Hotels", 5),
    ("Oakridge Clinics", 6),
    ("Pinecrest Bank", 9),
)


def build_acme(password_hash: str) -> Acme:
    now = timezone.now()

    def ago(days: float):
        return now - timedelta(days=days)

    people = {}
    for username, first, last in (
        ("alice", "Alice", "Johnson"),
        ("bob", "Bob", "Martin"),
        ("carol", "Carol", "Nguyen"),
        ("frank", "Frank", "Moreau"),
        ("victor", "Victor", "Hughes"),
    ):
        people[username] = accounts_services.create_user(
            username=username, password=PASSWORD, first_name=first, last_name=last
        )
    User.objects.filter(pk__in=[u.pk for u in people.values()]).update(password=password_hash)
    for user in people.values():
        user.password = password_hash  # a session's auth hash is made from it
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    org = accounts_services.create_organization(name="Acme", slug="acme", actor=alice)
    for username, role in (
        ("bob", Role.MEMBER),
        ("carol", Role.MEMBER),
        ("frank", Role.MEMBER),
        ("victor", Role.VIEWER),
    ):
        accounts_services.add_member(org, user=people[username], role=role, actor=alice)
    sales = accounts_services.create_team(
        org, name="Sales", slug="sales", members=[bob, carol], actor=alice
    )
    it = accounts_services.create_team(
        org, name="IT", slug="it", members=[people["frank"]], actor=alice
    )

    board = services.create_board(
        team=sales,
        name="Customer onboarding",
        columns=[
            {"name": n, "stage": s, "wip_limit": limit, "wip_policy": p, "policy": text}
            for n, s, limit, p, text in SALES_COLUMNS
        ],
        swimlanes=("Expedite", "Standard"),
        actor=alice,
        at=ago(60),
    )
    columns = {c.name: c for c in board.columns.all()}
    lanes = {s.name: s for s in board.swimlanes.all()}
    labels = {
        name: services.create_label(board, name=name, color=color, actor=alice)
        for name, color in (
            ("enterprise", "#2563eb"),
            ("smb", "#16a34a"),
            ("migration", "#9333ea"),
            ("training", "#ea580c"),
        )
    }
    cards: dict[str, Card] = {}

    def add(key: str, spec: CardSpec) -> None:
        card = services.create_card(
            board,
            title=spec.title,
            column=columns["Backlog"],
            swimlane=lanes[spec.lane],
            assignees=[people[u] for u in spec.who],
            labels=[labels[t] for t in spec.tags],
            value=spec.value,
            class_of_service=spec.cos,
            customer=spec.customer,
            due_date=(now + timedelta(days=spec.due_in_days)).date() if spec.due_in_days else None,
            description=spec.description,
            actor=alice,
            at=ago(spec.created),
        )
        for column, days in spec.path:
            services.move_card(card, to_column=columns[column], actor=bob, at=ago(days))
            card.refresh_from_db()
        cards[key] = card

    for i, (customer, days) in enumerate(SALES_FINISHED):
        start = 50 - i * 6
        path = (("Ready", start + 1), ("Doing", start), ("Review", start - days + 1),
                ("Done", start - days))  # fmt: skip
        spec = CardSpec(
            f"Onboard {customer}",
            path=path,
            created=start + 3,
            who=("bob",) if i % 2 else ("carol",),
            tags=("enterprise",) if i % 3 == 0 else ("smb",),
            customer=customer,
            value=40 + i * 7,
        )
        add(f"done{i}", spec)
    for key, spec in SALES_CARDS.items():
        add(key, spec)
    services.block_card(
        cards["doing2"],
        reason="Waiting for the customer to pick a training date",
        actor=carol,
        at=ago(2),
    )
    services.add_comment(cards["doing2"], body="Asked for two dates next week.", actor=carol)

    it_board = services.create_board(team=it, name="IT operations", actor=alice, at=ago(30))
    it_columns = {c.name: c for c in it_board.columns.all()}
    for title, column in (
        ("Laptop for new hire Jonas", "Ready"),
        ("Renew the TLS certificate for api.acme.example", "Doing"),
        ("VPN access for contractor Kenji", "Backlog"),
    ):
        cards[title] = services.create_card(
            it_board,
            title=title,
            column=it_columns[column],
            assignees=[people["frank"]],
            actor=people["frank"],
            at=ago(3),
        )
    return Acme(
        org=org,
        alice=alice,
        bob=bob,
        carol=carol,
        frank=people["frank"],
        victor=people["victor"],
        board=board,
        it_board=it_board,
        columns=columns,
        lanes=lanes,
        labels=labels,
        cards=cards,
    )
