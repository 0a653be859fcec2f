"""Improvement experiments (boards/kaizen/): the XmR arithmetic against figures worked by hand,
the baseline and review on a hand-built history, the API's validation, permissions and
organisation isolation, the beat task, and the metrics page's marker.

The history: Sales pipeline's default columns; the improvement starts on Monday 16 February
2026 (S) with a 6-week baseline, 5 January to 15 February. Cards finish (created in Doing,
Done 12 hours later: lead and cycle time 0.5 day) on the Wednesday of each 7-day week from S - 42 d:

    baseline weeks:  5, 6, 5, 7, 6, 5 cards     after weeks (from S): 9, 9, 10 cards

    baseline mean = 34 / 6 = 5.6667
    moving ranges |6-5| |5-6| |7-5| |6-7| |5-6| = 1, 1, 2, 1, 1 -> mean mR = 6 / 5 = 1.2
    upper limit = 5.6667 + 2.66 * 1.2 = 5.6667 + 3.192 = 8.8587
    lower limit = 5.6667 - 3.192 = 2.4747
    after 9, 9, 10: all three above 8.8587 -> a signal (rule: outside the limits), for the
    better (throughput: higher is better). 9 + 9 + 10 = 28 cards in 3 weeks = 9.3333 a week.
"""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.conf import settings

from boards import services
from boards.kaizen import measures, xmr
from boards.kaizen import services as kaizen
from boards.kaizen import tasks as kaizen_tasks
from boards.models import Board, Event, Improvement, ImprovementStatus

pytestmark = pytest.mark.django_db

S = date(2026, 2, 16)  # a Monday
BASELINE = [5, 6, 5, 7, 6, 5]
AFTER = [9, 9, 10]
REVIEW_NOW = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)  # the day of the review, S + 21 d


# --- XmR, by hand ----------------------------------------------------------------------------


def test_limits_are_mean_plus_minus_2_66_mean_moving_ranges():
    lim = xmr.limits([5, 6, 5, 7, 6, 5])
    assert lim is not None
    assert lim.centre == pytest.approx(5.666667, abs=1e-6)
    assert lim.mean_moving_range == pytest.approx(1.2)
    assert lim.upper == pytest.approx(8.858667, abs=1e-6)
    assert lim.lower == pytest.approx(2.474667, abs=1e-6)


def test_points_beyond_the_upper_limit_are_a_signal_outside_the_limits():
    found = xmr.check([5, 6, 5, 7, 6, 5], [9, 9, 10])
    assert found is not None
    assert found.signal and found.rules == ["outside_limits"]
    assert found.outside == [0, 1, 2] and found.outside_side == "above"
    assert found.run is None


def test_points_within_the_limits_are_no_signal():
    found = xmr.check([5, 6, 5, 7, 6, 5], [8, 3, 6])  # 8 < 8.8587, 3 > 2.4747
    assert found is not None and not found.signal and found.rules == []


def test_eight_weeks_in_a_row_above_the_centre_line_are_a_signal_by_the_run_rule():
    # All within the limits (2.47..8.86), all above the centre line (5.67): only rule 2 fires.
    found = xmr.check([5, 6, 5, 7, 6, 5], [6, 7, 6, 6, 7, 6, 6, 7])
    assert found is not None
    assert found.rules == ["run_of_8"]
    assert found.run == (0, 8, "above")


def test_seven_in_a_row_or_a_point_on_the_centre_line_make_no_run():
    assert not xmr.check([5, 6, 5, 7, 6, 5], [6, 7, 6, 6, 7, 6, 6]).signal
    # Baseline 4, 6: centre 5. Four above, one on the line, four above: no 8 in a row.
    assert not xmr.check([4, 6], [6, 6, 6, 6, 5, 6, 6, 6, 6]).signal


def test_a_run_below_the_centre_line_is_found_after_other_points():
    found = xmr.check([10, 12, 11, 13], [12, 9, 10, 9, 10, 9, 10, 9, 10])  # centre 11.5
    assert found is not None and found.run == (1, 8, "below")


def test_one_baseline_value_sets_no_limits():
    assert xmr.limits([5]) is None and xmr.check([5], [9]) is None


# --- a board's history -------------------------------------------------------------------------


