"""HTML pages. They read through the same selectors as the API and write through no path of
their own: the page's scripts call the REST API (static/js/board/). The one form that posts
here is the Trello import's (a file upload of up to 20 MiB is a form's job): it calls the same
service as the API."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods

from accounts.authentication import AuthedHttpRequest
from accounts.models import User
from accounts.selectors import memberships_for_user
from boards import selectors
from boards.flow import metrics, overview, service_levels
from boards.flow.waits import dependency_waits
from boards.kaizen import selectors as kaizen_selectors
from boards.models import ClassOfService, Label, Stage
from boards.pages import activity
from boards.pages import reads as pages
from boards.pages.lookups import board_or_404, org_or_404
from boards.selectors.waits import waits_on_board
from boards.services import trello
from kanban.exceptions import DomainError, InvalidInput, NotFound

# A swimlane with one of these names is the board's expedite lane: drawn on top, in red.
EXPEDITE_LANE_NAMES = frozenset({"expedite", "expedite lane"})
# Work that waits or is worked on can age; the backlog has not started and Done has finished.
AGEING_STAGES = frozenset({Stage.WAIT, Stage.ACTIVE})
COS_BADGES = {
    ClassOfService.EXPEDITE: "Expedite",
    ClassOfService.FIXED_DATE: "Fixed date",
    ClassOfService.INTANGIBLE: "Intangible",
}


@login_required
@require_GET
def home(request: AuthedHttpRequest) -> HttpResponse:
    memberships = list(memberships_for_user(request.user).order_by("organization__name"))
    boards = list(selectors.boards_for_user(request.user))
    organizations = [
        {
            "organization": m.organization,
            "role": m.role,
            "boards": [
                {"board": b, "can_write": selectors.access_of(b).can_write}
                for b in boards
                if b.organization_id == m.organization_id
            ],
        }
        for m in memberships
    ]
    return render(request, "boards/home.html", {"organizations": organizations})


# --- filters -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """The board's filters, read from the URL so that a filtered view can be shared. The names
    and meanings are the card search API's (`q`, `assignee`, `label`, `blocked`); a value that
    does not parse is ignored rather than refused, as a page should."""

    q: str = ""
    assignee: int | None = None
    label: int | None = None
    blocked: bool = False

    @classmethod
    def from_query(cls, query) -> "Filters":
        return cls(
            q=query.get("q", "").strip()[:200],
            assignee=_int_or_none(query.get("assignee")),
            label=_int_or_none(query.get("label")),
            blocked=query.get("blocked", "").lower() in {"1", "true", "yes", "on"},
        )

    @property
    def active(self) -> bool:
        return bool(self.q or self.assignee or self.label or self.blocked)

    def matches(self, card: dict[str, Any]) -> bool:
        """Keep in step with `matches` in static/js/board/filters.js, which filters as you type."""
        if self.blocked and not card["blocked"]:
            return False
        if self.assignee is not None and self.assignee not in card["assignees"]:
            return False
        if self.label is not None and self.label not in card["labels"]:
            return False
        if self.q:
            haystack = f"{card['title']} {card['customer']} #{card['id']}".lower()
            return all(word in haystack for word in self.q.lower().split())
        return True


def _int_or_none(value: str | None) -> int | None:
    if value and value.isascii() and value.isdigit():
        return int(value)
    return None


# --- cards as the page shows them ----------------------------------------------------------------


def card_view(
    card: Mapping[str, Any],
    *,
    people: Mapping[int, Mapping[str, Any]],
    labels: Mapping[int, Mapping[str, Any]],
    stage: str,
    ageing_after: float | None,
    today: date,
    hidden: bool = False,
    sle_days: Mapping[str, float] | None = None,
    now: datetime | None = None,
    waited_on: str = "",
    waiting_on: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """What templates/boards/_card.html needs for one card: the selector's dict plus the people
    and labels it names, its class-of-service badge, whether it is ageing and where it stands
    against its class's service level expectation (`sle_days`, boards.flow.service_levels)."""
    age = card["age_days"]
    sle = _sle_marker(card, stage, sle_days, now)
    due = date.fromisoformat(card["due_date"]) if card["due_date"] else None
    ageing = ageing_after is not None and stage in AGEING_STAGES and age > ageing_after
    css = f"card cos-{card['class_of_service']}"
    if card["blocked"]:
        css += " is-blocked"
    if ageing:
        css += " is-ageing"
    if sle:
        css += f" is-sle-{sle['state']}"
    return {
        **card,
        "people": [people[i] for i in card["assignees"] if i in people],
        "label_objs": [labels[i] for i in card["labels"] if i in labels],
        "cos_badge": COS_BADGES.get(card["class_of_service"], ""),
        "due_label": f"{due.day} {due:%b}" if due else "",
        "overdue": due is not None and stage != Stage.DONE and due < today,
        "age_whole": int(age),
        "ageing": ageing,
        "css": css,
        "assignee_ids": " ".join(str(i) for i in card["assignees"]),
        "label_ids": " ".join(str(i) for i in card["labels"]),
        "hidden": hidden,
        "sle": sle,
        # boards.selectors.waits: "2 cards on 2 teams" wait on it; what it waits on
        "waited_on": waited_on,
        "waiting_on": waiting_on,
    }


