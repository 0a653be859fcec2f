"""Import a Trello board from its JSON export (Trello: Menu → Print, export and share → JSON).

Lists become columns, labels labels, cards cards and comments comments, every write through
boards.services, so that the new board has the history, event log and flow fields of a board
built by hand. What maps how:

- Open lists, in `pos` order, become the columns; each column's stage is guessed from the list's
  name (guess_stages). Closed lists are left out, and the cards on them with them.
- Labels keep their name and colour (Trello's colour names mapped to hex); a label without a
  name is named after its colour, and a name used twice gets its colour appended.
- Cards land in their list's column in `pos` order, with title, description, labels and due
  date, and their checklists appended to the description as a Markdown task list. Trello
  members are not mapped to users (Trello knows no Obeya accounts): their full names are noted
  at the end of the description. Each card is created at its Trello creation time (read from
  its id), so ages look right; Trello keeps no column history, so a card that is already done
  counts as finished at its creation, with a lead time of zero.
- Comments (actions of type commentCard) are added by the importing user at their Trello date,
  prefixed with their Trello author's name. Trello exports hold at most the last 1,000
  actions: older comments are not in the file.
- Closed (archived) cards on open lists are imported, then archived.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Team, User
from boards import services
from boards.models import Board, Card, Label, Stage
from kanban.exceptions import InvalidInput

TITLE_MAX, DESCRIPTION_MAX, COMMENT_MAX = 200, 20_000, 10_000
COLUMN_NAME_MAX, LABEL_NAME_MAX, BOARD_NAME_MAX = 80, 40, 120
MAX_ERRORS = 20
DEFAULT_LABEL_COLOR = "#64748b"
# Trello's label palette (the classic names; "green_dark", "sky_light" etc. map to their base).
TRELLO_COLORS = {
    "green": "#61bd4f",
    "yellow": "#f2d600",
    "orange": "#ff9f1a",
    "red": "#eb5a46",
    "purple": "#c377e0",
    "blue": "#0079bf",
    "sky": "#00c2e0",
    "lime": "#51e898",
    "pink": "#ff78cb",
    "black": "#344563",
}
# Trello launched in 2011: an id that decodes to an earlier time is not a Trello id.
TRELLO_EPOCH = datetime(2011, 1, 1, tzinfo=UTC)

_DONE = re.compile(r"\b(done|complete|completed|shipped|released|deployed|finished|closed)\b")
_WAIT = re.compile(r"\b(review|reviewing|qa|test|testing|verify|approval|waiting)\b")
_ACTIVE = re.compile(r"\b(doing|in progress|progress|wip|working|development|in dev)\b")
_BACKLOG = re.compile(r"\b(backlog|ideas?|icebox|to ?do|someday|inbox|later|requests?)\b")


def guess_stages(names: list[str]) -> list[str]:
    """A stage per list name, left to right: done-like names (done, complete, shipped...) are
    done; review, QA and testing are waiting; doing, in progress and WIP are active; backlog,
    ideas, icebox and to do are backlog while every list before them is backlog too, so the
    commitment point sits after them; anything else waits."""
    stages: list[str] = []
    for name in names:
        text = name.casefold()
        if _DONE.search(text):
            stage = Stage.DONE
        elif _WAIT.search(text):
            stage = Stage.WAIT
        elif _ACTIVE.search(text):
            stage = Stage.ACTIVE
        elif _BACKLOG.search(text) and all(s == Stage.BACKLOG for s in stages):
            stage = Stage.BACKLOG
        else:
            stage = Stage.WAIT
        stages.append(stage)
    return stages


def label_color(trello_color: Any) -> str:
    if not isinstance(trello_color, str):
        return DEFAULT_LABEL_COLOR
    return TRELLO_COLORS.get(trello_color.split("_")[0], DEFAULT_LABEL_COLOR)


def created_at(trello_id: str, now: datetime) -> datetime:
    """When a Trello object was created: its id starts with the Unix time in hex."""
    try:
        moment = datetime.fromtimestamp(int(trello_id[:8], 16), tz=UTC)
    except ValueError:
        return now
    return moment if TRELLO_EPOCH <= moment <= now else now


# --- reading and validating the export -------------------------------------------------------


@dataclass
class _List:
    id: str
    name: str
    closed: bool
    pos: float
    index: int


@dataclass
class _Card:
    id: str
    name: str
    desc: str
    list_id: str
    closed: bool
    pos: float
    index: int
    label_ids: list[str]
    member_ids: list[str]
    due: date | None
    last_activity: datetime | None
    checklists: list[tuple[float, str, list[tuple[float, str, bool]]]] = field(default_factory=list)


@dataclass
class _Comment:
    card_id: str
    text: str
    author: str
    at: datetime
    index: int


@dataclass
class _Export:
    name: str
    lists: list[_List]
    cards: list[_Card]
    labels: list[tuple[str, str, str]]  # id, name, colour
    members: dict[str, str]  # id -> full name
    comments: list[_Comment]


class _Reader:
    """Reads the export, collecting every problem with its path (up to MAX_ERRORS)."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def error(self, path: str, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.setdefault(path, []).append(message)

    def items(self, data: dict, key: str, path: str, *, required: bool) -> list:
        value = data.get(key)
        if value is None:
            if required:
                self.error(f"{path}.{key}", "Required: a list.")
            return []
        if not isinstance(value, list):
            self.error(f"{path}.{key}", "Must be a list.")
            return []
        return value

    def text(self, obj: dict, key: str, path: str, *, required: bool = True) -> str:
        value = obj.get(key)
        if value is None and not required:
            return ""
        if not isinstance(value, str):
            self.error(f"{path}.{key}", "Required: a string." if required else "Must be a string.")
            return ""
        return value

    def identifier(self, obj: dict, path: str) -> str:
        value = obj.get("id")
        if not isinstance(value, str) or not value:
            self.error(f"{path}.id", "Required: a non-empty string.")
            return ""
        return value

    def flag(self, obj: dict, key: str, path: str) -> bool:
        value = obj.get(key, False)
        if value is None:
            return False
        if not isinstance(value, bool):
            self.error(f"{path}.{key}", "Must be true or false.")
            return False
        return value

    def number(self, obj: dict, key: str, path: str, default: float) -> float:
        value = obj.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.error(f"{path}.{key}", "Must be a number.")
            return default
        return float(value)

    def moment(self, obj: dict, key: str, path: str, *, required: bool) -> datetime | None:
        value = obj.get(key)
        if value is None:
            if required:
                self.error(f"{path}.{key}", "Required: a date and time.")
            return None
        try:
            moment = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            moment = None
        if moment is None:
            self.error(f"{path}.{key}", "Must be an ISO 8601 date and time.")
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def strings(self, obj: dict, key: str, path: str) -> list[str]:
        value = obj.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.error(f"{path}.{key}", "Must be a list of ids.")
            return []
        return value

    def objects(self, values: list, path: str):
        for i, value in enumerate(values):
            if isinstance(value, dict):
                yield i, value, f"{path}[{i}]"
            else:
                self.error(f"{path}[{i}]", "Must be an object.")


