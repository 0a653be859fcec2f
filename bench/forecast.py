"""How long a Monte Carlo forecast and a backtest take (boards/flow/forecast.py), in plain
Python (no numpy: the project does not depend on it).

    .venv/bin/python bench/forecast.py

Histories of 90 days (and one of two years for the backtest), drawn once with a fixed seed:
"sparse" finishes a card on 1 day in 5, "steady" about 2 a day, "busy" about 20 a day, each
with its zero days. Every figure is the best of 3 runs of 10,000 trials (2,000 per backtest
date, as the API does), in CPU time. The database's part, one grouped query on the (board,
finished_at) index, is not in these figures.
"""

import os
import platform
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# The functions timed read no database, but their module imports the models.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kanban.settings")
os.environ.setdefault("SECRET_KEY", "bench-secret")
import django

django.setup()
from boards.flow import forecast  # noqa: E402

TODAY = date(2026, 12, 3)


def history(mean: float, days: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    # Poisson-ish: a day's count is the number of 20 slots that finished a card
    return [sum(rng.random() < mean / 20 for _ in range(20)) if mean < 20 else rng.randint(0, 40)
            for _ in range(days)]  # fmt: skip


def best_of(fn, runs: int = 3) -> float:
    """The best of `runs`, in ms of this process's CPU time: on a shared machine the wall clock
    measures the neighbours (the run prints the load average beside the figures)."""
    times = []
    for _ in range(runs):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times) * 1000


def how_many(counts: list[int], days: int) -> None:
    by = TODAY + timedelta(days=days - 1)
    forecast.how_many(counts, today=TODAY, by=by, trials=forecast.TRIALS, rng=random.Random(1))


def when(counts: list[int], cards: int) -> None:
    forecast.when(counts, today=TODAY, cards=cards, trials=forecast.TRIALS, rng=random.Random(1))


def backtest(counts: list[int]):
    trials = forecast.BACKTEST_TRIALS
    return forecast.backtest(counts, start=TODAY, horizon=14, trials=trials, rng=random.Random(1))


def main() -> None:
    print(f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()}")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; CPU time below")
    histories = {
        "sparse (0.2/day)": history(0.2, 90, 1),
        "steady (2/day)": history(2, 90, 2),
        "busy (20/day)": history(20, 90, 3),
    }
    print("\n| history | how many in 14 d | in 90 d | in 366 d ", end="")
    print("| when 10 | when 100 | when 1,000 | when 10,000 |")
    print("|---|---|---|---|---|---|---|---|")
    for name, counts in histories.items():
        cells = [best_of(lambda c=counts, d=days: how_many(c, d)) for days in (14, 90, 366)]
        cells += [
            best_of(lambda c=counts, n=cards: when(c, n)) for cards in (10, 100, 1000, 10_000)
        ]
        print(f"| {name} | " + " | ".join(f"{ms:.0f} ms" for ms in cells) + " |")

    print("\n| backtest, horizon 14 d | dates | time |")
    print("|---|---|---|")
    for name, counts in (
        ("steady, 90 days", histories["steady (2/day)"]),
        ("busy, 90 days", histories["busy (20/day)"]),
        ("steady, 731 days", history(2, 731, 4)),
    ):
        levels, points = backtest(counts)
        ms = best_of(lambda c=counts: backtest(c))
        held = ", ".join(f"{lv['confidence']}%: {lv['rate']:.0%}" for lv in levels)
        print(f"| {name} | {len(points)} (held {held}) | {ms:.0f} ms |")


if __name__ == "__main__":
    main()
