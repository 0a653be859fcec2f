"""An improvement's start reaches the board's viewers: a real uvicorn, a real websocket."""

import asyncio
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.services import create_api_token
from boards.kaizen import services as kaizen
from tests.servers import asgi_server
from tests.test_live_updates import in_thread
from tests.ws_client import BoardViewer, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_viewer_of_the_board_receives_improvement_started(world):
    improvement = kaizen.create_improvement(
        world.board,
        title="Pair on every expedite card",
        target_metric="lead_time",
        review_on=timezone.now().date() + timedelta(weeks=3),
        actor=world.bob,
    )
    _, token = create_api_token(user=world.victor)  # a viewer reads the board's events too
    with asgi_server() as server:

        async def scenario():
            viewer = BoardViewer(server, world.board.pk, token=token)
            viewer.start()
            await viewer.wait_connected()

            def start():
                from kanban.publisher import flush

                kaizen.start_improvement(improvement, actor=world.bob)
                flush()

            await asyncio.to_thread(in_thread, start)
            await wait_for(
                lambda: any(e["type"] == "improvement.started" for e in viewer.events),
                timeout=10,
                what="improvement.started",
            )
            await viewer.stop()
            return viewer

        viewer = asyncio.run(scenario())
    (event,) = [e for e in viewer.events if e["type"] == "improvement.started"]
    assert event["data"]["improvement"]["id"] == improvement.pk
    assert event["data"]["improvement"]["title"] == "Pair on every expedite card"
    assert event["data"]["improvement"]["started_on"] == timezone.now().date().isoformat()
    assert event["actor"]["username"] == world.bob.username
    assert viewer.resyncs == 0
