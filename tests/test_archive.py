"""Archived cards: listing them for scripts (GET /api/v1/cards/?archived=true), the board's
release policy (Board.release_done_after_days: the API, the settings page, the hourly task) and
the cumulative flow diagram, whose Done band archiving never lowers."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from boards import services, tasks
from boards.flow import metrics
from boards.models import Board, Card, CardChange, Event
from boards.services import cards as card_services
from tests.factories import assert_cells_consistent

pytestmark = pytest.mark.django_db

API = "/api/v1"


def card_in(world, column: str, title: str = "card", at: datetime | None = None) -> Card:
    return services.create_card(
        world.board, title=title, column=world.column(column), actor=world.alice, at=at
    )


# --- the archived list -----------------------------------------------------------------------


def test_archived_true_lists_only_archived_cards_and_the_default_only_live_ones(world, api):
    live = card_in(world, "Ready", "live")
    gone = card_in(world, "Ready", "gone")
    services.archive_card(gone, actor=world.bob)
    theirs = services.create_card(
        world.globex_board,
        title="secret",
        column=world.column("Ready", world.globex_board),
        actor=world.gina,
    )
    services.archive_card(theirs, actor=world.gina)
    client = api(world.mia)

    archived = client.get(f"{API}/cards/?archived=true").json()
    default = client.get(f"{API}/cards/").json()
    explicit = client.get(f"{API}/cards/?archived=false&board={world.board.pk}").json()

    assert [c["id"] for c in archived["results"]] == [gone.pk]
    assert archived["results"][0]["archived"] is True
    assert [c["id"] for c in default["results"]] == [live.pk]
    assert [c["id"] for c in explicit["results"]] == [live.pk]


def test_archived_lists_the_latest_archived_first(world, api):
    first, second = card_in(world, "Ready", "first"), card_in(world, "Ready", "second")
    now = timezone.now()
    services.archive_card(first, actor=world.bob, at=now - timedelta(hours=2))
    services.archive_card(second, actor=world.bob, at=now - timedelta(hours=1))

    results = api(world.bob).get(f"{API}/cards/?archived=true").json()["results"]

    assert [c["title"] for c in results] == ["second", "first"]


@pytest.mark.parametrize("value", ["maybe", "2", "yes please"])
def test_a_bad_archived_value_is_a_400_naming_the_field(world, api, value):
    response = api(world.bob).get(f"{API}/cards/?archived={value}")
    assert response.status_code == 400
    assert "archived" in response.json()["fields"]


def test_the_archived_list_costs_the_same_queries_for_2_and_20_cards(
    world, api, django_assert_max_num_queries
):
    for i in range(20):
        services.archive_card(card_in(world, "Ready", f"c{i}"), actor=world.bob)
    client = api(world.bob)
    client.get(f"{API}/cards/?archived=true&page_size=2")

    with django_assert_max_num_queries(8) as few:
        client.get(f"{API}/cards/?archived=true&page_size=2")
    with django_assert_max_num_queries(8) as many:
        assert len(client.get(f"{API}/cards/?archived=true").json()["results"]) == 20
    assert len(many) == len(few)


def test_archive_restore_and_delete_through_the_api(world, api):
    card = card_in(world, "Ready")
    client = api(world.bob)

    archived = client.patch(f"{API}/cards/{card.pk}/", {"archived": True}, format="json")
    restored = client.patch(f"{API}/cards/{card.pk}/", {"archived": False}, format="json")
    deleted = client.delete(f"{API}/cards/{card.pk}/")

    assert (archived.json()["archived"], archived.json()["position"]) == (True, None)
    assert (restored.json()["archived"], restored.json()["position"]) == (False, 0)
    assert deleted.status_code == 204
    assert not Card.objects.filter(pk=card.pk).exists()
    assert_cells_consistent(world.board)


# --- the release policy: API and settings page ------------------------------------------------


@pytest.mark.parametrize("value", [0, 366, -1, "soon", 1.5])
def test_a_release_policy_out_of_range_is_a_400_and_changes_nothing(world, api, value):
    response = api(world.bob).patch(
        f"{API}/boards/{world.board.pk}/", {"release_done_after_days": value}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "release_done_after_days" in response.json()["fields"]
    assert Board.objects.get(pk=world.board.pk).release_done_after_days is None


def test_the_release_policy_is_set_and_cleared_through_the_board_api(world, api):
    client = api(world.bob)

    set_ = client.patch(
        f"{API}/boards/{world.board.pk}/", {"release_done_after_days": 14}, format="json"
    )
    read = client.get(f"{API}/boards/{world.board.pk}/").json()
    cleared = client.patch(
        f"{API}/boards/{world.board.pk}/", {"release_done_after_days": None}, format="json"
    )

    assert set_.status_code == 200
    assert set_.json()["release_done_after_days"] == 14
    assert read["release_done_after_days"] == 14
    assert cleared.json()["release_done_after_days"] is None
    assert Board.objects.get(pk=world.board.pk).release_done_after_days is None


def test_a_viewer_cannot_set_the_release_policy(world, api):
    response = api(world.victor).patch(
        f"{API}/boards/{world.board.pk}/", {"release_done_after_days": 3}, format="json"
    )
    assert response.status_code == 403
    assert Board.objects.get(pk=world.board.pk).release_done_after_days is None


def test_the_settings_page_sets_the_release_policy(client, world):
    client.force_login(world.bob)
    url = f"/boards/{world.board.pk}/settings/"

    response = client.post(
        url, {"action": "release-save", "release_done_after_days": "30"}, follow=True
    )

    assert response.status_code == 200
    assert Board.objects.get(pk=world.board.pk).release_done_after_days == 30
    page = response.content.decode()
    assert "finished more than 30 days ago will be archived" in page
    assert 'value="30"' in page


def test_the_settings_page_refuses_a_bad_release_policy_with_a_message(client, world):
    client.force_login(world.bob)
    url = f"/boards/{world.board.pk}/settings/"

    response = client.post(url, {"action": "release-save", "release_done_after_days": "400"})

    assert response.status_code == 400
    assert "less than or equal to 365" in response.content.decode()
    assert Board.objects.get(pk=world.board.pk).release_done_after_days is None


# --- the release policy: the task -------------------------------------------------------------


def test_the_release_archives_only_cards_finished_more_than_n_days_ago(world):
    # given: a 2-day policy; one card finished 3 days ago, one 1 day ago, one in progress
    now = timezone.now()
    services.update_board(world.board, release_done_after_days=2, actor=world.alice)
    old = card_in(world, "Ready", "old", at=now - timedelta(days=5))
    services.move_card(
        old, to_column=world.column("Done"), actor=world.bob, at=now - timedelta(days=3)
    )
    recent = card_in(world, "Done", "recent", at=now - timedelta(days=1))
    doing = card_in(world, "Doing", "doing", at=now - timedelta(days=9))
    seq = Board.objects.get(pk=world.board.pk).last_seq

    # when
    archived = tasks.release_done_cards()

    # then
    assert archived == 1
    states = dict(Card.objects.values_list("title", "archived"))
    assert states == {"old": True, "recent": False, "doing": False}
    old.refresh_from_db()
    assert old.rank is None and old.archived_at is not None and old.version == 3
    event = Event.objects.get(board=world.board, seq=seq + 1)
    assert (event.type, event.actor_id, event.data["reason"]) == (
        "card.archived",
        None,
        "release_policy",
    )
    assert event.data["card"]["id"] == old.pk and event.data["card"]["archived"] is True
    change = CardChange.objects.get(card=old, kind="archived")
    assert (change.version, change.actor_id) == (3, None)
    assert_cells_consistent(world.board)
    assert {recent.pk, doing.pk} == set(
        Card.objects.filter(archived=False).values_list("pk", flat=True)
    )


def test_the_release_runs_in_batches_until_nothing_is_due(world, monkeypatch):
    monkeypatch.setattr(card_services, "RELEASE_BATCH", 2)
    long_ago = timezone.now() - timedelta(days=30)
    services.update_board(world.board, release_done_after_days=7, actor=world.alice)
    for i in range(5):
        card_in(world, "Done", f"done {i}", at=long_ago)

    assert tasks.release_done_cards() == 5
    assert not Card.objects.filter(archived=False).exists()
    assert Event.objects.filter(board=world.board, type="card.archived").count() == 5
    assert_cells_consistent(world.board)
    assert tasks.release_done_cards() == 0  # idempotent


def test_a_board_without_a_policy_keeps_its_finished_cards(world):
    card_in(world, "Done", "forever", at=timezone.now() - timedelta(days=300))
    assert tasks.release_done_cards() == 0
    assert Card.objects.get(title="forever").archived is False


def test_the_release_is_in_the_hourly_beat_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["release-done-cards"]
    assert entry == {"task": "boards.release_done_cards", "schedule": 3600}


def test_released_cards_still_count_toward_the_typical_cycle_time(world):
    # given: finished cards that took 2 and 4 days, the 2-day one archived by the policy
    from boards import selectors

    start = timezone.now() - timedelta(days=30)
    for days in (2, 4):
        card = card_in(world, "Doing", f"{days}d", at=start)
        services.move_card(
            card, to_column=world.column("Done"), actor=world.bob, at=start + timedelta(days=days)
        )
    services.update_board(world.board, release_done_after_days=27, actor=world.alice)
    assert tasks.release_done_cards() == 1

    # then: both count (0.85 of the way from 2 to 4), not only the one left on the board
    assert selectors.typical_cycle_time_days(world.board.pk) == pytest.approx(3.7)


# --- the CFD: archived finished cards stay in Done -------------------------------------------

MARCH = metrics.Window(date(2026, 3, 1), date(2026, 3, 7))


def march(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


@pytest.mark.parametrize("engine", ["sql", "python"])
def test_archiving_finished_cards_never_lowers_the_done_band(world, engine):
    """By hand, end of each day (Ready, Doing, Done):
    A created in Done on the 2nd, archived by hand on the 4th (finished: stays in Done);
    B created in Ready on the 2nd, done on the 3rd, archived by the 1-day policy on the 5th;
    C created in Doing on the 2nd, archived unfinished on the 4th (leaves Doing);
    D created in Done on the 4th at noon, not yet due on the 5th at 9:00.
        1st (0, 0, 0)  2nd (1, 1, 1)  3rd (0, 1, 2)  4th (0, 0, 3)  5th-7th (0, 0, 3)
    Without the rule, Done would read 2 on the 4th and 1 from the 5th."""
    a = card_in(world, "Done", "A", at=march(2))
    b = card_in(world, "Ready", "B", at=march(2))
    c = card_in(world, "Doing", "C", at=march(2))
    services.move_card(b, to_column=world.column("Done"), actor=world.bob, at=march(3))
    services.archive_card(a, actor=world.bob, at=march(4))
    services.archive_card(c, actor=world.bob, at=march(4))
    card_in(world, "Done", "D", at=march(4, 12))
    services.update_board(world.board, release_done_after_days=1, actor=world.alice)
    assert services.release_done_cards(world.board, at=march(5)) == 1

    result = metrics.compute_board_metrics(world.board, MARCH, now=march(8), engine=engine)

    counts = {col["name"]: col["counts"] for col in result["cfd"]["columns"]}
    assert counts["Ready"] == [0, 1, 0, 0, 0, 0, 0]
    assert counts["Doing"] == [0, 1, 1, 0, 0, 0, 0]
    assert counts["Done"] == [0, 1, 2, 3, 3, 3, 3]
    assert Card.objects.get(title="B").archived is True
