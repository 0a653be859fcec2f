"""Every answer under /api/ is JSON `{"code", "detail", "fields"?}`, errors Django answers itself
included (an unhandled exception, a CSRF failure, an unknown path), and no input reaches a 500:
deeply nested bodies, NUL and lone surrogates in bodies and query strings, dates past what the
metrics window can count with. Pages keep Django's own HTML answers."""

import json
import logging

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import include, path

from boards import selectors
from boards.models import Card, Label
from kanban import parsers

pytestmark = pytest.mark.django_db

API = "/api/v1"


def assert_json_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json", response.content[:300]
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def assert_html(response, status: int) -> None:
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")


def browser(user) -> Client:
    """A logged-in browser that, like a real one, must send the CSRF token."""
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.force_login(user)
    return client


def post_json(client, url: str, raw: str):
    return client.post(url, raw, content_type="application/json")


def cards_url(world) -> str:
    return f"{API}/boards/{world.board.pk}/cards/"


# --- unhandled exceptions --------------------------------------------------------------------


def boom(*args, **kwargs):
    raise RuntimeError("a bug")


def test_an_unhandled_exception_in_an_api_view_answers_a_json_500_and_is_logged(
    world, api, monkeypatch, caplog
):
    # given: a read path with a bug
    monkeypatch.setattr(selectors, "board_snapshot_json", boom)
    client = api(world.alice)
    client.raise_request_exception = False

    # when
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = client.get(f"{API}/boards/{world.board.pk}/")

    # then: JSON without the exception's text, and the exception in the log
    body = assert_json_error(response, 500, "server_error")
    assert "a bug" not in json.dumps(body)
    logged = [r for r in caplog.records if r.name == "django.request" and r.exc_info]
    assert logged and logged[0].exc_info[0] is RuntimeError


def test_an_unhandled_exception_on_a_page_keeps_djangos_html_500(world, monkeypatch):
    monkeypatch.setattr(selectors, "board_snapshot", boom)
    client = Client(raise_request_exception=False)
    client.force_login(world.alice)

    assert_html(client.get(f"/boards/{world.board.pk}/"), 500)


def test_a_bad_request_django_answers_itself_under_api_is_json(world, api, settings):
    # given: more query parameters than Django parses (TooManyFieldsSent, a SuspiciousOperation)
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    query = "&".join(f"a{i}=1" for i in range(10))

    response = api(world.alice).get(f"{API}/cards/?{query}")

    assert_json_error(response, 400, "bad_request")


# --- unknown paths and CSRF ------------------------------------------------------------------


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_writing_to_an_unknown_api_path_is_a_json_404_not_a_csrf_page(method):
    client = Client(enforce_csrf_checks=True)

    response = getattr(client, method)(f"{API}/no-such-thing/", "{}", "application/json")

    assert_json_error(response, 404, "not_found")


def test_a_session_write_without_the_csrf_token_is_a_json_403_csrf_failed(world):
    before = Card.objects.count()

    response = post_json(browser(world.bob), cards_url(world), '{"title": "x", "column": 1}')

    body = assert_json_error(response, 403, "csrf_failed")
    assert "X-CSRFToken" in body["detail"]
    assert Card.objects.count() == before


def test_a_session_write_with_the_csrf_token_goes_through(world):
    # given: the token from the cookie Django sets on a page
    client = browser(world.bob)
    client.get("/")
    token = client.cookies["csrftoken"].value

    response = client.post(
        cards_url(world),
        json.dumps({"title": "x", "column": world.column("Ready").pk}),
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )

    assert response.status_code == 201, response.content


def plain_write(request):
    return HttpResponse("written")


# A Django view under /api/ that is not exempt from CSRF, as no API view is: what
# CSRF_FAILURE_VIEW answers there.
urlpatterns = [path("api/test-only/plain/", plain_write), path("", include("kanban.urls"))]


