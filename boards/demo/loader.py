"""Load the Acme demo: an organisation, its people and teams, four boards and 120 days of work.

Everything is written through the services, as a user would through the API: the history is
simulated day by day, in chronological order, with an explicit clock (`at=`), so that the
event log's seqs follow time and the flow metrics have a believable past to work on. It is a
pull system: a card enters a column only when the column has room (checked before the pull),
expedite work goes first, fixed-date work before its due date, the backlog in value order.

The random choices come from `random.Random(seed)`: the same seed on the same day gives the
same demo. Running it again does nothing (the demo is loaded once); `--reset` removes the demo
organisation, its boards and the demo users, and builds them again.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any

from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import Membership, Organization, Role, Team, User
from boards import selectors, services
from boards.flow import alerts, followups
from boards.models import (
    Block,
    Board,
    Card,
    CardMove,
    ClassOfService,
    Column,
    Comment,
    Event,
    Label,
    Stage,
    Swimlane,
    WipPolicy,
)

SEED = 20_240_917
DAYS = 120
PASSWORD = "demo"
ORG_NAME = "Acme"
ORG_SLUG = "acme"

EXPEDITE = ClassOfService.EXPEDITE
FIXED_DATE = ClassOfService.FIXED_DATE
STANDARD = ClassOfService.STANDARD
INTANGIBLE = ClassOfService.INTANGIBLE

# The board's rhythm: each team looks at its board a few times a working day (UTC), and at
# each look moves on some of what is ready (expedite work always).
TICKS = ((9, 0), (10, 30), (12, 0), (14, 0), (15, 30))
ATTENTION = 0.6
# Per working day and per card in a column of that stage: the chance that the work gets
# blocked, or that someone comments on it.
BLOCK_CHANCE: dict[str, float] = {Stage.ACTIVE: 0.044 / len(TICKS), Stage.WAIT: 0.016 / len(TICKS)}
COMMENT_CHANCE: dict[str, float] = {
    Stage.ACTIVE: 0.032 / len(TICKS),
    Stage.WAIT: 0.008 / len(TICKS),
}
# A soft limit bends now and then (and raises an alert); a hard one never does.
SOFT_BREACH_CHANCE = 0.01


# --- people --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    username: str
    first_name: str
    last_name: str
    role: str
    teams: tuple[str, ...] = ()
    wip_limit: int | None = None


PEOPLE = (
    Person("alice", "Alice", "Johnson", Role.OWNER),
    Person("bob", "Bob", "Martin", Role.MEMBER, ("sales",)),
    Person("victor", "Victor", "Hughes", Role.VIEWER),
    Person("carol", "Carol", "Nguyen", Role.MEMBER, ("sales",), wip_limit=4),
    Person("heidi", "Heidi", "Larsen", Role.ADMIN, ("product",)),
    Person("dave", "Dave", "Okafor", Role.MEMBER, ("product",), wip_limit=3),
    Person("erin", "Erin", "Schmidt", Role.MEMBER, ("product",)),
    Person("frank", "Frank", "Moreau", Role.MEMBER, ("it",)),
    Person("grace", "Grace", "Kowalski", Role.MEMBER, ("it",), wip_limit=3),
    Person("ivan", "Ivan", "Petrov", Role.MEMBER, ("it",)),
)
DEMO_USERNAMES = tuple(p.username for p in PEOPLE)
TEAMS = (("sales", "Sales"), ("product", "Product"), ("it", "IT"))


# --- what the cards are about ---------------------------------------------------------------

COMPANIES = (
    "Northwind Traders", "Blue Harbor Logistics", "Fernwood Dental", "Kestrel Insurance",
    "Larkspur Schools", "Meridian Hotels", "Oakridge Clinics", "Pinecrest Bank",
    "Quarry Lane Architects", "Redwood Outdoor", "Silverline Rail", "Tidewater Foods",
    "Vantage Motors", "Willow Care Homes", "Yellowfin Media", "Zephyr Airlines", "Alder Energy",
    "Brightwater Utilities", "Cobalt Mining", "Driftwood Hospitality", "Ember Studios",
    "Foxglove Pharmacy", "Granite Construction", "Harbourview Council", "Ironbridge Engineering",
    "Juniper Software", "Kingfisher Retail", "Lighthouse Charity", "Maple Leaf Dairy",
    "Orchard Legal",
)  # fmt: skip

SALES_DEALS = (
    ("pilot for {n} seats", 10, 60),
    ("annual licence, {n} seats", 20, 150),
    ("expansion to {n} seats", 50, 400),
    ("enterprise plan, {n} seats", 200, 1200),
    ("renewal, {n} seats", 30, 500),
    ("onboarding and training package", 0, 0),
    ("SSO add-on for {n} users", 100, 800),
)

DELIVERY_FEATURES = (
    "Export a board to CSV", "Single sign-on with Okta", "Card templates",
    "Keyboard shortcuts on the board", "Dark mode", "Move several cards at once",
    "Slack notification when a card is blocked", "Due-date reminders by email",
    "Cumulative flow chart on the metrics page", "Audit log export",
    "Board loads in under a second with 1,000 cards", "Two-factor authentication",
    "Mobile layout for the stand-up view", "Search in comments", "Swimlane WIP limits",
    "Webhooks for card moves", "Attachments on cards", "Markdown preview in the card editor",
    "German translation", "Recurring cards", "Archive view with restore",
    "Rate-limit headers on the API", "Examples in the public API docs",
    "SCIM user provisioning", "Card ageing colours", "Custom fields on cards",
    "Import from Trello", "Import a Jira CSV export", "Weekly throughput email",
    "Personal WIP limit warning", "Block reasons report", "Lead-time histogram",
    "Filter the board by assignee", "Show the class of service on the card",
    "Print the board for the stand-up", "Microsoft Teams notifications",
)  # fmt: skip
DELIVERY_BUGS = (
    "Card position jumps after a drag on Safari", "History shows times in the wrong time zone",
    "Comment notifications are sent twice", "CSV export drops accented characters",
    "Metrics page times out for boards with a long history",
    "Blocked badge stays after unblocking", "Login form loses the next= parameter",
    "Swimlane order resets after a rename", "Due date off by one day in the card dialog",
    "Websocket reconnect loops when the laptop wakes up",
    "Card count in the column header is stale after an archive",
    "Password reset email links expire too early", "Board title overflows on small screens",
    "Throughput chart skips the first week of January", "Labels lose their colour after a rename",
    "API returns 500 for an empty search query", "Drag and drop fails with a trackpad in Firefox",
    "Stand-up view lists archived cards", "Export ignores the swimlane filter",
    "Avatar initials wrong for single-letter names", "Comment editor eats the last character",
    "Due-date badge red one day early", "Slow login when the user is in many organisations",
)  # fmt: skip
DELIVERY_DEBT = (
    "Upgrade to Django 5.2", "Remove the legacy v0 API", "Move static files behind the CDN",
    "Replace the cron jobs with Celery beat", "Add indexes for card search",
    "Split the board template into components", "Speed up the test suite",
    "Remove the unused jQuery plugins", "Pin the front-end dependencies",
    "Move settings to environment variables only", "Add type hints to the metrics module",
    "Archive history rows older than two years", "Replace the hand-made date picker",
)  # fmt: skip

DISCOVERY_QUESTIONS = (
    "Would small teams convert from a free tier?", "Why did five customers churn last quarter?",
    "Do managers want a portfolio view across boards?", "Per-seat or flat pricing?",
    "Would a mobile app increase daily use?", "Time tracking on cards: needed or noise?",
    "Can we summarise the stand-up automatically?", "How much demand for Microsoft Teams?",
    "What stops a new board from being used in its first week?",
    "Do fixed-date teams need a timeline view?", "Should cards link to OKRs?",
    "Is there demand for a self-hosted edition?", "Usage-based pricing for the API?",
    "Would a customer advisory board help the roadmap?", "Which metrics do coaches print?",
    "Do teams want WIP limits per person?", "How do agencies share boards with clients?",
    "Is onboarding faster with a sample board?", "What do admins need for compliance audits?",
    "Would dependencies between boards be used?", "Do support teams want an email-to-card inbox?",
    "What would make managers stop asking for status reports?",
    "Why do trial users stop after creating one card?", "Do teams read the metrics page?",
    "Would a weekly digest email bring managers back?", "Is a Kanban course worth selling?",
    "Do large boards need collapsible swimlanes?", "What do customers use labels for?",
    "Would a public roadmap board help sales?", "Do teams want to estimate, or only to count?",
    "Is there a market in schools and universities?", "Does offline mode matter in warehouses?",
    "How do teams run retrospectives today?", "Which integrations do prospects ask for first?",
    "Does a dark mode change daily use?", "Would a template gallery speed up onboarding?",
)  # fmt: skip
DISCOVERY_SEGMENTS = (
    "SMB teams", "Enterprise admins", "Agile coaches", "Support teams", "Agencies",
    "Engineering managers", "Trial users", "Churned customers",
)  # fmt: skip

FIRST_NAMES = (
    "Amira", "Ben", "Chloe", "Diego", "Elif", "Finn", "Greta", "Hugo", "Ines", "Jonas", "Kenji",
    "Lena", "Marco", "Noor", "Oscar", "Priya", "Quentin", "Rosa", "Sami", "Tara", "Uma", "Yusuf",
)  # fmt: skip
IT_REQUESTS = (
    "Laptop for new hire {name}", "Reset MFA for {name}", "VPN access for contractor {name}",
    "Onboard {name} (starts Monday)", "Offboard {name}: revoke access, collect laptop",
    "Replace the projector in meeting room {room}", "Renew the TLS certificate for {host}",
    "Upgrade Postgres on {host}", "Patch {host} for the OpenSSH advisory",
    "Set up the printer on floor {floor}", "Add the {dept} team to the shared drive",
    "Restore test of the {system} backup", "Rotate the {system} API keys",
    "Wi-Fi dead spot near meeting room {room}", "Second monitor for {name}",
    "Licence for the design tool for {name}", "Move {system} logs to the central store",
    "Decommission {host}", "Disk almost full on {host}", "Update the laptop image to the new OS",
)  # fmt: skip
IT_INCIDENTS = (
    "Incident: email delivery delayed for everyone", "Incident: VPN down for the Lyon office",
    "Incident: build server out of disk", "Incident: payroll export failing",
    "Incident: website answers 502", "Incident: phones down in the support team",
    "Incident: SSO login loop", "Incident: backups failed three nights in a row",
)  # fmt: skip
IT_HOSTS = ("api.acme.example", "db-2", "build-1", "intranet", "mail-gw", "files-1", "crm")
IT_SYSTEMS = ("CRM", "payroll", "wiki", "file server", "accounting", "HR portal")
IT_DEPTS = ("Finance", "Sales", "Product", "Support", "HR", "Marketing")


# --- boards --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    stage: str
    wip_limit: int | None = None
    wip_policy: str = WipPolicy.SOFT
    policy: str = ""
    # Active columns: days of work (median, spread). Wait columns: hours before it may move on.
    effort_days: tuple[float, float] = (1.0, 0.5)
    wait_hours: tuple[float, float] = (4.0, 0.8)
    skip_chance: float = 0.0  # a card may go straight past this column

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "stage": self.stage,
            "wip_limit": self.wip_limit,
            "wip_policy": self.wip_policy,
            "policy": self.policy,
        }


@dataclass(frozen=True)
class BoardSpec:
    key: str
    team: str
    name: str
    description: str
    columns: tuple[ColumnSpec, ...]
    swimlanes: tuple[str, ...]
    labels: tuple[tuple[str, str], ...]
    cards: int
    initial_backlog: float  # share of the cards already in the backlog on day one
    people: tuple[str, ...]  # who pulls work on this board, the lead first
    reopen_chance: float
    reopen_to: str
    block_reasons: tuple[str, ...]
    unblock_notes: tuple[str, ...]
    comments: tuple[str, ...]
    reopen_notes: tuple[str, ...]
    expedite_lane: str | None = None
    can_override: bool = False


BOARDS = (
    BoardSpec(
        key="sales",
        team="sales",
        name="Sales pipeline",
        description="Every deal from first contact to signature. **Value** is the deal's size "
        "and fit; the top of *Leads* is the next one to qualify.",
        columns=(
            ColumnSpec(
                "Leads",
                Stage.BACKLOG,
                policy="Anyone may add a lead. Ordered by value: best fit on top.",
            ),
            ColumnSpec(
                "Qualified",
                Stage.WAIT,
                8,
                policy="Entry: budget, decision maker, need and timing confirmed.",
                wait_hours=(20, 0.8),
            ),
            ColumnSpec(
                "Discovery",
                Stage.ACTIVE,
                4,
                WipPolicy.HARD,
                policy="Entry: a discovery call is booked and an owner assigned.\n"
                "Exit: pains, decision process and budget written on the card.",
                effort_days=(8.0, 0.5),
            ),
            ColumnSpec(
                "Proposal",
                Stage.ACTIVE,
                4,
                policy="Exit: proposal sent, priced with the current price list, "
                "reviewed by a second person.",
                effort_days=(2.0, 0.5),
            ),
            ColumnSpec(
                "Negotiation",
                Stage.WAIT,
                6,
                policy="The ball is in the customer's court: chase every three working days.",
                wait_hours=(110, 0.6),
            ),
            ColumnSpec(
                "Won",
                Stage.DONE,
                policy="Definition of done: contract signed, CRM updated, handed over to "
                "onboarding with a kick-off date.",
            ),
        ),
        swimlanes=("Enterprise", "SMB"),
        labels=(
            ("inbound", "#16a34a"),
            ("outbound", "#2563eb"),
            ("renewal", "#9333ea"),
            ("partner", "#ea580c"),
        ),
        cards=58,
        initial_backlog=0.2,
        people=("bob", "carol"),
        reopen_chance=0.03,
        reopen_to="Negotiation",
        block_reasons=(
            "Waiting for the customer's legal team to review the contract",
            "Our champion is on holiday until next week",
            "Procurement asks for a security questionnaire first",
            "Discount above 20 %: needs approval from finance",
            "Customer's budget frozen until the new quarter",
        ),
        unblock_notes=(
            "Legal came back with two small changes; accepted.",
            "Champion is back and keen to move on.",
            "Security questionnaire answered with IT's help.",
            "Finance approved the discount.",
        ),
        comments=(
            "Call went well: they want a demo for their ops team too.",
            "Sent the case study from a similar customer.",
            "They compare us with two competitors; price is not the main criterion.",
            "Decision expected by the end of the month.",
            "Asked for a reference customer in their industry.",
            "Updated the proposal with the annual billing option.",
        ),
        reopen_notes=(
            "Customer asked to renegotiate the payment terms before signing the order form.",
        ),
    ),
    BoardSpec(
        key="delivery",
        team="product",
        name="Product delivery",
        description="What the product team builds, from ready to released. Expedite work has "
        "its own lane and goes first.",
        columns=(
            ColumnSpec(
                "Backlog",
                Stage.BACKLOG,
                policy="Ordered by value. Anything expedite goes straight to Ready.",
            ),
            ColumnSpec(
                "Ready",
                Stage.WAIT,
                6,
                policy="Entry: acceptance criteria written, sized to fit in a week, "
                "dependencies known.",
                wait_hours=(6, 0.8),
            ),
            ColumnSpec(
                "In progress",
                Stage.ACTIVE,
                5,
                WipPolicy.HARD,
                policy="Entry: someone pulls the card and is assigned.\n"
                "Exit: code pushed, tests green, a pull request open.",
                effort_days=(4.5, 0.55),
            ),
            ColumnSpec(
                "Code review",
                Stage.WAIT,
                4,
                policy="Exit: approved by another developer. Review before starting new work.",
                wait_hours=(7, 0.7),
            ),
            ColumnSpec(
                "Testing",
                Stage.ACTIVE,
                3,
                WipPolicy.HARD,
                policy="Exit: tested on staging by someone other than the author.",
                effort_days=(0.8, 0.5),
            ),
            ColumnSpec(
                "Done",
                Stage.DONE,
                policy="Definition of done: deployed to production, release note written, "
                "the customer who asked for it told.",
            ),
        ),
        swimlanes=("Expedite", "Standard"),
        labels=(
            ("feature", "#2563eb"),
            ("bug", "#dc2626"),
            ("tech debt", "#64748b"),
            ("security", "#7c3aed"),
            ("UX", "#db2777"),
        ),
        cards=84,
        initial_backlog=0.15,
        people=("heidi", "dave", "erin"),
        reopen_chance=0.06,
        reopen_to="In progress",
        block_reasons=(
            "Waiting for the Platform team's API change",
            "Staging environment is down",
            "Needs a design decision from UX",
            "Migration fails on staging data",
            "Waiting for the customer to confirm the acceptance criteria",
        ),
        unblock_notes=(
            "Platform shipped the change; back on it.",
            "Staging is back up.",
            "UX picked option B; unblocked.",
            "Fixed the migration for the old rows.",
            "Customer confirmed by email.",
        ),
        comments=(
            "Split the card: the export of comments goes to a follow-up.",
            "Paired on the tricky part this morning.",
            "Pull request is up, needs a reviewer.",
            "Added the acceptance tests.",
            "Performance looks fine with 1,000 cards on staging.",
            "Release note drafted.",
            "Found an edge case with archived cards; handling it.",
        ),
        reopen_notes=(
            "Reopened: a customer found a bug with it in production.",
            "Reopened: the release was rolled back, it breaks the old mobile app.",
        ),
        expedite_lane="Expedite",
    ),
    BoardSpec(
        key="discovery",
        team="product",
        name="Product discovery",
        description="Questions worth answering before we build. A card ends with a decision: "
        "go (a delivery card is created) or no-go (and why).",
        columns=(
            ColumnSpec("Ideas", Stage.BACKLOG, policy="Anyone may add an idea. Ordered by value."),
            ColumnSpec(
                "To explore",
                Stage.WAIT,
                5,
                policy="Entry: the problem and the customer segment are named.",
                wait_hours=(24, 0.8),
            ),
            ColumnSpec(
                "Research",
                Stage.ACTIVE,
                3,
                policy="Interviews, usage data, competitors. At least five conversations.",
                effort_days=(8.0, 0.5),
            ),
            ColumnSpec(
                "Prototype",
                Stage.ACTIVE,
                2,
                WipPolicy.HARD,
                policy="Exit: a prototype tested with at least three customers.",
                effort_days=(5.0, 0.5),
            ),
            ColumnSpec(
                "Decided",
                Stage.DONE,
                policy="Definition of done: go/no-go recorded with the evidence; "
                "for a go, a card in Product delivery.",
            ),
        ),
        swimlanes=("Default",),
        labels=(
            ("pricing", "#ca8a04"),
            ("growth", "#16a34a"),
            ("retention", "#0891b2"),
            ("platform", "#64748b"),
        ),
        cards=38,
        initial_backlog=0.25,
        people=("heidi", "erin", "dave"),
        reopen_chance=0.05,
        reopen_to="Research",
        block_reasons=(
            "No interviewees booked yet",
            "Waiting for the analytics data export",
            "Legal is reviewing the survey wording",
        ),
        unblock_notes=(
            "Five interviews booked for next week.",
            "Data export arrived.",
            "Legal approved the survey.",
        ),
        comments=(
            "Three of five interviewees raised the same pain.",
            "Usage data says 12 % of boards would use this.",
            "Competitor X launched something similar last month.",
            "Prototype link shared in the card description.",
            "Leaning towards no-go: the pain is real but rare.",
        ),
        reopen_notes=("Reopened: new churn interviews contradict the decision.",),
    ),
    BoardSpec(
        key="it",
        team="it",
        name="IT operations",
        description="Requests and incidents for the whole company. Incidents are expedite "
        "and go first; everything else is pulled in order.",
        columns=(
            ColumnSpec(
                "Requests",
                Stage.BACKLOG,
                policy="Raise a request here; IT triages twice a day.",
            ),
            ColumnSpec(
                "Triaged",
                Stage.WAIT,
                10,
                policy="Entry: impact and urgency set. Incidents are expedite.",
                wait_hours=(3, 0.8),
            ),
            ColumnSpec(
                "Doing",
                Stage.ACTIVE,
                3,
                WipPolicy.HARD,
                policy="Entry: an owner is assigned. Only owners and admins may pass the "
                "limit, for an incident, and must say why.",
                effort_days=(3.5, 0.8),
            ),
            ColumnSpec(
                "Waiting on others",
                Stage.WAIT,
                5,
                policy="Parked on a vendor or the requester: chase every two days.",
                wait_hours=(40, 0.7),
                skip_chance=0.65,
            ),
            ColumnSpec(
                "Done",
                Stage.DONE,
                policy="Definition of done: the requester confirmed, the runbook updated.",
            ),
        ),
        swimlanes=("Expedite", "Standard"),
        labels=(
            ("incident", "#dc2626"),
            ("access", "#2563eb"),
            ("hardware", "#92400e"),
            ("network", "#0891b2"),
            ("security", "#7c3aed"),
        ),
        cards=72,
        initial_backlog=0.12,
        people=("frank", "grace", "ivan"),
        reopen_chance=0.05,
        reopen_to="Doing",
        block_reasons=(
            "Waiting for the vendor to ship the replacement part",
            "The requester has not answered for two days",
            "Change freeze until the end of the release",
            "Licence purchase needs approval",
        ),
        unblock_notes=(
            "Part arrived this morning.",
            "Requester answered, going ahead.",
            "Freeze lifted.",
            "Purchase approved by finance.",
        ),
        comments=(
            "Talked to the requester; it is worse in the afternoon.",
            "Workaround sent while we fix it properly.",
            "Vendor ticket opened, reference in the description.",
            "Updated the runbook with the steps.",
            "Checked the logs: nothing since Tuesday.",
        ),
        reopen_notes=("Reopened: the problem came back after the reboot.",),
        expedite_lane="Expedite",
        can_override=True,
    ),
)


# --- the simulation's state ------------------------------------------------------------------


@dataclass
class ColState:
    index: int
    column: Column
    spec: ColumnSpec
    wip: int = 0

    @property
    def stage(self) -> str:
        return self.spec.stage


@dataclass
class CardState:
    """What the simulation knows of a card: where it is, and when it will be ready to move on
    (its work in the column done, or its wait over)."""

    card: Card
    lane: Swimlane
    col: int
    cos: str
    value: int
    due: date | None
    ready_at: datetime
    assignees: list[User] = field(default_factory=list)
    blocked_since: datetime | None = None
    blocked_until: datetime | None = None
    finished: datetime | None = None
    reopen_at: datetime | None = None
    reopened: bool = False


@dataclass
class BoardState:
    spec: BoardSpec
    board: Board
    cols: list[ColState]
    lanes: list[Swimlane]
    labels: dict[str, Label]
    people: list[User]
    cells: dict[tuple[int, int], list[CardState]] = field(default_factory=dict)
    overridden: bool = False
    escalations: int = 0
    titles: set[str] = field(default_factory=set)
    pools: dict[str, list[str]] = field(default_factory=dict)
    assigned: set[int] = field(default_factory=set)  # everyone ever assigned a card here

    def cell(self, col: int, lane: Swimlane) -> list[CardState]:
        return self.cells.setdefault((col, lane.pk), [])

    def cards_in(self, col: int) -> list[CardState]:
        return [sc for lane in self.lanes for sc in self.cells.get((col, lane.pk), [])]

    def live(self) -> list[CardState]:
        return [sc for cards in self.cells.values() for sc in cards]

    def column(self, name: str) -> ColState:
        return next(c for c in self.cols if c.spec.name == name)

    @property
    def lead(self) -> User:
        return self.people[0]

    def lane(self, name: str) -> Swimlane:
        return next(lane for lane in self.lanes if lane.name == name)

    @property
    def standard_lane(self) -> Swimlane:
        return self.lanes[-1] if self.spec.expedite_lane else self.lanes[0]


def lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


class OutOfTime(Exception):
    """The simulated clock reached the present: the history ends here."""


def priority(sc: CardState, index: int) -> tuple:
    """Pull order: expedite first, then fixed-date work by due date, then the cell's order."""
    ranks: dict[str, int] = {EXPEDITE: 0, FIXED_DATE: 1}
    rank = ranks.get(sc.cos, 2)
    due = sc.due.toordinal() if sc.due else 0
    return (rank, due if rank == 1 else 0, index)


