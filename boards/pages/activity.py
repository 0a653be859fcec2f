"""Activity feeds: the boards' event logs read as sentences for people ("who did what, when").

The events carry ids (columns of a move, the card of a comment), not every name; a page of
events is described with two extra queries whatever its size (the names of the columns and
the titles of the commented cards it mentions), never one per event.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db.models import QuerySet

from accounts.models import Organization
from boards.live.events import actor_dict
from boards.models import AlertKind, Board, Card, Column, Event

EXCERPT = 80


class Names:
    """Column names and card titles that a set of events mentions by id only."""

    def __init__(
        self, columns: Mapping[int, str] | None = None, cards: Mapping[int, str] | None = None
    ) -> None:
        self.columns = dict(columns or {})
        self.cards = dict(cards or {})

    @classmethod
    def of(cls, events: Sequence[Event]) -> "Names":
        """Two queries at most, for any number of events."""
        column_ids: set[int] = set()
        card_ids: set[int] = set()
        for event in events:
            data = event.data or {}
            if event.type == "card.moved":
                column_ids.update(_ids(data.get("from_column"), data.get("to_column")))
            elif event.type == "card.created":
                column_ids.update(_ids(_card(data).get("column")))
            elif event.type in ("card.commented", "card.wait_added", "card.wait_ended"):
                card_ids.update(_ids(data.get("card")))
            elif event.type.startswith("alert."):
                column_ids.update(_ids((data.get("alert") or {}).get("column")))
        columns = (
            dict(Column.objects.filter(pk__in=column_ids).values_list("id", "name"))
            if column_ids
            else {}
        )
        cards = (
            dict(Card.objects.filter(pk__in=card_ids).values_list("id", "title"))
            if card_ids
            else {}
        )
        return cls(columns, cards)

    def column(self, column_id: Any) -> str:
        return self.columns.get(column_id, "a deleted column")


def _ids(*values: Any) -> list[int]:
    return [v for v in values if isinstance(v, int)]


def _card(data: dict) -> dict:
    card = data.get("card")
    return card if isinstance(card, dict) else {}


def _quote(title: str) -> str:
    return f"“{title}”"


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1].rstrip() + "…"


def _duration(days: float) -> str:
    if days < 1 / 24:
        return "less than an hour"
    if days < 1:
        hours = round(days * 24)
        return "an hour" if hours == 1 else f"{hours} hours"
    return f"{days:.1f} days"


def _fields(changed: Iterable[str]) -> str:
    return ", ".join(str(f).replace("_", " ") for f in changed)


def describe(event: Event, names: Names | None = None) -> str:
    """One sentence for a person, e.g. "alice moved “Fix login” from Ready to Doing".

    `names` resolves the ids the event mentions (Names.of(page) for a page of events); without
    it, the event's own names are looked up (up to two queries)."""
    names = names if names is not None else Names.of([event])
    data = event.data or {}
    who = event.actor.display_name if event.actor_id and event.actor else "Someone"
    card = _card(data)
    title = _quote(card.get("title", "a card"))
    kind = event.type

    if kind == "card.moved":
        return _describe_move(who, title, data, names)
    if kind == "card.created":
        return f"{who} added {title} to {names.column(card.get('column'))}"
    if kind == "card.updated":
        changed = [f for f in data.get("changed", []) if f != "description_html"]
        text = f"{who} edited {title}" + (f" ({_fields(changed)})" if changed else "")
        return text + _over_limit(data)
    if kind == "card.blocked":
        reason = data.get("reason")
        return f"{who} blocked {title}" + (f": {reason}" if reason else "")
    if kind == "card.unblocked":
        days = data.get("blocked_days")
        return f"{who} unblocked {title}" + (
            f" after {_duration(days)}" if isinstance(days, int | float) else ""
        )
    if kind == "card.archived":
        return f"{who} archived {title}"
    if kind == "card.restored":
        return f"{who} restored {title}" + _over_limit(data)
    if kind == "card.deleted":
        return f"{who} deleted {title}"
    if kind == "card.commented":
        card_id = data.get("card")
        # an event without a card id reads as a deleted card
        commented = _quote(names.cards.get(card_id, "a deleted card"))  # type: ignore[arg-type]
        body = (data.get("comment") or {}).get("body", "")
        return f"{who} commented on {commented}" + (f": {_excerpt(body)}" if body else "")
    if kind in ("card.wait_added", "card.wait_ended"):
        return _describe_wait(who, kind, data, names)
    if kind.startswith("alert."):
        return _describe_alert(event, data.get("alert") or {}, names)
    if kind.startswith(("board.", "column.", "swimlane.", "label.")):
        return _describe_structure(who, kind, data)
    if kind == "service_level.updated":
        return _describe_service_level(who, data.get("service_level") or {})
    if kind in ("improvement.started", "improvement.reviewed"):
        return _describe_improvement(who if event.actor_id else None, kind, data)
    return f"{who}: {kind}"


def _describe_improvement(who: str | None, kind: str, data: dict) -> str:
    """ "bob started the improvement “Pairing” on 2026-02-16 (target: lead time)"; a review
    adds its verdict, which is a sentence of its own (boards/kaizen/measures.py)."""
    imp = data.get("improvement") or {}
    title = _quote(str(imp.get("title", "an improvement")))
    metric = str(imp.get("target_metric", "")).replace("_", " ")
    scope = imp.get("scope_class_of_service")
    target = f"target: {metric}" + (f", {str(scope).replace('_', ' ')} work only" if scope else "")
    if kind == "improvement.started":
        day = f" on {imp['started_on']}" if imp.get("started_on") else ""
        return f"{who or 'Someone'} started the improvement {title}{day} ({target})"
    verdict = imp.get("verdict")
    if imp.get("final") is False:
        text = f"{who or 'Someone'} took an interim look at the improvement {title}"
    elif who is None:
        text = f"The review date closed the improvement {title}"
    else:
        text = f"{who} reviewed the improvement {title}"
    return text + (f": {verdict}" if verdict else "")


