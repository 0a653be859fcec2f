"""Idempotency-Key on POSTs: a retry gets the first answer (24 h), not a second change; the same
key with another body is an error; keys are per client; answers that mean "not done" are not
kept."""

from datetime import timedelta

import pytest
from django.utils import timezone

from boards import services
from boards.models import Card, IdempotencyKey

pytestmark = pytest.mark.django_db


def card_post(client, world, title="Retry me", key="k-1"):
    return client.post(
        f"/api/v1/boards/{world.board.pk}/cards/",
        {"title": title, "column": world.column("Ready").pk},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_a_retried_post_with_the_same_key_gets_the_first_answer_and_changes_nothing(world, api):
    client = api(world.bob)
    first = card_post(client, world)

    again = card_post(client, world)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Card.objects.filter(title="Retry me").count() == 1


def test_the_same_key_with_another_body_is_refused(world, api):
    client = api(world.bob)
    card_post(client, world)

    other = card_post(client, world, title="Something else")

    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert not Card.objects.filter(title="Something else").exists()


def test_keys_are_per_client(world, api):
    card_post(api(world.bob), world)

    other = card_post(api(world.alice), world)

    assert other.status_code == 201 and "Idempotent-Replayed" not in other
    assert Card.objects.filter(title="Retry me").count() == 2


def test_a_key_older_than_a_day_runs_again(world, api):
    client = api(world.bob)
    card_post(client, world)
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))

    again = card_post(client, world)

    assert again.status_code == 201 and "Idempotent-Replayed" not in again
    assert Card.objects.filter(title="Retry me").count() == 2


def test_a_refused_move_is_not_kept_so_its_retry_runs_again(world, api):
    doing = world.column("Doing")
    services.update_column(doing, wip_limit=1, wip_policy="hard", actor=world.alice)
    blocker = services.create_card(world.board, title="in", column=doing, actor=world.alice)
    card = services.create_card(
        world.board, title="next", column=world.column("Ready"), actor=world.bob
    )
    client = api(world.bob)

    def move():
        return client.post(
            f"/api/v1/cards/{card.pk}/move/",
            {"column": doing.pk},
            format="json",
            HTTP_IDEMPOTENCY_KEY="move-1",
        )

    assert move().status_code == 409
    services.move_card(blocker, to_column=world.column("Done"), actor=world.alice)
    assert move().status_code == 200
    assert move()["Idempotent-Replayed"] == "true"


def test_a_key_whose_first_request_still_runs_answers_409(world, api):
    client = api(world.bob)
    card_post(client, world)
    IdempotencyKey.objects.update(status_code=None)

    answer = card_post(client, world)

    assert answer.status_code == 409
    assert answer.json()["code"] == "idempotency_key_in_use"


def test_a_key_that_is_not_printable_ascii_is_refused(world, api):
    answer = card_post(api(world.bob), world, key="ключ")

    assert answer.status_code == 400
    assert not Card.objects.exists()


def test_a_get_ignores_the_header(world, api):
    answer = api(world.bob).get("/api/v1/me/", HTTP_IDEMPOTENCY_KEY="k")

    assert answer.status_code == 200
    assert not IdempotencyKey.objects.exists()