def finish_cards(world, per_week: list[int], first_day: date) -> None:
    """`per_week[i]` cards finished on the Wednesday of the i-th 7-day week from first_day."""
    col = {c.name: c for c in world.board.columns.all()}
    for week, count in enumerate(per_week):
        wednesday = first_day + timedelta(days=7 * week + 2)
        for n in range(count):
            done = datetime.combine(wednesday, datetime.min.time(), tzinfo=UTC) + timedelta(
                hours=10, minutes=n
            )
            card = services.create_card(
                world.board,
                title=f"w{week} #{n}",
                column=col["Doing"],
                actor=world.alice,
                at=done - timedelta(hours=12),
            )
            card.refresh_from_db()
            services.move_card(card, to_column=col["Done"], actor=world.alice, at=done)


@pytest.fixture
def experiment(world):
    finish_cards(world, BASELINE + AFTER, S - timedelta(weeks=6))
    return kaizen.create_improvement(
        world.board,
        title="WIP limit 3 on Doing",
        hypothesis="Fewer cards in progress finish more often",
        target_metric="throughput",
        review_on=S + timedelta(weeks=3),
        actor=world.bob,
    )


def test_starting_captures_the_baseline_weeks_before_the_start(world, experiment):
    started = kaizen.start_improvement(experiment, started_on=S, actor=world.bob, now=REVIEW_NOW)

    assert started.status == ImprovementStatus.RUNNING
    assert started.started_at == datetime(2026, 2, 16, tzinfo=UTC)
    baseline = started.baseline
    assert [w["throughput"] for w in baseline["weeks"]] == BASELINE
    assert [w["start"] for w in baseline["weeks"]] == [
        "2026-01-05",
        "2026-01-12",
        "2026-01-19",
        "2026-01-26",
        "2026-02-02",
        "2026-02-09",
    ]
    figures = baseline["figures"]
    assert (figures["start"], figures["end"]) == ("2026-01-05", "2026-02-15")
    assert figures["finished"] == 34
    assert figures["throughput_per_week"] == pytest.approx(34 / 6, abs=1e-4)
    # Every card: created in Doing (commitment and start), done 12 hours later, never blocked.
    assert figures["lead_time_p50"] == pytest.approx(0.5)
    assert figures["lead_time_p85"] == pytest.approx(0.5)
    assert figures["cycle_time_p50"] == pytest.approx(0.5)
    assert figures["flow_efficiency"] == pytest.approx(1.0)
    assert figures["blocked_days"] == 0
    assert baseline["weeks"][0]["lead_time"] == pytest.approx(0.5)


def test_the_review_finds_the_hand_worked_signal(world, experiment):
    kaizen.start_improvement(experiment, started_on=S, actor=world.bob, now=REVIEW_NOW)
    experiment.refresh_from_db()

    reviewed = kaizen.review_improvement(experiment, actor=world.bob, now=REVIEW_NOW)

    assert reviewed.status == ImprovementStatus.REVIEWED
    assert reviewed.reviewed_at == REVIEW_NOW
    result = reviewed.result
    assert result["final"] is True
    assert [w["throughput"] for w in result["weeks"]] == AFTER
    assert result["figures"]["finished"] == 28
    assert result["figures"]["throughput_per_week"] == pytest.approx(9.3333, abs=1e-4)
    check = result["checks"]["throughput"]
    assert check["centre"] == pytest.approx(5.6667, abs=1e-4)
    assert check["mean_moving_range"] == pytest.approx(1.2)
    assert check["upper_limit"] == pytest.approx(8.8587, abs=1e-4)
    assert check["lower_limit"] == pytest.approx(2.4747, abs=1e-4)
    assert check["signal"] is True and check["rules"] == ["outside_limits"]
    assert check["outside"] == ["2026-02-16", "2026-02-23", "2026-03-02"]
    assert check["direction"] == "better"
    assert result["signal"] is True
    assert result["verdict"].startswith("Signal: throughput changed beyond normal variation")
    assert (
        "for the better" in result["verdict"]
        and "3 of the 3 weeks after the start lie outside" in result["verdict"]
    )
    assert "8.86 cards a week" in result["verdict"]
    # Lead time did not change (half a day every week): its moving range is 0, so its limits are
    # the line itself, and the after-weeks sit on it: no signal.
    assert result["checks"]["lead_time"]["signal"] is False
    assert result["checks"]["lead_time"]["verdict"].startswith("No signal")


