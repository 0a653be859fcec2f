"""Flow metrics on a big board: 50,000 cards and 1,000,000 moves of history.

The history is inserted in bulk with SQL (generate_series) — going through the services would
take hours and the metrics read only the history tables. Then it times a full recompute of the
board's metrics (the Celery task's work) and reports the process's peak memory, the refresh
after one more move, and the metrics endpoint serving the stored snapshot.

    .venv/bin/python bench/metrics_bench.py            # 50,000 cards x 20 moves
    .venv/bin/python bench/metrics_bench.py --cards 5000
"""

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, make_board, setup_django

MOVES_PER_CARD = 20

BULK_SQL = """
WITH cols AS (
    SELECT array_agg(id ORDER BY position) AS ids, array_agg(stage ORDER BY position) AS stages
    FROM boards_column WHERE board_id = %(board)s
),
new_cards AS (
    INSERT INTO boards_card (board_id, column_id, swimlane_id, position, title, description,
        description_html, value, customer, class_of_service, blocked, block_reason, archived,
        created_at, updated_at, committed_at, started_at, finished_at)
    SELECT %(board)s,
           cols.ids[CASE WHEN i %% 10 < 8 THEN 5 ELSE 2 + i %% 3 END],
           %(lane)s,
           1000000 + i, 'card ' || i, '', '', 50, '', 'standard', false, '', false,
           %(start)s::timestamptz + (i * 200.0 / %(cards)s) * interval '1 day',
           now(), NULL, NULL, NULL
    FROM generate_series(1, %(cards)s) AS i, cols
    RETURNING id, column_id, created_at
)
SELECT count(*) FROM new_cards
"""

POSITIONS_SQL = """
UPDATE boards_card c SET position = r.rn - 1
FROM (SELECT id, row_number() OVER (PARTITION BY column_id, swimlane_id ORDER BY id) AS rn
      FROM boards_card WHERE board_id = %(board)s) r
WHERE c.id = r.id
"""

MOVES_SQL = """
WITH cols AS (
    SELECT array_agg(id ORDER BY position) AS ids, array_agg(stage ORDER BY position) AS stages
    FROM boards_column WHERE board_id = %(board)s
),
steps AS (
    SELECT c.id AS card_id, c.created_at, k,
           CASE WHEN k = 0 THEN 1
                WHEN k = %(last)s THEN array_position(cols.ids, c.column_id)
                ELSE 2 + (k - 1) %% 3 END AS col_index
    FROM boards_card c, cols, generate_series(0, %(last)s) AS k
    WHERE c.board_id = %(board)s
)
INSERT INTO boards_cardmove (card_id, board_id, from_column_id, to_column_id, from_swimlane_id,
    to_swimlane_id, from_stage, to_stage, position, at, actor_id, override_reason)
SELECT s.card_id, %(board)s,
       CASE WHEN k = 0 THEN NULL ELSE cols.ids[lag(s.col_index) OVER w] END,
       cols.ids[s.col_index], %(lane)s, %(lane)s,
       COALESCE(cols.stages[lag(s.col_index) OVER w], ''),
       cols.stages[s.col_index], 0,
       s.created_at + k * interval '7 hours' + (s.card_id %% 5) * interval '13 minutes',
       NULL, ''
FROM steps s, cols
WINDOW w AS (PARTITION BY s.card_id ORDER BY k)
"""

BLOCKS_SQL = """
INSERT INTO boards_block (card_id, board_id, reason, started_at, ended_at, blocked_by_id,
    unblocked_by_id)
SELECT id, %(board)s, 'bench', created_at + interval '30 hours', created_at + interval '40 hours',
       NULL, NULL
FROM boards_card WHERE board_id = %(board)s AND id %% 10 = 0
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cards", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    setup_django()
    from django.db import connection
    from django.utils import timezone
    from rest_framework.test import APIClient

    from boards import services
    from boards.flow import metrics
    from boards.models import Board, Card, CardMove, Column

    board_id, token, _, _ = make_board(0, name="metrics1m")
    board = Board.objects.get(pk=board_id)
    lane = board.swimlanes.get().pk
    start = timezone.now() - timezone.timedelta(days=210)
    params = {
        "board": board_id,
        "lane": lane,
        "cards": args.cards,
        "start": start,
        "last": MOVES_PER_CARD - 1,
    }
    t = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(BULK_SQL, params)
        cursor.execute(POSITIONS_SQL, params)
        cursor.execute(MOVES_SQL, params)
        cursor.execute(BLOCKS_SQL, params)
    # The services keep each card's flow fields as they write; bulk-loaded cards get them here.
    metrics.backfill_flow_fields(board)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE boards_card")
        cursor.execute("VACUUM ANALYZE boards_cardmove")
        cursor.execute("VACUUM ANALYZE boards_block")
    load_s = time.perf_counter() - t
    moves = CardMove.objects.filter(board_id=board_id).count()
    print(f"loaded {args.cards} cards, {moves} moves in {load_s:.1f}s", flush=True)

    window = metrics.Window(
        timezone.now().date() - timezone.timedelta(days=199), timezone.now().date()
    )
    full = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        metrics.refresh_snapshot(board_id, window)
        full.append(time.perf_counter() - t)
    t = time.perf_counter()
    metrics.refresh_snapshot(board_id)  # the rolling default (90 days)
    default_s = time.perf_counter() - t
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    # One more move, then the refresh the task would do.
    owner = board.team.members.first()
    card = Card.objects.filter(board_id=board_id, column__stage="wait").first()
    target = Column.objects.get(board_id=board_id, stage="done")
    t = time.perf_counter()
    services.move_card(card, to_column=target, actor=owner)
    move_ms = (time.perf_counter() - t) * 1000
    incremental = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        snapshot = metrics.refresh_after_change(board_id)
        incremental.append((time.perf_counter() - t) * 1000)
    assert snapshot.data["refresh"] == "incremental"

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    served = []
    for _ in range(20):
        t = time.perf_counter()
        response = client.get(f"/api/v1/boards/{board_id}/metrics/")
        served.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200
    result = {
        "cards": args.cards,
        "moves": moves,
        "full_recompute_200d_s": round(statistics.median(full), 2),
        "full_recompute_90d_s": round(default_s, 2),
        "peak_rss_mb": round(peak_mb),
        "move_ms": round(move_ms, 1),
        "refresh_after_one_move_ms": round(statistics.median(incremental), 1),
        "metrics_endpoint_ms_median": round(statistics.median(served), 1),
        "metrics_endpoint_ms_max": round(max(served), 1),
        "machine": machine(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
