"""Alerts through a real Celery worker on Redis (not eager): raised after a move over a soft
limit, closed after the card leaves; and moves that succeed while the worker is down get their
alerts once it is back."""

import time
import uuid

import pytest

from boards import services
from boards.models import Alert, AlertKind
from kanban.celery import app as celery_app
from tests.servers import celery_worker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def queue():
    """Send this test's tasks to a queue of its own, through the real broker."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    saved = celery_app.conf.task_always_eager, celery_app.conf.task_default_queue
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_default_queue = name
    yield name
    celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = saved


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