def test_start_and_review_append_board_events_with_their_seq_and_sentences(world, experiment):
    from boards.pages import activity

    board = Board.objects.get(pk=world.board.pk)
    kaizen.start_improvement(experiment, started_on=S, actor=world.bob, now=REVIEW_NOW)
    started = Event.objects.get(board=world.board, type="improvement.started")
    assert started.seq == board.last_seq + 1 and started.actor_id == world.bob.pk
    assert started.data == {
        "improvement": {
            "id": experiment.pk,
            "title": "WIP limit 3 on Doing",
            "target_metric": "throughput",
            "scope_class_of_service": None,
            "status": "running",
            "started_on": "2026-02-16",
        }
    }
    assert activity.describe(started) == (
        f"{world.bob.display_name} started the improvement “WIP limit 3 on Doing” on 2026-02-16 "
        "(target: throughput)"
    )
    experiment.refresh_from_db()
    kaizen.review_improvement(experiment, actor=world.bob, now=REVIEW_NOW)
    reviewed = Event.objects.get(board=world.board, type="improvement.reviewed")
    assert reviewed.seq == started.seq + 1
    assert Board.objects.get(pk=world.board.pk).last_seq == reviewed.seq
    data = reviewed.data["improvement"]
    assert data["status"] == "reviewed" and data["final"] is True and data["signal"] is True
    assert data["verdict"].startswith("Signal: throughput changed beyond normal variation")
    assert activity.describe(reviewed).startswith(
        f"{world.bob.display_name} reviewed the improvement “WIP limit 3 on Doing”: Signal: "
        "throughput changed"
    )


def test_a_refused_start_appends_no_event(world, experiment):
    kaizen.start_improvement(experiment, started_on=S, actor=world.bob, now=REVIEW_NOW)
    seq = Board.objects.get(pk=world.board.pk).last_seq
    with pytest.raises(kaizen.Conflict):
        kaizen.start_improvement(experiment, started_on=S, actor=world.bob, now=REVIEW_NOW)
    assert Board.objects.get(pk=world.board.pk).last_seq == seq
    assert Event.objects.filter(board=world.board, type="improvement.started").count() == 1


def test_a_review_before_the_review_date_is_an_interim_look_and_stays_running(world, experiment):
    kaizen.start_improvement(experiment, started_on=S, actor=world.bob, now=REVIEW_NOW)
    experiment.refresh_from_db()
    two_weeks_in = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)  # S + 15 d: two full weeks

    interim = kaizen.review_improvement(experiment, actor=world.bob, now=two_weeks_in)

    assert interim.status == ImprovementStatus.RUNNING and interim.reviewed_at is None
    assert interim.result["final"] is False
    assert [w["throughput"] for w in interim.result["weeks"]] == [9, 9]


def test_a_review_within_the_first_week_is_refused_and_stores_nothing(world, experiment):
    kaizen.start_improvement(experiment, started_on=S, actor=world.bob, now=REVIEW_NOW)
    experiment.refresh_from_db()
    with pytest.raises(kaizen.Conflict, match="2026-02-22"):
        kaizen.review_improvement(
            experiment, actor=world.bob, now=datetime(2026, 2, 20, tzinfo=UTC)
        )
    experiment.refresh_from_db()
    assert experiment.result is None and experiment.status == ImprovementStatus.RUNNING


def test_the_beat_task_closes_due_reviews_once(world, experiment):
    kaizen.start_improvement(experiment, started_on=S, actor=world.bob, now=REVIEW_NOW)
    later = kaizen.create_improvement(
        world.board,
        title="Not due",
        target_metric="lead_time",
        review_on=date(2099, 1, 1),
        actor=world.bob,
    )
    kaizen.start_improvement(later, started_on=S, actor=world.bob, now=REVIEW_NOW)

    assert kaizen.close_due_reviews(now=REVIEW_NOW) == 1
    assert kaizen.close_due_reviews(now=REVIEW_NOW) == 0  # idempotent: it is reviewed now
    experiment.refresh_from_db()
    later.refresh_from_db()
    assert experiment.status == ImprovementStatus.REVIEWED and experiment.result["signal"]
    assert later.status == ImprovementStatus.RUNNING and later.result is None


def test_the_beat_runs_the_task_and_the_task_calls_the_service(world):
    schedule = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "boards.kaizen.close_due_reviews" in schedule
    from kanban.celery import app

    assert "boards.kaizen.close_due_reviews" in app.tasks
    assert "boards.kaizen.close_review" in app.tasks
    assert kaizen_tasks.close_due_reviews() == 0  # nothing due: runs, changes nothing