SLE_LABELS = {service_levels.AT_RISK: "At risk", service_levels.BREACHED: "SLE breached"}


def _sle_marker(
    card: Mapping[str, Any],
    stage: str,
    sle_days: Mapping[str, float] | None,
    now: datetime | None,
) -> dict[str, Any] | None:
    """The card's SLE badge: None unless it is started, in progress and past
    AT_RISK_FRACTION of its class's SLE."""
    days = (sle_days or {}).get(card["class_of_service"])
    if days is None or stage not in AGEING_STAGES or not card["started_at"]:
        return None
    age = ((now or timezone.now()) - datetime.fromisoformat(card["started_at"])).total_seconds()
    age_days = age / metrics.DAY
    state = service_levels.sle_state(age_days, days)
    if state is None:
        return None
    return {
        "state": state,
        "label": SLE_LABELS[state],
        "title": f"{age_days:.1f} of its {days:.1f}-day service level expectation "
        f"({int(service_levels.AT_RISK_FRACTION * 100)}% warns)",
    }


def _is_expedite_lane(lane: dict[str, Any]) -> bool:
    return lane["name"].strip().lower() in EXPEDITE_LANE_NAMES


ALERTS_SHOWN = 50  # as many as the board's script asks the API for


def _flag(value: str | None) -> bool:
    return (value or "").lower() in {"1", "true", "yes", "on"}


