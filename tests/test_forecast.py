"""Monte Carlo forecasts and their backtest (boards/flow/forecast.py), against figures worked out
by hand.

Histories where the answer is exact or is a known distribution:

- constant 2 cards a day: every trial of 10 days finishes 20; 7 cards take 4 days (2, 4, 6, 8).
- [2, 0] over 2 days: totals 0 (1/4), 2 (1/2), 4 (1/4). P(total >= 2) = 0.75, so at least 2
  with 50 and 70 % confidence, and only 0 with 85 and 95 %.
- [1, 0] over 16 days (one draw of a 16-day block): total ~ Binomial(16, 1/2); P(X >= 8) = 0.598,
  P(X >= 7) = 0.773, P(X >= 6) = 0.895, P(X >= 5) = 0.962: at least 8, 7, 6, 5.
- [1, 0], when will 1 be done: days ~ Geometric(1/2), P(T <= k) = 1 - 2^-k: 0.75 at 2 days,
  0.875 at 3, 0.969 at 5, so 70 % -> 2 days, 85 % -> 3, 95 % -> 5.
- [1, 0], when will 10 be done: P(T <= k) = P(Binomial(k, 1/2) >= 10): 0.668 at 21 days, 0.738
  at 22; 0.939 at 27, 0.956 at 28: 70 % -> 22 days, 95 % -> 28.
"""

import random
from datetime import UTC, date, datetime, time, timedelta

import pytest

from boards import services
from boards.flow import forecast
from boards.models import ClassOfService

pytestmark = pytest.mark.django_db

API = "/api/v1"
TODAY = date(2026, 3, 2)


def rng(seed: int = 7) -> random.Random:
    return random.Random(seed)


def levels(result, key: str) -> dict[int, object]:
    return {level["confidence"]: level[key] for level in result}


# --- the simulation, on plain lists ----------------------------------------------------------


def test_constant_throughput_forecasts_exactly_at_every_confidence():
    result = forecast.how_many(
        [2] * 30, today=TODAY, by=TODAY + timedelta(days=9), trials=1000, rng=rng()
    )
    assert levels(result, "at_least") == {50: 20, 70: 20, 85: 20, 95: 20}
    assert result[2]["sentence"] == "At least 20 cards by 2026-03-11 with 85% confidence."

    result = forecast.when([2] * 30, today=TODAY, cards=7, trials=1000, rng=rng())
    # Day 1 is today: 2, 4, 6, then 8 >= 7 on day 4, 5 March.
    assert levels(result, "date") == dict.fromkeys((50, 70, 85, 95), "2026-03-05")
    assert levels(result, "days") == dict.fromkeys((50, 70, 85, 95), 4)


def test_a_long_constant_wait_crosses_the_blocks_on_the_right_day():
    # 3 a day, 100 cards: 33 days give 99, the 34th gives 102 (found halving the last block).
    result = forecast.when([3] * 20, today=TODAY, cards=100, trials=200, rng=rng())
    assert levels(result, "days") == dict.fromkeys((50, 70, 85, 95), 34)
    # and "how many" over a year: 366 * 3, two blocks of 128 days, then 64, 32, 8, 4 and 2
    result = forecast.how_many(
        [3] * 20, today=TODAY, by=TODAY + timedelta(days=365), trials=200, rng=rng()
    )
    assert levels(result, "at_least") == dict.fromkeys((50, 70, 85, 95), 1098)


def test_how_many_reads_the_confident_count_from_the_low_side_of_the_trials():
    short = forecast.how_many(
        [2, 0], today=TODAY, by=TODAY + timedelta(days=1), trials=10_000, rng=rng()
    )
    assert levels(short, "at_least") == {50: 2, 70: 2, 85: 0, 95: 0}

    long = forecast.how_many(
        [1, 0], today=TODAY, by=TODAY + timedelta(days=15), trials=10_000, rng=rng()
    )
    assert levels(long, "at_least") == {50: 8, 70: 7, 85: 6, 95: 5}


def test_when_reads_the_confident_date_from_the_high_side_of_the_trials():
    one = forecast.when([1, 0], today=TODAY, cards=1, trials=10_000, rng=rng())
    days = levels(one, "days")
    assert (days[70], days[85], days[95]) == (2, 3, 5)
    assert levels(one, "date")[85] == "2026-03-04"

    ten = forecast.when([1, 0], today=TODAY, cards=10, trials=10_000, rng=rng())
    days = levels(ten, "days")
    assert (days[70], days[95]) == (22, 28)
    assert days[50] <= days[70] <= days[85] <= days[95]


def naive_days(counts, cards, trials, rng):
    """The textbook walk, a day at a time: what the block draws must agree with."""
    result = []
    for _ in range(trials):
        done = days = 0
        while done < cards:
            done += rng.choice(counts)
            days += 1
        result.append(days)
    return sorted(result)