# --- the loader ------------------------------------------------------------------------------


class DemoLoader:
    def __init__(self, *, seed: int, now: datetime, days: int = DAYS) -> None:
        self.rng = random.Random(seed)
        self.now = now
        self.today = now.astimezone(UTC).date()
        start = self.today - timedelta(days=days)
        while start.weekday() >= 5:
            start += timedelta(days=1)
        self.start = start
        self.clock = self.moment(start, 8, 0)
        self.users: dict[str, User] = {}
        self.boards: list[BoardState] = []
        self.stats: Counter[str] = Counter()
        self.ended = False
        self.breached: dict[int, frozenset] = {}

    # -- time

    @staticmethod
    def moment(day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, clock_time(hour, minute), tzinfo=UTC)

    def at(self, *, least: int = 40, most: int = 300) -> datetime:
        """The next instant on the simulated clock: a little after the last action, never in
        the future (once the simulation ends, the last few actions share the last instant)."""
        t = self.clock + timedelta(seconds=self.rng.randint(least, most))
        if t >= self.now - timedelta(seconds=30):
            if not self.ended:
                raise OutOfTime
            t = self.clock
        self.clock = t
        return t

    def working_days(self) -> list[date]:
        days = []
        day = self.start
        while day <= self.today:
            if day.weekday() < 5:
                days.append(day)
            day += timedelta(days=1)
        return days

    # -- setup

    def run(self) -> None:
        """Set the organisation up, then live its last working days one by one."""
        alice = self.setup_people()
        days = self.working_days()
        arrivals = self.plan_arrivals(days)
        for board_spec in BOARDS:
            self.boards.append(self.setup_board(board_spec, alice))
        retro_day = next(d for d in days[45:] if d.weekday() == 4)
        try:
            for number, day in enumerate(days):
                self.simulate_day(number, day, arrivals.get(day, []), retro=day == retro_day)
        except OutOfTime:
            pass
        self.ended = True
        self.watch_alerts()
        self.leave_it_alive()
        self.check_wip()

    def setup_people(self) -> User:
        for person in PEOPLE:
            self.users[person.username] = accounts_services.create_user(
                username=person.username,
                password=PASSWORD,
                email=f"{person.username}@acme.example",
                first_name=person.first_name,
                last_name=person.last_name,
            )
        alice = self.users["alice"]
        org = accounts_services.create_organization(name=ORG_NAME, slug=ORG_SLUG, actor=alice)
        for person in PEOPLE:
            if person.role != Role.OWNER:
                accounts_services.add_member(
                    org,
                    user=self.users[person.username],
                    role=person.role,
                    wip_limit=person.wip_limit,
                    actor=alice,
                )
        self.teams = {
            slug: accounts_services.create_team(
                org,
                name=name,
                slug=slug,
                members=[self.users[p.username] for p in PEOPLE if slug in p.teams],
                actor=alice,
            )
            for slug, name in TEAMS
        }
        return alice

    def setup_board(self, spec: BoardSpec, alice: User) -> BoardState:
        lead = self.users[spec.people[0]]
        board = services.create_board(
            team=self.teams[spec.team],
            name=spec.name,
            description=spec.description,
            columns=[c.as_dict() for c in spec.columns],
            swimlanes=spec.swimlanes,
            actor=alice,
            at=self.at(),
        )
        columns = list(Column.objects.filter(board=board).order_by("position"))
        labels = {
            name: services.create_label(board, name=name, color=color, actor=lead, at=self.at())
            for name, color in spec.labels
        }
        return BoardState(
            spec=spec,
            board=board,
            cols=[
                ColState(i, c, s)
                for i, (c, s) in enumerate(zip(columns, spec.columns, strict=True))
            ],
            lanes=list(Swimlane.objects.filter(board=board).order_by("position")),
            labels=labels,
            people=[self.users[u] for u in spec.people],
        )

    def plan_arrivals(self, days: list[date]) -> dict[date, list[tuple[int, int]]]:
        """Which card of which board arrives on which working day (never today: the card count
        does not depend on the hour the demo is loaded)."""
        plan: dict[date, list[tuple[int, int]]] = {}
        past = days[1:-1] or days[:1]
        # Demand grows over the period (twice as many requests at the end as at the start), so
        # that by now the backlogs hold more than the teams can take.
        weights = [1 + i / len(past) for i in range(len(past))]
        for b, spec in enumerate(BOARDS):
            initial = round(spec.cards * spec.initial_backlog)
            later = self.rng.choices(past, weights, k=spec.cards - initial)
            for i, day in enumerate([days[0]] * initial + later):
                plan.setdefault(day, []).append((b, i))
        return plan

    # -- one day

    def simulate_day(
        self, number: int, day: date, arrivals: list[tuple[int, int]], *, retro: bool
    ) -> None:
        schedule: list[tuple[datetime, int, str, Any]] = []
        for b, i in arrivals:
            hour = 8 if number == 0 else self.rng.choice((9, 10, 11, 13, 14, 15, 16))
            when = self.moment(day, hour, self.rng.randint(0, 59))
            schedule.append((when, 0, "arrive", (b, i)))
        for b in range(len(self.boards)):
            for k, (hour, minute) in enumerate(TICKS):
                when = self.moment(day, hour, minute) + timedelta(minutes=self.rng.randint(0, 45))
                schedule.append((when, 1, "tick", (b, k)))
        if retro:
            schedule.append((self.moment(day, 15, 30), 2, "retro", None))
        schedule.sort(key=lambda item: (item[0], item[1]))
        for when, _, kind, arg in schedule:
            if when >= self.now:
                raise OutOfTime
            self.clock = max(self.clock, when)
            try:
                if kind == "arrive":
                    b, i = arg
                    self.arrive(self.boards[b], i, day)
                elif kind == "tick":
                    b, k = arg
                    self.tick(self.boards[b], day, k)
                else:
                    self.retro()
            finally:
                self.watch_alerts()
        self.check_wip()

    def tick(self, b: BoardState, day: date, k: int) -> None:
        self.unblock_due(b)
        self.reopen_due(b)
        self.flow(b)
        if k in (0, 3) or self.rng.random() < 0.25:
            self.replenish(b)
        self.maybe_block(b)
        self.maybe_comment(b)
        if self.rng.random() < 0.03:
            self.reprioritise(b)
        if b.spec.expedite_lane and b.escalations < 2 and self.rng.random() < 0.003:
            self.escalate(b)
        if k == len(TICKS) - 1 and day.weekday() == 4 and day.isocalendar().week % 3 == 0:
            self.tidy_done(b)

    # -- arrivals

    def arrive(self, b: BoardState, i: int, day: date) -> None:
        spec = b.spec
        attrs = getattr(self, f"card_{spec.key}")(b, i)
        cos = attrs["cos"]
        lane = b.standard_lane
        if spec.expedite_lane and cos == EXPEDITE:
            lane = b.lane(spec.expedite_lane)
        elif "lane" in attrs:
            lane = b.lane(attrs["lane"])
        # Expedite work is committed at once: it is created straight into the first queue.
        col = 1 if cos == EXPEDITE else 0
        cell = b.cell(col, lane)
        position = None
        if col == 0:  # the backlog is kept in value order
            position = sum(1 for sc in cell if sc.value >= attrs["value"])
        due = day + timedelta(days=attrs["due_in"]) if attrs.get("due_in") else None
        creator = self.rng.choice([*b.people, b.lead, self.users["alice"]])
        at = self.at()
        card = services.create_card(
            b.board,
            title=attrs["title"],
            column=b.cols[col].column,
            swimlane=lane,
            position=position,
            description=attrs.get("description", ""),
            labels=[b.labels[name] for name in attrs.get("labels", ())],
            value=attrs["value"],
            customer=attrs.get("customer", ""),
            class_of_service=cos,
            due_date=due,
            actor=creator,
            at=at,
        )
        sc = CardState(
            card=card,
            lane=lane,
            col=col,
            cos=cos,
            value=attrs["value"],
            due=due,
            ready_at=at + timedelta(hours=self.rng.uniform(0.5, 3)),
        )
        cell.insert(len(cell) if position is None else position, sc)
        b.cols[col].wip += 1
        self.stats["cards"] += 1

    def _pick(self, b: BoardState, kind: str, options: tuple[str, ...]) -> str:
        """Draw without replacement, so that a request comes back only once all have come."""
        pool = b.pools.get(kind)
        if not pool:
            pool = b.pools[kind] = list(options)
            self.rng.shuffle(pool)
        return pool.pop()

    def _unique(self, b: BoardState, title: str) -> str:
        """The same request comes back now and then: say so in its title."""
        candidate, round_ = title, 1
        while candidate in b.titles:
            round_ += 1
            candidate = f"{title} (follow-up)" if round_ == 2 else f"{title} (round {round_})"
        b.titles.add(candidate)
        return candidate

    def card_sales(self, b: BoardState, i: int) -> dict:
        rng = self.rng
        company = rng.choice(COMPANIES)
        deal, low, high = rng.choice(SALES_DEALS)
        seats = rng.randrange(max(low, 5), max(high, 10), 5) if high else 0
        value = min(100, 15 + int(math.sqrt(seats) * 2.4) + rng.randint(-8, 12))
        label = rng.choices(("inbound", "outbound", "renewal", "partner"), (5, 3, 2, 1))[0]
        if deal.startswith("renewal"):
            label = "renewal"
        cos = FIXED_DATE if label == "renewal" or rng.random() < 0.08 else STANDARD
        return {
            "title": self._unique(b, f"{company}: {deal.format(n=seats)}"),
            "description": f"Contact: {rng.choice(FIRST_NAMES)} ({rng.choice(IT_DEPTS)}).\n\n"
            f"- Source: {label}\n- Seats: {seats or 'n/a'}",
            "customer": company,
            "value": max(5, value),
            "labels": (label,),
            "cos": cos,
            "due_in": rng.randint(25, 50) if cos == FIXED_DATE else None,
            "lane": "Enterprise" if seats >= 200 else "SMB",
        }

    def card_delivery(self, b: BoardState, i: int) -> dict:
        rng = self.rng
        roll = rng.random()
        customer = rng.choice((*COMPANIES[:12], "Support team", "All customers", "Sales team"))
        if roll < 0.06:
            title = f"Hotfix: {lower_first(self._pick(b, 'bug', DELIVERY_BUGS))}"
            kind, cos, value = "bug", EXPEDITE, rng.randint(80, 100)
        elif roll < 0.3:
            title = f"Fix: {lower_first(self._pick(b, 'bug', DELIVERY_BUGS))}"
            kind, cos, value = "bug", STANDARD, rng.randint(30, 80)
        elif roll < 0.42:
            title = self._pick(b, "debt", DELIVERY_DEBT)
            kind, cos, value, customer = "tech debt", INTANGIBLE, rng.randint(15, 55), "Developers"
        else:
            title = self._pick(b, "feature", DELIVERY_FEATURES)
            kind, cos, value = "feature", STANDARD, int(rng.triangular(10, 95, 55))
            if rng.random() < 0.12:
                cos = FIXED_DATE
        labels = [kind]
        if rng.random() < 0.15:
            labels.append(rng.choice(("security", "UX")))
        return {
            "title": self._unique(b, title),
            "description": f"**Why:** asked by {customer}.\n\n"
            "**Acceptance:**\n\n- [ ] works on the board page\n- [ ] covered by a test",
            "customer": customer,
            "value": value,
            "labels": labels,
            "cos": cos,
            "due_in": rng.randint(20, 45) if cos == FIXED_DATE else None,
        }

    def card_discovery(self, b: BoardState, i: int) -> dict:
        rng = self.rng
        return {
            "title": self._unique(b, self._pick(b, "question", DISCOVERY_QUESTIONS)),
            "description": "**Hypothesis:** if we answer this we know whether to build it.\n\n"
            "**Evidence so far:** none yet.",
            "customer": rng.choice(DISCOVERY_SEGMENTS),
            "value": int(rng.triangular(10, 90, 45)),
            "labels": (rng.choice(tuple(b.spec.labels))[0],),
            "cos": INTANGIBLE if rng.random() < 0.2 else STANDARD,
        }

    def card_it(self, b: BoardState, i: int) -> dict:
        rng = self.rng
        if rng.random() < 0.1:
            title = self._pick(b, "incident", IT_INCIDENTS)
            return {
                "title": self._unique(b, title),
                "description": "Impact: many people. Workaround: none yet.",
                "customer": "Whole company",
                "value": rng.randint(85, 100),
                "labels": ("incident",),
                "cos": EXPEDITE,
            }
        template = rng.choice(IT_REQUESTS)
        title = template.format(
            name=rng.choice(FIRST_NAMES),
            room=rng.choice(("Aurora", "Borealis", "Cirrus", "Delta")),
            host=rng.choice(IT_HOSTS),
            floor=rng.randint(1, 4),
            dept=rng.choice(IT_DEPTS),
            system=rng.choice(IT_SYSTEMS),
        )
        if any(w in template for w in ("Laptop", "projector", "printer", "monitor")):
            label = "hardware"
        elif any(w in template for w in ("MFA", "VPN", "Onboard", "Offboard", "drive")):
            label = "access"
        elif any(w in template for w in ("TLS", "Patch", "Rotate")):
            label = "security"
        else:
            label = "network" if "Wi-Fi" in template else rng.choice(("hardware", "network"))
        cos = FIXED_DATE if template.startswith(("Onboard", "Offboard", "Renew")) else STANDARD
        return {
            "title": self._unique(b, title),
            "description": f"Requested by {rng.choice(FIRST_NAMES)} ({rng.choice(IT_DEPTS)}).",
            "customer": rng.choice(IT_DEPTS),
            "value": int(rng.triangular(10, 80, 35)),
            "labels": (label,),
            "cos": cos,
            "due_in": rng.randint(7, 20) if cos == FIXED_DATE else None,
        }

    # -- moves

    def actor_for(self, b: BoardState, sc: CardState) -> User:
        if sc.assignees and self.rng.random() < 0.85:
            return self.rng.choice(sc.assignees)
        return self.rng.choice(b.people)

    def has_room(self, b: BoardState, index: int) -> bool:
        """The pull rule, checked before every pull: a column takes a card only below its limit.
        A soft limit bends once in a while (and alerts); a hard one never does."""
        col = b.cols[index]
        limit = col.spec.wip_limit
        if col.stage == Stage.DONE or limit is None or col.wip < limit:
            return True
        if col.spec.wip_policy == WipPolicy.SOFT and self.rng.random() < SOFT_BREACH_CHANCE:
            self.stats["soft_breaches"] += 1
            return True
        return False

    def move(
        self,
        b: BoardState,
        sc: CardState,
        index: int,
        *,
        actor: User | None = None,
        position: int | None = None,
        lane: Swimlane | None = None,
        override_reason: str = "",
        least: int = 40,
        most: int = 300,
    ) -> datetime:
        at = self.at(least=least, most=most)
        lane = lane or sc.lane
        services.move_card(
            sc.card,
            to_column=b.cols[index].column,
            position=position,
            swimlane=lane if lane.pk != sc.lane.pk else None,
            override_reason=override_reason,
            actor=actor or self.actor_for(b, sc),
            at=at,
        )
        self.stats["moves"] += 1
        b.cell(sc.col, sc.lane).remove(sc)
        b.cols[sc.col].wip -= 1
        target = b.cell(index, lane)
        target.insert(len(target) if position is None else position, sc)
        b.cols[index].wip += 1
        previous, sc.col, sc.lane = sc.col, index, lane
        if index != previous:
            self.entered(b, sc, at)
        return at

    def entered(self, b: BoardState, sc: CardState, at: datetime) -> None:
        spec = b.cols[sc.col].spec
        rng = self.rng
        if spec.stage == Stage.ACTIVE:
            median, spread = spec.effort_days
            days = rng.lognormvariate(math.log(median), spread)
            if sc.cos == EXPEDITE:
                days *= 0.35
            sc.ready_at = at + timedelta(days=min(days, median * 5))
        elif spec.stage == Stage.WAIT:
            median, spread = spec.wait_hours
            sc.ready_at = at + timedelta(hours=rng.lognormvariate(math.log(median), spread))
        elif spec.stage == Stage.DONE:
            sc.finished = at
            self.stats["finished"] += 1
            if not sc.reopened and rng.random() < b.spec.reopen_chance:
                sc.reopen_at = at + timedelta(days=rng.uniform(1, 8))

    def assign(self, b: BoardState, sc: CardState) -> User:
        """The person who pulls a card into work takes it: whoever has least on their plate,
        on every board, and preferably not someone already at their personal limit."""
        load = self.in_progress()
        limits = {self.users[p.username].pk: p.wip_limit for p in PEOPLE if p.wip_limit}

        def busy(user: User) -> tuple:
            full = user.pk in limits and load[user.pk] >= limits[user.pk]
            return (full, load[user.pk], self.rng.random())

        people = sorted(b.people, key=busy)
        sc.assignees = [people[0]]
        if len(people) > 1 and self.rng.random() < 0.15:
            sc.assignees.append(people[1])  # pairing
        b.assigned.update(u.pk for u in sc.assignees)
        return people[0]

    def flow(self, b: BoardState) -> None:
        """Right to left, as at the stand-up: finish what can be finished, then pull."""
        last = len(b.cols) - 1
        for index in range(last - 1, 0, -1):
            candidates = [
                sc
                for sc in sorted(
                    b.cards_in(index), key=lambda s: priority(s, b.cell(s.col, s.lane).index(s))
                )
                if sc.blocked_since is None
                and sc.ready_at <= self.clock
                and (sc.cos == EXPEDITE or self.rng.random() < ATTENTION)
            ]
            for sc in candidates:
                target = index + 1
                while (
                    target < last
                    and b.cols[target].spec.skip_chance
                    and self.rng.random() < b.cols[target].spec.skip_chance
                ):
                    target += 1
                if self.has_room(b, target):
                    self.pull(b, sc, target)
                elif (
                    sc.cos == EXPEDITE
                    and b.spec.can_override
                    and not b.overridden
                    and b.cols[target].spec.wip_policy == WipPolicy.HARD
                ):
                    b.overridden = True
                    self.stats["overrides"] += 1
                    self.pull(
                        b,
                        sc,
                        target,
                        actor=self.users["alice"],
                        override_reason="Incident: the whole company is affected; "
                        "swarming on it above the limit.",
                    )
                else:
                    break

    def pull(
        self,
        b: BoardState,
        sc: CardState,
        index: int,
        *,
        actor: User | None = None,
        override_reason: str = "",
    ) -> None:
        """Pull a card into the next column; whoever starts work on it takes it first."""
        if b.cols[index].stage == Stage.ACTIVE and not sc.assignees:
            puller = self.assign(b, sc)
            actor = actor or puller
            services.update_card(sc.card, assignees=sc.assignees, actor=actor, at=self.at())
            self.stats["updates"] += 1
        self.move(b, sc, index, actor=actor, override_reason=override_reason, least=5, most=60)

    def backlog_order(self, sc: CardState) -> tuple:
        """Expedite first, fixed-date work once its date is near, then by value."""
        if sc.cos == EXPEDITE:
            return (0, 0, 0)
        if sc.due and (sc.due - self.clock.date()).days < 30:
            return (1, sc.due.toordinal(), -sc.value)
        return (2, 0, -sc.value)

    def replenish(self, b: BoardState) -> None:
        """Refill the first queue from the top of the backlog, within its limit."""
        for _ in range(3):
            backlog = sorted(b.cards_in(0), key=self.backlog_order)
            ready = [sc for sc in backlog if sc.ready_at <= self.clock]
            if not ready or not self.has_room(b, 1):
                return
            self.move(b, ready[0], 1, actor=b.lead if self.rng.random() < 0.6 else None)

    # -- andon, comments, priorities

    def maybe_block(self, b: BoardState) -> None:
        for sc in b.live():
            stage = b.cols[sc.col].stage
            if sc.blocked_since or stage not in BLOCK_CHANCE:
                continue
            if self.rng.random() >= BLOCK_CHANCE[stage]:
                continue
            self.block(b, sc)

    def block(self, b: BoardState, sc: CardState) -> None:
        reason = self.rng.choice(b.spec.block_reasons)
        at = self.at()
        actor = self.actor_for(b, sc)
        services.block_card(sc.card, reason=reason, actor=actor, at=at)
        days = min(self.rng.lognormvariate(math.log(1.5), 0.8), 12)
        sc.blocked_since, sc.blocked_until = at, at + timedelta(days=max(days, 0.1))
        self.stats["blocks"] += 1
        if self.rng.random() < 0.4:
            self.comment(sc, actor, f"Blocked: {lower_first(reason)}. I'll chase it.")

    def unblock_due(self, b: BoardState) -> None:
        for sc in b.live():
            # a blocked card is given its unblocking time with its block
            if sc.blocked_since is None or sc.blocked_until > self.clock:  # type: ignore[operator]
                continue
            at = self.at()
            actor = self.actor_for(b, sc)
            services.unblock_card(sc.card, actor=actor, at=at)
            # The work stood still while it was blocked.
            sc.ready_at += at - sc.blocked_since
            sc.blocked_since = sc.blocked_until = None
            if self.rng.random() < 0.5:
                self.comment(sc, actor, self.rng.choice(b.spec.unblock_notes))

    def comment(self, sc: CardState, actor: User, body: str) -> None:
        services.add_comment(sc.card, body=body, actor=actor, at=self.at(least=20, most=120))
        self.stats["comments"] += 1

    def maybe_comment(self, b: BoardState) -> None:
        for sc in b.live():
            if self.rng.random() < COMMENT_CHANCE.get(b.cols[sc.col].stage, 0):
                self.comment(sc, self.actor_for(b, sc), self.rng.choice(b.spec.comments))

    def reprioritise(self, b: BoardState) -> None:
        """The lead revises a backlog card's value, and the backlog's order follows."""
        backlog = [sc for sc in b.cards_in(0) if sc.cos != EXPEDITE]
        if len(backlog) < 3:
            return
        sc = self.rng.choice(backlog)
        value = max(5, min(100, sc.value + self.rng.choice((-25, -15, 15, 25, 30))))
        if value == sc.value:
            return
        services.update_card(sc.card, value=value, actor=b.lead, at=self.at())
        self.stats["updates"] += 1
        sc.value = value
        cell = b.cell(0, sc.lane)
        position = sum(1 for other in cell if other is not sc and other.value >= value)
        if position != cell.index(sc):
            self.move(b, sc, 0, actor=b.lead, position=position)

    def escalate(self, b: BoardState) -> None:
        """A standard card turns urgent: expedite, into the expedite lane, top of its column."""
        waiting = [sc for sc in b.cards_in(1) if sc.cos == STANDARD and sc.blocked_since is None]
        if not waiting:
            return
        sc = self.rng.choice(waiting)
        actor = b.lead
        services.update_card(
            sc.card,
            class_of_service=EXPEDITE,
            value=max(sc.value, 85),
            actor=actor,
            at=self.at(),
        )
        self.stats["updates"] += 1
        sc.cos, sc.value = EXPEDITE, max(sc.value, 85)
        # escalate is called only on boards with an expedite lane
        self.move(b, sc, sc.col, actor=actor, position=0, lane=b.lane(b.spec.expedite_lane))  # type: ignore[arg-type]
        self.comment(sc, actor, "Escalated to expedite: a customer is down because of this.")
        b.escalations += 1
        self.stats["escalations"] += 1

    def reopen_due(self, b: BoardState) -> None:
        done = len(b.cols) - 1
        for sc in list(b.cards_in(done)):
            if sc.reopen_at is None or sc.reopen_at > self.clock:
                continue
            target = b.column(b.spec.reopen_to).index
            if not self.has_room(b, target):
                target = 1  # back in the queue, to be pulled again
            actor = sc.assignees[0] if sc.assignees else b.lead
            sc.finished, sc.reopen_at, sc.reopened = None, None, True
            self.move(b, sc, target, actor=actor)
            self.stats["reopened"] += 1
            self.comment(sc, actor, self.rng.choice(b.spec.reopen_notes))

    def tidy_done(self, b: BoardState) -> None:
        """Every few weeks the team archives a few cards finished long ago."""
        done = len(b.cols) - 1
        old = [
            sc
            for sc in b.cards_in(done)
            if sc.reopen_at is None and sc.finished and (self.clock - sc.finished).days > 30
        ]
        # `old` holds finished cards only
        for sc in sorted(old, key=lambda s: s.finished)[: self.rng.randint(1, 3)]:  # type: ignore[arg-type, return-value]
            services.archive_card(sc.card, actor=b.lead, at=self.at())
            b.cell(sc.col, sc.lane).remove(sc)
            b.cols[sc.col].wip -= 1
            self.stats["archived"] += 1

    def retro(self) -> None:
        """Product delivery's retrospective: less in progress, to finish more."""
        b = next(b for b in self.boards if b.spec.key == "delivery")
        col = b.column("In progress")
        services.update_column(
            col.column,
            wip_limit=4,
            policy=col.spec.policy + "\nRetro: limit lowered from 5 to 4 - finish before "
            "starting, help with review and testing when the column is full.",
            actor=b.lead,
            at=self.at(),
        )
        col.spec = replace(col.spec, wip_limit=4)

    # -- the end

    def leave_it_alive(self) -> None:
        """However the dice fell, the board someone opens shows work in progress, and blocked."""
        for b in self.boards:
            if any(sc.blocked_since for sc in b.live()):
                continue
            working = [sc for sc in b.live() if b.cols[sc.col].stage == Stage.ACTIVE]
            if working:
                self.block(b, min(working, key=lambda s: s.ready_at))

    def in_progress(self) -> Counter[int]:
        """Cards in progress (committed, not finished) per assignee, over every board."""
        count: Counter[int] = Counter()
        for b in self.boards:
            for sc in b.live():
                if b.cols[sc.col].stage in (Stage.WAIT, Stage.ACTIVE):
                    count.update(u.pk for u in sc.assignees)
        return count

    def breaches(self) -> dict[int, frozenset]:
        """Per board, the limits it breaches now: columns over their limit, and people with
        cards on it who are over their personal limit (counted over every board)."""
        in_progress = self.in_progress()
        over = {
            user.pk
            for p in PEOPLE
            if p.wip_limit is not None
            for user in [self.users[p.username]]
            if in_progress[user.pk] > p.wip_limit
        }
        result = {}
        for b in self.boards:
            columns = {
                ("column", c.column.pk)
                for c in b.cols
                if c.spec.wip_limit is not None and c.wip > c.spec.wip_limit
            }
            people = {("person", pk) for pk in over & b.assigned}
            result[b.board.pk] = frozenset(columns | people)
        return result

    def watch_alerts(self) -> None:
        """Raise and close WIP alerts when a board crosses a limit, at that moment."""
        now = self.breaches()
        for b in self.boards:
            if now[b.board.pk] != self.breached.get(b.board.pk, frozenset()):
                alerts.check_wip_alerts(b.board.pk, at=self.clock)
                self.stats["alert_checks"] += 1
        self.breached = now

    def after_load(self) -> None:
        """What the services ask for after a change, once per board now that it is loaded."""
        for b in self.boards:
            followups.after_board_change(b.board.pk)

    def check_wip(self) -> None:
        """The simulation's own counts must be the database's: it pulls on them."""
        for b in self.boards:
            actual = selectors.board_wip(b.board)
            for col in b.cols:
                if actual.get(col.column.pk, 0) != col.wip:
                    raise RuntimeError(
                        f"{b.board.name}/{col.spec.name}: the loader counted {col.wip} "
                        f"cards, the database has {actual.get(col.column.pk, 0)}."
                    )


