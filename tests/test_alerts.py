"""WIP and ageing alerts, run as the tasks would run them after commit (eagerly here; a real
worker is in test_celery_worker.py)."""

from datetime import UTC, datetime, timedelta

import pytest

from accounts.models import Membership
from boards import selectors, services, tasks
from boards.flow import alerts
from boards.models import Alert, AlertKind, Event, WipPolicy

pytestmark = pytest.mark.django_db


def open_alerts(board, kind=None):
    found = Alert.objects.filter(board=board, closed_at__isnull=True)
    return list(found.filter(kind=kind) if kind else found)


def test_a_move_over_a_soft_limit_raises_an_alert_after_commit_and_it_closes_when_wip_falls(
    world, django_capture_on_commit_callbacks
):
    # given: Doing has a soft limit of 1, already reached
    doing, ready = world.column("Doing"), world.column("Ready")
    services.update_column(doing, wip_limit=1, actor=world.alice)
    services.create_card(world.board, title="in progress", column=doing, actor=world.alice)
    card = services.create_card(world.board, title="next", column=ready, actor=world.alice)

    # when: one more is pulled in; the check runs on commit
    with django_capture_on_commit_callbacks(execute=True):
        services.move_card(card, to_column=doing, actor=world.bob)

    # then: one open alert for the column, announced on the board's log
    (alert,) = open_alerts(world.board, AlertKind.WIP_COLUMN)
    assert alert.column == doing and alert.data == {"wip": 2, "limit": 1}
    assert Event.objects.filter(board=world.board, type="alert.raised").count() == 1

    # when: the card leaves, the alert closes (kept, not deleted)
    card.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        services.move_card(card, to_column=world.column("Review"), actor=world.bob)
    assert open_alerts(world.board) == []
    alert.refresh_from_db()
    assert alert.closed_at is not None
    assert Event.objects.filter(board=world.board, type="alert.closed").count() == 1


def test_checking_twice_raises_nothing_new(world):
    doing = world.column("Doing")
    services.update_column(doing, wip_limit=1, actor=world.alice)
    for i in range(3):
        services.create_card(world.board, title=f"c{i}", column=doing, actor=world.alice)
    first = alerts.check_wip_alerts(world.board.pk)
    second = alerts.check_wip_alerts(world.board.pk)
    assert first == {"raised": 1, "closed": 0}
    assert second == {"raised": 0, "closed": 0}
    assert len(open_alerts(world.board)) == 1


def test_an_owner_override_of_a_hard_limit_raises_an_alert_in_the_same_transaction(world):
    doing, ready = world.column("Doing"), world.column("Ready")
    services.update_column(doing, wip_limit=1, wip_policy=WipPolicy.HARD, actor=world.alice)
    services.create_card(world.board, title="in progress", column=doing, actor=world.alice)
    card = services.create_card(world.board, title="urgent", column=ready, actor=world.alice)

    services.move_card(
        card, to_column=doing, override_reason="Production is down", actor=world.alice
    )

    (alert,) = open_alerts(world.board, AlertKind.WIP_OVERRIDE)
    assert "Production is down" in alert.detail and alert.data["by"] == "alice"
    # back within the limit: the override alert closes at the next check
    card.refresh_from_db()
    services.move_card(card, to_column=ready, actor=world.alice)
    alerts.check_wip_alerts(world.board.pk)
    assert open_alerts(world.board, AlertKind.WIP_OVERRIDE) == []


def test_a_swimlane_limit_counts_work_in_progress_only(world):
    lane = world.board.swimlanes.get()
    services.update_swimlane(lane, wip_limit=1, actor=world.alice)
    for column in ("Backlog", "Backlog", "Done", "Doing"):
        services.create_card(
            world.board, title=column, column=world.column(column), actor=world.alice
        )
    alerts.check_wip_alerts(world.board.pk)
    assert open_alerts(world.board, AlertKind.WIP_SWIMLANE) == []  # 1 in progress: at limit
    services.create_card(
        world.board, title="one more", column=world.column("Ready"), actor=world.alice
    )
    alerts.check_wip_alerts(world.board.pk)
    (alert,) = open_alerts(world.board, AlertKind.WIP_SWIMLANE)
    assert alert.data == {"wip": 2, "limit": 1}


def test_a_personal_wip_limit_breach_raises_an_alert_and_never_refuses(world):
    Membership.objects.filter(user=world.bob).update(wip_limit=1)
    doing = world.column("Doing")
    for i in range(2):
        services.create_card(
            world.board, title=f"c{i}", column=doing, assignees=[world.bob], actor=world.alice
        )
    alerts.check_wip_alerts(world.board.pk)
    (alert,) = open_alerts(world.board, AlertKind.WIP_PERSON)
    assert alert.user == world.bob and alert.data == {"wip": 2, "limit": 1}


def test_an_ageing_card_raises_an_alert_that_closes_when_it_moves_on(world):
    ready, doing = world.column("Ready"), world.column("Doing")
    long_ago = datetime.now(UTC) - timedelta(days=10)
    old = services.create_card(
        world.board, title="old", column=ready, actor=world.alice, at=long_ago
    )
    services.move_card(old, to_column=doing, actor=world.alice, at=long_ago)
    fresh = services.create_card(world.board, title="fresh", column=doing, actor=world.alice)

    result = alerts.check_ageing_alerts(world.board.pk, threshold_days=3)

    assert result == {"raised": 1, "closed": 0}
    (alert,) = open_alerts(world.board, AlertKind.AGEING)
    assert alert.card == old and alert.card != fresh
    old.refresh_from_db()
    services.move_card(old, to_column=world.column("Done"), actor=world.alice)
    assert alerts.check_ageing_alerts(world.board.pk, threshold_days=3) == {
        "raised": 0,
        "closed": 1,
    }


def test_the_ageing_check_uses_the_boards_one_threshold_that_the_pages_show(world):
    # given: the board's only finished card took 2 days, 200 days ago: outside the metrics'
    # 90-day window (whose cycle-time p85 is therefore empty), but the board's typical cycle
    # time, which the board page, the stand-up and the metrics' ageing line show
    ready, doing, done = world.column("Ready"), world.column("Doing"), world.column("Done")
    now = datetime.now(UTC)
    finished = services.create_card(
        world.board, title="finished", column=ready, actor=world.alice, at=now - timedelta(202)
    )
    services.move_card(finished, to_column=doing, actor=world.alice, at=now - timedelta(202))
    services.move_card(finished, to_column=done, actor=world.alice, at=now - timedelta(200))
    stuck = services.create_card(
        world.board, title="stuck", column=ready, actor=world.alice, at=now - timedelta(10)
    )
    services.move_card(stuck, to_column=doing, actor=world.alice, at=now - timedelta(10))
    threshold = selectors.typical_cycle_time_days(world.board.pk)
    assert threshold == pytest.approx(2.0)

    # when
    tasks.check_ageing(world.board.pk)

    # then: the stuck card is ageing by that threshold
    (alert,) = open_alerts(world.board, AlertKind.AGEING)
    assert alert.card == stuck
    assert alert.data["threshold_days"] == round(threshold, 2)
