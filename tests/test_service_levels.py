"""Service level expectations and WIP limits per class of service, the warning before a card
breaches its SLE, and blocked time by cause (boards/flow/service_levels.py,
boards/services/service_levels.py), on hand-built histories.

Derived SLE: five expedite cards finished with cycle times 1, 2, 3, 4, 5 days; p85 by linear
interpolation: rank (5 - 1) * 0.85 = 3.4, so 4 + 0.4 * (5 - 4) = 4.4 days. At risk from
0.7 * 4.4 = 3.08 days of age, breached past 4.4.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from boards import services
from boards.flow import alerts, metrics, service_levels
from boards.models import Alert, AlertKind, Card, ClassOfService, Event, ServiceLevel

pytestmark = pytest.mark.django_db

API = "/api/v1"
EXPEDITE, STANDARD = ClassOfService.EXPEDITE, ClassOfService.STANDARD


def now() -> datetime:
    return datetime.now(UTC)


def started(world, title, days_ago: float, *, cos=EXPEDITE, finish_after: float | None = None):
    """A card that entered Doing `days_ago` days ago; finished `finish_after` days later."""
    start = now() - timedelta(days=days_ago)
    card = services.create_card(
        world.board,
        title=title,
        column=world.column("Ready"),
        class_of_service=cos,
        actor=world.alice,
        at=start - timedelta(hours=1),
    )
    services.move_card(card, to_column=world.column("Doing"), actor=world.alice, at=start)
    if finish_after is not None:
        services.move_card(
            card,
            to_column=world.column("Done"),
            actor=world.alice,
            at=start + timedelta(days=finish_after),
        )
    card.refresh_from_db()
    return card


@pytest.fixture
def expedite_history(world):
    for i, cycle in enumerate([1, 2, 3, 4, 5]):
        started(world, f"Done {i}", 20 + i, finish_after=cycle)
    return world


# --- the SLE ---------------------------------------------------------------------------------


def test_sle_is_derived_from_the_classes_p85_cycle_time_until_one_is_set(expedite_history):
    world = expedite_history
    levels = {
        lv["class_of_service"]: lv for lv in service_levels.board_service_levels(world.board, now())
    }
    assert levels[EXPEDITE]["derived_days"] == 4.4
    assert levels[EXPEDITE]["sle_days"] == 4.4 and levels[EXPEDITE]["source"] == "derived"
    assert levels[EXPEDITE]["finished_cards"] == 5
    # it is the project's one percentile; the board page's one-query reading agrees
    assert metrics.percentile([1, 2, 3, 4, 5], 0.85) == pytest.approx(4.4)
    assert service_levels.sle_in_force(world.board.pk, now()) == {EXPEDITE: 4.4}
    assert levels[STANDARD]["sle_days"] is None and levels[STANDARD]["source"] == "none"

    services.set_service_level(
        world.board, class_of_service=EXPEDITE, sle_days=2.0, actor=world.bob
    )
    levels = {
        lv["class_of_service"]: lv for lv in service_levels.board_service_levels(world.board, now())
    }
    assert (levels[EXPEDITE]["sle_days"], levels[EXPEDITE]["source"]) == (2.0, "set")
    assert levels[EXPEDITE]["derived_days"] == 4.4  # still shown beside it

    services.set_service_level(
        world.board, class_of_service=EXPEDITE, sle_days=None, actor=world.bob
    )
    levels = {
        lv["class_of_service"]: lv for lv in service_levels.board_service_levels(world.board, now())
    }
    assert levels[EXPEDITE]["source"] == "derived"


def test_sle_state_warns_at_70_percent_and_breaches_past_the_sle():
    assert service_levels.sle_state(3.07, 4.4) is None
    assert service_levels.sle_state(3.08, 4.4) == "at_risk"
    assert service_levels.sle_state(4.4, 4.4) == "at_risk"
    assert service_levels.sle_state(4.41, 4.4) == "breached"
    assert service_levels.sle_state(None, 4.4) is None
    assert service_levels.sle_state(9.0, None) is None


def test_cards_at_risk_and_breached_are_listed_and_badged_on_the_board(
    expedite_history, api, client, django_assert_max_num_queries
):
    world = expedite_history
    risky = started(world, "Risky", 3.5)  # 3.5 of 4.4: at risk
    late = started(world, "Late", 5)  # breached
    started(world, "Fresh", 1)  # 1 of 4.4: fine
    services.create_card(
        world.board, title="Waiting", column=world.column("Ready"), class_of_service=EXPEDITE,
        actor=world.alice, at=now() - timedelta(days=30),
    )  # fmt: skip
    started(world, "Standard, old", 50, cos=STANDARD)  # no standard SLE: no marker

    reader = api(world.victor)
    reader.get(f"{API}/me/")
    # the token, the board, the set levels, the derived sample, the WIP, the cards in progress
    with django_assert_max_num_queries(6):
        body = reader.get(f"{API}/boards/{world.board.pk}/service-levels/").json()
    assert body["at_risk_fraction"] == 0.7
    assert [(c["title"], c["state"]) for c in body["cards"]] == [
        ("Late", "breached"),
        ("Risky", "at_risk"),
    ]
    assert body["cards"][1]["sle_days"] == 4.4 and body["cards"][1]["age_days"] == pytest.approx(
        3.5, abs=0.01
    )
    expedite = next(lv for lv in body["levels"] if lv["class_of_service"] == EXPEDITE)
    assert expedite["wip"] == 4  # Risky, Late, Fresh, Waiting

    client.force_login(world.victor)
    page = client.get(f"/boards/{world.board.pk}/").content.decode()
    assert page.count('data-sle="at_risk"') == 1 and page.count('data-sle="breached"') == 1
    assert "is-sle-at_risk" in page and "SLE breached" in page
    fragment = client.get(f"/boards/{world.board.pk}/cards/{late.pk}/fragment/").content.decode()
    assert 'data-sle="breached"' in fragment
    fragment = client.get(f"/boards/{world.board.pk}/cards/{risky.pk}/fragment/").content.decode()
    assert 'data-sle="at_risk"' in fragment


def test_sle_alerts_open_for_cards_at_risk_and_close_when_they_finish(expedite_history):
    world = expedite_history
    risky = started(world, "Risky", 3.5)
    started(world, "Fresh", 1)
    assert alerts.check_sle_alerts(world.board.pk) == {"raised": 1, "closed": 0}
    alert = Alert.objects.get(board=world.board, kind=AlertKind.SLE, closed_at__isnull=True)
    assert alert.card_id == risky.pk and alert.data["state"] == "at_risk"
    assert "is at risk of breaching its service level expectation: 3.5 of 4.4 days" in alert.detail
    assert Event.objects.filter(board=world.board, type="alert.raised").exists()
    # again: nothing new
    assert alerts.check_sle_alerts(world.board.pk) == {"raised": 0, "closed": 0}
    # a day later it is past its SLE: the same alert, its figures updated
    alerts.check_sle_alerts(world.board.pk, at=now() + timedelta(days=1))
    alert.refresh_from_db()
    assert alert.data["state"] == "breached" and alert.closed_at is None
    # the WIP check leaves SLE alerts alone
    alerts.check_wip_alerts(world.board.pk)
    alert.refresh_from_db()
    assert alert.closed_at is None
    services.move_card(risky, to_column=world.column("Done"), actor=world.alice)
    assert alerts.check_sle_alerts(world.board.pk) == {"raised": 0, "closed": 1}


# --- setting them ----------------------------------------------------------------------------


def test_api_sets_a_class_of_service_and_records_the_event(world, api):
    url = f"{API}/boards/{world.board.pk}/service-levels/expedite/"
    response = api(world.bob).patch(
        url, {"sle_days": 3, "wip_limit": 1, "wip_policy": "hard"}, format="json"
    )
    assert response.status_code == 200, response.content
    expedite = next(lv for lv in response.json()["levels"] if lv["class_of_service"] == EXPEDITE)
    assert (
        expedite["sle_days"],
        expedite["source"],
        expedite["wip_limit"],
        expedite["wip_policy"],
    ) == (3.0, "set", 1, "hard")
    event = Event.objects.filter(board=world.board).latest("seq")
    assert event.type == "service_level.updated"
    assert event.data["changed"] == ["sle_days", "wip_limit", "wip_policy"]
    # the board's activity feed says it in words
    from boards.pages.activity import describe

    assert describe(event) == (
        f"{world.bob.display_name} set expedite work's service level: SLE 3 days, "
        "WIP limit 1 (hard)"
    )
    # the same again changes nothing and logs nothing
    api(world.bob).patch(url, {"sle_days": 3}, format="json")
    assert Event.objects.filter(board=world.board).latest("seq").seq == event.seq


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sle_days": 0}, "sle_days"),
        ({"sle_days": -2}, "sle_days"),
        ({"sle_days": "soon"}, "sle_days"),
        ({"sle_days": 99999}, "sle_days"),
        ({"wip_limit": 0}, "wip_limit"),
        ({"wip_limit": 1.5}, "wip_limit"),
        ({"wip_policy": "strict"}, "wip_policy"),
    ],
)
def test_api_refuses_bad_service_levels_and_changes_nothing(world, api, body, field):
    response = api(world.alice).patch(
        f"{API}/boards/{world.board.pk}/service-levels/expedite/", body, format="json"
    )
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    assert not ServiceLevel.objects.exists()


def test_service_levels_are_written_by_the_team_and_hidden_from_other_organisations(world, api):
    url = f"{API}/boards/{world.board.pk}/service-levels/expedite/"
    assert api(world.victor).patch(url, {"wip_limit": 1}, format="json").status_code == 403
    assert api(world.mia).patch(url, {"wip_limit": 1}, format="json").status_code == 403
    assert (
        api(world.alice)
        .patch(
            f"{API}/boards/{world.board.pk}/service-levels/urgent/", {"wip_limit": 1}, format="json"
        )
        .status_code
        == 404
    )
    foreign = f"{API}/boards/{world.globex_board.pk}/service-levels/"
    assert api(world.alice).get(foreign).status_code == 404
    assert (
        api(world.alice).patch(f"{foreign}expedite/", {"wip_limit": 1}, format="json").status_code
        == 404
    )
    assert (
        api(world.alice).get(f"{API}/boards/{world.globex_board.pk}/blockers/").status_code == 404
    )
    assert not ServiceLevel.objects.exists()


def test_settings_page_sets_an_sle_and_a_class_wip_limit(world, client):
    client.force_login(world.bob)
    page = client.get(f"/boards/{world.board.pk}/settings/").content.decode()
    assert 'data-class-of-service="expedite"' in page
    response = client.post(
        f"/boards/{world.board.pk}/settings/",
        {"action": "service-save", "class_of_service": "expedite", "sle_days": "2.5",
         "wip_limit": "1", "wip_policy": "hard"},
        follow=True,
    )  # fmt: skip
    assert "Expedite service level saved." in response.content.decode()
    level = ServiceLevel.objects.get(board=world.board, class_of_service=EXPEDITE)
    assert (level.sle_days, level.wip_limit, level.wip_policy) == (2.5, 1, "hard")

    response = client.post(
        f"/boards/{world.board.pk}/settings/",
        {"action": "service-save", "class_of_service": "expedite", "sle_days": "-1",
         "wip_limit": "", "wip_policy": "soft"},
    )  # fmt: skip
    assert response.status_code == 400
    assert "Service level expectation: " in response.content.decode()
    level.refresh_from_db()
    assert (level.sle_days, level.wip_limit) == (2.5, 1)

    client.force_login(world.victor)
    response = client.post(
        f"/boards/{world.board.pk}/settings/",
        {"action": "service-save", "class_of_service": "expedite", "sle_days": "9",
         "wip_limit": "", "wip_policy": "soft"},
    )  # fmt: skip
    assert response.status_code == 403
    level.refresh_from_db()
    assert level.sle_days == 2.5


# --- WIP limits per class of service ---------------------------------------------------------


@pytest.fixture
def one_expedite(world):
    """At most one expedite card in progress, hard; one is in Doing."""
    services.set_service_level(
        world.board, class_of_service=EXPEDITE, wip_limit=1, wip_policy="hard", actor=world.alice
    )
    services.create_card(
        world.board, title="Fire", column=world.column("Doing"), class_of_service=EXPEDITE,
        actor=world.alice,
    )  # fmt: skip
    return world


def test_a_second_expedite_card_cannot_start_past_a_hard_class_limit(one_expedite, api):
    world = one_expedite
    second = services.create_card(
        world.board, title="Another fire", column=world.column("Backlog"),
        class_of_service=EXPEDITE, actor=world.alice,
    )  # fmt: skip
    seq = world.board.__class__.objects.get(pk=world.board.pk).last_seq
    response = api(world.bob).post(
        f"{API}/cards/{second.pk}/move/", {"column": world.column("Ready").pk}, format="json"
    )
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["code"] == "wip_limit_exceeded"
    assert body["detail"].startswith("Expedite work is at its hard WIP limit (1/1)")
    assert body["fields"] == {"class_of_service": ["WIP 1/1"]}
    second.refresh_from_db()
    assert second.column == world.column("Backlog")
    assert world.board.__class__.objects.get(pk=world.board.pk).last_seq == seq
    # a member may not override; an owner may, and says why
    response = api(world.bob).post(
        f"{API}/cards/{second.pk}/move/",
        {"column": world.column("Ready").pk, "override_reason": "Outage"},
        format="json",
    )
    assert response.status_code == 403
    response = api(world.alice).post(
        f"{API}/cards/{second.pk}/move/",
        {"column": world.column("Ready").pk, "override_reason": "Second outage"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert Event.objects.filter(board=world.board).latest("seq").data["wip_exceeded"] is True


def test_a_class_limit_leaves_other_classes_and_moves_within_progress_alone(one_expedite, api):
    world = one_expedite
    fire = Card.objects.get(title="Fire")
    # moving the expedite card already in progress does not add to its class's WIP
    response = api(world.bob).post(
        f"{API}/cards/{fire.pk}/move/", {"column": world.column("Review").pk}, format="json"
    )
    assert response.status_code == 200
    standard = services.create_card(
        world.board, title="Plain", column=world.column("Backlog"), actor=world.alice
    )
    response = api(world.bob).post(
        f"{API}/cards/{standard.pk}/move/", {"column": world.column("Ready").pk}, format="json"
    )
    assert response.status_code == 200
    # and once the fire is done, the next expedite card may start
    services.move_card(fire, to_column=world.column("Done"), actor=world.alice)
    services.create_card(
        world.board, title="Next fire", column=world.column("Ready"), class_of_service=EXPEDITE,
        actor=world.bob,
    )  # fmt: skip


def test_creating_a_card_in_progress_past_a_hard_class_limit_is_refused(one_expedite, api):
    world = one_expedite
    response = api(world.bob).post(
        f"{API}/boards/{world.board.pk}/cards/",
        {"title": "Fire two", "column": world.column("Ready").pk, "class_of_service": "expedite"},
        format="json",
    )
    assert response.status_code == 409 and response.json()["code"] == "wip_limit_exceeded"
    assert not Card.objects.filter(title="Fire two").exists()
    # into the backlog it is not work in progress yet
    response = api(world.bob).post(
        f"{API}/boards/{world.board.pk}/cards/",
        {"title": "Fire two", "column": world.column("Backlog").pk, "class_of_service": "expedite"},
        format="json",
    )
    assert response.status_code == 201


def test_a_soft_class_limit_lets_the_card_in_and_raises_an_alert_until_wip_is_back(world):
    services.set_service_level(
        world.board, class_of_service=EXPEDITE, wip_limit=1, actor=world.alice
    )
    cards = [
        services.create_card(
            world.board,
            title=f"Fire {i}",
            column=world.column("Doing"),
            class_of_service=EXPEDITE,
            actor=world.bob,
        )
        for i in range(2)
    ]
    assert Event.objects.filter(type="card.created").latest("seq").data["wip_exceeded"] is True
    alerts.check_wip_alerts(world.board.pk)
    alert = Alert.objects.get(board=world.board, kind=AlertKind.WIP_CLASS, closed_at__isnull=True)
    assert alert.detail == "Expedite work: 2 cards in progress, over its WIP limit of 1."
    services.move_card(cards[0], to_column=world.column("Done"), actor=world.bob)
    alerts.check_wip_alerts(world.board.pk)
    alert.refresh_from_db()
    assert alert.closed_at is not None


def _state(card):
    card = Card.objects.get(pk=card.pk)
    seq = card.board.__class__.objects.get(pk=card.board_id).last_seq
    return card.class_of_service, card.archived, card.version, seq


def test_a_new_class_of_service_for_a_card_in_progress_counts_toward_the_class_limit(
    one_expedite, api
):
    world = one_expedite
    plain = services.create_card(
        world.board, title="Plain", column=world.column("Doing"), actor=world.alice
    )
    before = _state(plain)
    response = api(world.bob).patch(
        f"{API}/cards/{plain.pk}/", {"class_of_service": "expedite"}, format="json"
    )
    assert response.status_code == 409, response.content
    assert response.json()["code"] == "wip_limit_exceeded"
    assert response.json()["fields"] == {"class_of_service": ["WIP 1/1"]}
    assert _state(plain) == before  # nothing changed: no version, no event
    # a member may not override; an owner may, and the event says why
    response = api(world.bob).patch(
        f"{API}/cards/{plain.pk}/",
        {"class_of_service": "expedite", "override_reason": "Outage"},
        format="json",
    )
    assert response.status_code == 403
    assert _state(plain) == before
    response = api(world.alice).patch(
        f"{API}/cards/{plain.pk}/",
        {"class_of_service": "expedite", "override_reason": "Outage"},
        format="json",
    )
    assert response.status_code == 200, response.content
    event = Event.objects.filter(board=world.board).latest("seq")
    assert event.type == "card.updated"
    assert event.data["wip_exceeded"] is True and event.data["override_reason"] == "Outage"


def test_a_new_class_of_service_outside_progress_or_without_a_limit_is_not_refused(
    one_expedite, api
):
    world = one_expedite
    waiting = services.create_card(
        world.board, title="Later", column=world.column("Backlog"), actor=world.alice
    )
    response = api(world.bob).patch(
        f"{API}/cards/{waiting.pk}/", {"class_of_service": "expedite"}, format="json"
    )
    assert response.status_code == 200  # in the backlog: not work in progress
    doing = services.create_card(
        world.board, title="Doing", column=world.column("Doing"), actor=world.alice
    )
    response = api(world.bob).patch(
        f"{API}/cards/{doing.pk}/", {"class_of_service": "fixed_date"}, format="json"
    )
    assert response.status_code == 200  # fixed date has no limit
    assert "wip_exceeded" not in Event.objects.filter(board=world.board).latest("seq").data


def test_restoring_a_card_into_progress_past_a_hard_class_limit_is_refused(one_expedite, api):
    world = one_expedite
    other = services.create_card(
        world.board, title="Old fire", column=world.column("Doing"), class_of_service=EXPEDITE,
        override_reason="Two at once", actor=world.alice,
    )  # fmt: skip
    services.archive_card(other, actor=world.alice)
    before = _state(other)
    response = api(world.bob).patch(f"{API}/cards/{other.pk}/", {"archived": False}, format="json")
    assert response.status_code == 409, response.content
    assert response.json()["code"] == "wip_limit_exceeded"
    assert _state(other) == before  # still archived, same version, no event
    response = api(world.alice).patch(
        f"{API}/cards/{other.pk}/",
        {"archived": False, "override_reason": "Reopened incident"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert Card.objects.get(pk=other.pk).archived is False
    event = Event.objects.filter(board=world.board).latest("seq")
    assert event.type == "card.restored" and event.data["override_reason"] == "Reopened incident"


def test_restoring_a_card_of_a_limited_class_into_the_backlog_is_not_refused(one_expedite, api):
    world = one_expedite
    later = services.create_card(
        world.board, title="Later fire", column=world.column("Backlog"),
        class_of_service=EXPEDITE, actor=world.alice,
    )  # fmt: skip
    services.archive_card(later, actor=world.alice)
    response = api(world.bob).patch(f"{API}/cards/{later.pk}/", {"archived": False}, format="json")
    assert response.status_code == 200


def test_a_soft_class_limit_lets_an_edit_and_a_restore_in_and_raises_the_alert(world):
    services.set_service_level(
        world.board, class_of_service=EXPEDITE, wip_limit=1, actor=world.alice
    )
    services.create_card(
        world.board, title="Fire", column=world.column("Doing"), class_of_service=EXPEDITE,
        actor=world.bob,
    )  # fmt: skip
    plain = services.create_card(
        world.board, title="Plain", column=world.column("Doing"), actor=world.bob
    )
    services.update_card(plain, class_of_service=EXPEDITE, actor=world.bob)
    event = Event.objects.filter(board=world.board).latest("seq")
    assert event.data["wip_exceeded"] is True and event.data["override_reason"] == ""
    alerts.check_wip_alerts(world.board.pk)
    alert = Alert.objects.get(board=world.board, kind=AlertKind.WIP_CLASS, closed_at__isnull=True)
    assert alert.data["wip"] == 2
    services.archive_card(plain, actor=world.bob)
    alerts.check_wip_alerts(world.board.pk)
    alert.refresh_from_db()
    assert alert.closed_at is not None
    services.restore_card(plain, actor=world.bob)
    assert Event.objects.filter(board=world.board).latest("seq").data["wip_exceeded"] is True
    alerts.check_wip_alerts(world.board.pk)
    assert Alert.objects.filter(
        board=world.board, kind=AlertKind.WIP_CLASS, closed_at__isnull=True
    ).exists()


def test_a_class_change_costs_no_statement_more_on_a_board_without_class_limits(
    world, django_assert_num_queries
):
    card = services.create_card(
        world.board, title="Plain", column=world.column("Doing"), actor=world.alice
    )
    card = Card.objects.select_related("board").get(pk=card.pk)
    with CaptureQueriesContext(connection) as title_edit:
        services.update_card(card, title="Plainer", actor=world.alice)
    card = Card.objects.select_related("board").get(pk=card.pk)
    # the class change writes what the title edit writes, and reads nothing more
    with django_assert_num_queries(len(title_edit)):
        services.update_card(card, class_of_service=EXPEDITE, actor=world.alice)
    # with a class limit, the class's row lock and its count: two statements more
    services.set_service_level(
        world.board, class_of_service=STANDARD, wip_limit=5, actor=world.alice
    )
    card = Card.objects.select_related("board").get(pk=card.pk)
    with django_assert_num_queries(len(title_edit) + 2):
        services.update_card(card, class_of_service=STANDARD, actor=world.alice)


# --- blockers by cause -----------------------------------------------------------------------


def test_blocked_time_is_grouped_by_normalised_cause(world, api, django_assert_max_num_queries):
    t = now() - timedelta(days=10)
    a, b, c = (
        services.create_card(
            world.board, title=t_, column=world.column("Doing"), actor=world.alice, at=t
        )
        for t_ in ("A", "B", "C")
    )
    # "Waiting for vendor": A 2 days, B 1 day, then B again from 1 day ago (open)
    services.block_card(a, reason="Waiting for vendor.", actor=world.alice, at=t)
    services.unblock_card(a, actor=world.alice, at=t + timedelta(days=2))
    services.block_card(
        b, reason="  waiting  for VENDOR", actor=world.alice, at=t + timedelta(days=1)
    )
    services.unblock_card(b, actor=world.alice, at=t + timedelta(days=2))
    services.block_card(
        b, reason="Waiting for vendor!", actor=world.alice, at=now() - timedelta(days=1)
    )
    # "Test env down": C half a day
    services.block_card(c, reason="Test env down", actor=world.alice, at=t + timedelta(days=3))
    services.unblock_card(c, actor=world.alice, at=t + timedelta(days=3.5))

    reader = api(world.victor)
    reader.get(f"{API}/me/")
    with django_assert_max_num_queries(3):  # the token, the board, the blocks
        body = reader.get(f"{API}/boards/{world.board.pk}/blockers/").json()
    vendor, env = body["causes"]
    assert vendor["cause"] == "waiting for vendor" and vendor["example"] == "Waiting for vendor."
    assert (vendor["blocks"], vendor["cards"], vendor["open"]) == (3, 2, 1)
    assert vendor["blocked_days"] == pytest.approx(2 + 1 + 1, abs=0.01)
    assert (env["cause"], env["blocks"], env["cards"], env["open"]) == ("test env down", 1, 1, 0)
    assert env["blocked_days"] == pytest.approx(0.5, abs=0.001)

    # a window that ends before the open block started sees only the first three
    day = (t + timedelta(days=3)).date().isoformat()
    early = reader.get(
        f"{API}/boards/{world.board.pk}/blockers/", {"from": (t.date()).isoformat(), "to": day}
    ).json()
    assert [(g["cause"], g["blocks"]) for g in early["causes"]] == [
        ("waiting for vendor", 2),
        ("test env down", 1),
    ]
    bad = reader.get(f"{API}/boards/{world.board.pk}/blockers/", {"from": day})
    assert bad.status_code == 400


def test_normalising_a_reason_ignores_case_spacing_and_surrounding_punctuation():
    assert service_levels.normalise_reason("  Waiting   for VENDOR!! ") == "waiting for vendor"
    assert service_levels.normalise_reason("(QA) env down...") == "qa) env down"
    assert service_levels.normalise_reason("...") == ""


# --- the forecast page -----------------------------------------------------------------------


def test_forecast_page_shows_service_levels_risks_and_blockers_in_fixed_queries(
    expedite_history, client, django_assert_max_num_queries
):
    world = expedite_history
    started(world, "Late", 5)
    card = services.create_card(
        world.board, title="Stuck", column=world.column("Doing"), actor=world.alice
    )
    services.block_card(card, reason="Waiting for legal", actor=world.alice)
    client.force_login(world.victor)
    client.get(f"/boards/{world.board.pk}/forecast/")
    # the session, the user, the board, the set SLEs, the derived sample, the WIP per class,
    # the cards at risk, the customers, the blocks: the same for 10 cards or 10,000
    with django_assert_max_num_queries(10):
        response = client.get(f"/boards/{world.board.pk}/forecast/")
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="forecast-form"' in page and "js/forecast.js" in page
    assert 'data-class-of-service="expedite"' in page and "4.4 days" in page
    assert "SLE breached" in page and "Late" in page
    assert "Waiting for legal" in page


def test_forecast_page_of_another_organisation_is_not_found(world, client):
    assert client.get(f"/boards/{world.board.pk}/forecast/").status_code == 302  # to the login
    client.force_login(world.alice)
    assert client.get(f"/boards/{world.globex_board.pk}/forecast/").status_code == 404
    assert client.get("/boards/999999/forecast/").status_code == 404