# --- removing the demo -----------------------------------------------------------------------


def remove_demo() -> None:
    """Remove the demo organisation (boards first, through the service), then the demo users."""
    org = Organization.objects.filter(slug=ORG_SLUG).first()
    if org is not None:
        manager = (
            Membership.objects.filter(organization=org, role__in=[Role.OWNER, Role.ADMIN])
            .select_related("user")
            .first()
        )
        for board in Board.objects.filter(organization=org):
            if manager is not None:
                services.delete_board(board, actor=manager.user)
            else:  # an organisation without a manager: no actor to ask, remove it directly
                Card.objects.filter(board=board).delete()
                board.delete()
        Team.objects.filter(organization=org).delete()
        org.delete()
    User.objects.filter(username__in=DEMO_USERNAMES).delete()


@contextmanager
def fast_commits():
    """Thousands of small transactions: let the database skip waiting for the disk at each
    commit while the demo loads. A crash of this process loses nothing that committed; a crash
    of the machine may lose the last commits (Postgres) or the demo file (SQLite): it is demo
    data, loaded again with --reset. Inside a caller's transaction (tests) nothing commits
    until the caller does, and SQLite refuses the change: leave the settings alone."""
    vendor = connection.vendor
    if connection.in_atomic_block or vendor not in ("postgresql", "sqlite"):
        yield
        return
    with connection.cursor() as cursor:
        if vendor == "postgresql":
            cursor.execute("SET synchronous_commit TO off")
        else:
            cursor.execute("PRAGMA synchronous")
            (previous,) = cursor.fetchone()
            cursor.execute("PRAGMA synchronous = OFF")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if vendor == "postgresql":
                cursor.execute("RESET synchronous_commit")
            else:
                cursor.execute(f"PRAGMA synchronous = {int(previous)}")