def read_export(data: Any) -> _Export:
    """The parts of a Trello export that the import uses, or InvalidInput naming every
    problem found (up to MAX_ERRORS) by its path, e.g. `board.cards[3].idList`."""
    root = "board"
    if not isinstance(data, dict):
        raise InvalidInput(
            "The Trello export must be a JSON object (a board exported from Trello as JSON).",
            fields={root: ["Must be an object."]},
        )
    r = _Reader()
    name = r.text(data, "name", root, required=False)

    lists: list[_List] = []
    for i, obj, path in r.objects(r.items(data, "lists", root, required=True), f"{root}.lists"):
        lists.append(
            _List(
                id=r.identifier(obj, path),
                name=r.text(obj, "name", path),
                closed=r.flag(obj, "closed", path),
                pos=r.number(obj, "pos", path, default=float(i)),
                index=i,
            )
        )
    list_ids = {item.id for item in lists}
    if len(list_ids) != len(lists):
        r.error(f"{root}.lists", "List ids must be unique.")
    if lists and not any(not item.closed for item in lists):
        r.error(f"{root}.lists", "The board has no open list to import.")
    elif not lists and not r.errors:
        r.error(f"{root}.lists", "The board has no list to import.")

    labels: list[tuple[str, str, str]] = []
    for _, obj, path in r.objects(r.items(data, "labels", root, required=False), "board.labels"):
        color = obj.get("color")
        if color is not None and not isinstance(color, str):
            r.error(f"{path}.color", "Must be a colour name or null.")
        labels.append(
            (r.identifier(obj, path), r.text(obj, "name", path, required=False), color or "")
        )

    members = {}
    for _, obj, path in r.objects(r.items(data, "members", root, required=False), "board.members"):
        members[r.identifier(obj, path)] = r.text(obj, "fullName", path, required=False) or (
            r.text(obj, "username", path, required=False)
        )

    checklists: dict[str, list] = {}
    for i, obj, path in r.objects(
        r.items(data, "checklists", root, required=False), f"{root}.checklists"
    ):
        items = []
        for j, item, item_path in r.objects(
            r.items(obj, "checkItems", path, required=False), f"{path}.checkItems"
        ):
            items.append(
                (
                    r.number(item, "pos", item_path, default=float(j)),
                    r.text(item, "name", item_path),
                    item.get("state") == "complete",
                )
            )
        checklists.setdefault(r.text(obj, "idCard", path), []).append(
            (r.number(obj, "pos", path, default=float(i)), r.text(obj, "name", path), items)
        )

    cards: list[_Card] = []
    for i, obj, path in r.objects(r.items(data, "cards", root, required=True), f"{root}.cards"):
        list_id = r.text(obj, "idList", path)
        if list_id and list_id not in list_ids:
            r.error(f"{path}.idList", f"No list {list_id!r} on the board.")
        due = r.moment(obj, "due", path, required=False)
        card = _Card(
            id=r.identifier(obj, path),
            name=r.text(obj, "name", path),
            desc=r.text(obj, "desc", path, required=False),
            list_id=list_id,
            closed=r.flag(obj, "closed", path),
            pos=r.number(obj, "pos", path, default=float(i)),
            index=i,
            label_ids=r.strings(obj, "idLabels", path),
            member_ids=r.strings(obj, "idMembers", path),
            due=due.date() if due else None,
            last_activity=r.moment(obj, "dateLastActivity", path, required=False),
        )
        card.checklists = checklists.get(card.id, [])
        cards.append(card)
    if len({c.id for c in cards}) != len(cards):
        r.error(f"{root}.cards", "Card ids must be unique.")

    comments: list[_Comment] = []
    for i, obj, path in r.objects(r.items(data, "actions", root, required=False), "board.actions"):
        if obj.get("type") != "commentCard":
            continue  # other actions (moves, edits...) carry nothing the import keeps
        body = obj.get("data") if isinstance(obj.get("data"), dict) else {}
        card_ref = body.get("card") if isinstance(body.get("card"), dict) else {}
        if not body or not card_ref:
            r.error(f"{path}.data", "A comment needs data.text and data.card.id.")
            continue
        creator = obj.get("memberCreator") if isinstance(obj.get("memberCreator"), dict) else {}
        comments.append(
            _Comment(
                card_id=r.text(card_ref, "id", f"{path}.data.card"),
                text=r.text(body, "text", f"{path}.data"),
                author=str(creator.get("fullName") or creator.get("username") or ""),
                at=r.moment(obj, "date", path, required=True) or timezone.now(),
                index=i,
            )
        )

    if r.errors:
        first_path, messages = next(iter(r.errors.items()))
        raise InvalidInput(
            f"This is not a Trello board export we can import: {first_path}: {messages[0]}",
            fields=r.errors,
        )
    return _Export(name, lists, cards, labels, members, comments)