@pytest.mark.urls(__name__)
def test_djangos_csrf_failure_under_api_is_json_and_on_pages_html(world):
    client = Client(enforce_csrf_checks=True)

    api_response = client.post("/api/test-only/plain/", {"a": "1"})
    page_response = client.post("/accounts/login/", {"username": "alice", "password": "x"})

    body = assert_json_error(api_response, 403, "csrf_failed")
    assert "CSRF cookie not set" in body["detail"]
    assert_html(page_response, 403)


def test_drf_errors_stay_json(world, api):
    client = api(world.alice)
    board = f"{API}/boards/{world.board.pk}/"

    assert_json_error(client.get(f"{API}/boards/999999/"), 404, "not_found")
    assert_json_error(client.put(board, {}, format="json"), 405, "method_not_allowed")
    assert_json_error(client.get(board, headers={"Accept": "text/html"}), 406, "not_acceptable")
    assert_json_error(
        client.post(cards_url(world), "x", content_type="text/plain"),
        415,
        "unsupported_media_type",
    )


def test_the_schemas_errors_are_json_not_yaml(world, client):
    assert_json_error(client.get("/api/schema/?format=xml"), 404, "not_found")
    assert client.get("/api/schema/")["Content-Type"].startswith("application/vnd.oai.openapi")


# --- bodies: nesting, NUL and lone surrogates ------------------------------------------------


def nested(depth: int, leaf: str = "1") -> str:
    return '{"a": ' * depth + leaf + "}" * depth


@pytest.mark.parametrize(
    "raw",
    [
        "[" * 1000 + "]" * 1000,
        '{"title": ' + nested(1000) + ', "column": 1}',
        "[" * 100_000,
        '{"title": ' + nested(parsers.MAX_DEPTH) + "}",  # one level too many with the body's
    ],
)
def test_a_body_nested_too_deep_is_a_400_malformed_request(world, api, raw):
    before = Card.objects.count()

    response = post_json(api(world.bob), cards_url(world), raw)

    body = assert_json_error(response, 400, "malformed_request")
    assert f"deeper than {parsers.MAX_DEPTH} levels" in body["detail"]
    assert Card.objects.count() == before


def test_a_body_exactly_at_the_depth_limit_is_parsed(world, api):
    raw = '{"title": ' + nested(parsers.MAX_DEPTH - 1) + "}"

    response = post_json(api(world.bob), cards_url(world), raw)

    # parsed, then refused by the serializer for what it is: a title that is not a string
    assert "title" in assert_json_error(response, 400, "invalid")["fields"]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"title": "a\\u0000b"}', "title"),
        ('{"title": "a\\ud800b"}', "title"),
        ('{"title": "ok", "customer": "\\udfff"}', "customer"),
        ('{"title": "ok", "assignees": ["\\u0000"]}', "assignees[0]"),
        ('{"title": "ok", "extra": {"deep": ["x", {"y": "\\ud83d"}]}}', "extra.deep[1].y"),
        ('{"ti\\u0000tle": "ok"}', "non_field_errors"),
        ('{"title": "ok", "extra": {"k\\ud800": 1}}', "extra"),
    ],
)
def test_nul_and_lone_surrogates_anywhere_in_a_body_are_a_400_naming_the_field(
    world, api, raw, field
):
    before = Card.objects.count()

    response = post_json(api(world.bob), cards_url(world), raw)

    body = assert_json_error(response, 400, "invalid")
    assert field in body["fields"], body
    assert Card.objects.count() == before


def test_a_lone_surrogate_in_a_choice_is_refused_not_echoed_into_a_500(world, api):
    # DRF's choice error repeats the input, which a surrogate makes unrenderable.
    raw = '{"title": "ok", "column": 1, "class_of_service": "\\ud800"}'

    response = post_json(api(world.bob), cards_url(world), raw)

    assert "class_of_service" in assert_json_error(response, 400, "invalid")["fields"]


def test_a_proper_surrogate_pair_is_a_character_like_any_other(world, api):
    raw = json.dumps({"name": "Bug \U0001f41b"})  # json.dumps escapes it as \ud83d\udc1b

    response = post_json(api(world.bob), f"{API}/boards/{world.board.pk}/labels/", raw)

    assert response.status_code == 201, response.content
    assert Label.objects.get().name == "Bug \U0001f41b"


