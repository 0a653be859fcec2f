"""The Celery app. Its settings are the CELERY_* ones of kanban.settings: Redis as the broker
when REDIS_URL is set, tasks run in-process otherwise."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kanban.settings")

app = Celery("kanban")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