# --- the import ------------------------------------------------------------------------------


def _description(card: _Card, members: dict[str, str]) -> str:
    parts = [card.desc.strip()]
    for _, name, items in sorted(card.checklists, key=lambda c: c[0]):
        lines = [f"**{name or 'Checklist'}**", ""]
        lines += [f"- [{'x' if done else ' '}] {text}" for _, text, done in sorted(items)]
        parts.append("\n".join(lines))
    people = [members[m] for m in card.member_ids if members.get(m)]
    if people:
        parts.append("---\nOn Trello: " + ", ".join(people))
    return "\n\n".join(p for p in parts if p)[:DESCRIPTION_MAX]


def _label_names(labels: list[tuple[str, str, str]]) -> list[str]:
    """A unique name per label (the board's label names are unique)."""
    names: list[str] = []
    taken: set[str] = set()
    for _, name, color in labels:
        base = (name.strip() or color.split("_")[0].capitalize() or "Label")[:LABEL_NAME_MAX]
        candidate = base
        if candidate in taken and color:
            candidate = f"{base[: LABEL_NAME_MAX - len(color) - 3]} ({color})"
        n = 2
        while candidate in taken:
            suffix = f" {n}"
            candidate = base[: LABEL_NAME_MAX - len(suffix)] + suffix
            n += 1
        taken.add(candidate)
        names.append(candidate)
    return names


