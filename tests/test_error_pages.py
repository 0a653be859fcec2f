"""The branded error pages (templates/404.html, 500.html, ...), never Django's debug pages,
while /api/ keeps its JSON errors (kanban.api's handlers)."""

import pytest
from django.test import RequestFactory

from kanban import api

pytestmark = pytest.mark.django_db


def test_an_unknown_page_answers_the_branded_404_with_a_way_back(client, world):
    client.force_login(world.bob)
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert 'data-error="404"' in body
    assert "This page is not here" in body
    assert 'href="/"' in body  # back to one's boards
    assert "Technical details" not in body and "Traceback" not in body


def test_a_foreign_board_reads_as_the_branded_404(client, world):
    client.force_login(world.bob)
    response = client.get(f"/boards/{world.globex_board.pk}/")
    assert response.status_code == 404
    assert 'data-error="404"' in response.content.decode()


def test_an_unknown_api_path_keeps_its_json_404(client, world):
    client.force_login(world.bob)
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_the_500_page_is_branded_and_needs_no_context():
    response = api.server_error(RequestFactory().get("/boards/1/"))
    assert response.status_code == 500
    body = response.content.decode()
    assert 'data-error="500"' in body
    assert "Something went wrong on our side" in body
    assert 'href="/"' in body


def test_a_500_under_api_stays_json():
    response = api.server_error(RequestFactory().get("/api/v1/boards/"))
    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
