"""The Trello import in a real browser, in the production shape: the server queues the job for
a real Celery worker (not in-process, unlike the rest of the browser suite), so that the
progress page is seen waiting, then following the job through the API on its own
(static/js/import.js) until it links to the new board. Screenshots: artifacts/screenshots/
import-*.png."""

import json
import os
import re
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings
from playwright.sync_api import expect

from boards.models import ImportJob
from boards.services import trello
from tests.servers import asgi_server, celery_worker

pytestmark = pytest.mark.django_db(transaction=True)

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "trello_board.json"
QUEUE = f"test-import-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def live_server_url(django_db_setup):
    """This module's own server: tasks go to QUEUE, for the worker a test starts."""
    env = {
        "SECRET_KEY": settings.SECRET_KEY,
        "CELERY_EAGER": "0",
        "CELERY_QUEUE": QUEUE,
        "CACHE_KEY_PREFIX": QUEUE,  # the worker's (tests.servers.celery_worker)
    }
    try:
        with asgi_server(env=env) as url:
            yield url
    finally:
        redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")).delete(QUEUE)


def test_uploading_an_export_shows_the_job_waiting_then_done_with_a_link_to_the_board(
    acme, open_page, screenshot
):
    # given: bob, of Sales, on the overview, which links to the import
    page = open_page(acme.bob, "/o/acme/")
    page.get_by_role("link", name="Import from Trello").click()
    expect(page).to_have_url(re.compile(r"/o/acme/import/$"))
    expect(page.get_by_label("Team")).to_have_value(str(acme.board.team_id))  # his one team
    page.get_by_label("Board name").fill("Roadmap from Trello")
    page.get_by_label("Trello export").set_input_files(str(FIXTURE))
    screenshot(page, "import-form")

    # when: the form is sent, while no worker runs
    page.get_by_role("button", name="Import").click()

    # then: the job's page, waiting
    expect(page).to_have_url(re.compile(r"/o/acme/imports/\d+/$"))
    status = page.locator("[data-role=status]")
    expect(status).to_have_text("Queued")
    expect(page.get_by_text("0 of 14 cards")).to_be_visible()
    screenshot(page, "import-queued")

    # when: a worker starts, the page follows the job on its own to its end
    with celery_worker(QUEUE):
        expect(status).to_have_text("Done", timeout=30_000)
    link = page.get_by_role("link", name="Open the board")
    expect(link).to_be_visible()
    expect(page.get_by_text("14 of 14 cards")).to_be_visible()
    expect(page.get_by_text("Imported 14 cards (3 archived) in 5 columns")).to_be_visible()
    screenshot(page, "import-done")

    # and the link opens the new board, with Trello's cards on it
    link.click()
    job = ImportJob.objects.get()
    expect(page).to_have_url(re.compile(rf"/boards/{job.board_id}/$"))
    expect(page.get_by_text("Fix login timeout")).to_be_visible()
    assert (job.status, job.board.name) == ("done", "Roadmap from Trello")

    # and the import page lists it among the recent imports
    page.goto("/o/acme/import/")
    expect(page.locator(f"tr[data-import-id='{job.pk}']")).to_contain_text("Done")
    screenshot(page, "import-list")


def test_a_file_that_is_not_an_export_is_refused_on_the_form(acme, open_page, tmp_path):
    bad = tmp_path / "notes.json"
    bad.write_text('{"name": "Just notes"}')
    page = open_page(acme.bob, "/o/acme/import/")

    page.get_by_label("Trello export").set_input_files(str(bad))
    page.get_by_role("button", name="Import").click()

    expect(page.get_by_role("alert")).to_contain_text("board.lists: Required: a list.")
    assert not ImportJob.objects.exists()


def test_a_failed_import_says_why_and_leads_back_to_the_form(
    acme, open_page, screenshot, monkeypatch
):
    # given: an import that failed half-way, its 9th card failing (run in this process: the
    # test settings' tasks are eager)
    described, calls = trello._description, []

    def failing(card, members):
        calls.append(card)
        if len(calls) == 9:
            raise RuntimeError("disk full")
        return described(card, members)

    monkeypatch.setattr(trello, "CHUNK", 4)
    monkeypatch.setattr(trello, "_description", failing)
    job = trello.start_trello_import(
        team=acme.board.team, data=json.loads(FIXTURE.read_text()), actor=acme.bob
    )

    # when
    page = open_page(acme.bob, f"/o/acme/imports/{job.pk}/")

    # then
    expect(page.locator("[data-role=status]")).to_have_text("Failed")
    expect(page.locator("[data-role=error]")).to_have_text(
        "The import stopped while importing cards 9 to 12 of 14. Something went wrong on our "
        "side (the details are in the server's log). Nothing was kept: the partial board was "
        "deleted."
    )
    screenshot(page, "import-failed")
    page.get_by_role("link", name="Back to the import").click()
    expect(page).to_have_url(re.compile(r"/o/acme/import/$"))