@login_required
@require_GET
def board_page(request: AuthedHttpRequest, board_id: int) -> HttpResponse:
    """The team board: a fixed number of queries whatever the number of cards (the snapshot's,
    the typical cycle time, the session's), so a 1,000-card board renders as fast as the
    templates allow."""
    board = board_or_404(request, board_id)
    snapshot = selectors.board_snapshot(board)
    access = selectors.access_of(board)
    ageing_after = selectors.typical_cycle_time_days(board.pk)
    now = timezone.now()
    sle_days = service_levels.sle_in_force(board.pk, now)
    filters = Filters.from_query(request.GET)
    # ?wall=1: the board for a screen on the wall: large type, no editing chrome, live.
    wall = _flag(request.GET.get("wall"))
    # Rendered with the page rather than fetched after it, so that the banner's row is there
    # from the first paint and nothing below it moves once the scripts run.
    open_alerts = list(selectors.board_alerts(board)[:ALERTS_SHOWN])

    people = {p["id"]: p for p in snapshot["people"]}
    labels = {label["id"]: label for label in snapshot["labels"]}
    # Who the filters and the card dialog offer: the board's people, and you (an owner may
    # well not be on the team, and "only mine" needs you in the list).
    choosable = sorted(
        [
            *snapshot["people"],
            *([] if request.user.pk in people else [selectors.user_dict(request.user)]),
        ],
        key=lambda p: p["name"].lower(),
    )
    stages = {c["id"]: c["stage"] for c in snapshot["columns"]}
    today = timezone.localdate()
    waited_on, waiting_on = waits_on_board(board.pk)
    cards_by_cell: dict[tuple[int, int], list[dict[str, Any]]] = {}
    shown = 0
    for card in snapshot["cards"]:
        hidden = filters.active and not filters.matches(card)
        shown += not hidden
        view = card_view(
            card,
            people=people,
            labels=labels,
            stage=stages[card["column"]],
            ageing_after=ageing_after,
            today=today,
            hidden=hidden,
            sle_days=sle_days,
            now=now,
            waited_on=waited_on.get(card["id"], ""),
            waiting_on=waiting_on.get(card["id"]),
        )
        cards_by_cell.setdefault((card["column"], card["swimlane"]), []).append(view)

    # The expedite lane goes on top whatever its position: it is the lane everyone must see.
    swimlanes = sorted(snapshot["swimlanes"], key=lambda lane: not _is_expedite_lane(lane))
    lanes = []
    for lane in swimlanes:
        cells = [
            {"column": column, "cards": cards_by_cell.get((column["id"], lane["id"]), [])}
            for column in snapshot["columns"]
        ]
        lanes.append(
            {
                "swimlane": lane,
                "expedite": _is_expedite_lane(lane),
                "cells": cells,
                "count": sum(len(cell["cards"]) for cell in cells),
            }
        )
    columns = [
        {
            **column,
            "at_limit": column["wip_limit"] is not None and column["wip"] >= column["wip_limit"],
            "over_limit": column["wip_limit"] is not None and column["wip"] > column["wip_limit"],
        }
        for column in snapshot["columns"]
    ]
    return render(
        request,
        "boards/board.html",
        {
            "board": board,
            "snapshot": snapshot,
            "columns": columns,
            "lanes": lanes,
            # the wall screen shows the board as a reader sees it: no drag, no quick-add
            "can_write": access.can_write and not wall,
            "wall": wall,
            "alerts": open_alerts,
            "role": access.role,
            "filters": filters,
            "people": choosable,
            "shown": shown,
            "total": len(snapshot["cards"]),
            "ageing_after": ageing_after,
            "class_of_service_choices": ClassOfService.choices,
            "page_data": {
                "board": board.pk,
                "me": request.user.pk,
                "canWrite": access.can_write and not wall,
                "isManager": access.is_manager,
                "people": choosable,
                "labels": snapshot["labels"],
                "columns": [
                    {"id": c["id"], "name": c["name"], "stage": c["stage"]}
                    for c in snapshot["columns"]
                ],
                "swimlanes": [{"id": s["id"], "name": s["name"]} for s in swimlanes],
            },
        },
    )


@login_required
@require_GET
def card_fragment(request: AuthedHttpRequest, board_id: int, card_id: int) -> HttpResponse:
    """One card as the board draws it (templates/boards/_card.html), for the page's scripts to
    refresh a single card without re-rendering the board. 404 for a card that is not live on
    this board, or a board of another organisation."""
    board = board_or_404(request, board_id)
    cards = selectors.cards_as_dicts(board.cards.filter(pk=card_id, archived=False))
    if not cards:
        raise Http404("Card not found")
    card = cards[0]
    people = {u.pk: selectors.user_dict(u) for u in User.objects.filter(pk__in=card["assignees"])}
    labels = {
        label.pk: selectors.label_dict(label)
        for label in Label.objects.filter(pk__in=card["labels"])
    }
    stage = board.columns.filter(pk=card["column"]).values_list("stage", flat=True).get()
    waited_on, waiting_on = waits_on_board(board.pk, card_id)
    view = card_view(
        card,
        people=people,
        labels=labels,
        stage=stage,
        ageing_after=selectors.typical_cycle_time_days(board.pk),
        today=timezone.localdate(),
        sle_days=service_levels.sle_in_force(board.pk, timezone.now()),
        waited_on=waited_on.get(card_id, ""),
        waiting_on=waiting_on.get(card_id),
    )
    response = render(
        request,
        "boards/_card.html",
        {"card": view, "can_write": selectors.access_of(board).can_write},
    )
    # Where the card sits now, for a script that inserts a card it did not have yet.
    response["X-Card-Column"] = str(card["column"])
    response["X-Card-Swimlane"] = str(card["swimlane"])
    response["X-Card-Position"] = str(card["position"])
    return response