# --- the command -----------------------------------------------------------------------------


class DemoConflict(Exception):
    """The demo's users exist without its organisation: loading would take them over."""


def load_demo(*, reset: bool = False, seed: int = SEED) -> list[str] | None:
    """Load the demo (first removing it with `reset`); return the summary's lines, or None if
    it is already loaded and `reset` was not asked for. A failure removes what was built of
    it, so that the next run does not take a half-built demo for a loaded one."""
    started = time.monotonic()
    if Organization.objects.filter(slug=ORG_SLUG).exists() and not reset:
        return None
    taken = sorted(
        User.objects.filter(username__in=DEMO_USERNAMES).values_list("username", flat=True)
    )
    if taken and not reset:
        raise DemoConflict(
            f"Users {', '.join(taken)} exist but the demo organisation does not: "
            "run with --reset to replace them."
        )
    if reset:
        with transaction.atomic():
            remove_demo()
    # No transaction around the whole load: each service call commits on its own, as it does
    # behind the API, and the WIP alerts the loader checks on its clock see each board as it
    # was at that moment.
    loader = DemoLoader(seed=seed, now=timezone.now())
    try:
        # The services' after-change work (alerts, metrics) is held back while the history is
        # replayed: it would check today's boards against a clock of months ago, and recompute
        # metrics some 2,000 times. The loader checks alerts itself, on its clock, and asks for
        # that work once per board at the end (after_load).
        with followups.suspended(), fast_commits():
            loader.run()
        loader.after_load()
    except BaseException:
        with contextlib.suppress(Exception), transaction.atomic():
            remove_demo()
        raise
    return summary(loader, time.monotonic() - started)


