"""CSV exports of a board, for spreadsheets: its cards, and its move history.

The rows are generated, never gathered: each query reads CHUNK rows past the last one written
(keyset pagination, with the chunk's assignees and labels in two more queries), and the CSV
text is handed on in parts of about PART_BYTES. Memory stays flat however large the board,
under WSGI and ASGI alike (see CsvStreamingResponse).

Cells are plain values (ISO 8601 times in UTC, `true`/`false`, days as decimals). A text cell
that a spreadsheet would run as a formula (starting with = + - @, a tab or a carriage return)
gets a leading apostrophe, as OWASP advises against CSV injection: titles are anyone's input.
"""

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from django.db.models import Q
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.text import slugify

from boards.flow.metrics import DAY
from boards.models import Board, Card, CardMove, Column, Label, Swimlane
from boards.selectors.cards import positions_on_board

CHUNK = 1_000
PART_BYTES = 64 * 1024
# Excel reads a CSV as UTF-8 only when it starts with a byte order mark.
BOM = "\ufeff"

CARD_COLUMNS = (
    "id",
    "title",
    "column",
    "stage",
    "swimlane",
    "position",
    "assignees",
    "labels",
    "value",
    "customer",
    "class_of_service",
    "due_date",
    "blocked",
    "block_reason",
    "archived",
    "created_at",
    "committed_at",
    "started_at",
    "finished_at",
    "lead_time_days",
    "cycle_time_days",
)

HISTORY_COLUMNS = (
    "card_id",
    "card_title",
    "from_column",
    "to_column",
    "from_stage",
    "to_stage",
    "at",
    "actor",
    "override_reason",
)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def _time(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat() if value else ""


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _days(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return ""
    return f"{(end - start).total_seconds() / DAY:.3f}"


# --- rows ------------------------------------------------------------------------------------


_CARD_FIELDS = (
    "id",
    "title",
    "column_id",
    "swimlane_id",
    "value",
    "customer",
    "class_of_service",
    "due_date",
    "blocked",
    "block_reason",
    "archived",
    "created_at",
    "committed_at",
    "started_at",
    "finished_at",
)


def card_rows(board: Board) -> Iterator[list[Any]]:
    """The board's cards (archived ones too), in id order, as CSV rows under CARD_COLUMNS."""
    columns = {
        pk: (name, stage)
        for pk, name, stage in Column.objects.filter(board=board).values_list("id", "name", "stage")
    }
    lanes = dict(Swimlane.objects.filter(board=board).values_list("id", "name"))
    label_names = dict(Label.objects.filter(board=board).values_list("id", "name"))
    cards = Card.objects.filter(board=board).order_by("id").values_list(*_CARD_FIELDS)
    last_id = 0
    while True:
        chunk = list(cards.filter(id__gt=last_id)[:CHUNK])
        if not chunk:
            return
        ids = [row[0] for row in chunk]
        positions = positions_on_board(board.pk, ids)
        assignees: dict[int, list[str]] = defaultdict(list)
        for card_id, username in (
            Card.assignees.through.objects.filter(card_id__in=ids)
            .order_by("card_id", "user__username")
            .values_list("card_id", "user__username")
        ):
            assignees[card_id].append(username)
        labels: dict[int, list[str]] = defaultdict(list)
        for card_id, label_id in Card.labels.through.objects.filter(card_id__in=ids).values_list(
            "card_id", "label_id"
        ):
            labels[card_id].append(label_names.get(label_id, ""))
        for (
            pk,
            title,
            column_id,
            lane_id,
            value,
            customer,
            class_of_service,
            due_date,
            blocked,
            block_reason,
            archived,
            created_at,
            committed_at,
            started_at,
            finished_at,
        ) in chunk:
            column, stage = columns.get(column_id, ("", ""))
            yield [
                pk,
                _text(title),
                _text(column),
                stage,
                _text(lanes.get(lane_id, "")),
                positions.get(pk, ""),
                _text(";".join(assignees[pk])),
                _text(";".join(sorted(labels[pk]))),
                value,
                _text(customer),
                class_of_service,
                due_date.isoformat() if due_date else "",
                _bool(blocked),
                _text(block_reason),
                _bool(archived),
                _time(created_at),
                _time(committed_at),
                _time(started_at),
                _time(finished_at),
                _days(committed_at or finished_at, finished_at),
                _days(started_at, finished_at),
            ]
        last_id = ids[-1]


def history_rows(board: Board) -> Iterator[list[Any]]:
    """Every entry of the board's move history (creations too, with no from column), oldest
    first, as CSV rows under HISTORY_COLUMNS."""
    moves = (
        CardMove.objects.filter(board=board)
        .order_by("at", "id")
        .values_list(
            "id",
            "at",
            "card_id",
            "card__title",
            "from_column__name",
            "to_column__name",
            "from_stage",
            "to_stage",
            "actor__username",
            "override_reason",
        )
    )
    after: tuple[datetime, int] | None = None
    while True:
        page = moves
        if after is not None:
            page = page.filter(Q(at__gt=after[0]) | Q(at=after[0], id__gt=after[1]))
        chunk = list(page[:CHUNK])
        if not chunk:
            return
        for _, at, card_id, title, source, target, from_stage, to_stage, actor, reason in chunk:
            yield [
                card_id,
                _text(title),
                _text(source or ""),
                _text(target or ""),
                from_stage,
                to_stage,
                _time(at),
                _text(actor or ""),
                _text(reason),
            ]
        after = (chunk[-1][1], chunk[-1][0])


def csv_parts(header: Iterable[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    """The CSV text (with a BOM) in parts of about PART_BYTES."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write(BOM)
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
        if buffer.tell() >= PART_BYTES:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


# --- the response ----------------------------------------------------------------------------


class CsvStreamingResponse(StreamingHttpResponse):
    """A streamed CSV download: the parts are read and sent one at a time, in the request's
    thread (HTTP goes through the WSGI handler: kanban/asgi.py)."""

    def __init__(self, parts: Iterable[str], *, filename: str) -> None:
        super().__init__(parts, content_type="text/csv; charset=utf-8")
        self["Content-Disposition"] = f'attachment; filename="{filename}"'
        self["Cache-Control"] = "no-store"


def export_filename(board: Board, kind: str) -> str:
    stamp = timezone.now().astimezone(UTC).date().isoformat()
    return f"{slugify(board.name) or 'board'}-{board.pk}-{kind}-{stamp}.csv"


def cards_csv_response(board: Board) -> CsvStreamingResponse:
    return CsvStreamingResponse(
        csv_parts(CARD_COLUMNS, card_rows(board)), filename=export_filename(board, "cards")
    )


def history_csv_response(board: Board) -> CsvStreamingResponse:
    return CsvStreamingResponse(
        csv_parts(HISTORY_COLUMNS, history_rows(board)), filename=export_filename(board, "history")
    )