@login_required
@require_GET
def metrics_page(request: AuthedHttpRequest, board_id: int) -> HttpResponse:
    """The board's flow metrics: the stored snapshot (the last 90 days, kept fresh by the
    background task and redrawn live), or a window picked with ?from=&to=."""
    board = board_or_404(request, board_id)
    window, problem = _metrics_window(request)
    snapshot = metrics.stored_or_computed(board, window)
    context = {
        "board": board,
        "metrics": snapshot.data,
        "dependency_waits": dependency_waits(board, window),
        "window": snapshot.data["window"],
        "is_default": window is None,
        "improvement_markers": kaizen_selectors.markers(board, snapshot.data["window"]),
        # the ageing chart's line: the board's one ageing threshold, whatever the window
        "ageing_after": selectors.typical_cycle_time_days(board.pk),
    }
    if problem:
        messages.error(request, problem)
    return render(request, "boards/metrics.html", context)


def _metrics_window(request: AuthedHttpRequest) -> tuple["metrics.Window | None", str]:
    raw_from, raw_to = request.GET.get("from"), request.GET.get("to")
    if not raw_from and not raw_to:
        return None, ""
    try:
        start, end = date.fromisoformat(raw_from or ""), date.fromisoformat(raw_to or "")
    except ValueError:
        return None, "Pick both dates of the window (YYYY-MM-DD); showing the last 90 days."
    try:
        return metrics.chosen_window(start, end), ""
    except InvalidInput as exc:
        return None, f"{exc.detail} Showing the last 90 days."


# --- the organisation's pages: overview, global board, activity, search; the stand-up ---------
# Reads go through boards.flow.overview, boards.pages.activity and boards.pages.reads (fixed
# query counts); the pages are read-only for everyone, viewers included. Another
# organisation's slug answers 404.

ACTIVITY_PAGE_SIZE = 50
STANDUP_DEFAULT_DAYS = 3
STAGE_HEADINGS = {
    Stage.BACKLOG: "Backlog",
    Stage.WAIT: "Waiting",
    Stage.ACTIVE: "In progress",
    Stage.DONE: "Done, last 7 days",
}
# The overview's sortable columns: (key, heading, first click sorts descending). Figures where
# more means "look here" (blocked, alerts, lead time) sort the worst first on the first click.
OVERVIEW_SORTS = (
    ("board_name", "Board", False),
    ("team_name", "Team", False),
    ("wip", "WIP", True),
    ("blocked", "Blocked", True),
    ("open_alerts", "Alerts", True),
    ("lead_p85", "Lead time p85", True),
    ("throughput_4w", "Throughput", True),
    ("flow_efficiency", "Flow efficiency", False),
)
TRENDS = {
    "up": ("↑", "trend-up", "Lead time p85 grew (worse)"),
    "down": ("↓", "trend-down", "Lead time p85 shrank (better)"),
    "flat": ("→", "trend-flat", "Lead time p85 about the same"),
}


def _overview_row(row: dict[str, Any], weeks: list[str]) -> dict[str, Any]:
    # Coloured by its columns: `wip` counts every waiting and active card while `wip_limit` adds
    # up only the limits that exist, so the two totals alone cannot say that a limit is passed.
    over = row["columns_over_limit"] > 0
    at = not over and row["columns_at_limit"] > 0
    arrow, trend_css, trend_title = TRENDS.get(row["lead_trend"] or "", ("", "", "No trend yet"))
    counts = zip(weeks, row["throughput_weeks"], strict=False)
    weekly = ", ".join(f"{week}: {n}" for week, n in counts)
    return {
        **row,
        "wip_state": "over" if over else "at" if at else "",
        "trend_arrow": arrow,
        "trend_css": trend_css,
        "trend_title": trend_title,
        "sparkline_label": f"Cards finished per week, the last {len(weeks)} weeks: {weekly}",
    }


@login_required
@require_GET
def org_overview_page(request: AuthedHttpRequest, slug: str) -> HttpResponse:
    """The managers' overview: one row per board, sortable (?sort=key or -key)."""
    organization, access = org_or_404(request, slug)
    now = timezone.now()
    rows = overview.org_overview(organization, now=now)
    sort = request.GET.get("sort", "")
    try:
        rows = overview.sort_overview(rows, sort) if sort else rows
    except InvalidInput:
        sort = ""
    weeks = overview.overview_weeks(now)
    headers = []
    for key, label, descending_first in OVERVIEW_SORTS:
        if sort == key:
            state, next_sort = "ascending", f"-{key}"
        elif sort == f"-{key}":
            state, next_sort = "descending", key
        else:
            state, next_sort = "none", f"-{key}" if descending_first else key
        headers.append({"key": key, "label": label, "state": state, "sort": next_sort})
    return render(
        request,
        "boards/org_overview.html",
        {
            "organization": organization,
            "role": access.role,
            "tab": "overview",
            "rows": [_overview_row(row, weeks) for row in rows],
            "team_waits": overview.team_waits(organization.pk, now),
            "can_import": selectors.may_create_boards(request.user, organization, access),
            "headers": {h["key"]: h for h in headers},
            "sort": sort,
            "weeks": weeks,
        },
    )