def summary(loader: DemoLoader, seconds: float) -> list[str]:
    org = Organization.objects.get(slug=ORG_SLUG)
    boards = Board.objects.filter(organization=org)
    cards = Card.objects.filter(board__organization=org)
    moves = CardMove.objects.filter(board__organization=org)
    span = moves.aggregate(first=Min("at"), last=Max("at"))
    lines = [
        f"Loaded the {org.name} demo in {seconds:.1f} s: {boards.count()} boards, "
        f"{cards.count()} cards, {moves.exclude(from_column=None).count()} moves, "
        f"{Block.objects.filter(board__organization=org).count()} blocks, "
        f"{Comment.objects.filter(card__board__organization=org).count()} comments, "
        f"{Event.objects.filter(board__organization=org).count()} events, "
        f"from {span['first']:%Y-%m-%d} to {span['last']:%Y-%m-%d %H:%M}."
    ]
    for board in boards.order_by("name"):
        board_cards = cards.filter(board=board)
        lines.append(
            f"  {board.name}: {board_cards.count()} cards - "
            f"{board_cards.filter(finished_at__isnull=False, archived=False).count()} done, "
            f"{board_cards.filter(archived=True).count()} archived, "
            f"{board_cards.filter(finished_at=None, committed_at__isnull=False).count()} "
            f"in progress, {board_cards.filter(blocked=True).count()} blocked"
        )
    lines.append(f"  simulated: {', '.join(f'{k} {v}' for k, v in sorted(loader.stats.items()))}")
    return lines
