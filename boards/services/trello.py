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

How it runs: start_trello_import checks the file in the request (structure, IMPORT_MAX_CARDS,
the right to create the board) and queues an ImportJob; the task boards.import_trello runs it
(run_trello_import) in chunks of CHUNK cards, each chunk and the job's progress committed
together, so that no transaction holds the board for long. All or nothing for the person who
asked: a run that fails deletes what it built and says why in the job's `error`; a run whose
worker died is started again, its partial board deleted first. The job's own writes (its
status, progress and result) are the functions here; the board's go through boards.services.
"""

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ParseError, ValidationError

from accounts.models import Team, User
from boards import services
from boards.flow import followups
from boards.models import Board, ImportJob, ImportStatus, Label, Stage
from kanban.exceptions import DomainError, Forbidden, InvalidInput, NotFound, PayloadTooLarge
from kanban.parsers import JSONParser

logger = logging.getLogger(__name__)

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


class _ExportFileParser(JSONParser):
    def max_bytes(self) -> int:
        return settings.IMPORT_MAX_BYTES


def read_upload(file: UploadedFile | None) -> Any:
    """The JSON of an uploaded export file (the import page's form), checked as the API's
    parser checks a body: at most IMPORT_MAX_BYTES (PayloadTooLarge), strict JSON, not nested
    too deep, no NUL or lone surrogate in any string (InvalidInput naming where)."""
    if file is None:
        raise InvalidInput(
            "Choose the Trello export's file (a .json file).", fields={"export": ["Required."]}
        )
    limit = settings.IMPORT_MAX_BYTES
    # an uploaded file always has a size
    if file.size > limit:  # type: ignore[operator]
        raise PayloadTooLarge(f"The file is larger than the limit of {limit:,} bytes.")
    try:
        # utf-8-sig: a byte order mark, which some editors write, is not JSON's business.
        return _ExportFileParser().parse(file, parser_context={"encoding": "utf-8-sig"})
    except ParseError as exc:
        message = str(exc.detail).removeprefix("JSON parse error - ")
        raise InvalidInput(
            f"This file is not a JSON export: {message}", fields={"export": [message]}
        ) from exc
    except ValidationError as exc:  # a NUL or lone surrogate, at a path within the board
        # The parser raises it with a dict: {path: [message, ...]}.
        assert isinstance(exc.detail, dict)
        path, messages = next(iter(exc.detail.items()))
        path = f"board.{path}" if path != "non_field_errors" else "board"
        raise InvalidInput(
            # a list of messages (the parser's ValidationError)
            f"This is not a Trello board export we can import: {path}: {messages[0]}",  # type: ignore[index]
            fields={path: [str(m) for m in messages]},
        ) from exc


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


def _board_name(name: str | None, export: _Export) -> str:
    return ((name or "").strip() or export.name.strip() or "Imported from Trello")[:BOARD_NAME_MAX]


def _to_import(export: _Export) -> tuple[list[_List], list[_Card]]:
    """The open lists in `pos` order, and the cards on them in `pos` order (those imported)."""
    open_lists = sorted((x for x in export.lists if not x.closed), key=lambda x: (x.pos, x.index))
    ids = {x.id for x in open_lists}
    cards = sorted((c for c in export.cards if c.list_id in ids), key=lambda c: (c.pos, c.index))
    return open_lists, cards


@transaction.atomic
def start_trello_import(
    *, team: Team, data: Any, name: str | None = None, actor: User
) -> ImportJob:
    """Check a Trello export and queue its import into a new board for `team`. The job returned
    is queued; the task boards.import_trello runs it once this transaction commits (in the
    embedded default, in-process at that moment, so it comes back done).

    Raises before creating anything: Forbidden or NotFound when `actor` may not create a
    board for `team`; InvalidInput naming the faulty parts of the file (read_export), or when
    it holds more than IMPORT_MAX_CARDS cards."""
    # The right to create the board first: a viewer learns that, not what is wrong with a file.
    services.ensure_can_write(actor, Board(organization_id=team.organization_id, team=team))
    cards = data.get("cards") if isinstance(data, dict) else None
    cap = settings.IMPORT_MAX_CARDS
    if isinstance(cards, list) and len(cards) > cap:  # before reading them all
        raise InvalidInput(
            f"The export holds {len(cards):,} cards; an import takes at most {cap:,}.",
            fields={"board.cards": [f"{len(cards)} cards: at most {cap}."]},
        )
    export = read_export(data)
    job = ImportJob.objects.create(
        organization_id=team.organization_id,
        team=team,
        created_by=actor,
        name=_board_name(name, export),
        export=data,
        total=len(_to_import(export)[1]),
    )
    transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def _enqueue(job_id: int) -> None:
    """Queue the job's run (after the commit that created it). With the broker down, the job
    fails at once with a sentence saying so, rather than waiting queued for ever."""
    try:
        followups.queue("boards.import_trello", job_id)
    except Exception:
        logger.exception("Could not queue import %s", job_id)
        ImportJob.objects.filter(pk=job_id, status=ImportStatus.QUEUED).update(
            status=ImportStatus.FAILED,
            error="The import could not be queued (the task queue is not answering). "
            "Nothing was created: try again in a moment.",
            export=None,
            finished_at=timezone.now(),
        )


# --- running the import (boards.tasks.import_trello) -----------------------------------------

# Cards per transaction: progress shows every CHUNK cards, and no transaction holds the new
# board's locks for long (the whole import in one transaction took 250 s for 5,000 cards).
CHUNK = 100
# Runs of one job that may start: a run is restarted when its worker died half-way, but a
# file that kills its worker every time (out of memory) must not be retried for ever.
MAX_ATTEMPTS = 3


class _Superseded(Exception):
    """Another run of the job has started since this one (a redelivery): this one stops."""


@dataclass
class _Run:
    job: ImportJob
    board: Board | None = None
    imported: int = 0  # cards committed so far
    chunk: int = 0  # cards in the chunk under way


def run_trello_import(job_id: int) -> ImportJob | None:
    """Run a queued import: the board and its labels, then the cards in chunks of CHUNK, each
    chunk (its cards, their comments, the closed ones archived, and the job's progress) in a
    transaction of its own. All or nothing all the same: a failure deletes what was built
    (services.delete_board) and marks the job failed with a sentence saying why.

    Idempotent under redelivery: a job already done or failed is left alone; a job found
    running was left so by a worker that died: its partial board is deleted and the job runs
    again from the start (at most MAX_ATTEMPTS runs). Returns the job as this run left it, or
    None when it had nothing to do."""
    job = _claim(job_id)
    if job is None:
        return None
    run = _Run(job)
    try:
        # No alert check or metrics refresh per chunk: one for the whole board at the end.
        with followups.suspended():
            counts = _import(run)
    except _Superseded:
        logger.warning("Import %s: a newer run of it has started; this one stops", job_id)
        return None
    except Exception as exc:
        return _fail(run, exc)
    return _finish(run, counts)


def _jobs():
    # The export (up to 20 MB) is read once, by _import, never with the job.
    return ImportJob.objects.defer("export")


@transaction.atomic
def _claim(job_id: int) -> ImportJob | None:
    job = (
        _jobs()
        .select_for_update(of=("self",))
        .select_related("team", "created_by")
        .filter(pk=job_id)
        .first()
    )
    if job is None or job.finished:
        return None
    if job.status == ImportStatus.RUNNING:  # the run before this one stopped half-way
        _delete_partial_board(job)
    now = timezone.now()
    if job.attempts >= MAX_ATTEMPTS:
        job.status, job.finished_at, job.export = ImportStatus.FAILED, now, None
        job.error = (
            f"The import was started {job.attempts} times and each time stopped before the "
            "end (its worker was stopped, or ran out of memory). Nothing was kept."
        )
        job.save(update_fields=["status", "finished_at", "export", "error"])
        return None
    job.status, job.attempts, job.started_at = ImportStatus.RUNNING, job.attempts + 1, now
    job.done, job.board, job.counts, job.error = 0, None, {}, ""
    job.save(update_fields=["status", "attempts", "started_at", "done", "board", "counts", "error"])
    return job


def _delete_partial_board(job: ImportJob) -> bool:
    board = Board.objects.filter(pk=job.board_id).first() if job.board_id else None
    if board is None:
        return False
    services.delete_board(board, actor=job.created_by, partial_import=job)
    job.board = None
    return True


def _hold_run(run: _Run, **changes: Any) -> None:
    """Lock the job's row for the rest of the transaction (first, before the board's rows),
    writing `changes`; _Superseded if another run of the job has started since this one."""
    job = run.job
    still_ours = _jobs().filter(pk=job.pk, status=ImportStatus.RUNNING, attempts=job.attempts)
    # With no change to write, a write of what is there: an UPDATE locks the row either way.
    if not still_ours.update(**(changes or {"status": ImportStatus.RUNNING})):
        raise _Superseded


def _import(run: _Run) -> dict[str, int]:
    job, actor = run.job, run.job.created_by
    if actor is None:
        raise Forbidden("The account that started this import no longer exists.")
    export = read_export(ImportJob.objects.values_list("export", flat=True).get(pk=job.pk))
    now = timezone.now()
    open_lists, todo = _to_import(export)
    stages = guess_stages([x.name for x in open_lists])
    with transaction.atomic():
        _hold_run(run)
        board = services.create_board(
            team=job.team,
            name=job.name,
            description="Imported from Trello.",
            columns=[
                {"name": (x.name.strip() or "Untitled")[:COLUMN_NAME_MAX], "stage": stage}
                for x, stage in zip(open_lists, stages, strict=True)
            ],
            actor=actor,
        )
        labels: dict[str, Label] = {}
        for (label_id, _, color), label_name in zip(
            export.labels, _label_names(export.labels), strict=True
        ):
            labels[label_id] = services.create_label(
                board, name=label_name, color=label_color(color), actor=actor
            )
        # In the same transaction as the board: a restarted run finds it, to delete it.
        _hold_run(run, board=board)
        run.board = job.board = board
    columns = dict(zip([x.id for x in open_lists], board.columns.order_by("position"), strict=True))
    comments: dict[str, list[_Comment]] = {}
    for comment in export.comments:
        if comment.text.strip():
            comments.setdefault(comment.card_id, []).append(comment)
    counts = {
        "columns": len(open_lists),
        "cards": 0,
        "labels": len(labels),
        "comments": 0,
        "archived": 0,
        "skipped": len(export.cards) - len(todo),  # on closed lists
    }
    for start in range(0, len(todo), CHUNK):
        chunk = todo[start : start + CHUNK]
        run.chunk = len(chunk)
        with transaction.atomic():
            _hold_run(run, done=start + len(chunk))
            _import_chunk(
                board, chunk, columns, labels, comments, export.members, actor, now, counts
            )
        run.imported, run.chunk = start + len(chunk), 0
    return counts


def _import_chunk(
    board: Board,
    chunk: list[_Card],
    columns: dict[str, Any],
    labels: dict[str, Label],
    comments: dict[str, list[_Comment]],
    members: dict[str, str],
    actor: User,
    now: datetime,
    counts: dict[str, int],
) -> None:
    """The chunk's cards, in `pos` order, then their comments (oldest first, each never before
    its card), then the closed ones archived (never before their last comment)."""
    created = services.create_cards(
        board,
        cards=[
            services.NewCard(
                title=(trello_card.name.strip() or "Untitled")[:TITLE_MAX],
                column=columns[trello_card.list_id],
                description=_description(trello_card, members),
                labels=[labels[i] for i in dict.fromkeys(trello_card.label_ids) if i in labels],
                due_date=trello_card.due,
                at=created_at(trello_card.id, now),
            )
            for trello_card in chunk
        ],
        actor=actor,
    )
    cards = {trello_card.id: card for trello_card, card in zip(chunk, created, strict=True)}

    said = [comment for trello_card in chunk for comment in comments.get(trello_card.id, ())]
    new_comments, last_said = [], {}
    for comment in sorted(said, key=lambda c: (c.at, -c.index)):
        card = cards[comment.card_id]
        at = min(max(comment.at, card.created_at), now)  # never before the card itself
        body = (
            f"**{comment.author}** on Trello:\n\n{comment.text}" if comment.author else comment.text
        )
        new_comments.append(services.NewComment(card=card, body=body[:COMMENT_MAX], at=at))
        last_said[comment.card_id] = at
    services.add_comments(board, comments=new_comments, actor=actor)

    archived = 0
    for trello_card in chunk:
        if trello_card.closed:
            card = cards[trello_card.id]
            earliest = max(card.created_at, last_said.get(trello_card.id, card.created_at))
            at = min(max(trello_card.last_activity or now, earliest), now)
            services.archive_card(card, actor=actor, at=at)
            archived += 1
    counts["cards"] += len(created)
    counts["comments"] += len(new_comments)
    counts["archived"] += archived


@transaction.atomic
def _finish(run: _Run, counts: dict[str, int]) -> ImportJob | None:
    job = run.job
    try:
        _hold_run(
            run, status=ImportStatus.DONE, counts=counts, export=None, finished_at=timezone.now()
        )
    except _Superseded:
        return None
    # The new board's WIP alerts and metrics, once for the whole import (held back meanwhile).
    assert run.board is not None, "a run that finishes has created its board"
    followups.after_board_change(run.board.pk)
    job.refresh_from_db()
    return job


def _fail(run: _Run, exc: Exception) -> ImportJob | None:
    """Delete what the run built and mark the job failed, with a sentence for a person."""
    job = run.job
    if isinstance(exc, DomainError):
        logger.info("Import %s failed: %s", job.pk, exc)
    else:
        logger.error("Import %s failed", job.pk, exc_info=exc)
    with transaction.atomic():
        locked = (
            _jobs()
            .select_for_update()
            .filter(pk=job.pk, status=ImportStatus.RUNNING, attempts=job.attempts)
            .first()
        )
        if locked is None:
            return None  # superseded: the newer run deals with the board
        deleted = _delete_partial_board(locked)
        locked.status, locked.finished_at, locked.export = ImportStatus.FAILED, timezone.now(), None
        locked.board, locked.counts = None, {}
        locked.error = _failure_sentence(run, exc, deleted=deleted)
        locked.save(update_fields=["status", "finished_at", "export", "board", "counts", "error"])
    return locked


def _failure_sentence(run: _Run, exc: Exception, *, deleted: bool) -> str:
    total = run.job.total
    if run.chunk:
        first, last = run.imported + 1, run.imported + run.chunk
        where = f"while importing cards {first:,} to {last:,} of {total:,}"
    elif run.board is None:
        where = "before its first card"
    else:
        where = f"after {run.imported:,} of {total:,} cards"
    if isinstance(exc, SoftTimeLimitExceeded | TimeLimitExceeded):
        minutes = settings.IMPORT_TIME_LIMIT // 60
        reason = f"It ran longer than an import may ({minutes} minutes)."
    elif isinstance(exc, NotFound):
        reason = "The board being imported, or your access to the organisation, was removed."
    elif isinstance(exc, DomainError):
        reason = exc.detail
    else:
        reason = "Something went wrong on our side (the details are in the server's log)."
    kept = "Nothing was kept: the partial board was deleted." if deleted else "Nothing was kept."
    return f"The import stopped {where}. {reason} {kept}"
