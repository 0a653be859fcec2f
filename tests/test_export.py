"""CSV exports (boards.selectors.exports, GET /api/v1/boards/{id}/export/cards.csv and
history.csv): the right rows and cells for a small board, streamed with flat memory for a big
one (and part by part through the real server), readable by every member and not found for
another organisation."""

import csv
import io
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest
from django.http import StreamingHttpResponse
from django.utils import timezone

from accounts.services import create_api_token
from boards import services
from boards.models import Card, Column
from boards.selectors import exports
from tests.factories import bulk_add_cards
from tests.servers import asgi_server, raw_request

pytestmark = pytest.mark.django_db

API = "/api/v1"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def read_csv(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith(exports.BOM)
    return list(csv.DictReader(io.StringIO(body[1:])))


@pytest.fixture
def small(world):
    """A card that went Ready -> Doing -> Done (lead 3 days, cycle 2), one blocked with two
    assignees and two labels, and one archived."""
    board, alice, bob = world.board, world.alice, world.bob
    col = {c.name: c for c in board.columns.all()}
    bug = services.create_label(board, name="bug", actor=alice)
    vip = services.create_label(board, name="vip", actor=alice)
    done = services.create_card(
        board, title="Ship invoices", column=col["Ready"], actor=alice, at=T0, value=80
    )
    services.move_card(done, to_column=col["Doing"], actor=bob, at=T0 + timedelta(days=1))
    done.refresh_from_db()
    services.move_card(done, to_column=col["Done"], actor=alice, at=T0 + timedelta(days=3))
    blocked = services.create_card(
        board,
        title='=HYPERLINK("http://evil")',
        column=col["Doing"],
        assignees=[bob, alice],
        labels=[vip, bug],
        customer="Acme, Inc.",
        class_of_service="expedite",
        due_date=T0.date() + timedelta(days=30),
        actor=alice,
        at=T0,
    )
    services.block_card(blocked, reason="Waiting for legal", actor=bob, at=T0)
    gone = services.create_card(board, title="Old idea", column=col["Backlog"], actor=alice, at=T0)
    services.archive_card(gone, actor=alice)
    return {"done": done, "blocked": blocked, "gone": gone, "col": col}


def test_cards_csv_has_one_row_per_card_with_every_column(world, api, small):
    response = api(world.victor).get(f"{API}/boards/{world.board.pk}/export/cards.csv")

    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    disposition = response["Content-Disposition"]
    assert disposition.startswith('attachment; filename="sales-pipeline-')
    assert disposition.endswith("-cards-" + timezone.now().date().isoformat() + '.csv"')
    rows = read_csv(response)
    assert tuple(rows[0]) == exports.CARD_COLUMNS
    by_id = {int(r["id"]): r for r in rows}
    assert list(by_id) == sorted(by_id)
    assert set(by_id) == {small["done"].pk, small["blocked"].pk, small["gone"].pk}

    done = by_id[small["done"].pk]
    assert done["title"] == "Ship invoices"
    assert (done["column"], done["stage"], done["swimlane"]) == ("Done", "done", "Default")
    assert (done["value"], done["blocked"], done["archived"]) == ("80", "false", "false")
    assert done["committed_at"] == T0.isoformat()
    assert done["started_at"] == (T0 + timedelta(days=1)).isoformat()
    assert done["finished_at"] == (T0 + timedelta(days=3)).isoformat()
    assert (done["lead_time_days"], done["cycle_time_days"]) == ("3.000", "2.000")

    blocked = by_id[small["blocked"].pk]
    assert blocked["assignees"] == "alice;bob"
    assert blocked["labels"] == "bug;vip"
    assert blocked["customer"] == "Acme, Inc."
    assert blocked["class_of_service"] == "expedite"
    assert blocked["due_date"] == (T0.date() + timedelta(days=30)).isoformat()
    assert (blocked["blocked"], blocked["block_reason"]) == ("true", "Waiting for legal")
    assert blocked["position"] == "0"
    assert (blocked["finished_at"], blocked["lead_time_days"]) == ("", "")

    gone = by_id[small["gone"].pk]
    assert (gone["archived"], gone["position"], gone["stage"]) == ("true", "", "backlog")


def test_a_cell_a_spreadsheet_would_run_as_a_formula_is_defused(world, api, small):
    rows = read_csv(api(world.alice).get(f"{API}/boards/{world.board.pk}/export/cards.csv"))

    title = {int(r["id"]): r["title"] for r in rows}[small["blocked"].pk]
    assert title == '\'=HYPERLINK("http://evil")'


def test_history_csv_lists_every_move_oldest_first(world, api, small):
    response = api(world.bob).get(f"{API}/boards/{world.board.pk}/export/history.csv")

    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert "-history-" in response["Content-Disposition"]
    rows = read_csv(response)
    assert tuple(rows[0]) == exports.HISTORY_COLUMNS
    done = [r for r in rows if r["card_id"] == str(small["done"].pk)]
    assert [(r["from_column"], r["to_column"]) for r in done] == [
        ("", "Ready"),
        ("Ready", "Doing"),
        ("Doing", "Done"),
    ]
    assert [(r["from_stage"], r["to_stage"]) for r in done] == [
        ("", "wait"),
        ("wait", "active"),
        ("active", "done"),
    ]
    assert [r["actor"] for r in done] == ["alice", "bob", "alice"]
    assert done[1]["at"] == (T0 + timedelta(days=1)).isoformat()
    assert done[0]["card_title"] == "Ship invoices"
    assert [r["at"] for r in rows] == sorted(r["at"] for r in rows)
    assert len(rows) == 5  # three creations and two moves


def test_history_csv_records_a_hard_limit_override(world, api, small):
    doing = small["col"]["Doing"]
    services.update_column(doing, wip_limit=1, wip_policy="hard", actor=world.alice)
    card = services.create_card(
        world.board, title="Hotfix", column=small["col"]["Ready"], actor=world.alice
    )
    services.move_card(card, to_column=doing, override_reason="Outage", actor=world.alice)

    rows = read_csv(api(world.alice).get(f"{API}/boards/{world.board.pk}/export/history.csv"))

    assert rows[-1]["card_title"] == "Hotfix"
    assert rows[-1]["override_reason"] == "Outage"


def test_exports_of_another_organisations_board_are_not_found(world, api, small):
    for kind in ("cards", "history"):
        response = api(world.gina).get(f"{API}/boards/{world.board.pk}/export/{kind}.csv")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
        response = api(None).get(f"{API}/boards/{world.board.pk}/export/{kind}.csv")
        assert response.status_code == 401


def test_exports_answer_csv_whatever_the_accept_header_and_errors_in_json(world, api, small):
    client = api(world.alice)
    ok = client.get(f"{API}/boards/{world.board.pk}/export/cards.csv", HTTP_ACCEPT="text/csv")
    missing = client.get(f"{API}/boards/999999/export/cards.csv", HTTP_ACCEPT="text/csv")

    assert ok.status_code == 200
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"


# --- a big board: flat memory ----------------------------------------------------------------


def bulk_fill(world, n: int) -> None:
    """`n` more live cards over every column of the Sales board, positions dense per cell;
    every tenth with an assignee and a label. Bulk-inserted: 20,000 service calls would take
    minutes, and the export only reads these rows."""
    board = world.board
    columns = list(Column.objects.filter(board=board).order_by("position"))
    lane = board.swimlanes.get()
    label = board.labels.filter(name="bulk").first() or services.create_label(
        board, name="bulk", actor=world.alice
    )
    now = timezone.now()
    cards = []
    for i in range(n):
        column = columns[i % len(columns)]
        cards.append(
            Card(
                board=board,
                column=column,
                swimlane=lane,
                title=f"Card number {i} with a title of ordinary length",
                description="Some description " * 5,
                customer="A customer",
                created_at=now,
                updated_at=now,
                committed_at=now if column.stage != "backlog" else None,
            )
        )
    made = bulk_add_cards(cards)
    Card.assignees.through.objects.bulk_create(
        Card.assignees.through(card_id=c.pk, user_id=world.bob.pk) for c in made[::10]
    )
    Card.labels.through.objects.bulk_create(
        Card.labels.through(card_id=c.pk, label_id=label.pk) for c in made[::10]
    )


def peak_while_streaming(response) -> tuple[int, int, int]:
    """(peak traced bytes, bytes streamed, rows) while iterating the response's content."""
    size = rows = 0
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        for part in response.streaming_content:
            size += len(part)
            rows += part.count(b"\n")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, size, rows


def test_a_20000_card_board_streams_its_csv_with_flat_memory(world, api):
    client = api(world.alice)
    url = f"{API}/boards/{world.board.pk}/export/cards.csv"

    # given: a board of 2,000 cards, then the same board ten times bigger
    bulk_fill(world, 2_000)
    small_peak, small_size, small_rows = peak_while_streaming(client.get(url))
    bulk_fill(world, 18_000)

    # when
    response = client.get(url)
    big_peak, big_size, big_rows = peak_while_streaming(response)

    # then
    assert isinstance(response, StreamingHttpResponse)
    assert (small_rows, big_rows) == (2_001, 20_001)  # with the header
    assert big_size > 9 * small_size
    # the whole CSV is ~4 MB: holding it, or its rows, would show; one chunk of rows is ~1 MB
    assert big_peak < 2.5 * 1024 * 1024, big_peak
    assert big_peak < 1.5 * small_peak + 256 * 1024, (small_peak, big_peak)


@pytest.mark.django_db(transaction=True)
def test_through_the_real_server_the_csv_arrives_in_parts(world, api):
    bulk_fill(world, 3_000)
    _, token = create_api_token(user=world.alice)
    path = f"{API}/boards/{world.board.pk}/export/cards.csv"
    expected = b"".join(api(world.alice).get(path).streaming_content)

    with asgi_server() as base:
        status, head, parts = raw_request(
            base, f"GET {path} HTTP/1.1", {"Authorization": f"Token {token}"}
        )

    assert status == 200, head
    assert b"transfer-encoding: chunked" in head.lower()
    assert len(parts) > 3  # sent part by part as they were read, not gathered first
    assert b"".join(parts) == expected
