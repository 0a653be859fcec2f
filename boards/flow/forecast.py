"""Monte Carlo forecasts from a board's daily throughput, and their backtest.

The model: the days to come are like the days sampled. Each trial draws, for every future day,
the number of cards finished on a day picked at random (with replacement) from the history,
zero days included; 10,000 trials make the distribution that the answers are read from.

- "How many by D": trial i finishes total_i cards in the days from the start of today to D
  (inclusive). "At least N with 85% confidence" is the largest N that 85% of the trials reached:
  the totals sorted ascending, N = totals[floor(trials * 0.15)].
- "When will N be done": trial i needs days_i days (today is day 1) to finish N. "By D with 85%
  confidence" is the earliest D by which 85% of the trials had finished: the days sorted,
  days[ceil(trials * 0.85) - 1].

These are the empirical distribution's own quantiles (the trials are the data), not the
interpolated percentile of boards.flow.metrics: a forecast promises whole cards and whole days.

The history is the complete days before today (today is not over), from the window's start:
by default the later of 90 days ago and the day the first card (of the filter) finished, since
days before the board did anything say nothing about its pace. Everything below the selector is
plain functions over lists of ints, with the random generator passed in (a seed for tests).
"""

import bisect
import itertools
import math
import random
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypedDict

from django.db.models import Count
from django.db.models.functions import TruncDate

from boards.models import Board, Card

TRIALS = 10_000
BACKTEST_TRIALS = 2_000  # per backtest date: 60 dates of a 90-day window stay well under 1 s
CONFIDENCES = (50, 70, 85, 95)
DEFAULT_HISTORY_DAYS = 90
MAX_HISTORY_DAYS = 731  # as the metrics' windows: at most two years
MAX_HORIZON_DAYS = 366  # "how many by" at most a year ahead
MAX_CARDS = 1_000  # "when will N be done": N at most (the cost grows with N / pace)
# A trial that has not finished N cards after ten years stops: the answer is "not in sight".
GIVE_UP_DAYS = 3_650
DEFAULT_HORIZON_DAYS = 14  # the question asked when none is: how many in two weeks
DEFAULT_BACKTEST_HORIZON = 14
MIN_BACKTEST_HISTORY = 14  # days known before a backtest's date, at least
# Days a "how many" trial sums per draw: draws come from the exact distribution of the sum of
# BLOCK days (the daily distribution convolved with itself), so a year ahead is 46 draws a
# trial instead of 366, with the same distribution of totals.
BLOCK = 8


# --- the history -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    class_of_service: str | None = None
    customer: str | None = None


def daily_throughput(board_id: int, *, end: date, filters: Filters = Filters()) -> dict[date, int]:
    """Cards of the board (matching `filters`) finished per UTC day before `end`, archived ones
    included (finished work archived off the board still finished): one grouped query on the
    (board, finished_at) index. Days with none are absent."""
    cards = Card.objects.filter(
        board_id=board_id,
        finished_at__isnull=False,
        finished_at__lt=datetime.combine(end, datetime.min.time(), tzinfo=UTC),
    )
    if filters.class_of_service:
        cards = cards.filter(class_of_service=filters.class_of_service)
    if filters.customer:
        cards = cards.filter(customer=filters.customer)
    rows = (
        cards.annotate(day=TruncDate("finished_at", tzinfo=UTC))
        .values("day")
        .annotate(n=Count("id"))
        .order_by("day")
        .values_list("day", "n")
    )
    return dict(rows)


class HistogramBar(TypedDict):
    per_day: int  # cards finished on a day
    days: int  # days of the history with that many


class HistoryData(TypedDict):
    start: str
    end: str
    days_sampled: int
    zero_days: int
    cards_finished: int
    first_finished: str | None
    histogram: list[HistogramBar]


