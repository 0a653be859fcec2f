"""Webhooks through a real Celery worker on Redis (not eager): the dispatch and every retry run
in the worker, against a real receiver that fails on purpose (503, 429, a request held past the
timeout) before it accepts; the same webhook-id on every attempt."""

import os
import time
import uuid

import pytest

from boards import services
from boards.hooks import services as hook_services
from boards.models import WebhookDelivery
from kanban.celery import app as celery_app
from tests.hook_receiver import Receiver, start_receiver, verify
from tests.servers import celery_worker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def queue(settings, monkeypatch):
    """A queue and a Redis cache of this test's own, shared with the worker (as in
    tests/test_celery_worker.py), and the worker's webhook settings in its environment."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            "KEY_PREFIX": name,
        }
    }
    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE", "1")
    monkeypatch.setenv("WEBHOOK_RETRY_DELAYS", "0.5,0.5,0.5,0.5")
    monkeypatch.setenv("WEBHOOK_TIMEOUT", "1")
    conf = celery_app.conf
    saved = conf.CELERY_TASK_ALWAYS_EAGER, conf.CELERY_TASK_DEFAULT_QUEUE
    conf.CELERY_TASK_ALWAYS_EAGER, conf.CELERY_TASK_DEFAULT_QUEUE = False, name
    yield name
    conf.CELERY_TASK_ALWAYS_EAGER, conf.CELERY_TASK_DEFAULT_QUEUE = saved


@pytest.fixture
def receiver():
    got = Receiver(sleep=2.0)
    server = start_receiver(got)
    yield got
    server.shutdown()
    server.server_close()


def wait_for(predicate, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_a_real_worker_retries_503_429_and_a_timeout_then_delivers_with_one_webhook_id(
    world, queue, receiver
):
    hook = hook_services.create_webhook(
        world.acme, url=receiver.url, board=world.board, actor=world.alice
    )
    receiver.script = [503, 429, "sleep"]
    with celery_worker(queue):
        services.create_card(world.board, title="T", column=world.column("Ready"), actor=world.bob)

        assert wait_for(lambda: receiver.answered_ok()), "never delivered"
        assert wait_for(
            lambda: WebhookDelivery.objects.filter(status="succeeded").exists(), timeout=10
        )

    delivery = WebhookDelivery.objects.get()
    assert delivery.attempts == 4
    assert [r.answered for r in receiver.received] == [503, 429, "sleep", 200]
    assert {r.msg_id for r in receiver.received} == {delivery.msg_id}
    assert all(verify(hook.secret, r.headers, r.body) for r in receiver.received)
    gaps = [b.at - a.at for a, b in zip(receiver.received, receiver.received[1:], strict=False)]
    assert all(gap >= 0.4 for gap in gaps), f"retried without backing off: {gaps}"


def test_deliveries_made_while_the_worker_is_down_arrive_once_it_is_back(world, queue, receiver):
    hook_services.create_webhook(world.acme, url=receiver.url, board=world.board, actor=world.alice)
    card = services.create_card(
        world.board, title="T", column=world.column("Ready"), actor=world.bob
    )
    services.move_card(card, to_column=world.column("Doing"), actor=world.bob)

    with celery_worker(queue):
        assert wait_for(lambda: len(receiver.answered_ok()) == 2)

    assert [r.payload["type"] for r in receiver.received] == ["card.created", "card.moved"]
