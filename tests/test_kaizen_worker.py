"""The kaizen beat task through a real Celery worker on Redis (not eager): the hourly task
finds the due improvement, queues its review, and the worker closes it with the result."""

import pytest

from boards.kaizen import services as kaizen
from boards.kaizen import tasks as kaizen_tasks
from boards.models import Improvement, ImprovementStatus
from tests.servers import celery_worker
from tests.test_celery_worker import queue, wait_for  # noqa: F401  # queue: the fixture
from tests.test_kaizen import AFTER, REVIEW_NOW, S, experiment  # noqa: F401  # a fixture

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_beat_task_on_a_worker_closes_the_due_review(world, experiment, queue):  # noqa: F811
    kaizen.start_improvement(experiment, started_on=S, actor=world.bob, now=REVIEW_NOW)

    with celery_worker(queue):
        kaizen_tasks.close_due_reviews.delay()
        assert wait_for(
            lambda: Improvement.objects.get(pk=experiment.pk).status == ImprovementStatus.REVIEWED
        ), "the worker never closed the review"

    experiment.refresh_from_db()
    assert [w["throughput"] for w in experiment.result["weeks"]] == AFTER
    assert experiment.result["checks"]["throughput"]["rules"] == ["outside_limits"]