@dataclass(frozen=True)
class History:
    start: date  # inclusive
    end: date  # inclusive: the day before today
    counts: list[int]  # cards finished on each day from start to end
    first_finished: date | None

    def data(self) -> HistoryData:
        histogram: dict[int, int] = {}
        for n in self.counts:
            histogram[n] = histogram.get(n, 0) + 1
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "days_sampled": len(self.counts),
            "zero_days": histogram.get(0, 0),
            "cards_finished": sum(self.counts),
            "first_finished": self.first_finished.isoformat() if self.first_finished else None,
            "histogram": [{"per_day": k, "days": histogram[k]} for k in sorted(histogram)],
        }


def history_of(per_day: dict[date, int], *, today: date, start: date | None = None) -> History:
    """The days sampled: from `start` (default: the later of DEFAULT_HISTORY_DAYS ago and the
    first day a card finished) to yesterday, every day present, zero days as 0."""
    end = today - timedelta(days=1)
    first = min(per_day) if per_day else None
    if start is None:
        start = today - timedelta(days=DEFAULT_HISTORY_DAYS)
        if first is not None and first > start:
            start = first
    days = max((end - start).days + 1, 0)
    counts = [per_day.get(start + timedelta(days=i), 0) for i in range(days)]
    return History(start, end, counts, first)


# --- the simulation --------------------------------------------------------------------------


def _sum_distribution(counts: list[int], days: int) -> tuple[list[int], list[float]]:
    """The exact distribution of the sum of `days` days drawn from `counts`: (values,
    cumulative weights), for random.choices. Convolution of the daily distribution."""
    daily: dict[int, float] = {}
    for n in counts:
        daily[n] = daily.get(n, 0.0) + 1.0 / len(counts)
    dist = {0: 1.0}
    for _ in range(days):
        nxt: dict[int, float] = {}
        for total, p in dist.items():
            for n, q in daily.items():
                nxt[total + n] = nxt.get(total + n, 0.0) + p * q
        dist = nxt
    values = sorted(dist)
    return values, list(itertools.accumulate(dist[v] for v in values))


def simulate_totals(counts: list[int], days: int, *, trials: int, rng: random.Random) -> list[int]:
    """Each trial's cards finished over `days` future days, sorted ascending."""
    blocks, rest = divmod(days, BLOCK)
    totals = [0] * trials
    if blocks:
        values, cum = _sum_distribution(counts, BLOCK)
        draws = rng.choices(values, cum_weights=cum, k=blocks * trials)
        totals = [sum(draws[i * blocks : (i + 1) * blocks]) for i in range(trials)]
    if rest:
        draws = rng.choices(counts, k=rest * trials)
        totals = [t + sum(draws[i * rest : (i + 1) * rest]) for i, t in enumerate(totals)]
    totals.sort()
    return totals


def simulate_days(counts: list[int], cards: int, *, trials: int, rng: random.Random) -> list[int]:
    """Each trial's days to finish `cards` (today is day 1), sorted ascending; a trial that
    needs more than GIVE_UP_DAYS counts as GIVE_UP_DAYS + 1.

    A trial first steps BLOCK days at a time (draws of the BLOCK-day sum) while even the
    busiest possible block could not reach `cards` (so the day it is reached cannot lie inside
    a block stepped over), then day by day: the same distribution as stepping day by day from
    the start, with a BLOCK-th of the draws for a long wait."""
    mean = sum(counts) / len(counts)
    # Blocks stop where one block might cross: below this many cards done.
    short_of = cards - BLOCK * max(counts)
    values, cum = _sum_distribution(counts, BLOCK)
    # Draw a little more than the mean pace needs, one call a chunk; short trials draw again.
    block_chunk = max(math.ceil(max(short_of, 0) / (mean * BLOCK) * 1.25) + 2, 4)
    day_chunk = max(math.ceil(min(cards, BLOCK * max(counts)) / mean * 1.25) + 8, 16)
    result = []
    for _ in range(trials):
        done, elapsed = 0, 0
        while done < short_of and elapsed < GIVE_UP_DAYS:
            running = list(
                itertools.accumulate(
                    rng.choices(values, cum_weights=cum, k=block_chunk), initial=done
                )
            )
            taken = min(bisect.bisect_left(running, short_of), block_chunk)
            done, elapsed = running[taken], elapsed + taken * BLOCK
        while elapsed < GIVE_UP_DAYS:
            running = list(itertools.accumulate(rng.choices(counts, k=day_chunk), initial=done))
            if running[-1] >= cards:
                result.append(elapsed + bisect.bisect_left(running, cards))
                break
            done, elapsed = running[-1], elapsed + day_chunk
        else:
            result.append(GIVE_UP_DAYS + 1)
    result.sort()
    return result


