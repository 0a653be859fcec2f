"""Alerts through a real Celery worker on Redis (not eager): raised after a move over a soft
limit, closed after the card leaves; and moves that succeed while the worker is down get their
alerts once it is back."""

import json
import os
import time
import uuid
from datetime import datetime
from pathlib import Path

import pytest
import redis
from django.core.cache import cache

from boards import services
from boards.flow import followups
from boards.models import Alert, AlertKind, ImportJob, MetricsSnapshot
from kanban.celery import app as celery_app
from tests.servers import celery_worker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def queue(settings):
    """Send this test's tasks to a queue of its own, through the real broker, and share with the
    worker a cache of its own in Redis (where the web side and the worker coordinate which
    checks are already queued), as the production shape does."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            "KEY_PREFIX": name,
        }
    }
    # The settings' own (namespaced) names: with the configuration read from Django's settings,
    # Celery 5.6 answers for `task_always_eager` from CELERY_TASK_ALWAYS_EAGER first.
    conf = celery_app.conf
    saved = conf.CELERY_TASK_ALWAYS_EAGER, conf.CELERY_TASK_DEFAULT_QUEUE
    conf.CELERY_TASK_ALWAYS_EAGER, conf.CELERY_TASK_DEFAULT_QUEUE = False, name
    assert (conf.task_always_eager, conf.task_default_queue) == (False, name)
    yield name
    conf.CELERY_TASK_ALWAYS_EAGER, conf.CELERY_TASK_DEFAULT_QUEUE = saved


def wait_for(predicate, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def column_alert_open(board) -> bool:
    return Alert.objects.filter(
        board=board, kind=AlertKind.WIP_COLUMN, closed_at__isnull=True
    ).exists()


def over_the_soft_limit(world):
    doing = world.column("Doing")
    services.update_column(doing, wip_limit=1, actor=world.alice)
    services.create_card(world.board, title="in progress", column=doing, actor=world.alice)
    return doing, services.create_card(
        world.board, title="next", column=world.column("Ready"), actor=world.alice
    )


def test_a_real_worker_raises_the_alert_after_the_move_and_closes_it_after_the_card_leaves(
    world, queue
):
    doing, card = over_the_soft_limit(world)
    with celery_worker(queue):
        services.move_card(card, to_column=doing, actor=world.bob)
        assert wait_for(lambda: column_alert_open(world.board)), "no alert from the worker"

        card.refresh_from_db()
        services.move_card(card, to_column=world.column("Review"), actor=world.bob)
        assert wait_for(lambda: not column_alert_open(world.board)), "alert never closed"
    closed = Alert.objects.get(board=world.board, kind=AlertKind.WIP_COLUMN)
    assert closed.closed_at > closed.opened_at


def test_moves_succeed_while_the_worker_is_down_and_alerts_appear_once_it_is_back(world, queue):
    doing, card = over_the_soft_limit(world)

    # when: no worker runs, the move still succeeds
    move = services.move_card(card, to_column=doing, actor=world.bob)
    assert move is not None
    time.sleep(1)
    assert not column_alert_open(world.board)  # the check waits in the queue

    # then: once a worker starts, the queued check raises the alert
    with celery_worker(queue):
        assert wait_for(lambda: column_alert_open(world.board)), "queued check never ran"


def test_a_burst_of_moves_queues_one_task_which_sees_them_all_and_refreshes_metrics(world, queue):
    doing, card = over_the_soft_limit(world)
    others = [
        services.create_card(
            world.board, title=f"more {i}", column=world.column("Ready"), actor=world.alice
        )
        for i in range(4)
    ]
    broker = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))

    # when: five moves while no worker runs (after the six changes that set the board up)
    for moving in [card, *others]:
        services.move_card(moving, to_column=doing, actor=world.bob)

    # then: one task waits in the queue for all eleven changes, not one per change
    tasks = [json.loads(message)["headers"]["task"] for message in broker.lrange(queue, 0, -1)]
    assert tasks == ["boards.board_changed"]
    with celery_worker(queue):
        assert wait_for(lambda: column_alert_open(world.board)), "queued check never ran"
        # the one check saw all five: the alert counts six cards over the limit of one
        assert Alert.objects.get(board=world.board, kind=AlertKind.WIP_COLUMN).data["wip"] == 6
        # and it scheduled the board's metrics refresh, which the worker ran seconds later
        assert wait_for(lambda: MetricsSnapshot.objects.filter(board=world.board).exists())

        # once it has started, the next change queues a run of its own
        for moving in [card, *others]:
            services.move_card(moving, to_column=world.column("Review"), actor=world.bob)
        assert wait_for(lambda: not column_alert_open(world.board)), "alert never closed"


def test_under_a_steady_stream_a_boards_run_starts_at_most_once_a_second(world, queue):
    doing, card = over_the_soft_limit(world)
    broker = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    # given: a run of the board's task has just started (as a worker does: the pending key
    # removed, its start time noted)
    broker.delete(queue)
    cache.delete(followups._pending_key(world.board.pk))
    started = time.time()
    cache.set(followups._started_key(world.board.pk), started)

    # when: the next change comes at once
    services.move_card(card, to_column=doing, actor=world.bob)

    # then: its run is queued to start a second after the last one, not now
    (message,) = [json.loads(m) for m in broker.lrange(queue, 0, -1)]
    eta = datetime.fromisoformat(message["headers"]["eta"]).timestamp()
    assert started + 0.9 <= eta <= started + followups.BOARD_CHANGED_EVERY_SECONDS + 0.05


def test_until_its_queued_run_can_start_a_boards_changes_ask_the_cache_nothing(world, queue):
    doing, card = over_the_soft_limit(world)
    broker = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    broker.delete(queue)
    cache.delete(followups._pending_key(world.board.pk))
    cache.set(followups._started_key(world.board.pk), time.time())  # a run has just started
    services.move_card(card, to_column=doing, actor=world.bob)  # queues the next, 1 s away

    def cache_calls() -> int:
        stats = broker.info("commandstats")
        return sum(stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("get", "set"))

    # when: more changes come within that second
    before = cache_calls()
    for column in ("Review", "Doing", "Review"):
        services.move_card(card, to_column=world.column(column), actor=world.bob)

    # then: they asked the cache nothing (the run queued here sees them all), and no more
    # runs were queued
    assert cache_calls() == before
    tasks = [json.loads(message)["headers"]["task"] for message in broker.lrange(queue, 0, -1)]
    assert tasks == ["boards.board_changed"]
    # and once the run can have started, the next change asks again (and queues the next)
    time.sleep(followups.BOARD_CHANGED_EVERY_SECONDS)
    cache.delete(followups._pending_key(world.board.pk))  # as the starting run does
    services.move_card(card, to_column=doing, actor=world.bob)
    assert cache_calls() > before
    assert broker.llen(queue) == 2


def test_a_real_worker_runs_a_trello_import_job_end_to_end(world, queue, api):
    # given: the API answers at once, with the job queued for the worker
    export = json.loads((Path(__file__).parent / "fixtures" / "trello_board.json").read_text())
    response = api(world.bob).post(
        "/api/v1/orgs/acme/import/trello/",
        json.dumps({"team": world.sales.pk, "board": export}),
        content_type="application/json",
    )
    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    job = ImportJob.objects.get(pk=response.json()["id"])

    # when: a worker is there
    with celery_worker(queue):
        assert wait_for(lambda: ImportJob.objects.get(pk=job.pk).finished), "job never ended"

    # then: the worker imported it, chunk by chunk, and kept nothing of the file
    job.refresh_from_db()
    assert (job.status, job.done, job.total, job.attempts) == ("done", 14, 14, 1)
    assert job.export is None and job.counts["comments"] == 5
    assert job.board.cards.count() == 14 and job.board.name == "Product roadmap"
    body = api(world.alice).get(f"/api/v1/imports/{job.pk}/").json()
    assert (body["status"], body["board"], body["progress"]) == (
        "done",
        job.board_id,
        {"done": 14, "total": 14},
    )
