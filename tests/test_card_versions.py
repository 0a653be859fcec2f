"""No lost updates: a card's version, its ETag, If-Match and `version` on PATCH (412 / 409 with
the card as it is and who changed what), and the move's `expected_column`."""

import threading

import pytest
from django.db import connection

from boards import services
from boards.models import Card, CardChange, Event
from kanban.exceptions import StaleVersion

pytestmark = pytest.mark.django_db

API = "/api/v1"


def new_card(world, title="Invoice", column="Ready"):
    return services.create_card(
        world.board, title=title, column=world.column(column), actor=world.alice
    )


def version_of(card: Card) -> int:
    return Card.objects.values_list("version", flat=True).get(pk=card.pk)


def test_every_write_to_a_card_takes_its_version_one_up_and_a_no_op_does_not(world):
    card = new_card(world)
    seen = [version_of(card)]
    services.update_card(card, title="Invoice v2", actor=world.bob)
    seen.append(version_of(card))
    services.update_card(card, title="Invoice v2", actor=world.bob)  # nothing changes
    seen.append(version_of(card))
    services.block_card(card, reason="Waiting for legal", actor=world.bob)
    seen.append(version_of(card))
    services.unblock_card(card, actor=world.bob)
    seen.append(version_of(card))
    services.move_card(card, to_column=world.column("Doing"), actor=world.bob)
    seen.append(version_of(card))
    services.archive_card(card, actor=world.bob)
    seen.append(version_of(card))
    services.restore_card(card, actor=world.bob)
    seen.append(version_of(card))

    assert seen == [1, 2, 2, 3, 4, 5, 6, 7]
    # Every event's card carries the version it made, so that an open dialog follows it.
    versions = [
        e.data["card"]["version"]
        for e in Event.objects.filter(board=world.board, type__startswith="card.").order_by("seq")
    ]
    assert versions == [1, 2, 3, 4, 5, 6, 7]


def test_get_sends_the_version_as_etag_and_in_the_card(world, api):
    card = new_card(world)
    services.update_card(card, title="Invoice v2", actor=world.bob)

    response = api(world.mia).get(f"{API}/cards/{card.pk}/")

    assert response.status_code == 200
    assert response["ETag"] == '"2"'
    assert response.json()["version"] == 2