def test_block_draws_agree_with_a_day_by_day_walk():
    # a lumpy history (max 5 a day, mean 1.25): the blocks are 64 days, the wait about 80
    history = [0, 0, 1, 5, 0, 2]
    fast = forecast.simulate_days(history, 100, trials=20_000, rng=rng(1))
    slow = naive_days(history, 100, 20_000, rng(2))
    for c in forecast.CONFIDENCES:
        assert abs(forecast.within(fast, c) - forecast.within(slow, c)) <= 1, c
    assert abs(sum(fast) / len(fast) - sum(slow) / len(slow)) < 0.5

    # the sum of 100 days (blocks of 64, 32 and 4): mean 100 * 8/6 = 133.3, variance
    # 100 * (E[x^2] - E[x]^2) = 100 * (30/6 - (8/6)^2) = 322.2
    totals = forecast.simulate_totals(history, 100, trials=20_000, rng=rng(3))
    mean = sum(totals) / len(totals)
    variance = sum((t - mean) ** 2 for t in totals) / len(totals)
    assert abs(mean - 133.33) < 1
    assert abs(variance - 322.2) < 20


def test_the_same_seed_gives_the_same_forecast_and_another_seed_may_not():
    history = [0, 1, 0, 3, 2, 0, 0, 5, 1, 0]
    a = forecast.when(history, today=TODAY, cards=40, trials=2000, rng=rng(1))
    b = forecast.when(history, today=TODAY, cards=40, trials=2000, rng=rng(1))
    assert a == b
    others = {
        tuple(
            levels(
                forecast.when(history, today=TODAY, cards=40, trials=2000, rng=rng(s)), "days"
            ).values()
        )
        for s in range(2, 8)
    }
    assert len(others) > 1


def test_all_zero_days_cannot_be_forecast_and_say_why():
    with pytest.raises(forecast.CannotForecast, match="No card finished in the 30 days sampled"):
        forecast.how_many([0] * 30, today=TODAY, by=TODAY, trials=100, rng=rng())
    with pytest.raises(forecast.CannotForecast, match="no complete days"):
        forecast.when([], today=TODAY, cards=1, trials=100, rng=rng())


def test_a_pace_too_slow_for_ten_years_answers_no_date():
    # One card in 1,000 days, 100 cards: about 100,000 days; the trials give up at ten years.
    result = forecast.when([1] + [0] * 999, today=TODAY, cards=100, trials=50, rng=rng())
    assert levels(result, "date") == dict.fromkeys((50, 70, 85, 95), None)
    assert result[2]["sentence"] == "Not within ten years with 85% confidence at this pace."


# --- the history -----------------------------------------------------------------------------


def test_history_starts_at_the_first_finish_within_90_days_and_fills_zero_days():
    per_day = {TODAY - timedelta(days=5): 2, TODAY - timedelta(days=2): 1, TODAY: 4}
    history = forecast.history_of(per_day, today=TODAY)
    # from 5 days ago to yesterday: 2, 0, 0, 1, 0 (today is not over and not sampled)
    assert history.counts == [2, 0, 0, 1, 0]
    data = history.data()
    assert data["days_sampled"] == 5 and data["zero_days"] == 3 and data["cards_finished"] == 3
    assert data["histogram"] == [
        {"per_day": 0, "days": 3},
        {"per_day": 1, "days": 1},
        {"per_day": 2, "days": 1},
    ]

    old = {TODAY - timedelta(days=200): 1, **per_day}
    assert len(forecast.history_of(old, today=TODAY).counts) == 90
    chosen = forecast.history_of(old, today=TODAY, start=TODAY - timedelta(days=3))
    assert chosen.counts == [0, 1, 0]


# --- the backtest ----------------------------------------------------------------------------


def test_backtest_of_constant_throughput_holds_every_time():
    levels_, points = forecast.backtest([3] * 40, start=TODAY, horizon=7, trials=200, rng=rng())
    # dates with 14 days before and 7 after: days 14 to 33 of 40
    assert len(points) == 20
    assert points[0] == {
        "date": "2026-03-16",
        "actual": 21,
        "forecast": {"50": 21, "70": 21, "85": 21, "95": 21},
    }
    assert [(lv["held"], lv["rate"]) for lv in levels_] == [(20, 1.0)] * 4
    assert levels_[2]["sentence"] == "85% forecasts held 100% of the time over 20 backtests."


