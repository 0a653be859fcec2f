"""axe-core (npm, a dev dependency) on every page, in a real browser: no serious or critical
violation anywhere. axe's source is evaluated in the page through the DevTools protocol
(`page.evaluate`), which the Content-Security-Policy does not govern, so the policy under test
stays exactly the production one; a `<script>` tag would be an inline script it refuses.

A failure prints each violation as rule, impact, help, and the offending elements with axe's
own summary of what to fix."""

import re
from collections.abc import Callable
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from boards.models import Card
from tests.browser.conftest import PHONE, ROOT, Acme

pytestmark = pytest.mark.django_db(transaction=True)

AXE_SOURCE = (ROOT / "node_modules" / "axe-core" / "axe.min.js").read_text()
SEVERE = ("serious", "critical")


def axe_violations(page: Page, skip: tuple[str, ...] = ()) -> list[dict]:
    """The serious and critical violations axe finds on the page as it is now, but for the
    rules in `skip`."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_SOURCE)
    found = page.evaluate(
        """async (skip) => {
            const rules = Object.fromEntries(skip.map((id) => [id, {enabled: false}]));
            const result = await window.axe.run(document, {resultTypes: ["violations"], rules});
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map((n) => ({target: n.target.join(" "), html: n.html,
                                             summary: n.failureSummary})),
            }));
        }""",
        list(skip),
    )
    return [v for v in found if v["impact"] in SEVERE]


def readable(violations: list[dict], where: str) -> str:
    lines = [f"{len(violations)} serious/critical accessibility violations on {where}:"]
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"][:8]:
            lines.append(f"    {node['target']}: {node['html'][:160]}")
            for line in (node["summary"] or "").splitlines():
                lines.append(f"        {line}")
        if len(v["nodes"]) > 8:
            lines.append(f"    ... and {len(v['nodes']) - 8} more elements")
    return "\n".join(lines)


def assert_accessible(page: Page, where: str, skip: tuple[str, ...] = ()) -> None:
    violations = axe_violations(page, skip)
    if violations:
        pytest.fail(readable(violations, where), pytrace=False)


def settled(page: Page) -> None:
    """The page's scripts have run (and drawn what they draw) before axe looks."""
    page.wait_for_load_state("networkidle")


def a_customer(acme: Acme) -> str:
    """A customer some card of the demo works for (the customer view's page of one)."""
    return (
        Card.objects.filter(board__organization=acme.org)
        .exclude(customer="")
        .values_list("customer", flat=True)
        .order_by("customer")
        .first()
        or "nobody"
    )


# (name, user attribute of Acme or None, path from acme, what to wait for)
PAGES: list[tuple[str, str | None, Callable[[Acme], str], str]] = [
    ("login", None, lambda a: "/accounts/login/", "form"),
    ("home", "alice", lambda a: "/", "main"),
    ("board", "alice", lambda a: f"/boards/{a.board.pk}/", ".card"),
    ("board-wall", "alice", lambda a: f"/boards/{a.board.pk}/?wall=1", ".card"),
    ("board-no-match", "alice", lambda a: f"/boards/{a.board.pk}/?q=xyzzy", "#filter-empty"),
    ("board-read-only", "victor", lambda a: f"/boards/{a.board.pk}/", ".card"),
    ("board-settings", "alice", lambda a: f"/boards/{a.board.pk}/settings/", "form"),
    ("board-activity", "alice", lambda a: f"/boards/{a.board.pk}/activity/", "main"),
    ("board-metrics", "alice", lambda a: f"/boards/{a.board.pk}/metrics/", ".metrics"),
    ("board-forecast", "alice", lambda a: f"/boards/{a.board.pk}/forecast/", "main"),
    ("board-improvements", "alice", lambda a: f"/boards/{a.board.pk}/improvements/", "main"),
    ("standup", "alice", lambda a: f"/boards/{a.board.pk}/standup/", "main"),
    ("standup-wall", "alice", lambda a: f"/boards/{a.board.pk}/standup/?wall=1", "main"),
    ("new-board", "alice", lambda a: "/o/acme/boards/new/", "form"),
    ("org-overview", "alice", lambda a: "/o/acme/", "main"),
    ("org-global-board", "alice", lambda a: "/o/acme/board/", "#global-grid"),
    ("org-activity", "alice", lambda a: "/o/acme/activity/", "main"),
    ("org-people", "alice", lambda a: "/o/acme/people/", "main"),
    ("org-webhooks", "alice", lambda a: "/o/acme/webhooks/", "main"),
    ("org-import", "alice", lambda a: "/o/acme/import/", "form"),
    ("org-search", "alice", lambda a: "/o/acme/search/?q=onboard", "main"),
    ("org-customers", "alice", lambda a: "/o/acme/customers/", "main"),
    ("org-customer", "alice", lambda a: f"/o/acme/customers/{quote(a_customer(a))}/", "main"),
    ("tokens", "alice", lambda a: "/accounts/tokens/", "main"),
    ("not-found", "alice", lambda a: "/boards/999999/", "main"),
    ("api-docs", "alice", lambda a: "/api/docs/", ".opblock"),
]


# Swagger UI (drf-spectacular's copy) puts a copy-to-clipboard button and links inside each
# operation's summary button: its markup, not ours, and not reachable from a template or CSS.
SKIP = {"api-docs": ("nested-interactive",)}


@pytest.mark.parametrize(("name", "who", "path", "ready"), PAGES, ids=[p[0] for p in PAGES])
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_the_page_has_no_serious_accessibility_violation(
    acme, open_page, screenshot, name, who, path, ready, viewport
):
    user = getattr(acme, who) if who else None
    page = open_page(user, path(acme), viewport=PHONE if viewport == "phone" else None)
    expect(page.locator(ready).first).to_be_attached()
    settled(page)
    screenshot(page, f"a11y-{name}-{viewport}")
    assert_accessible(page, f"{name} ({viewport})", SKIP.get(name, ()))


def test_the_open_card_dialog_has_no_serious_accessibility_violation(acme, open_page):
    for user in (acme.alice, acme.victor):  # the editing form and the read-only facts
        card = acme.cards["doing2"]
        page = open_page(user, f"/boards/{acme.board.pk}/#card-{card.pk}")
        dialog = page.locator("#card-dialog")
        expect(dialog).to_be_visible()
        expect(dialog.locator("#dlg-history li").first).to_be_visible()
        settled(page)
        assert_accessible(page, f"the card dialog ({user.username})")


def test_the_first_run_page_has_no_serious_accessibility_violation(open_page):
    # no account yet: the first run is the only page there is
    page = open_page(None, "/accounts/setup/")
    expect(page.get_by_role("heading", name="Set up Obeya")).to_be_visible()
    assert_accessible(page, "the first run")


def test_a_failing_page_names_the_rule_and_the_element(acme, open_page):
    # the check itself: a control without a name is found and described
    page = open_page(acme.alice, "/")
    page.evaluate(
        """() => { const b = document.createElement("button");
                   b.id = "nameless"; document.querySelector("main").append(b); }"""
    )
    violations = axe_violations(page)
    text = readable(violations, "home")
    assert re.search(r"button-name \(critical\)", text), text
    assert "#nameless" in text
