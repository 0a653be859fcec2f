"""The Content-Security-Policy in a real browser: script injected into a page does not run, and
the API docs (Swagger UI) work under the policy. Every page the browser tests open is also
checked for violations by open_page (tests/browser/conftest.py)."""

import pytest
from playwright.sync_api import expect

from tests.browser.test_board_in_browser import board_url

pytestmark = pytest.mark.django_db(transaction=True)

# What an attacker's markup would try, once it got into a page: an inline event handler (an
# <img> that fails to load) and a script element. Without the policy both run at once.
INJECT = """() => new Promise((resolve) => {
  window.injectedRan = [];
  const seen = [];
  document.addEventListener("securitypolicyviolation", (event) => {
    seen.push(event.effectiveDirective);
    if (seen.length === 2) resolve(seen.sort());
  });
  const box = document.createElement("div");
  box.innerHTML = '<img src="/no-such-image.png" onerror="window.injectedRan.push(\\'handler\\')">';
  document.body.append(box);
  const script = document.createElement("script");
  script.textContent = "window.injectedRan.push('script')";
  document.body.append(script);
  setTimeout(() => resolve(seen.sort()), 3000);
})"""


def test_script_injected_into_the_board_does_not_run_and_the_policy_reports_it(
    acme, open_page, csp_violations
):
    page = open_page(acme.alice, board_url(acme))
    expect(page.locator(".card").first).to_be_visible()

    blocked = page.evaluate(INJECT)

    assert page.evaluate("window.injectedRan") == []
    assert blocked == ["script-src-attr", "script-src-elem"]
    assert csp_violations, "the browser reported nothing it blocked"
    csp_violations.clear()  # expected here: open_page fails a test on any other


def test_api_docs_show_the_operations_and_try_one_out_under_the_policy(acme, open_page):
    page = open_page(acme.alice, "/api/docs/")

    # Swagger UI rendered the schema: its scripts, its styles and its init script all ran
    me = page.locator(".opblock", has_text="/api/v1/me/").first
    expect(me).to_be_visible()
    assert page.locator(".opblock").count() > 20

    # and a request made from it reaches the API with alice's session
    me.locator(".opblock-summary").click()
    page.get_by_role("button", name="Try it out").click()
    with page.expect_response(lambda r: r.url.endswith("/api/v1/me/")) as answer:
        page.get_by_role("button", name="Execute").click()
    assert answer.value.status == 200
    expect(me.locator(".live-responses-table .response .response-col_status")).to_contain_text(
        "200"
    )