def test_backtest_counts_the_forecasts_that_a_slowdown_broke():
    # 20 days of 1 a day, then 5 days of none; horizon 5 from days 14..20 (7 backtests), each
    # known past all ones, so every forecast is "at least 5". What followed: 5, 5, 4, 3, 2, 1, 0.
    levels_, points = forecast.backtest(
        [1] * 20 + [0] * 5, start=TODAY, horizon=5, trials=200, rng=rng()
    )
    assert [p["actual"] for p in points] == [5, 5, 4, 3, 2, 1, 0]
    assert all(p["forecast"] == {"50": 5, "70": 5, "85": 5, "95": 5} for p in points)
    assert [(lv["held"], lv["rate"]) for lv in levels_] == [(2, 0.2857)] * 4
    assert levels_[2]["sentence"] == "85% forecasts held 29% of the time over 7 backtests."


def test_backtest_skips_dates_whose_past_had_no_finished_card():
    counts = [0] * 20 + [1] * 20
    _, points = forecast.backtest(counts, start=TODAY, horizon=5, trials=100, rng=rng())
    # days 14..35 qualify by length; 14..20 knew only zero days
    assert points[0]["date"] == (TODAY + timedelta(days=21)).isoformat()
    assert len(points) == 35 - 21 + 1


def test_a_long_history_is_backtested_on_at_most_80_dates_spread_over_it():
    levels_, points = forecast.backtest([1] * 731, start=TODAY, horizon=14, trials=50, rng=rng())
    # 704 possible dates (14..717), every 9th from the last: 79
    assert len(points) == 79
    assert points[-1]["date"] == (TODAY + timedelta(days=717)).isoformat()
    assert points[0]["date"] == (TODAY + timedelta(days=717 - 78 * 9)).isoformat()
    assert levels_[2]["rate"] == 1.0


def test_backtest_without_enough_days_says_so():
    levels_, points = forecast.backtest([1] * 10, start=TODAY, horizon=5, trials=100, rng=rng())
    assert points == [] and levels_[2]["rate"] is None
    assert "needs 14 days known and 5 days after" in levels_[2]["sentence"]


# --- the API ---------------------------------------------------------------------------------


def utc_today() -> date:
    return datetime.now(UTC).date()


def finish(world, title, day: date, **fields):
    """A card committed the day before `day` and finished at noon on `day` (UTC)."""
    at = datetime.combine(day, time(12), tzinfo=UTC)
    card = services.create_card(
        world.board,
        title=title,
        column=world.column("Ready"),
        actor=world.alice,
        at=at - timedelta(days=1),
        **fields,
    )
    services.move_card(card, to_column=world.column("Done"), actor=world.alice, at=at)
    return card


@pytest.fixture
def ten_days(world):
    """One standard card finished on each of the last 10 days; two expedite cards for Initech
    finished 3 days ago."""
    today = utc_today()
    for i in range(1, 11):
        finish(world, f"Card {i}", today - timedelta(days=i))
    for n in range(2):
        finish(
            world,
            f"Urgent {n}",
            today - timedelta(days=3),
            class_of_service=ClassOfService.EXPEDITE,
            customer="Initech",
        )
    return world


def test_api_forecasts_how_many_by_a_date_and_shows_its_inputs(
    ten_days, api, django_assert_max_num_queries
):
    world, today = ten_days, utc_today()
    by = today + timedelta(days=4)
    client = api(world.victor)
    client.get(f"{API}/me/")  # the token's first use stamps it: one UPDATE, not the forecast's
    # the token, the board with the reader's access, the daily throughput
    with django_assert_max_num_queries(3):
        response = client.get(
            f"{API}/boards/{world.board.pk}/forecast/",
            {"how_many_by": by.isoformat(), "class_of_service": "standard", "seed": 3},
        )
    assert response.status_code == 200, response.content
    body = response.json()
    # history: the 10 days since the first finish, one card each: every trial makes 5 in 5 days
    assert body["history"]["start"] == (today - timedelta(days=10)).isoformat()
    assert body["history"]["end"] == (today - timedelta(days=1)).isoformat()
    assert body["history"]["days_sampled"] == 10
    assert body["history"]["zero_days"] == 0
    assert body["history"]["histogram"] == [{"per_day": 1, "days": 10}]
    assert body["trials"] == 10_000
    assert body["how_many_by"]["days"] == 5
    assert [lv["at_least"] for lv in body["how_many_by"]["levels"]] == [5, 5, 5, 5]
    assert body["when"] is None and body["can_forecast"] is True


