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
MAX_CARDS = 10_000  # "when will N be done": N at most
# A trial that has not finished N cards after ten years stops: the answer is "not in sight".
GIVE_UP_DAYS = 3_650
DEFAULT_HORIZON_DAYS = 14  # the question asked when none is: how many in two weeks
DEFAULT_BACKTEST_HORIZON = 14
MIN_BACKTEST_HISTORY = 14  # days known before a backtest's date, at least
MAX_BACKTESTS = 80
# A trial draws the sum of a block of days at once, from the exact distribution of the sum of
# that many days (the daily distribution convolved with itself, doubling: 1, 2, 4, ... days),
# so that a year ahead is a handful of draws instead of 366. Blocks stop doubling where the
# distribution's support (the most a block can finish) would pass MAX_BLOCK_CARDS (the
# convolution's cost is its square), and at MAX_BLOCK_DAYS.
MAX_BLOCK_CARDS = 512
MAX_BLOCK_DAYS = 256


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


@dataclass(frozen=True)
class _Block:
    days: int
    pmf: list[float]  # the probability that a block of `days` days finishes i cards
    values: list[int]  # the i it may finish ...
    cum_weights: list[float]  # ... and their cumulative probabilities, for random.choices


def _blocks(counts: list[int], longest: int, budget: float) -> list[_Block]:
    """The exact distributions of the sum of 1, 2, 4, ... days drawn from `counts` (up to
    `longest` days, MAX_BLOCK_DAYS, and MAX_BLOCK_CARDS of support), shortest first. A
    doubling costs its support squared: none is made past `budget` (about what the draws it
    saves would cost), which keeps a short forecast of a busy board from convolving more
    than it draws."""
    most = max(counts)
    pmf = [0.0] * (most + 1)
    for n in counts:
        pmf[n] += 1.0 / len(counts)
    blocks = []
    days = 1
    while True:
        values = [v for v, p in enumerate(pmf) if p > 0]
        cum = list(itertools.accumulate(pmf[v] for v in values))
        blocks.append(_Block(days, pmf, values, cum))
        if (
            days * 2 > min(longest, MAX_BLOCK_DAYS)
            or (len(pmf) - 1) * 2 > MAX_BLOCK_CARDS
            or len(values) ** 2 > budget
        ):
            return blocks
        doubled = [0.0] * (2 * len(pmf) - 1)
        for i, p in enumerate(pmf):
            if p:
                for j, q in enumerate(pmf):
                    if q:
                        doubled[i + j] += p * q
        pmf, days = doubled, days * 2


def simulate_totals(counts: list[int], days: int, *, trials: int, rng: random.Random) -> list[int]:
    """Each trial's cards finished over `days` future days, sorted ascending: `days` split into
    the longest block as many times as it fits, then the binary digits of the rest, one draw
    of each block's sum a trial."""
    if days <= 0:
        return [0] * trials
    blocks = _blocks(counts, days, budget=trials * days / 4)
    longest = blocks[-1]
    repeats, rest = divmod(days, longest.days)
    parts = [(longest, repeats)] + [(b, 1) for b in blocks if rest & b.days]
    totals = [0] * trials
    for block, times in parts:
        draws = rng.choices(block.values, cum_weights=block.cum_weights, k=times * trials)
        if times == 1:
            totals = [t + d for t, d in zip(totals, draws, strict=True)]
        else:
            totals = [t + sum(draws[i * times : (i + 1) * times]) for i, t in enumerate(totals)]
    totals.sort()
    return totals


def simulate_days(counts: list[int], cards: int, *, trials: int, rng: random.Random) -> list[int]:
    """Each trial's days to finish `cards` (today is day 1), sorted ascending; a trial that
    needs more than GIVE_UP_DAYS counts as GIVE_UP_DAYS + 1.

    A trial draws the longest block's sums until their total reaches `cards`; the day it was
    reached lies in the last block, which is then halved, again and again: its first half's
    sum is drawn given the whole block's (P(h | s) = P(h) P(s - h) / P(s), the halves being
    independent), and the search goes on in the half where the total is reached, down to one
    day. The same distribution as stepping day by day, in a few draws however long the wait
    (the conditional distributions are kept, keyed by block and sum)."""
    mean = sum(counts) / len(counts)
    expected_days = min(cards / mean, GIVE_UP_DAYS)
    blocks = _blocks(counts, GIVE_UP_DAYS, budget=trials * max(expected_days, 16) / 4)
    top = blocks[-1]
    given: dict[tuple[int, int], tuple[list[int], list[float]]] = {}

    def first_half(level: int, total: int) -> int:
        """A draw of the first half's sum of a block of `blocks[level]`, given its `total`."""
        key = (level, total)
        if key not in given:
            half = blocks[level - 1].pmf
            hs = range(max(0, total - len(half) + 1), min(total, len(half) - 1) + 1)
            kept = [(h, w) for h in hs if (w := half[h] * half[total - h]) > 0]
            given[key] = ([h for h, _ in kept], list(itertools.accumulate(w for _, w in kept)))
        values, cum = given[key]
        return values[bisect.bisect(cum, random_() * cum[-1], hi=len(cum) - 1)]

    random_, choices = rng.random, rng.choices
    most_blocks = math.ceil(GIVE_UP_DAYS / top.days)
    chunk = min(max(math.ceil(cards / (top.days * mean) * 1.25) + 1, 2), most_blocks)
    result = []
    for _ in range(trials):
        done, taken = 0, 0
        while True:
            sums = choices(top.values, cum_weights=top.cum_weights, k=chunk)
            running = list(itertools.accumulate(sums, initial=done))
            crossing = bisect.bisect_left(running, cards)  # blocks until the total is reached
            if crossing <= chunk or taken + chunk >= most_blocks:
                break
            done, taken = running[-1], taken + chunk
        if crossing > chunk:
            result.append(GIVE_UP_DAYS + 1)
            continue
        # the total is reached within block number `crossing` (1-based) of this chunk
        elapsed = (taken + crossing - 1) * top.days
        need, total = cards - running[crossing - 1], sums[crossing - 1]
        for level in range(len(blocks) - 1, 0, -1):
            h = first_half(level, total)
            if h >= need:
                total = h
            else:
                need, total = need - h, total - h
                elapsed += blocks[level - 1].days
        days = elapsed + 1
        result.append(days if days <= GIVE_UP_DAYS else GIVE_UP_DAYS + 1)
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
    days after it (at most MAX_BACKTESTS of them, evenly spread), forecast "how many in the
    next `horizon` days" from the days before P only, and compare with what the next `horizon`
    days finished. A forecast at c% held when the actual count was at least the forecast's.
    Dates whose past has no finished card are skipped (no forecast was possible then)."""
    points: list[BacktestPoint] = []
    dates = range(min_history, len(counts) - horizon + 1)
    # A long history is backtested on MAX_BACKTESTS dates spread evenly over it (the last one
    # included), so that two years cost what three months do.
    step = max(1, math.ceil(len(dates) / MAX_BACKTESTS))
    for i in reversed(dates[::-1][::step]):
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
