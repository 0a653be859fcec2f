"""Webhooks end to end against a real receiving HTTP server (tests/hook_receiver.py, which
checks the signatures with its own Standard Webhooks code): signed deliveries with the board's
seq, key rotation, the address check, retries, giving up, disabling after sustained failure,
the replay on re-enabling, redelivery, and the API's permissions. Tasks run eagerly here; the
real worker's retries are in tests/test_webhooks_worker.py."""

from datetime import timedelta

import pytest
from django.utils import timezone

from boards import services
from boards.flow import followups
from boards.hooks import network
from boards.hooks import services as hook_services
from boards.hooks import tasks as hook_tasks
from boards.models import Board, DeliveryStatus, Webhook, WebhookDelivery
from tests.hook_receiver import Receiver, start_receiver, verify

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_TIMEOUT = 1.0
    got = Receiver()
    server = start_receiver(got)
    yield got
    server.shutdown()
    server.server_close()


def new_hook(world, receiver, **kw) -> Webhook:
    return hook_services.create_webhook(
        world.acme, url=receiver.url, board=kw.pop("board", world.board), actor=world.alice, **kw
    )


def a_move(world):
    card = services.create_card(
        world.board, title="T", column=world.column("Ready"), actor=world.bob
    )
    services.move_card(card, to_column=world.column("Doing"), actor=world.bob)
    return card


def retry_now(delivery_id: int) -> None:
    """What the countdown does on a real worker: the retry falls due, its task runs."""
    WebhookDelivery.objects.filter(pk=delivery_id).update(next_attempt_at=timezone.now())
    hook_tasks.send(delivery_id)


def test_every_change_reaches_the_receiver_signed_with_the_boards_seq(world, receiver):
    hook = new_hook(world, receiver)
    start = Board.objects.get(pk=world.board.pk).last_seq

    a_move(world)

    assert [r.payload["type"] for r in receiver.received] == ["card.created", "card.moved"]
    assert [r.payload["seq"] for r in receiver.received] == [start + 1, start + 2]
    for r in receiver.received:
        assert verify(hook.secret, r.headers, r.body), "signature does not verify"
        assert r.headers["webhook-id"].startswith("msg_")
        assert r.payload["board"] == world.board.pk
        assert r.payload["data"]["card"]["title"] == "T"
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"succeeded"}


def test_an_organisation_hook_hears_every_board_including_one_created_after_it(world, receiver):
    new_hook(world, receiver, board=None)
    later = services.create_board(team=world.product, name="Later", actor=world.alice)

    services.create_card(later, title="x", column=later.columns.first(), actor=world.alice)
    a_move(world)

    boards = {r.payload["board"] for r in receiver.received}
    assert boards == {world.board.pk, later.pk}
    later_seqs = [r.payload["seq"] for r in receiver.received if r.payload["board"] == later.pk]
    assert later_seqs == sorted(later_seqs) and later_seqs[0] == 1


def test_after_a_rotation_both_keys_sign_until_the_old_one_expires(world, receiver):
    hook = new_hook(world, receiver)
    old = hook.secret
    hook = hook_services.rotate_webhook_secret(hook, actor=world.alice)

    a_move(world)

    got = receiver.received[-1]
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    assert verify(hook.secret, got.headers, got.body)
    assert verify(old, got.headers, got.body)
    assert not verify("whsec_" + "A" * 44, got.headers, got.body)


def test_a_loopback_target_is_refused_at_send_time_unless_allowed(world, receiver, settings):
    new_hook(world, receiver)
    settings.WEBHOOK_ALLOW_PRIVATE = False

    a_move(world)

    assert receiver.received == []
    delivery = WebhookDelivery.objects.first()
    assert delivery.status == DeliveryStatus.FAILED
    assert "not a public address" in delivery.last_error


