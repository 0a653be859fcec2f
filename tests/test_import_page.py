"""The Trello import's pages, server side: /o/{slug}/import/ (the form, which starts a job
through the same service as the API and redirects to it) and /o/{slug}/imports/{id}/ (the
job's progress; static/js/import.js keeps it current, tests/browser/test_import_in_browser.py
drives it). Who may open them, what a refused file shows, and the larger upload limit."""

import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from boards.models import Board, ImportJob
from boards.services import trello
from kanban.exceptions import PayloadTooLarge

pytestmark = pytest.mark.django_db

FIXTURE = Path(__file__).parent / "fixtures" / "trello_board.json"


def upload(content: bytes | None = None, name: str = "board.json") -> SimpleUploadedFile:
    return SimpleUploadedFile(
        name, FIXTURE.read_bytes() if content is None else content, "application/json"
    )


@pytest.fixture
def run_tasks(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def test_the_form_offers_the_teams_the_user_may_create_boards_for(world, client):
    client.force_login(world.bob)  # a member of Sales only
    html = client.get("/o/acme/import/").content.decode()
    assert f'<option value="{world.sales.pk}" selected>Sales</option>' in html
    assert "Product" not in html
    assert 'enctype="multipart/form-data"' in html
    assert 'data-max-bytes="20971520"' in html and "10,000 cards" in html

    client.force_login(world.alice)  # an owner: every team
    html = client.get("/o/acme/import/").content.decode()
    assert ">Sales</option>" in html and ">Product</option>" in html


def test_the_overview_links_to_the_import_for_those_who_may_import(world, client):
    for user, linked in ((world.alice, True), (world.bob, True), (world.victor, False)):
        client.force_login(user)
        html = client.get("/o/acme/").content.decode()
        assert ('href="/o/acme/import/"' in html) is linked, user


def test_viewers_may_not_import_and_another_organisation_is_not_found(world, client):
    client.force_login(world.victor)
    response = client.get("/o/acme/import/")
    assert response.status_code == 403
    assert "can create a board, and so import one" in response.content.decode()
    response = client.post("/o/acme/import/", {"team": world.sales.pk, "export": upload()})
    assert response.status_code == 403

    client.force_login(world.gina)
    assert client.get("/o/acme/import/").status_code == 404
    assert not ImportJob.objects.exists()


def test_uploading_an_export_starts_the_job_and_redirects_to_its_progress(world, client, run_tasks):
    client.force_login(world.bob)

    with run_tasks():
        response = client.post(
            "/o/acme/import/", {"team": world.sales.pk, "name": "", "export": upload()}
        )

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/o/acme/imports/{job.pk}/"
    assert (job.status, job.created_by, job.team, job.name) == (
        "done",
        world.bob,
        world.sales,
        "Product roadmap",
    )
    html = client.get(response["Location"]).content.decode()
    assert f'data-api-url="/api/v1/imports/{job.pk}/"' in html
    assert 'data-status="done"' in html
    assert f'href="/boards/{job.board_id}/"' in html and "Open the board" in html
    assert "Imported 14 cards (3 archived) in 5 columns, 6 labels and 5 comments" in html


def test_a_refused_file_comes_back_with_the_reason_and_starts_nothing(world, client):
    client.force_login(world.bob)
    cases = {
        b"not json": "This file is not a JSON export:",
        b'{"name": "x", "cards": []}': "board.lists: Required: a list.",
        json.dumps({"name": "x\u0000y", "lists": []}).encode(): (
            "board.name: Null characters are not allowed."
        ),
        b"\xff\xfe": "This file is not a JSON export:",
    }
    for content, reason in cases.items():
        response = client.post(
            "/o/acme/import/", {"team": world.sales.pk, "export": upload(content)}
        )
        assert response.status_code == 400, content
        assert reason in response.content.decode(), (content, response.content.decode()[-2000:])

    response = client.post("/o/acme/import/", {"team": world.sales.pk})
    assert "Choose the Trello export&#x27;s file" in response.content.decode()
    response = client.post("/o/acme/import/", {"team": world.product.pk, "export": upload()})
    assert response.status_code == 400
    assert "Choose the team that will own the new board." in response.content.decode()
    assert not ImportJob.objects.exists() and not Board.objects.filter(name="Product roadmap")


def test_a_file_with_a_byte_order_mark_is_read(world, client, run_tasks):
    client.force_login(world.bob)

    with run_tasks():
        response = client.post(
            "/o/acme/import/",
            {"team": world.sales.pk, "export": upload(b"\xef\xbb\xbf" + FIXTURE.read_bytes())},
        )

    assert response.status_code == 302
    assert ImportJob.objects.get().status == "done"


def test_the_page_takes_uploads_above_the_general_body_limit_up_to_the_import_limit(
    world, client, settings
):
    # given: an export padded past the 2 MiB every other path takes
    export = json.loads(FIXTURE.read_text())
    export["actions"] += [{"type": "updateCard", "data": {"old": {"desc": "z" * 1000}}}] * 3000
    content = json.dumps(export).encode()
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE < len(content) < settings.IMPORT_MAX_BYTES
    client.force_login(world.bob)

    response = client.post("/o/acme/import/", {"team": world.sales.pk, "export": upload(content)})
    assert response.status_code == 302
    assert ImportJob.objects.count() == 1

    # and past the import limit, the middleware answers 413 before reading it
    settings.IMPORT_MAX_BYTES = 1_000_000
    response = client.post("/o/acme/import/", {"team": world.sales.pk, "export": upload(content)})
    assert response.status_code == 413
    assert ImportJob.objects.count() == 1


def test_a_file_over_the_limit_is_refused_whatever_the_body_said(settings):
    # the middleware refuses a body over the limit; the file is checked on its own too
    settings.IMPORT_MAX_BYTES = 1_000

    with pytest.raises(PayloadTooLarge, match="The file is larger than the limit of 1,000 bytes"):
        trello.read_upload(upload(b"[" + b" " * 1_000 + b"]"))
    assert trello.read_upload(upload(b'{"a": 1}')) == {"a": 1}


def test_the_progress_page_shows_a_running_job_and_members_only(world, client):
    job = trello.start_trello_import(
        team=world.sales, data=json.loads(FIXTURE.read_text()), actor=world.bob
    )
    ImportJob.objects.filter(pk=job.pk).update(status="running", done=5)

    client.force_login(world.victor)  # every member reads an import
    html = client.get(f"/o/acme/imports/{job.pk}/").content.decode()
    assert 'data-status="running"' in html
    assert '<progress class="import-bar" data-role="bar" max="14" value="5"' in html
    assert "Importing the cards" in html
    assert '<script type="module" src="/static/js/import.js"></script>' in html
    assert "Open the board" not in html

    client.force_login(world.gina)
    assert client.get(f"/o/acme/imports/{job.pk}/").status_code == 404
    assert client.get(f"/o/globex/imports/{job.pk}/").status_code == 404  # not Globex's


def test_a_failed_job_shows_why_and_the_way_back(world, client):
    job = trello.start_trello_import(
        team=world.sales, data=json.loads(FIXTURE.read_text()), actor=world.bob
    )
    ImportJob.objects.filter(pk=job.pk).update(
        status="failed", error="The import stopped before its first card. Because."
    )
    client.force_login(world.bob)

    html = client.get(f"/o/acme/imports/{job.pk}/").content.decode()

    assert "The import stopped before its first card. Because." in html
    assert 'href="/o/acme/import/"' in html and "Back to the import" in html
    # and the import page lists it among the recent imports
    html = client.get("/o/acme/import/").content.decode()
    assert f'<tr data-import-id="{job.pk}">' in html and "Failed" in html
