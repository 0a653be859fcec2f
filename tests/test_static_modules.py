"""The pages' ES modules after a real collectstatic (kanban/storage.py): every relative import in
a hashed module names a hashed file that exists, from each page's entry module down through
its whole import graph, so that a page of one release never loads another release's module.
And without collectstatic (the test servers, a checkout), the plain files import each other by
their plain names."""

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path, PurePosixPath

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "static"
ENTRIES = [
    "js/board/index.js",
    "js/board/drag.js",
    "js/global.js",
    "js/org.js",
    "js/import.js",
    "js/metrics.js",
]
# Static and dynamic imports, and re-exports, with a relative URL (what the browser resolves
# against the module's own URL).
IMPORT = re.compile(
    r"""(?:\bimport\s*(?:[\w*{}\s,]+?\s*from\s*)?|\bexport\s*[\w*{}\s,]+?\s*from\s*|\bimport\()"""
    r"""\s*["'](?P<url>\.{1,2}/[^"']+)["']"""
)
HASHED = re.compile(r"\.[0-9a-f]{12}\.js$")


def imports_of(text: str) -> list[str]:
    return [m["url"] for m in IMPORT.finditer(text)]


def resolve(module: str, url: str) -> str:
    parts: list[str] = []
    for part in (PurePosixPath(module).parent / url).parts:
        if part == "..":
            parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


@pytest.fixture(scope="module")
def collected() -> Path:
    root = Path(tempfile.mkdtemp(prefix="obeya-collected-"))
    done = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "--verbosity", "0"],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "kanban.settings",
            "SECRET_KEY": settings.SECRET_KEY,
            "STATIC_ROOT": str(root),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return root


def test_every_import_of_a_hashed_module_names_a_hashed_file_that_exists(collected):
    manifest = json.loads((collected / "staticfiles.json").read_text())["paths"]
    seen: set[str] = set()
    todo = [manifest[entry] for entry in ENTRIES]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        assert HASHED.search(module), module
        assert (collected / module).is_file(), module
        for url in imports_of((collected / module).read_text()):
            target = resolve(module, url)
            assert HASHED.search(target), f"{module} imports {url}, not a hashed name"
            assert (collected / target).is_file(), f"{module} imports {url}: no such file"
            todo.append(target)

    # the whole graph was walked: the board's modules, the shared ones, SortableJS' ES build
    names = {HASHED.sub(".js", m) for m in seen}
    assert {
        "js/board/index.js",
        "js/board/drag.js",
        "js/board/dialog.js",
        "js/lib/socket.js",
        "js/lib/api.js",
        "vendor/sortablejs/modular/sortable.esm.js",
    } <= names
    # and the board's live module names the hashed socket module of this very collectstatic
    assert manifest["js/lib/socket.js"] in {
        resolve(manifest["js/board/live.js"], url)
        for url in imports_of((collected / manifest["js/board/live.js"]).read_text())
    }


def test_without_collectstatic_the_modules_import_each_other_by_their_plain_names():
    for entry in ENTRIES:
        todo, seen = [entry], set()
        while todo:
            module = todo.pop()
            if module in seen:
                continue
            seen.add(module)
            path = (
                ROOT / "node_modules" / module.removeprefix("vendor/")
                if module.startswith("vendor/")
                else STATIC / module
            )
            assert path.is_file(), module
            if not module.startswith("vendor/"):
                todo.extend(resolve(module, url) for url in imports_of(path.read_text()))


def test_every_import_ends_with_a_semicolon_so_that_collectstatic_rewrites_it():
    # Django's patterns need the `;` (and a one-line-or-braced import list); an import they
    # miss would load the plain, short-cached file from a hashed module.
    for path in STATIC.glob("js/**/*.js"):
        text = path.read_text()
        for match in IMPORT.finditer(text):
            rest = text[match.end() :].lstrip()
            if not match.group(0).startswith("import("):
                assert rest.startswith(";"), f"{path}: {match.group(0)!r} without a semicolon"
