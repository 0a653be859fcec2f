"""How long the worst Markdown we know of takes to render, at the size limits.

    .venv/bin/python bench/markdown_render.py            # Obeya's renderer (markdown-it-py)
    .venv/bin/python bench/markdown_render.py --compare  # and Python-Markdown, if installed

Each text repeats one unit up to the description limit (20,000 characters). Python-Markdown is
run only up to --compare-max characters: it backtracks on unclosed brackets and took ~40 s for
20,000 `[` (the denial of service this bench keeps watch on).
"""

import argparse
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from boards.markdown import DESCRIPTION_MAX, render_markdown

UNITS = ["[", "![", "[\n", "[](", "**a", "_a", "<a ", "&#", "> ", "[a](b ", "|a|\n", "`"]


def best_of(fn, text: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn(text)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--compare", action="store_true")
    parser.add_argument("--compare-max", type=int, default=4000)
    args = parser.parse_args()
    old = None
    if args.compare:
        import markdown

        def old(text: str) -> str:
            return markdown.markdown(text, extensions=["fenced_code", "tables", "sane_lists"])

    print(
        f"# {platform.node()} {platform.processor() or platform.machine()}, Python "
        f"{platform.python_version()}"
    )
    print("| text | length | Obeya (best of runs) | Python-Markdown |")
    print("|---|---|---|---|")
    for unit in UNITS:
        text = unit * (DESCRIPTION_MAX // len(unit))
        new = best_of(render_markdown, text, args.runs)
        then = ""
        if old is not None:
            short = unit * (args.compare_max // len(unit))
            then = f"{best_of(old, short, 1) * 1000:,.0f} ms at {len(short):,} chars"
        print(f"| `{unit!r}` x n | {len(text):,} | {new * 1000:,.0f} ms | {then} |")


if __name__ == "__main__":
    main()
