"""XmR (individuals and moving range) charts: is a change beyond the process' normal variation?

Wheeler's natural process limits from a baseline of individual values x1..xn:
    centre line  = mean of x
    mean moving range  mR = mean of |x(i) - x(i-1)|
    limits = centre +/- 2.66 * mR   (2.66 = 3 / d2, d2 = 1.128 for ranges of two points)
A later point is a signal when it lies outside the limits (rule 1), or when 8 successive points
lie on the same side of the centre line (rule 2: a sustained shift too small for rule 1). The
lower limit is not clipped: every metric here is non-negative, and a limit below zero simply
means that no low point can be a signal. Pure functions, no database: tests work the figures by
hand.
"""

import itertools
from dataclasses import dataclass
from typing import Literal

SCALING = 2.66
RUN_LENGTH = 8

Side = Literal["above", "below"]


@dataclass(frozen=True)
class Limits:
    centre: float
    mean_moving_range: float
    lower: float
    upper: float


@dataclass(frozen=True)
class Check:
    limits: Limits
    outside: list[int]  # indexes of the after-points outside the limits
    outside_side: Side | None  # where most of them lie (above on ties)
    run: tuple[int, int, Side] | None  # (first index, length, side) of the longest run >= 8

    @property
    def signal(self) -> bool:
        return bool(self.outside) or self.run is not None

    @property
    def rules(self) -> list[str]:
        fired = []
        if self.outside:
            fired.append("outside_limits")
        if self.run is not None:
            fired.append("run_of_8")
        return fired


def limits(baseline: list[float]) -> Limits | None:
    """The natural process limits of `baseline` (None with fewer than two values: no range)."""
    if len(baseline) < 2:
        return None
    centre = sum(baseline) / len(baseline)
    ranges = [abs(b - a) for a, b in itertools.pairwise(baseline)]
    mr = sum(ranges) / len(ranges)
    return Limits(centre, mr, centre - SCALING * mr, centre + SCALING * mr)


def check(baseline: list[float], after: list[float]) -> Check | None:
    """The after-points against the baseline's limits (None when there are no limits)."""
    lim = limits(baseline)
    if lim is None:
        return None
    outside = [i for i, x in enumerate(after) if x > lim.upper or x < lim.lower]
    above = sum(1 for i in outside if after[i] > lim.upper)
    side: Side | None = None
    if outside:
        side = "above" if above * 2 >= len(outside) else "below"
    return Check(lim, outside, side, _longest_run(after, lim.centre))


def _longest_run(values: list[float], centre: float) -> tuple[int, int, Side] | None:
    """The longest run of RUN_LENGTH or more successive points strictly on one side of the
    centre line (a point on the line breaks a run, as it is on neither side)."""
    best: tuple[int, int, Side] | None = None
    start, side = 0, None
    for i, x in enumerate([*values, centre]):  # the sentinel closes the last run
        now: Side | None = "above" if x > centre else "below" if x < centre else None
        if now != side or now is None:
            long_enough = side is not None and i - start >= RUN_LENGTH
            if long_enough and (best is None or i - start > best[1]):
                best = (start, i - start, side)  # type: ignore[assignment]  # side is set
            start, side = i, now
    return best