@pytest.mark.parametrize("failure", [503, 429, 408, "sleep"])
def test_a_transient_failure_is_retried_with_the_same_webhook_id(world, receiver, failure):
    hook = new_hook(world, receiver)
    receiver.script = [failure]
    services.create_card(world.board, title="T", column=world.column("Ready"), actor=world.bob)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1

    retry_now(delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 2
    assert len({r.msg_id for r in receiver.received}) == 1
    assert len(receiver.received) == 2
    assert all(verify(hook.secret, r.headers, r.body) for r in receiver.received)


def test_a_client_error_is_not_retried(world, receiver):
    new_hook(world, receiver)
    receiver.script = [400]

    services.create_card(world.board, title="T", column=world.column("Ready"), actor=world.bob)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 1, 400)


def test_retries_stop_when_the_schedule_runs_out(world, receiver, settings):
    settings.WEBHOOK_RETRY_DELAYS = [1, 1]
    new_hook(world, receiver)
    receiver.default = 500
    services.create_card(world.board, title="T", column=world.column("Ready"), actor=world.bob)
    delivery = WebhookDelivery.objects.get()

    retry_now(delivery.pk)
    retry_now(delivery.pk)
    retry_now(delivery.pk)  # nothing left to try: no request

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert len(receiver.received) == 3


def test_a_retry_due_after_the_window_is_not_scheduled(settings):
    settings.WEBHOOK_RETRY_DELAYS = [5, 3600]
    settings.WEBHOOK_RETRY_WINDOW = 1800
    now = timezone.now()
    assert hook_services.next_delay(1, now, now) == 5
    assert hook_services.next_delay(2, now, now) is None


def test_sustained_failure_disables_the_hook_and_reenabling_replays_from_the_last_ack(
    world, receiver, settings
):
    settings.WEBHOOK_DISABLE_AFTER = 0
    settings.WEBHOOK_DISABLE_MIN_FAILURES = 3
    hook = new_hook(world, receiver)
    services.create_card(world.board, title="ok", column=world.column("Ready"), actor=world.bob)
    acked = receiver.received[-1].payload["seq"]
    receiver.default = 500

    # given: three failures in a row (two events, one retry) disable it
    card = services.create_card(
        world.board, title="T", column=world.column("Ready"), actor=world.bob
    )
    services.move_card(card, to_column=world.column("Doing"), actor=world.bob)
    first_failed = WebhookDelivery.objects.filter(status="pending").order_by("seq").first()
    retry_now(first_failed.pk)
    hook.refresh_from_db()
    assert not hook.is_active and "failed attempts" in hook.disabled_reason
    tried = len(receiver.received)
    # while disabled nothing is sent
    services.block_card(card, reason="waiting", actor=world.bob)
    retry_now(first_failed.pk)
    assert len(receiver.received) == tried

    # when: the receiver is fixed and the hook enabled again
    receiver.default = 200
    hook_services.update_webhook(hook, is_active=True, actor=world.alice)

    # then: every event after the last acknowledged seq arrives, once each, the failed ones
    # with the webhook-id they had
    replayed = receiver.received[tried:]
    seqs = [r.payload["seq"] for r in replayed]
    assert seqs == list(range(acked + 1, Board.objects.get(pk=world.board.pk).last_seq + 1))
    assert first_failed.msg_id in {r.msg_id for r in replayed}
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"succeeded"}


def test_the_sweep_dispatches_what_no_trigger_did_and_sends_overdue_retries(world, receiver):
    hook = new_hook(world, receiver)
    hook_services.update_webhook(hook, is_active=False, actor=world.alice)
    services.create_card(world.board, title="T", column=world.column("Ready"), actor=world.bob)
    Webhook.objects.filter(pk=hook.pk).update(is_active=True)  # no replay: as if a trigger was lost
    followups.forget_hooks_watch([world.board.pk])

    assert hook_tasks.sweep() == {"boards": 1, "deliveries": 0}

    assert [r.payload["type"] for r in receiver.received] == ["card.created"]
    receiver.script = [500]
    services.update_card(
        world.board.cards.get(), title="U", actor=world.bob
    )  # fails once, retry set
    WebhookDelivery.objects.filter(status="pending").update(
        next_attempt_at=timezone.now() - timedelta(minutes=5)
    )
    assert hook_tasks.sweep() == {"boards": 0, "deliveries": 1}
    assert receiver.received[-1].payload["type"] == "card.updated"
    assert receiver.received[-1].answered == 200