def test_the_beat_task_queues_a_review_of_each_due_improvement_which_closes_it(world, experiment):
    # Started on a day whose review date (S + 21 d) is long past by the real clock.
    kaizen.start_improvement(experiment, started_on=S, actor=world.bob, now=REVIEW_NOW)

    # The tasks run in-process here (CELERY_TASK_ALWAYS_EAGER in the test settings).
    assert kaizen_tasks.close_due_reviews() == 1

    experiment.refresh_from_db()
    assert experiment.status == ImprovementStatus.REVIEWED
    # The after-period ends on the review date, however late the beat comes.
    assert [w["throughput"] for w in experiment.result["weeks"]] == AFTER
    assert experiment.result["signal"] is True
    assert kaizen_tasks.close_review(experiment.pk) == "skipped"  # a redelivery: left alone
    assert kaizen_tasks.close_due_reviews() == 0


def test_weeks_without_finished_cards_have_no_lead_time_and_are_left_out_of_its_check():
    weeks = [
        {
            "start": f"d{i}",
            "lead_time": v,
            "cycle_time": None,
            "throughput": 0.0,
            "flow_efficiency": None,
            "blocked_time": 0.0,
        }
        for i, v in enumerate([2.0, None, 4.0])
    ]
    check = measures.check_metric("lead_time", weeks, weeks[:1])
    assert check["baseline_points"] == 2 and check["centre"] == 3.0
    check = measures.check_metric("cycle_time", weeks, weeks)
    assert check["baseline_points"] == 0 and check["signal"] is False
    assert check["verdict"].startswith("Not enough baseline")


# --- the API -----------------------------------------------------------------------------------


def url(board, *rest) -> str:
    return "/".join([f"/api/v1/boards/{board.pk}/improvements", *map(str, rest)]) + "/"