@login_required
@require_GET
def org_board_page(request: AuthedHttpRequest, slug: str) -> HttpResponse:
    """The global board: every team's cards, one row per board, four stage columns, filters in
    the URL. With the header X-Obeya-Fragment: grid, only the grid (static/js/global.js swaps
    it in when a shown board changes)."""
    organization, access = org_or_404(request, slug)
    filters = pages.GlobalFilters.from_query(request.GET)
    data = pages.global_board(organization, filters)
    people = {p["id"]: p for p in data["people"]}
    labels = {label["id"]: label for label in data["labels"]}
    today = timezone.localdate()
    rows, shown, hidden_boards = [], 0, 0
    for row in data["rows"]:
        if filters.active and row["count"] == 0:
            hidden_boards += 1
            continue
        ageing_after = data["ageing_after"].get(row["board"].pk)
        cells = [
            {
                **cell,
                "heading": STAGE_HEADINGS[cell["stage"]],
                "cards": [
                    card_view(
                        card,
                        people=people,
                        labels=labels,
                        stage=card["stage"],
                        ageing_after=ageing_after,
                        today=today,
                    )
                    for card in cell["cards"]
                ],
            }
            for cell in row["cells"]
        ]
        shown += sum(len(cell["cards"]) for cell in cells)
        rows.append({**row, "cells": cells})
    context = {
        "organization": organization,
        "role": access.role,
        "tab": "board",
        "filters": filters,
        "rows": rows,
        "boards": data["boards"],
        "board_seqs": ",".join(f"{b.pk}:{b.last_seq}" for b in data["boards"]),
        "stages": [
            {"stage": stage, "heading": STAGE_HEADINGS[stage], "count": data["stage_counts"][stage]}
            for stage in pages.STAGES
        ],
        "teams": data["teams"],
        "people": data["people"],
        "label_names": data["label_names"],
        "class_of_service_choices": ClassOfService.choices,
        "shown": shown,
        "hidden_boards": hidden_boards,
    }
    if request.headers.get("X-Obeya-Fragment") == "grid":
        response = render(request, "boards/_global_grid.html", context)
    else:
        response = render(request, "boards/org_board.html", context)
    patch_vary_headers(response, ["X-Obeya-Fragment"])
    return response


def _activity_page(request: AuthedHttpRequest, events) -> tuple[Any, list[dict[str, Any]]]:
    """A page of events (?page=, ACTIVITY_PAGE_SIZE a page) as feed items grouped by day."""
    page = Paginator(events, ACTIVITY_PAGE_SIZE).get_page(request.GET.get("page"))
    days: list[dict[str, Any]] = []
    for item in activity.activity_items(page.object_list):
        at = timezone.localtime(datetime.fromisoformat(item["at"]))
        item = {**item, "at": at, "kind": item["type"].partition(".")[0]}
        if not days or days[-1]["day"] != at.date():
            days.append({"day": at.date(), "items": []})
        days[-1]["items"].append(item)
    return page, days


@login_required
@require_GET
def org_activity_page(request: AuthedHttpRequest, slug: str) -> HttpResponse:
    """Who did what, when, on every board of the organisation, newest first, paginated."""
    organization, access = org_or_404(request, slug)
    page, days = _activity_page(request, activity.org_activity(organization))
    return render(
        request,
        "boards/org_activity.html",
        {
            "organization": organization,
            "role": access.role,
            "tab": "activity",
            "page": page,
            "days": days,
            "scope": "org",
        },
    )


@login_required
@require_GET
def board_activity_page(request: AuthedHttpRequest, board_id: int) -> HttpResponse:
    """The board's own activity feed, paginated; and its CSV exports."""
    board = board_or_404(request, board_id)
    page, days = _activity_page(request, activity.board_activity(board))
    return render(
        request,
        "boards/board_activity.html",
        {"board": board, "page": page, "days": days, "scope": "board"},
    )


