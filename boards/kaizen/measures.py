"""The figures of an improvement: the board's flow metrics over a period and over each of its
weeks, all through boards.flow.metrics.compute_board_metrics (one definition of lead time,
throughput and the rest), and the XmR checks of the weeks after the start against the weeks
before it.

Weeks are the seven days from the start day, not ISO weeks, so that the start lies exactly
between the baseline and the after-period; a week's lead and cycle time is the median (p50) of
the cards finished in it (a week with none has no value and is left out of the chart)."""

from datetime import date, datetime, timedelta
from typing import Literal, TypedDict

from boards.flow import metrics
from boards.kaizen import xmr
from boards.models import Board, ImprovementMetric

WEEK = timedelta(days=7)
# Which way is better for each target metric: the verdict says "for the better" or "worse".
BETTER: dict[str, Literal["lower", "higher"]] = {
    ImprovementMetric.LEAD_TIME: "lower",
    ImprovementMetric.CYCLE_TIME: "lower",
    ImprovementMetric.THROUGHPUT: "higher",
    ImprovementMetric.FLOW_EFFICIENCY: "higher",
    ImprovementMetric.BLOCKED_TIME: "lower",
}
UNITS: dict[str, str] = {
    ImprovementMetric.LEAD_TIME: "days",
    ImprovementMetric.CYCLE_TIME: "days",
    ImprovementMetric.THROUGHPUT: "cards a week",
    ImprovementMetric.FLOW_EFFICIENCY: "",
    ImprovementMetric.BLOCKED_TIME: "days a week",
}


class Figures(TypedDict):
    """A period's figures, as the before/after table shows them."""

    start: str  # the first day (ISO date)
    end: str  # the last day, inclusive
    weeks: int
    finished: int
    lead_time_p50: float | None
    lead_time_p85: float | None
    cycle_time_p50: float | None
    cycle_time_p85: float | None
    throughput_per_week: float
    flow_efficiency: float | None
    blocked_days: float | None


class Week(TypedDict):
    """One week's value of each metric: the points of the XmR chart."""

    start: str
    lead_time: float | None
    cycle_time: float | None
    throughput: float
    flow_efficiency: float | None
    blocked_time: float | None


class Period(TypedDict):
    figures: Figures
    weeks: list[Week]


class MetricCheck(TypedDict):
    metric: str
    baseline_points: int
    after_points: int
    centre: float | None
    mean_moving_range: float | None
    lower_limit: float | None
    upper_limit: float | None
    signal: bool
    rules: list[str]  # "outside_limits", "run_of_8"
    outside: list[str]  # the weeks (start days) outside the limits
    run: dict[str, object] | None  # {"start": day, "length": n, "side": "above" | "below"}
    direction: str | None  # "better" | "worse" when a signal fired, else None
    verdict: str


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def period(
    board: Board,
    start: date,
    weeks: int,
    *,
    now: datetime,
    class_of_service: str | None = None,
) -> Period:
    """The board's figures over `weeks` weeks from `start`, and each week's values; with
    `class_of_service`, of that class's cards only (the improvement's scope)."""
    window = metrics.Window(start, start + weeks * WEEK - timedelta(days=1))
    whole = metrics.compute_board_metrics(board, window, now=now, class_of_service=class_of_service)
    rows: list[Week] = []
    for i in range(weeks):
        first = start + i * WEEK
        week = metrics.compute_board_metrics(
            board,
            metrics.Window(first, first + WEEK - timedelta(days=1)),
            now=now,
            class_of_service=class_of_service,
        )
        rows.append(
            {
                "start": first.isoformat(),
                "lead_time": week["lead_time"]["p50"],
                "cycle_time": week["cycle_time"]["p50"],
                "throughput": float(week["lead_time"]["count"]),
                "flow_efficiency": week["flow_efficiency"]["value"],
                "blocked_time": week["blocked"]["blocked_days"],
            }
        )
    finished = whole["lead_time"]["count"]
    return {
        "figures": {
            "start": window.start.isoformat(),
            "end": window.end.isoformat(),
            "weeks": weeks,
            "finished": finished,
            "lead_time_p50": whole["lead_time"]["p50"],
            "lead_time_p85": whole["lead_time"]["p85"],
            "cycle_time_p50": whole["cycle_time"]["p50"],
            "cycle_time_p85": whole["cycle_time"]["p85"],
            "throughput_per_week": round(finished / weeks, 4),
            "flow_efficiency": whole["flow_efficiency"]["value"],
            "blocked_days": whole["blocked"]["blocked_days"],
        },
        "weeks": rows,
    }