def test_a_patch_with_the_current_if_match_saves_and_answers_the_new_etag(world, api):
    card = new_card(world)

    response = api(world.bob).patch(
        f"{API}/cards/{card.pk}/", {"title": "Mine"}, format="json", HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 200, response.content
    assert response.json()["title"] == "Mine"
    assert response["ETag"] == '"2"'


def test_a_stale_if_match_is_refused_with_412_saying_who_changed_what_and_changes_nothing(
    world, api
):
    # given: alice's dialog loaded version 1; bob retitled the card since
    card = new_card(world)
    services.update_card(card, title="Bob's title", actor=world.bob)
    events_before = Event.objects.filter(board=world.board).count()

    # when
    response = api(world.alice).patch(
        f"{API}/cards/{card.pk}/",
        {"title": "Alice's title", "value": 90},
        format="json",
        HTTP_IF_MATCH='"1"',
    )

    # then
    assert response.status_code == 412, response.content
    body = response.json()
    assert body["code"] == "version_conflict"
    assert "bob changed the title" in body["detail"]
    assert body["error"] == body["detail"]
    assert body["card"]["title"] == "Bob's title"
    assert body["card"]["version"] == 2
    assert [(c["field"], c["by"], c["new"]) for c in body["changes"]] == [
        ("title", "bob", "Bob's title")
    ]
    assert body["changes"][0]["at"]
    card.refresh_from_db()
    assert (card.title, card.value, card.version) == ("Bob's title", 50, 2)
    assert Event.objects.filter(board=world.board).count() == events_before


def test_a_stale_version_in_the_body_is_refused_with_409(world, api):
    card = new_card(world)
    services.block_card(card, reason="Legal", actor=world.bob)
    services.move_card(card, to_column=world.column("Doing"), actor=world.adam)

    response = api(world.alice).patch(
        f"{API}/cards/{card.pk}/", {"title": "Alice's", "version": 1}, format="json"
    )

    assert response.status_code == 409, response.content
    body = response.json()
    assert body["code"] == "version_conflict"
    assert [(c["field"], c["by"], c["new"]) for c in body["changes"]] == [
        ("blocked", "bob", "Legal"),
        ("column", "adam", "Doing"),
    ]
    assert Card.objects.get(pk=card.pk).title == "Invoice"


def test_a_stale_archive_is_refused_too(world, api):
    card = new_card(world)
    services.update_card(card, customer="Initech", actor=world.bob)

    response = api(world.alice).patch(
        f"{API}/cards/{card.pk}/", {"archived": True}, format="json", HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 412
    assert Card.objects.get(pk=card.pk).archived is False


def test_without_if_match_or_version_a_patch_works_as_before(world, api):
    card = new_card(world)
    services.update_card(card, title="Bob's title", actor=world.bob)

    response = api(world.alice).patch(f"{API}/cards/{card.pk}/", {"title": "Script"}, format="json")

    assert response.status_code == 200
    assert Card.objects.get(pk=card.pk).title == "Script"


@pytest.mark.parametrize("header", ['"abc"', '"0"', "3;drop", '"-1"', '"²"'])
def test_a_malformed_if_match_is_a_400_and_changes_nothing(world, api, header):
    card = new_card(world)

    response = api(world.bob).patch(
        f"{API}/cards/{card.pk}/", {"title": "X"}, format="json", HTTP_IF_MATCH=header
    )

    assert response.status_code == 400, response.content
    assert response.json()["fields"] == {"If-Match": ["A card version in quotes."]}
    assert Card.objects.get(pk=card.pk).title == "Invoice"


def test_if_match_star_and_a_weak_tag_are_understood(world, api):
    card = new_card(world)
    client = api(world.bob)

    assert (
        client.patch(
            f"{API}/cards/{card.pk}/", {"title": "A"}, format="json", HTTP_IF_MATCH="*"
        ).status_code
        == 200
    )
    assert (
        client.patch(
            f"{API}/cards/{card.pk}/", {"title": "B"}, format="json", HTTP_IF_MATCH='W/"2"'
        ).status_code
        == 200
    )


def test_a_foreign_card_is_not_found_whatever_the_version(world, api):
    theirs = services.create_card(
        world.globex_board,
        title="Secret",
        column=world.column("Ready", world.globex_board),
        actor=world.gina,
    )

    response = api(world.alice).patch(
        f"{API}/cards/{theirs.pk}/", {"title": "X"}, format="json", HTTP_IF_MATCH='"9"'
    )

    assert response.status_code == 404
    assert "Secret" not in response.content.decode()


def test_a_viewer_with_a_current_version_is_still_refused(world, api):
    card = new_card(world)
    response = api(world.victor).patch(
        f"{API}/cards/{card.pk}/", {"title": "X"}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert response.status_code == 403


def test_an_edit_records_each_field_old_and_new(world):
    card = new_card(world)
    label = services.create_label(world.board, name="vip", actor=world.alice)

    services.update_card(card, title="New", value=80, labels=[label], actor=world.bob)

    changes = {
        c.field: (c.old, c.new, c.version, c.actor_id)
        for c in CardChange.objects.filter(card=card, kind="edited")
    }
    assert changes == {
        "title": ("Invoice", "New", 2, world.bob.pk),
        "value": (50, 80, 2, world.bob.pk),
        "labels": ([], [label.pk], 2, world.bob.pk),
    }


# --- the move from a stale board ---------------------------------------------------------------


def test_a_move_expecting_a_column_the_card_left_is_refused_saying_who_moved_it_where(world, api):
    # given: alice sees the card in Ready; bob moved it to Review
    card = new_card(world)
    ready, review = world.column("Ready"), world.column("Review")
    services.move_card(card, to_column=review, actor=world.bob)
    seq = world.board.__class__.objects.get(pk=world.board.pk).last_seq

    # when: alice drags it from Ready to Doing
    response = api(world.alice).post(
        f"{API}/cards/{card.pk}/move/",
        {"column": world.column("Doing").pk, "expected_column": ready.pk},
        format="json",
    )

    # then
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["code"] == "conflict"
    assert body["detail"].startswith("The card was moved to Review by bob at ")
    assert body["card"]["column"] == review.pk
    assert body["changes"][0]["by"] == "bob"
    card.refresh_from_db()
    assert card.column_id == review.pk
    assert world.board.__class__.objects.get(pk=world.board.pk).last_seq == seq


def test_a_move_expecting_the_column_the_card_is_in_goes_through(world, api):
    card = new_card(world)
    doing = world.column("Doing")

    response = api(world.bob).post(
        f"{API}/cards/{card.pk}/move/",
        {"column": doing.pk, "expected_column": world.column("Ready").pk},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["card"]["column"] == doing.pk
    assert response.json()["card"]["version"] == 2


# --- the race, on real Postgres connections ---------------------------------------------------


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_two_editors_from_the_same_version_one_wins_the_other_is_refused(world):
    """Two threads, two connections, both editing from version 1 at the same moment: the
    check runs under the card's lock, so exactly one edit is saved and the other is told who
    won; without the lock both would pass the comparison and the second would overwrite."""
    assert connection.vendor == "postgresql"
    card = new_card(world)
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def edit(user, title):
        try:
            connection.ensure_connection()
            barrier.wait(timeout=30)
            services.update_card(
                Card.objects.get(pk=card.pk), title=title, expected_version=1, actor=user
            )
            outcomes[user.username] = "saved"
        except StaleVersion as stale:
            outcomes[user.username] = stale
        finally:
            connection.close()

    for _ in range(5):  # several rounds: the interleaving differs from run to run
        Card.objects.filter(pk=card.pk).update(version=1, title="Invoice")
        CardChange.objects.all().delete()
        outcomes.clear()
        connection.close()
        threads = [
            threading.Thread(target=edit, args=(world.alice, "Alice's")),
            threading.Thread(target=edit, args=(world.bob, "Bob's")),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(map(str, outcomes.values())).count("saved") == 1, outcomes
        winner = next(name for name, o in outcomes.items() if o == "saved")
        loser = next(o for o in outcomes.values() if isinstance(o, StaleVersion))
        card.refresh_from_db()
        assert card.title == ("Alice's" if winner == "alice" else "Bob's")
        assert card.version == 2
        assert loser.extra["changes"][0]["by"] == winner
        assert loser.extra["card"]["title"] == card.title