@login_required
@require_GET
def org_search_page(request: AuthedHttpRequest, slug: str) -> HttpResponse:
    """Cards of every board of the organisation matching ?q= in their title, description or
    comments, grouped by board; each links to its card on its board (#card-{id})."""
    organization, access = org_or_404(request, slug)
    q = request.GET.get("q", "")
    return render(
        request,
        "boards/org_search.html",
        {
            "organization": organization,
            "role": access.role,
            "tab": "search",
            "results": pages.search_organization(request.user, organization, q),
            "search_q": q.strip(),
        },
    )


@login_required
@require_GET
def standup_page(request: AuthedHttpRequest, board_id: int) -> HttpResponse:
    """The board's stand-up, right to left: what arrived in each column since the start of the
    previous working day and who moved it, then what is blocked, ageing past the board's p85
    cycle time, over a WIP limit and untouched for ?days=N (default 3). ?wall=1: large type for
    a wall screen (org.js renders it again when the board's websocket reports a change after
    `seq`, and every five minutes); the print style drops the chrome."""
    board = board_or_404(request, board_id)
    days = _int_or_none(request.GET.get("days")) or STANDUP_DEFAULT_DAYS
    days = min(max(days, 1), 90)
    wall = _flag(request.GET.get("wall"))
    return render(
        request,
        "boards/standup.html",
        {
            "board": board,
            "standup": pages.standup(board, untouched_days=days),
            "days": days,
            "wall": wall,
            # read with the board, before the stand-up: a change made meanwhile is newer
            "seq": board.last_seq,
            "day_choices": (1, 2, 3, 5, 10),
        },
    )


# --- the Trello import -----------------------------------------------------------------------

RECENT_IMPORTS = 10  # listed under the import page's form


@login_required
@require_http_methods(["GET", "POST"])
def org_import_page(request: AuthedHttpRequest, slug: str) -> HttpResponse:
    """Import a Trello board: the team, an optional name and the export's file. The POST starts
    the import job (trello.start_trello_import, as the API does) and redirects to its progress
    page; a file it refuses comes back with the reason. For those who may create a board for
    one of the organisation's teams (403 for the others); below, the recent imports."""
    organization, access = org_or_404(request, slug)
    teams = list(selectors.teams_for_new_board(request.user, organization, access))
    chosen = {"team": "", "name": ""}
    error, status = None, 200 if teams else 403
    if teams and request.method == "POST":
        chosen = {"team": request.POST.get("team", ""), "name": request.POST.get("name", "")}
        try:
            team = next((t for t in teams if str(t.pk) == chosen["team"]), None)
            if team is None:
                raise InvalidInput("Choose the team that will own the new board.")
            job = trello.start_trello_import(
                team=team,
                data=trello.read_upload(request.FILES.get("export")),
                name=chosen["name"],
                actor=request.user,
            )
            return redirect("org-import-job", slug=organization.slug, job_id=job.pk)
        except DomainError as exc:
            error, status = exc.detail, exc.status
    elif len(teams) == 1:
        chosen["team"] = str(teams[0].pk)
    return render(
        request,
        "boards/org_import.html",
        {
            "organization": organization,
            "role": access.role,
            "tab": "import",
            "teams": teams,
            "chosen": chosen,
            "error": error,
            "max_bytes": settings.IMPORT_MAX_BYTES,
            "max_cards": f"{settings.IMPORT_MAX_CARDS:,}",
            "jobs": list(selectors.import_jobs_of_organization(organization)[:RECENT_IMPORTS]),
        },
        status=status,
    )


@login_required
@require_GET
def org_import_job_page(request: AuthedHttpRequest, slug: str, job_id: int) -> HttpResponse:
    """An import's progress: its status and a progress bar, which static/js/import.js keeps
    current from the API; once done, a link to the new board; once failed, why."""
    organization, access = org_or_404(request, slug)
    try:
        job = selectors.get_import_job_for_user(request.user, job_id)
    except NotFound as exc:
        raise Http404("Import not found") from exc
    if job.organization_id != organization.pk:
        raise Http404("Import not found")
    return render(
        request,
        "boards/org_import_job.html",
        {
            "organization": organization,
            "role": access.role,
            "tab": "import",
            "job": job,
            "data": selectors.import_job_dict(job),
        },
    )