def _over_limit(data: dict) -> str:
    if data.get("override_reason"):
        return f", overriding the hard WIP limit: {data['override_reason']}"
    return ", over its WIP limit" if data.get("wip_exceeded") else ""


def _describe_service_level(who: str, level: dict) -> str:
    """ "alice set expedite work's service level: SLE 2 days, WIP limit 1 (hard)"."""
    cos = str(level.get("class_of_service", "")).replace("_", " ")
    sle, limit = level.get("sle_days"), level.get("wip_limit")
    parts = [
        f"SLE {sle:g} days" if isinstance(sle, int | float) else "SLE from its cycle time",
        f"WIP limit {limit} ({level.get('wip_policy', 'soft')})" if limit else "no WIP limit",
    ]
    return f"{who} set {cos} work's service level: {', '.join(parts)}"


def _describe_wait(who: str, kind: str, data: dict, names: Names) -> str:
    """A wait as this board's log has it: its own card only (boards.selectors.waits)."""
    card_id, wait = data.get("card"), data.get("wait") or {}
    title = _quote(names.cards.get(card_id, "a deleted card"))  # type: ignore[arg-type]
    waiting = wait.get("card") == card_id and card_id is not None
    if kind == "card.wait_added":
        if waiting:
            return f"{who} made {title} wait on a card of another board"
        return f"{who} made a card of another board wait on {title}"
    how = "as it was finished" if wait.get("ended_reason") == "finished" else "by hand"
    if waiting:
        return f"{title} stopped waiting ({how})"
    return f"A card of another board stopped waiting on {title} ({how})"


def _describe_move(who: str, title: str, data: dict, names: Names) -> str:
    source, target = data.get("from_column"), data.get("to_column")
    if source == target:
        if data.get("from_swimlane") != data.get("to_swimlane"):
            text = f"{who} moved {title} to another swimlane in {names.column(target)}"
        else:
            text = f"{who} reordered {title} in {names.column(target)}"
    else:
        text = f"{who} moved {title} from {names.column(source)} to {names.column(target)}"
    if data.get("override_reason"):
        text += f", overriding the hard WIP limit: {data['override_reason']}"
    elif data.get("wip_exceeded"):
        text += ", over its WIP limit"
    return text


def _describe_alert(event: Event, alert: dict, names: Names) -> str:
    kind, raised = alert.get("kind"), event.type == "alert.raised"
    detail = alert.get("detail", "")
    if kind == AlertKind.WIP_COLUMN and alert.get("column") is not None:
        column = names.column(alert["column"])
        figures = alert.get("data") or {}
        if raised:
            return (
                f"alert: {column} is over its WIP limit "
                f"({figures.get('wip', '?')}/{figures.get('limit', '?')})"
            )
        return f"alert closed: {column} is back within its WIP limit"
    if raised:
        return f"alert: {detail}"
    return f"alert closed: {detail}"


def _describe_structure(who: str, kind: str, data: dict) -> str:
    noun, _, verb = kind.partition(".")
    obj = data.get(noun) or {}
    name = obj.get("name", "")
    if noun == "board":
        if verb == "created":
            return f"{who} created the board {name}"
        changed = data.get("changed", [])
        if changed == ["name"]:
            return f"{who} renamed the board to {name}"
        if "team" in changed:
            return f"{who} handed the board to another team"
        return f"{who} changed the board ({_fields(changed)})"
    the = {"column": "the column", "swimlane": "the swimlane", "label": "the label"}[noun]
    if verb == "created":
        return f"{who} added {the} {name}"
    if verb == "deleted":
        return f"{who} deleted {the} {name}"
    changed = data.get("changed", [])
    if noun == "column" and changed == ["wip_limit"]:
        limit = obj.get("wip_limit")
        if limit is None:
            return f"{who} removed the WIP limit of {name}"
        return f"{who} set the WIP limit of {name} to {limit}"
    return f"{who} changed {the} {name} ({_fields(changed)})"


# --- selectors -------------------------------------------------------------------------------


def board_activity(board: Board) -> QuerySet[Event]:
    """The board's events, newest first."""
    return Event.objects.filter(board=board).select_related("actor", "board").order_by("-seq")


def org_activity(organization: Organization) -> QuerySet[Event]:
    """The events of every board of the organisation, newest first (by insertion: seq orders
    only within one board)."""
    return (
        Event.objects.filter(board__organization=organization)
        .select_related("actor", "board")
        .order_by("-id")
    )


def card_of(event: Event) -> int | None:
    """The card the event is about (None if none, or if the event is its deletion)."""
    if not event.type.startswith("card.") or event.type == "card.deleted":
        return None
    card = (event.data or {}).get("card")
    if isinstance(card, dict):
        card = card.get("id")
    return card if isinstance(card, int) else None


def activity_items(events: Iterable[Event]) -> list[dict[str, Any]]:
    """A page of events (actor and board joined) as feed items: two queries for the names."""
    events = list(events)
    names = Names.of(events)
    return [
        {
            "seq": event.seq,
            "board": event.board_id,
            "board_name": event.board.name,
            "type": event.type,
            "at": event.at.isoformat(),
            "actor": actor_dict(event.actor),
            "text": describe(event, names),
            "card": card_of(event),
        }
        for event in events
    ]