# --- the API ----------------------------------------------------------------------------------


def test_owners_and_admins_manage_hooks_members_may_not_and_other_orgs_read_404(
    world, receiver, api
):
    body = {"url": receiver.url, "board": world.board.pk}
    created = api(world.adam).post("/api/v1/orgs/acme/webhooks/", body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["secret"].startswith("whsec_")
    hook_id = created.json()["id"]

    assert (
        api(world.bob).post("/api/v1/orgs/acme/webhooks/", body, format="json").status_code == 403
    )
    assert api(world.bob).get(f"/api/v1/webhooks/{hook_id}/").status_code == 403
    assert api(world.gina).get(f"/api/v1/webhooks/{hook_id}/").status_code == 404
    assert api(world.gina).get(f"/api/v1/webhooks/{hook_id}/deliveries/").status_code == 404
    assert (
        api(world.gina).post("/api/v1/orgs/acme/webhooks/", body, format="json").status_code == 404
    )
    foreign = {"url": receiver.url, "board": world.globex_board.pk}
    assert (
        api(world.alice).post("/api/v1/orgs/acme/webhooks/", foreign, format="json").status_code
        == 400
    )
    assert "secret" not in api(world.alice).get(f"/api/v1/webhooks/{hook_id}/").json()


def test_a_url_that_is_not_http_is_refused(world, api):
    answer = api(world.alice).post(
        "/api/v1/orgs/acme/webhooks/", {"url": "ftp://example.com/x"}, format="json"
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid"


def test_the_delivery_log_and_a_redelivery_through_the_api(world, receiver, api):
    hook = new_hook(world, receiver)
    a_move(world)
    client = api(world.alice)

    log = client.get(f"/api/v1/webhooks/{hook.pk}/deliveries/?status=succeeded").json()
    assert log["count"] == 2
    newest = log["results"][0]
    assert newest["event_type"] == "card.moved" and newest["last_status_code"] == 200

    answer = client.post(f"/api/v1/webhooks/{hook.pk}/deliveries/{newest['id']}/redeliver/")

    assert answer.status_code == 202
    assert receiver.received[-1].msg_id == newest["msg_id"]
    assert len(receiver.received) == 3


def test_disabling_and_enabling_through_the_api(world, receiver, api):
    hook = new_hook(world, receiver)
    client = api(world.alice)
    assert (
        client.patch(f"/api/v1/webhooks/{hook.pk}/", {"is_active": False}, format="json").json()[
            "is_active"
        ]
        is False
    )
    a_move(world)
    assert receiver.received == []

    answer = client.patch(f"/api/v1/webhooks/{hook.pk}/", {"is_active": True}, format="json")

    assert answer.json()["is_active"] is True
    assert [r.payload["type"] for r in receiver.received] == ["card.created", "card.moved"]


# --- the page ---------------------------------------------------------------------------------


def test_the_webhooks_page_lists_hooks_and_deliveries_and_redelivers(world, receiver, client):
    hook = new_hook(world, receiver)
    a_move(world)
    delivery = WebhookDelivery.objects.filter(webhook=hook).order_by("seq").first()
    client.force_login(world.adam)

    page = client.get("/o/acme/webhooks/")

    html = page.content.decode()
    assert page.status_code == 200
    assert f'data-webhook-id="{hook.pk}"' in html
    assert f'data-delivery-id="{delivery.pk}" data-status="succeeded"' in html
    assert "<script>" not in html  # the policy allows no inline script

    answer = client.post(f"/o/acme/webhooks/{hook.pk}/deliveries/{delivery.pk}/redeliver/")

    assert answer.status_code == 302
    assert receiver.received[-1].msg_id == delivery.msg_id


def test_the_webhooks_page_enables_a_disabled_hook_and_it_catches_up(world, receiver, client):
    hook = new_hook(world, receiver)
    hook_services.update_webhook(hook, is_active=False, actor=world.alice)
    a_move(world)
    client.force_login(world.alice)
    assert "Enable and replay" in client.get("/o/acme/webhooks/").content.decode()

    client.post(f"/o/acme/webhooks/{hook.pk}/toggle/", {"is_active": "1"})

    assert [r.payload["type"] for r in receiver.received] == ["card.created", "card.moved"]


def test_the_webhooks_page_is_for_managers_and_foreign_hooks_are_404(world, receiver, client):
    hook = new_hook(world, receiver)
    client.force_login(world.bob)
    assert client.get("/o/acme/webhooks/").status_code == 403
    assert client.post(f"/o/acme/webhooks/{hook.pk}/toggle/", {"is_active": "0"}).status_code == 403
    client.force_login(world.gina)
    assert client.get("/o/acme/webhooks/").status_code == 404
    assert (
        client.post(f"/o/globex/webhooks/{hook.pk}/toggle/", {"is_active": "0"}).status_code == 404
    )
    hook.refresh_from_db()
    assert hook.is_active


def test_reenabling_replays_a_failure_below_a_later_acknowledged_seq(world, receiver, settings):
    settings.WEBHOOK_DISABLE_AFTER = 0
    settings.WEBHOOK_DISABLE_MIN_FAILURES = 2
    hook = new_hook(world, receiver)
    receiver.script = [500, 200, 500, 500]
    # given: A fails, B (later) is acknowledged, C fails, A's retry fails: disabled
    card = services.create_card(
        world.board, title="A", column=world.column("Ready"), actor=world.bob
    )
    services.update_card(card, title="B", actor=world.bob)
    services.update_card(card, title="C", actor=world.bob)
    a = WebhookDelivery.objects.order_by("seq").first()
    retry_now(a.pk)
    hook.refresh_from_db()
    assert not hook.is_active
    tried = len(receiver.received)

    hook_services.update_webhook(hook, is_active=True, actor=world.alice)

    replayed = {r.msg_id for r in receiver.received[tried:]}
    assert a.msg_id in replayed
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"succeeded"}


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.1",
        "172.16.5.4",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "::ffff:127.0.0.1",
        "224.0.0.1",
        "0.0.0.0",
        "100.64.0.1",
        "fc00::1",
    ],
)
def test_non_public_addresses_are_refused(address, settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    monkeypatch.setattr(
        "socket.getaddrinfo", lambda *a, **k: [(None, None, None, "", (address, 80))]
    )
    with pytest.raises(network.BlockedAddress):
        network.resolve("hooks.example.com", 80)


def test_a_name_with_one_private_address_among_public_ones_is_refused(settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    infos = [
        (None, None, None, "", ("93.184.216.34", 80)),
        (None, None, None, "", ("10.0.0.5", 80)),
    ]
    monkeypatch.setattr("socket.getaddrinfo", lambda *a, **k: infos)
    with pytest.raises(network.BlockedAddress):
        network.resolve("hooks.example.com", 80)
    infos.pop()
    assert network.resolve("hooks.example.com", 80) == "93.184.216.34"


def test_the_delivery_log_and_the_hook_list_cost_the_same_queries_for_1_or_30_rows(
    world, receiver, api
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    hook = new_hook(world, receiver)
    client = api(world.alice)

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    def deliveries(n: int) -> None:
        start = WebhookDelivery.objects.count()
        WebhookDelivery.objects.bulk_create(
            WebhookDelivery(
                webhook=hook,
                board=world.board,
                seq=start + i + 1,
                event_type="card.moved",
                msg_id=f"msg_{start + i}",
                body="{}",
                status="succeeded",
            )
            for i in range(n)
        )

    deliveries(1)
    queries("/api/v1/me/")  # the token's first use writes its last_used once
    few = queries(f"/api/v1/webhooks/{hook.pk}/deliveries/"), queries("/api/v1/orgs/acme/webhooks/")
    deliveries(29)
    for _ in range(5):
        new_hook(world, receiver, board=None)
    many = (
        queries(f"/api/v1/webhooks/{hook.pk}/deliveries/"),
        queries("/api/v1/orgs/acme/webhooks/"),
    )

    assert few == many
