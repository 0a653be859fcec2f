"""The publisher on the embedded default's in-memory channel layer: a send from a request's
thread is handed to the server's loop, where the layer and its consumers live."""

import asyncio
import threading

from channels.layers import channel_layers

from kanban import publisher


def test_an_in_memory_send_from_another_thread_wakes_the_waiting_consumer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    channel_layers.backends.clear()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    saved = publisher._server_loop
    publisher.use_server_loop(loop)
    try:
        layer = channel_layers["default"]

        async def join() -> str:
            channel = await layer.new_channel()
            await layer.group_add("board.1", channel)
            return channel

        channel = asyncio.run_coroutine_threadsafe(join(), loop).result(5)
        # the consumer waits on the server's loop, which has nothing else to wake it
        waiting = asyncio.run_coroutine_threadsafe(layer.receive(channel), loop)

        # when: a request's thread (this one) publishes
        publisher.send_message("board.1", {"type": "board.event", "text": "{}"})

        # then: the consumer has it at once, not when something else happens to wake its loop
        assert waiting.result(2) == {"type": "board.event", "text": "{}"}
    finally:
        publisher.use_server_loop(saved)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        channel_layers.backends.clear()