def at_least(totals: list[int], confidence: int) -> int:
    """The most cards that `confidence` % of the (sorted) trials reached."""
    return totals[math.floor(len(totals) * (100 - confidence) / 100)]


def within(days: list[int], confidence: int) -> int:
    """The fewest days in which `confidence` % of the (sorted) trials finished."""
    return days[math.ceil(len(days) * confidence / 100) - 1]


class CannotForecast(Exception):
    """The history has no finished card: there is nothing to resample."""


def _check(history: list[int]) -> None:
    if not history:
        raise CannotForecast("There are no complete days to sample yet.")
    if not any(history):
        raise CannotForecast(
            f"No card finished in the {len(history)} days sampled: with a throughput of zero "
            "there is nothing to forecast from."
        )


class HowManyLevel(TypedDict):
    confidence: int
    at_least: int
    sentence: str


class WhenLevel(TypedDict):
    confidence: int
    date: str | None  # null: not within GIVE_UP_DAYS
    days: int | None
    sentence: str


def how_many(
    counts: list[int], *, today: date, by: date, trials: int, rng: random.Random
) -> list[HowManyLevel]:
    _check(counts)
    days = (by - today).days + 1
    totals = simulate_totals(counts, days, trials=trials, rng=rng)
    levels: list[HowManyLevel] = []
    for c in CONFIDENCES:
        n = at_least(totals, c)
        levels.append(
            {
                "confidence": c,
                "at_least": n,
                "sentence": f"At least {n} card{'' if n == 1 else 's'} by {by.isoformat()} "
                f"with {c}% confidence.",
            }
        )
    return levels


def when(
    counts: list[int], *, today: date, cards: int, trials: int, rng: random.Random
) -> list[WhenLevel]:
    _check(counts)
    days = simulate_days(counts, cards, trials=trials, rng=rng)
    levels: list[WhenLevel] = []
    what = f"{cards} card{'' if cards == 1 else 's'}"
    for c in CONFIDENCES:
        k = within(days, c)
        if k > GIVE_UP_DAYS:
            levels.append(
                {
                    "confidence": c,
                    "date": None,
                    "days": None,
                    "sentence": f"Not within ten years with {c}% confidence at this pace.",
                }
            )
            continue
        on = today + timedelta(days=k - 1)
        levels.append(
            {
                "confidence": c,
                "date": on.isoformat(),
                "days": k,
                "sentence": f"{what} done by {on.isoformat()} with {c}% confidence.",
            }
        )
    return levels


# --- the backtest ----------------------------------------------------------------------------


class BacktestLevel(TypedDict):
    confidence: int
    held: int
    rate: float | None
    sentence: str


class BacktestPoint(TypedDict):
    date: str
    actual: int
    forecast: dict[str, int]  # confidence ("85") -> at least