def test_api_forecasts_when_and_filters_by_class_of_service_and_customer(ten_days, api):
    world, today = ten_days, utc_today()
    url = f"{API}/boards/{world.board.pk}/forecast/"
    # every card: 1 a day, but 3 on the day the two expedite cards finished
    everything = api(world.bob).get(url, {"when": 3}).json()
    assert everything["history"]["histogram"] == [
        {"per_day": 1, "days": 9},
        {"per_day": 3, "days": 1},
    ]
    standard = api(world.bob).get(url, {"when": 3, "class_of_service": "standard"}).json()
    assert [lv["date"] for lv in standard["when"]["levels"]] == [
        (today + timedelta(days=2)).isoformat()
    ] * 4
    assert standard["when"]["levels"][2]["sentence"] == (
        f"3 cards done by {(today + timedelta(days=2)).isoformat()} with 85% confidence."
    )
    initech = api(world.bob).get(url, {"when": 3, "customer": "Initech"}).json()
    # since its first finish, 3 days ago: 2, 0, 0
    assert initech["history"]["days_sampled"] == 3
    assert initech["history"]["zero_days"] == 2
    assert initech["filters"] == {"class_of_service": None, "customer": "Initech"}
    nobody = api(world.bob).get(url, {"when": 3, "customer": "Nobody"}).json()
    assert nobody["can_forecast"] is False
    assert nobody["message"].startswith("No card finished in the 90 days sampled")


def test_api_without_a_question_forecasts_the_next_two_weeks(ten_days, api):
    body = (
        api(ten_days.alice)
        .get(f"{API}/boards/{ten_days.board.pk}/forecast/", {"class_of_service": "standard"})
        .json()
    )
    assert body["how_many_by"]["days"] == 14
    assert body["how_many_by"]["date"] == (utc_today() + timedelta(days=13)).isoformat()
    assert [lv["at_least"] for lv in body["how_many_by"]["levels"]] == [14] * 4


def test_api_cannot_forecast_from_a_history_of_zero_days(world, api):
    finish(world, "Long ago", utc_today() - timedelta(days=100))
    body = api(world.alice).get(f"{API}/boards/{world.board.pk}/forecast/", {"when": 5}).json()
    assert body["can_forecast"] is False
    assert body["history"]["days_sampled"] == 90 and body["history"]["zero_days"] == 90
    assert body["message"].startswith("No card finished in the 90 days sampled")
    assert body["when"] is None


def test_api_from_widens_the_history(world, api):
    finish(world, "Long ago", utc_today() - timedelta(days=100))
    start = (utc_today() - timedelta(days=120)).isoformat()
    body = (
        api(world.alice)
        .get(f"{API}/boards/{world.board.pk}/forecast/", {"when": 1, "from": start, "seed": 1})
        .json()
    )
    assert body["can_forecast"] is True
    assert body["history"]["days_sampled"] == 120 and body["history"]["zero_days"] == 119


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"when": 3, "how_many_by": "2099-01-01"}, "how_many_by"),
        ({"how_many_by": "tomorrow"}, "how_many_by"),
        ({"how_many_by": "2000-01-01"}, "how_many_by"),
        ({"how_many_by": "2999-01-01"}, "how_many_by"),
        ({"when": 0}, "when"),
        ({"when": "ten"}, "when"),
        ({"when": 1_000_000}, "when"),
        ({"when": 3, "class_of_service": "urgent"}, "class_of_service"),
        ({"when": 3, "customer": "x" * 121}, "customer"),
        ({"when": 3, "from": "2999-01-01"}, "from"),
        ({"when": 3, "from": "1999-01-01"}, "from"),
        ({"when": 3, "seed": -1}, "seed"),
    ],
)
def test_api_refuses_bad_forecast_parameters_with_the_field_to_blame(world, api, params, field):
    response = api(world.alice).get(f"{API}/boards/{world.board.pk}/forecast/", params)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid" and field in body["fields"], body


def test_api_forecast_of_another_organisations_board_is_not_found(world, api):
    for path in ("forecast/?when=3", "forecast/backtest/"):
        response = api(world.alice).get(f"{API}/boards/{world.globex_board.pk}/{path}")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
        assert api(None).get(f"{API}/boards/{world.board.pk}/{path}").status_code == 401


def test_api_backtest_of_a_steady_board_holds_and_says_how_often(
    world, api, django_assert_max_num_queries
):
    today = utc_today()
    for i in range(1, 31):
        finish(world, f"Card {i}", today - timedelta(days=i))
    client = api(world.victor)
    client.get(f"{API}/me/")
    with django_assert_max_num_queries(3):
        response = client.get(
            f"{API}/boards/{world.board.pk}/forecast/backtest/", {"horizon": 7, "seed": 2}
        )
    assert response.status_code == 200, response.content
    body = response.json()
    # 30 days known; dates with 14 days before and 7 after: days 14..23
    assert body["backtests"] == 10 and len(body["points"]) == 10
    assert [lv["rate"] for lv in body["levels"]] == [1.0] * 4
    assert body["levels"][2]["sentence"] == "85% forecasts held 100% of the time over 10 backtests."
    assert body["points"][0]["actual"] == 7 and body["points"][0]["forecast"]["85"] == 7


def test_api_backtest_refuses_a_bad_horizon(world, api):
    response = api(world.alice).get(
        f"{API}/boards/{world.board.pk}/forecast/backtest/", {"horizon": 0}
    )
    assert response.status_code == 400 and "horizon" in response.json()["fields"]