def check_metric(metric: str, before: list[Week], after: list[Week]) -> MetricCheck:
    """The XmR check of one metric's weekly values after the start against those before."""

    def points(weeks: list[Week]) -> tuple[list[float], list[str]]:
        pairs = [(w[metric], w["start"]) for w in weeks if w[metric] is not None]  # type: ignore[literal-required]  # metric is a Week key
        return [float(v) for v, _ in pairs], [s for _, s in pairs]

    base, _ = points(before)
    values, days = points(after)
    found = xmr.check(base, values)
    result: MetricCheck = {
        "metric": metric,
        "baseline_points": len(base),
        "after_points": len(values),
        "centre": None,
        "mean_moving_range": None,
        "lower_limit": None,
        "upper_limit": None,
        "signal": False,
        "rules": [],
        "outside": [],
        "run": None,
        "direction": None,
        "verdict": "",
    }
    if found is None:
        result["verdict"] = (
            f"Not enough baseline to judge: {len(base)} week(s) before the start have a value, "
            "and natural process limits need at least two."
        )
        return result
    lim = found.limits
    result["centre"] = _r(lim.centre)
    result["mean_moving_range"] = _r(lim.mean_moving_range)
    result["lower_limit"] = _r(lim.lower)
    result["upper_limit"] = _r(lim.upper)
    result["signal"] = found.signal
    result["rules"] = found.rules
    result["outside"] = [days[i] for i in found.outside]
    if found.run is not None:
        first, length, side = found.run
        result["run"] = {"start": days[first], "length": length, "side": side}
    if not values:
        result["verdict"] = "No week after the start has a value yet: nothing to judge."
        return result
    where = found.outside_side or (found.run[2] if found.run else None)
    if where is not None:
        result["direction"] = (
            "better" if (where == "above") == (BETTER[metric] == "higher") else "worse"
        )
    result["verdict"] = _verdict(metric, found, len(values), days)
    return result


def fmt_value(metric: str, value: float) -> str:
    if metric == ImprovementMetric.FLOW_EFFICIENCY:
        return f"{value * 100:.0f} %"
    return f"{value:.2f} {UNITS[metric]}".strip()


def _verdict(metric: str, found: xmr.Check, n: int, days: list[str]) -> str:
    name = ImprovementMetric(metric).label
    lim = found.limits
    # Lead and cycle time and flow efficiency have no value in a week that finished nothing.
    counted = (ImprovementMetric.THROUGHPUT, ImprovementMetric.BLOCKED_TIME)
    with_value = "" if metric in counted else " with a value"
    bounds = f"{fmt_value(metric, lim.lower)} to {fmt_value(metric, lim.upper)}"
    if not found.signal:
        return (
            f"No signal: {name.lower()} stayed within normal variation. Every week after the "
            f"start lies within the natural process limits ({bounds}) and no {xmr.RUN_LENGTH} "
            f"weeks in a row lie on one side of the centre line ({fmt_value(metric, lim.centre)})."
        )
    reasons = []
    if found.outside:
        side = found.outside_side or "above"
        limit = lim.upper if side == "above" else lim.lower
        which = "upper" if side == "above" else "lower"
        reasons.append(
            f"{len(found.outside)} of the {n} weeks after the start{with_value} lie outside the "
            "natural process "
            f"limits ({bounds}), {side} the {which} limit of {fmt_value(metric, limit)} "
            "(rule: a point outside the limits)"
        )
    if found.run is not None:
        first, length, side = found.run
        reasons.append(
            f"{length} weeks in a row from {days[first]} lie {side} the centre line "
            f"({fmt_value(metric, lim.centre)}) (rule: a run of {xmr.RUN_LENGTH} on one side)"
        )
    side = found.outside_side or (found.run[2] if found.run else "above")
    better = (side == "above") == (BETTER[metric] == "higher")
    return (
        f"Signal: {name.lower()} changed beyond normal variation, for the "
        f"{'better' if better else 'worse'}. " + "; ".join(reasons) + "."
    )