def backtest(
    counts: list[int],
    *,
    start: date,
    horizon: int,
    trials: int,
    rng: random.Random,
    min_history: int = MIN_BACKTEST_HISTORY,
) -> tuple[list[BacktestLevel], list[BacktestPoint]]:
    """For each day P of the history with at least `min_history` days before it and `horizon`
    days after it, forecast "how many in the next `horizon` days" from the days before P only,
    and compare with what the next `horizon` days finished. A forecast at c% held when the
    actual count was at least the forecast's. Dates whose past has no finished card are skipped
    (no forecast was possible then)."""
    points: list[BacktestPoint] = []
    for i in range(min_history, len(counts) - horizon + 1):
        known = counts[:i]
        if not any(known):
            continue
        totals = simulate_totals(known, horizon, trials=trials, rng=rng)
        points.append(
            {
                "date": (start + timedelta(days=i)).isoformat(),
                "actual": sum(counts[i : i + horizon]),
                "forecast": {str(c): at_least(totals, c) for c in CONFIDENCES},
            }
        )
    levels: list[BacktestLevel] = []
    for c in CONFIDENCES:
        held = sum(p["actual"] >= p["forecast"][str(c)] for p in points)
        rate = held / len(points) if points else None
        levels.append(
            {
                "confidence": c,
                "held": held,
                "rate": None if rate is None else round(rate, 4),
                "sentence": (
                    f"{c}% forecasts held {round(rate * 100)}% of the time over "
                    f"{len(points)} backtest{'' if len(points) == 1 else 's'}."
                    if rate is not None
                    else f"No backtest possible yet: it needs {min_history} days known and "
                    f"{horizon} days after."
                ),
            }
        )
    return levels, points


# --- what the API and the page answer --------------------------------------------------------


def _rng(seed: int | None) -> random.Random:
    return random.Random(seed)


def forecast_board(
    board: Board,
    *,
    today: date,
    filters: Filters = Filters(),
    start: date | None = None,
    how_many_by: date | None = None,
    cards: int | None = None,
    seed: int | None = None,
    trials: int = TRIALS,
) -> dict[str, Any]:
    """One forecast of `board` ("how many by `how_many_by`" or "when will `cards` be done"),
    with the inputs it used. `can_forecast` false and `message` when the history allows none."""
    started = time.perf_counter()
    history = history_of(
        daily_throughput(board.pk, end=today, filters=filters), today=today, start=start
    )
    answer: dict[str, Any] = {
        "board": board.pk,
        "today": today.isoformat(),
        "filters": {"class_of_service": filters.class_of_service, "customer": filters.customer},
        "history": history.data(),
        "trials": trials,
        "can_forecast": True,
        "message": "",
        "how_many_by": None,
        "when": None,
    }
    try:
        if how_many_by is not None:
            answer["how_many_by"] = {
                "date": how_many_by.isoformat(),
                "days": (how_many_by - today).days + 1,
                "levels": how_many(
                    history.counts, today=today, by=how_many_by, trials=trials, rng=_rng(seed)
                ),
            }
        elif cards is not None:
            answer["when"] = {
                "cards": cards,
                "levels": when(
                    history.counts, today=today, cards=cards, trials=trials, rng=_rng(seed)
                ),
            }
    except CannotForecast as exc:
        answer.update(can_forecast=False, message=str(exc))
    answer["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return answer


def backtest_board(
    board: Board,
    *,
    today: date,
    filters: Filters = Filters(),
    start: date | None = None,
    horizon: int = DEFAULT_BACKTEST_HORIZON,
    seed: int | None = None,
    trials: int = BACKTEST_TRIALS,
) -> dict[str, Any]:
    started = time.perf_counter()
    history = history_of(
        daily_throughput(board.pk, end=today, filters=filters), today=today, start=start
    )
    levels, points = backtest(
        history.counts, start=history.start, horizon=horizon, trials=trials, rng=_rng(seed)
    )
    return {
        "board": board.pk,
        "today": today.isoformat(),
        "filters": {"class_of_service": filters.class_of_service, "customer": filters.customer},
        "history": history.data(),
        "horizon_days": horizon,
        "trials": trials,
        "backtests": len(points),
        "levels": levels,
        "points": points,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
    }