def test_create_start_and_review_through_the_api(world, api):
    finish_cards(world, [2, 3, 2], date.today() - timedelta(weeks=4))
    client = api(world.bob)
    today = date.today()

    created = client.post(
        url(world.board),
        {
            "title": "Pairing on reviews",
            "target_metric": "cycle_time",
            "review_on": (today + timedelta(days=28)).isoformat(),
            "baseline_weeks": 3,
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["status"] == "draft" and body["baseline"] is None
    assert body["created_by"] == "bob" and body["board"] == world.board.pk

    started = client.post(url(world.board, body["id"], "start"), {}, format="json")
    assert started.status_code == 200, started.json()
    assert started.json()["status"] == "running"
    assert len(started.json()["baseline"]["weeks"]) == 3
    assert started.json()["started_at"].startswith(today.isoformat())

    again = client.post(url(world.board, body["id"], "start"), {}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "conflict"

    too_soon = client.post(url(world.board, body["id"], "review"))
    assert too_soon.status_code == 409
    assert "first week after the start ends" in too_soon.json()["detail"]

    listed = client.get(url(world.board))
    assert listed.status_code == 200
    assert [i["id"] for i in listed.json()["results"]] == [body["id"]]
    assert set(listed.json()) == {"count", "next", "previous", "results"}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"target_metric": "throughput", "review_on": "2026-12-31"}, "title"),
        ({"title": "x", "target_metric": "happiness", "review_on": "2026-12-31"}, "target_metric"),
        ({"title": "x", "target_metric": "throughput", "review_on": "soon"}, "review_on"),
        (
            {
                "title": "x",
                "target_metric": "throughput",
                "review_on": "2026-12-31",
                "baseline_weeks": 1,
            },
            "baseline_weeks",
        ),
        ({"title": "   ", "target_metric": "throughput", "review_on": "2026-12-31"}, "title"),
    ],
)
def test_bad_input_to_create_is_400_with_the_field_and_creates_nothing(world, api, payload, field):
    response = api(world.bob).post(url(world.board), payload, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and field in response.json()["fields"]
    assert not Improvement.objects.exists()


def test_bad_start_days_are_400_with_the_field_and_start_nothing(world, api, experiment):
    client = api(world.bob)
    future = (date.today() + timedelta(days=1)).isoformat()
    response = client.post(
        url(world.board, experiment.pk, "start"), {"started_on": future}, format="json"
    )
    assert response.status_code == 400 and "started_on" in response.json()["fields"]
    # The review (S + 21 d) must be a week after the start: starting on S + 15 d is refused.
    late = (S + timedelta(days=15)).isoformat()
    response = client.post(
        url(world.board, experiment.pk, "start"), {"started_on": late}, format="json"
    )
    assert response.status_code == 400 and "review_on" in response.json()["fields"]
    response = client.post(
        url(world.board, experiment.pk, "start"), {"started_on": "13/2"}, format="json"
    )
    assert response.status_code == 400 and "started_on" in response.json()["fields"]
    response = client.post(url(world.board, experiment.pk, "review"))
    assert response.status_code == 409  # a draft has no baseline to compare with
    experiment.refresh_from_db()
    assert experiment.status == ImprovementStatus.DRAFT and experiment.baseline is None


def test_viewers_and_members_of_other_teams_read_but_cannot_write(world, api, experiment):
    for user in (world.victor, world.mia):
        client = api(user)
        assert client.get(url(world.board)).status_code == 200
        assert client.get(url(world.board, experiment.pk)).status_code == 200
        response = client.post(
            url(world.board),
            {"title": "x", "target_metric": "throughput", "review_on": "2026-12-31"},
            format="json",
        )
        assert response.status_code == 403
        assert client.post(url(world.board, experiment.pk, "start"), {}).status_code == 403
    assert Improvement.objects.count() == 1
    assert Improvement.objects.get().status == ImprovementStatus.DRAFT
    assert api(None).get(url(world.board)).status_code == 401


def test_another_organisations_board_and_improvements_are_404(world, api, experiment):
    gina = api(world.gina)
    assert gina.get(url(world.board)).status_code == 404
    assert gina.get(url(world.board, experiment.pk)).status_code == 404
    assert gina.post(url(world.board, experiment.pk, "start"), {}).status_code == 404
    assert gina.post(url(world.board, experiment.pk, "review")).status_code == 404
    response = gina.post(
        url(world.board),
        {"title": "x", "target_metric": "throughput", "review_on": "2026-12-31"},
        format="json",
    )
    assert response.status_code == 404
    # Acme's improvement under Globex's board (which gina may read) is not found either.
    assert gina.get(url(world.globex_board, experiment.pk)).status_code == 404
    assert api(world.alice).get(url(world.globex_board)).status_code == 404
    assert Improvement.objects.count() == 1


def test_the_list_costs_the_same_queries_for_one_improvement_or_ten(
    world, api, django_assert_num_queries
):
    client = api(world.bob)
    assert client.get("/api/v1/me/").status_code == 200  # the token's first use is recorded

    def make(n):
        for i in range(n):
            kaizen.create_improvement(
                world.board,
                title=f"i{i}",
                target_metric="lead_time",
                review_on=date(2026, 12, 31),
                actor=world.bob,
            )

    make(1)
    with django_assert_num_queries(4):  # token, board with access, count, page (with authors)
        assert client.get(url(world.board)).json()["count"] == 1
    make(9)
    with django_assert_num_queries(4):
        assert client.get(url(world.board)).json()["count"] == 10


# --- pages ---------------------------------------------------------------------------------------


def test_the_metrics_page_carries_a_marker_at_the_start_day(world, client, experiment):
    kaizen.start_improvement(experiment, started_on=S, actor=world.bob, now=REVIEW_NOW)
    client.force_login(world.bob)
    response = client.get(f"/boards/{world.board.pk}/metrics/?from=2026-01-01&to=2026-03-31")
    assert response.status_code == 200
    markers = response.context["improvement_markers"]
    # 1 January is a Thursday in ISO week 2026-W01; 16 February is in W08: the 8th bar.
    assert markers == [
        {
            "id": experiment.pk,
            "title": "WIP limit 3 on Doing",
            "day": "2026-02-16",
            "day_index": 46,
            "week_index": 7,
            "weekday": 0,
        }
    ]
    assert b'id="improvement-markers"' in response.content
    assert b"js/kaizen/markers.js" in response.content
    # Outside the window: no marker.
    response = client.get(f"/boards/{world.board.pk}/metrics/?from=2026-03-01&to=2026-03-31")
    assert response.context["improvement_markers"] == []


def test_the_improvements_page_shows_the_tables_and_the_verdict_in_words(world, client, experiment):
    kaizen.start_improvement(experiment, started_on=S, actor=world.bob, now=REVIEW_NOW)
    experiment.refresh_from_db()
    kaizen.review_improvement(experiment, actor=world.bob, now=REVIEW_NOW)
    client.force_login(world.victor)
    response = client.get(f"/boards/{world.board.pk}/improvements/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "WIP limit 3 on Doing" in html
    assert "Signal: throughput changed beyond normal variation, for the better" in html
    assert "5.7 a week" in html and "9.3 a week" in html  # before / after throughput
    assert 'data-signal="true"' in html and 'data-rules="outside_limits"' in html
    assert html.count('<tr class="after outside">') == 3  # the three weeks past the limit
    assert "New improvement" not in html  # a viewer gets no forms


def test_the_page_form_creates_and_refuses_bad_input_with_a_sentence(world, client):
    client.force_login(world.bob)
    page = f"/boards/{world.board.pk}/improvements/"
    response = client.post(
        page + "new/",
        {
            "title": "Smaller batches",
            "target_metric": "lead_time",
            "review_on": "2026-12-31",
            "baseline_weeks": "4",
        },
    )
    assert response.status_code == 302
    assert Improvement.objects.get().baseline_weeks == 4
    response = client.post(
        page + "new/",
        {
            "title": "Bad",
            "target_metric": "lead_time",
            "review_on": "2026-12-31",
            "baseline_weeks": "40",
        },
    )
    assert response.status_code == 400
    assert "Baseline weeks:" in response.content.decode()
    assert Improvement.objects.count() == 1
    client.force_login(world.gina)
    assert client.get(page).status_code == 404
    assert client.post(page + "new/", {"title": "x"}).status_code == 404


def test_reviewing_an_improvement_deleted_meanwhile_is_not_found_and_writes_nothing(
    world, experiment
):
    kaizen.start_improvement(experiment, started_on=S, actor=world.bob, now=REVIEW_NOW)
    experiment.refresh_from_db()
    Improvement.objects.filter(pk=experiment.pk).delete()  # as deleting its board would
    with pytest.raises(kaizen.NotFound):
        kaizen.review_improvement(experiment, actor=world.bob, now=REVIEW_NOW)


def test_the_page_start_and_review_buttons_refuse_readers_and_strangers(world, client, experiment):
    page = f"/boards/{world.board.pk}/improvements/{experiment.pk}"
    client.force_login(world.victor)  # a viewer: the sentence, 403, nothing started
    response = client.post(f"{page}/start/", {"started_on": S.isoformat()})
    assert response.status_code == 403
    assert "Viewers have read-only access" in response.content.decode()
    client.force_login(world.gina)  # another organisation: not found
    assert client.post(f"{page}/start/", {"started_on": S.isoformat()}).status_code == 404
    assert client.post(f"{page}/review/").status_code == 404
    client.force_login(world.bob)
    response = client.post(f"{page}/review/")  # a draft: nothing to compare with yet
    assert (
        response.status_code == 409 and "Start the improvement first" in response.content.decode()
    )
    response = client.post(f"{page}/start/", {"started_on": "yesterday"})
    assert response.status_code == 400 and "pick a day" in response.content.decode()
    experiment.refresh_from_db()
    assert experiment.status == ImprovementStatus.DRAFT and experiment.baseline is None


# --- scope: one class of service -----------------------------------------------------------------
# Beside the standard cards of `experiment` (baseline weeks 5, 6, 5, 7, 6, 5; lead time 0.5 d),
# expedite cards finished on the same Wednesdays: 1, 0, 2, 1, 1, 1 of them, each created in
# Doing 2 days before it was done (lead time 2 d). So the baseline weeks count
#   whole board: 6, 6, 7, 8, 7, 6 (40 cards, 6.6667 a week; p50 lead time 0.5: 34 of 40 are 0.5)
#   expedite:    1, 0, 2, 1, 1, 1 (6 cards, 1 a week; p50 lead time 2.0; week 2 has none)
#   standard:    5, 6, 5, 7, 6, 5, as the board-wide baseline of the other tests


def finish_expedite(world, per_week: list[int], first_day: date) -> None:
    col = {c.name: c for c in world.board.columns.all()}
    for week, count in enumerate(per_week):
        wednesday = first_day + timedelta(days=7 * week + 2)
        for n in range(count):
            done = datetime.combine(wednesday, datetime.min.time(), tzinfo=UTC) + timedelta(
                hours=11, minutes=n
            )
            card = services.create_card(
                world.board, title=f"x{week} #{n}", column=col["Doing"],
                class_of_service="expedite", actor=world.alice, at=done - timedelta(days=2),
            )  # fmt: skip
            card.refresh_from_db()
            services.move_card(card, to_column=col["Done"], actor=world.alice, at=done)


def scoped(world, scope):
    improvement = kaizen.create_improvement(
        world.board, title=f"Scope {scope}", target_metric="lead_time",
        review_on=S + timedelta(weeks=3), scope_class_of_service=scope, actor=world.bob,
    )  # fmt: skip
    return kaizen.start_improvement(improvement, started_on=S, actor=world.bob, now=REVIEW_NOW)


def test_a_class_scoped_baseline_counts_only_that_classs_cards(world, experiment):
    finish_expedite(world, [1, 0, 2, 1, 1, 1], S - timedelta(weeks=6))

    board = scoped(world, None).baseline
    assert [w["throughput"] for w in board["weeks"]] == [6, 6, 7, 8, 7, 6]
    assert board["figures"]["finished"] == 40
    assert board["figures"]["lead_time_p50"] == pytest.approx(0.5)

    expedite = scoped(world, "expedite").baseline
    assert [w["throughput"] for w in expedite["weeks"]] == [1, 0, 2, 1, 1, 1]
    assert expedite["figures"]["finished"] == 6
    assert expedite["figures"]["throughput_per_week"] == pytest.approx(1.0)
    assert expedite["figures"]["lead_time_p50"] == pytest.approx(2.0)
    assert [w["lead_time"] for w in expedite["weeks"]] == [2.0, None, 2.0, 2.0, 2.0, 2.0]

    standard = scoped(world, "standard").baseline
    assert [w["throughput"] for w in standard["weeks"]] == BASELINE


def test_a_class_scoped_review_counts_only_that_classs_cards(world, experiment):
    finish_expedite(world, [1, 0, 2, 1, 1, 1, 1, 1, 1], S - timedelta(weeks=6))
    improvement = scoped(world, "expedite")
    reviewed = kaizen.review_improvement(improvement, actor=world.bob, now=REVIEW_NOW)
    assert [w["throughput"] for w in reviewed.result["weeks"]] == [1, 1, 1]
    assert reviewed.result["figures"]["finished"] == 3
    event = Event.objects.filter(board=world.board, type="improvement.reviewed").get()
    assert event.data["improvement"]["scope_class_of_service"] == "expedite"


def test_the_api_takes_a_scope_and_refuses_an_unknown_class(world, api):
    client = api(world.bob)
    body = {"title": "Swarm on expedite", "target_metric": "lead_time", "review_on": "2026-12-31"}
    created = client.post(url(world.board), {**body, "scope_class_of_service": "expedite"})
    assert created.status_code == 201, created.json()
    assert created.json()["scope_class_of_service"] == "expedite"
    whole = client.post(url(world.board), body, format="json")
    assert whole.json()["scope_class_of_service"] is None
    bad = client.post(url(world.board), {**body, "scope_class_of_service": "urgent"})
    assert bad.status_code == 400 and "scope_class_of_service" in bad.json()["fields"]
    assert Improvement.objects.count() == 2
    listed = client.get(url(world.board)).json()["results"]
    assert [i["scope_class_of_service"] for i in listed] == [None, "expedite"]


def test_the_page_form_sets_a_scope_and_the_list_shows_it(world, client):
    client.force_login(world.bob)
    page = f"/boards/{world.board.pk}/improvements/"
    form = {"title": "Swarm", "target_metric": "lead_time", "review_on": "2026-12-31",
            "baseline_weeks": "6"}  # fmt: skip
    assert (
        client.post(page + "new/", {**form, "scope_class_of_service": "expedite"}).status_code
        == 302
    )
    assert client.post(page + "new/", {**form, "scope_class_of_service": ""}).status_code == 302
    assert client.post(page + "new/", {**form, "scope_class_of_service": "x"}).status_code == 400
    scopes = Improvement.objects.values_list("scope_class_of_service", flat=True)
    assert sorted(scopes, key=str) == [None, "expedite"]  # "None" sorts before "expedite"
    html = client.get(page).content.decode()
    assert '<span class="scope">expedite work only</span>' in html
    assert '<span class="scope">the whole board</span>' in html
    assert '<option value="expedite">Expedite work only</option>' in html