@transaction.atomic
def import_trello_board(*, team: Team, data: dict, actor: User, name: str | None = None) -> Board:
    """Create a board for `team` from a Trello export (see the module's docstring for what maps
    how). All or nothing: one transaction. The board returned carries `import_counts`:
    columns, cards, labels, comments, archived, and skipped (cards of closed lists).

    Raises InvalidInput (naming the faulty parts of the file) before writing anything, and
    whatever create_board raises when `actor` may not create a board for `team`."""
    # The right to create the board first: a viewer learns that, not what is wrong with a file.
    services.ensure_can_write(actor, Board(organization_id=team.organization_id, team=team))
    export = read_export(data)
    now = timezone.now()
    open_lists = sorted((x for x in export.lists if not x.closed), key=lambda x: (x.pos, x.index))
    stages = guess_stages([x.name for x in open_lists])
    board = services.create_board(
        team=team,
        name=((name or "").strip() or export.name.strip() or "Imported from Trello")[
            :BOARD_NAME_MAX
        ],
        description="Imported from Trello.",
        columns=[
            {"name": (x.name.strip() or "Untitled")[:COLUMN_NAME_MAX], "stage": stage}
            for x, stage in zip(open_lists, stages, strict=True)
        ],
        actor=actor,
    )
    columns = dict(zip([x.id for x in open_lists], board.columns.order_by("position"), strict=True))

    labels: dict[str, Label] = {}
    for (label_id, _, color), label_name in zip(
        export.labels, _label_names(export.labels), strict=True
    ):
        labels[label_id] = services.create_label(
            board, name=label_name, color=label_color(color), actor=actor
        )

    cards: dict[str, tuple[Card, datetime]] = {}
    skipped = 0
    for trello_card in sorted(export.cards, key=lambda c: (c.pos, c.index)):
        column = columns.get(trello_card.list_id)
        if column is None:
            skipped += 1  # on a closed list
            continue
        at = created_at(trello_card.id, now)
        card = services.create_card(
            board,
            title=(trello_card.name.strip() or "Untitled")[:TITLE_MAX],
            column=column,
            description=_description(trello_card, export.members),
            labels=[labels[i] for i in dict.fromkeys(trello_card.label_ids) if i in labels],
            due_date=trello_card.due,
            actor=actor,
            at=at,
        )
        cards[trello_card.id] = (card, at)

    comments = 0
    last_said: dict[str, datetime] = {}
    for comment in sorted(export.comments, key=lambda c: (c.at, -c.index)):
        if comment.card_id not in cards or not comment.text.strip():
            continue
        card, card_at = cards[comment.card_id]
        at = min(max(comment.at, card_at), now)  # never before the card itself
        body = (
            f"**{comment.author}** on Trello:\n\n{comment.text}"
            if comment.author
            else (comment.text)
        )
        services.add_comment(card, body=body[:COMMENT_MAX], actor=actor, at=at)
        last_said[comment.card_id] = at
        comments += 1

    archived = 0
    for trello_card in export.cards:
        if not trello_card.closed or trello_card.id not in cards:
            continue
        card, card_at = cards[trello_card.id]
        earliest = max(card_at, last_said.get(trello_card.id, card_at))
        at = min(max(trello_card.last_activity or now, earliest), now)
        services.archive_card(card, actor=actor, at=at)
        archived += 1

    board.import_counts = {
        "columns": len(open_lists),
        "cards": len(cards),
        "labels": len(labels),
        "comments": comments,
        "archived": archived,
        "skipped": skipped,
    }
    return board
