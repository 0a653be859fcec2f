"""Card descriptions and comments are Markdown: rendered safely, quickly whatever the text, and
never while holding a lock that other writers wait for."""

import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from boards import markdown as rendering
from boards import services
from boards.models import Card, Comment, Event
from boards.services import rules
from kanban.exceptions import InvalidInput

ROOT = Path(__file__).resolve().parent.parent

# Texts that made Python-Markdown backtrack (20,000 `[` took ~40 s), at the size limit.
PATHOLOGICAL = ["[", "![", "[\n", "[](", "**a", "_a", "<a ", "&#", "> "]


def test_the_worst_known_texts_at_the_size_limit_render_within_seconds_not_minutes():
    # A guard against the denial of service, not a benchmark (bench/markdown_render.py
    # measures): each takes under half a second here, and took tens of seconds before. Run in
    # a subprocess so that a regression fails the test at the timeout instead of hanging it.
    code = (
        "from boards.markdown import render_markdown, DESCRIPTION_MAX\n"
        f"for unit in {PATHOLOGICAL!r}:\n"
        "    render_markdown(unit * (DESCRIPTION_MAX // len(unit)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr


def test_markdown_keeps_tables_fenced_code_and_strikethrough_and_drops_raw_html():
    html = rendering.render_markdown(
        "| a | b |\n|---|---|\n| 1 | 2 |\n\n```py\nx = 1\n```\n\n~~old~~ "
        '<script>alert(1)</script> <img src=x onerror="alert(2)"> [x](javascript:alert(3))'
    )
    assert "<table>" in html and "<td>1</td>" in html
    assert '<code class="language-py">x = 1' in html
    assert "<s>old</s>" in html
    assert "<script" not in html and "<img" not in html and 'href="javascript' not in html
    assert "&lt;script&gt;" in html  # shown as text


def test_links_open_without_access_to_the_board():
    html = rendering.render_markdown("[docs](https://example.com)")
    assert html == '<p><a href="https://example.com" rel="noopener noreferrer">docs</a></p>'


@pytest.mark.django_db
def test_a_description_over_the_limit_is_refused_and_creates_nothing(world):
    events = Event.objects.count()
    with pytest.raises(InvalidInput) as refused:
        services.create_card(
            world.board,
            title="Long",
            column=world.column("Ready"),
            description="x" * (rendering.DESCRIPTION_MAX + 1),
            actor=world.bob,
        )
    assert refused.value.fields == {"description": ["At most 20000 characters."]}
    assert not Card.objects.filter(title="Long").exists()
    assert Event.objects.count() == events


@pytest.mark.django_db
def test_a_comment_over_the_limit_is_refused(world):
    card = services.create_card(
        world.board, title="A", column=world.column("Ready"), actor=world.bob
    )
    with pytest.raises(InvalidInput):
        services.add_comment(card, body="y" * (rendering.COMMENT_MAX + 1), actor=world.bob)
    assert not Comment.objects.exists()


@pytest.fixture
def render_spy(monkeypatch):
    """Records, for each render, whether this connection's transaction held any row lock or had
    written anything yet (Postgres gives a transaction an id at its first write or lock)."""
    seen: list[object] = []
    render = rendering.render_markdown

    def spy(text: str) -> str:
        with connection.cursor() as cursor:
            cursor.execute("SELECT txid_current_if_assigned()")
            seen.append(cursor.fetchone()[0])
        return render(text)

    monkeypatch.setattr(rules, "render_markdown", spy)
    return seen


@pytest.mark.django_db(transaction=True)
def test_markdown_is_rendered_before_the_service_takes_any_lock(world, render_spy):
    # given a card (its own render recorded too)
    card = services.create_card(
        world.board, title="A", column=world.column("Ready"), description="*a*", actor=world.bob
    )
    # when its description is edited and it gets a comment
    services.update_card(card, description="**b**", actor=world.bob)
    services.add_comment(card, body="_c_", actor=world.bob)
    # then every render ran before its transaction had locked or written a row
    assert render_spy == [None, None, None]
    card.refresh_from_db()
    assert card.description_html == "<p><strong>b</strong></p>"
