"""The embedded default (`make run`) runs on SQLite: the move's plain SQL, and the Trello
import's batched writes (bulk inserts that read back their ids), and the pages that set a board
up (a newcomer's first clicks), must hold there too.

The suite runs on Postgres; this runs their own tests again, in a pytest of their own, on a
SQLite database."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_move_and_import_tests_pass_on_sqlite(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'obeya.sqlite3'}"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_move_service.py",
            "tests/test_api_cards.py",
            "tests/test_trello_import.py",
            "tests/test_setup_pages.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    passed = re.search(r"(\d+) passed", result.stdout)
    assert passed and int(passed.group(1)) > 50, result.stdout[-3000:]
