"""The Celery app. Its settings are the CELERY_* ones of kanban.settings: Redis as the broker
when REDIS_URL is set, tasks run in-process otherwise."""

import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kanban.settings")

app = Celery("kanban")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _sweep_when_ready(sender, **kwargs) -> None:
    """A worker that starts checks the boards changed since the last sweep: the one before it
    may have died holding their checks (kill -9 leaves them unacknowledged until the broker's
    visibility timeout)."""
    sender.app.send_task("boards.sweep_wip")