def test_the_parser_walks_without_recursion_and_reports_the_path():
    deep: list = []
    for _ in range(5_000):  # far past Python's recursion limit
        deep = [deep]
    with pytest.raises(parsers.ParseError):
        parsers.check_value(deep)
    with pytest.raises(parsers.ValidationError) as refused:
        parsers.check_value({"board": {"lists": [{"name": "ok"}, {"name": "a\x00"}]}})
    assert "board.lists[1].name" in refused.value.detail


# --- query strings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("q=%00", "q"),
        ("q=a%00b", "q"),
        ("org=%00", "org"),
        ("team=1%00", "team"),
        ("page=%00", "page"),
        ("a%00=1", "non_field_errors"),
    ],
)
@pytest.mark.parametrize("endpoint", ["/cards/", "/boards/", "/orgs/"])
def test_a_nul_in_any_api_query_string_is_a_400(world, api, endpoint, query, field):
    response = api(world.alice).get(f"{API}{endpoint}?{query}")

    assert field in assert_json_error(response, 400, "invalid")["fields"]


def test_a_nul_in_the_query_of_a_board_endpoint_is_a_400(world, api):
    client = api(world.alice)
    board = world.board.pk
    for url in (
        f"{API}/boards/{board}/alerts/?state=%00",
        f"{API}/boards/{board}/events/?since=%00",
        f"{API}/boards/{board}/metrics/?from=%00&to=%00",
        f"{API}/orgs/acme/overview/?sort=%00",
    ):
        assert_json_error(client.get(url), 400, "invalid")


def test_the_org_search_page_answers_a_nul_in_q_with_a_400_page(world):
    client = Client(raise_request_exception=False)
    client.force_login(world.alice)

    response = client.get("/o/acme/search/?q=a%00b")

    assert_html(response, 400)
    assert client.get("/o/acme/search/?q=ab").status_code == 200


# --- the metrics window ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "field"),
    [
        ("from=9999-12-30&to=9999-12-31", "from"),
        ("from=0001-01-01&to=0001-01-02", "from"),
        ("from=2026-01-01&to=9999-12-31", "to"),
        ("from=1999-12-31&to=2000-01-02", "from"),
        ("from=2100-12-30&to=2101-01-01", "to"),
    ],
)
def test_a_metrics_window_outside_the_accepted_days_is_a_400_saying_so(world, api, window, field):
    response = api(world.alice).get(f"{API}/boards/{world.board.pk}/metrics/?{window}")

    body = assert_json_error(response, 400, "invalid")
    assert field in body["fields"]
    assert "2000-01-01" in body["detail"] and "2100-12-31" in body["detail"]


@pytest.mark.parametrize(
    ("window", "field"),
    [("from=2026-02-01&to=2026-01-01", "from"), ("from=2020-01-01&to=2026-01-01", "to")],
)
def test_a_metrics_window_backwards_or_too_long_is_still_refused(world, api, window, field):
    response = api(world.alice).get(f"{API}/boards/{world.board.pk}/metrics/?{window}")

    assert field in assert_json_error(response, 400, "invalid")["fields"]


def test_the_widest_metrics_window_at_the_ends_of_the_range_is_computed(world, api):
    client = api(world.alice)
    board = world.board.pk

    first = client.get(f"{API}/boards/{board}/metrics/?from=2000-01-01&to=2000-12-31")
    last = client.get(f"{API}/boards/{board}/metrics/?from=2099-01-01&to=2100-12-31")

    assert first.status_code == 200 and last.status_code == 200
    assert last.json()["window"] == {"from": "2099-01-01", "to": "2100-12-31"}


@pytest.mark.parametrize(
    "window", ["from=9999-12-30&to=9999-12-31", "from=0001-01-01&to=0001-01-02"]
)
def test_the_metrics_page_shows_the_default_window_and_says_why_for_dates_out_of_range(
    world, window
):
    client = Client(raise_request_exception=False)
    client.force_login(world.alice)

    response = client.get(f"/boards/{world.board.pk}/metrics/?{window}")

    assert response.status_code == 200
    assert "2000-01-01" in response.content.decode()
