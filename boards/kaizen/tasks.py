"""The beat tasks of improvements, thin: the services do the work. Idempotent under
redelivery (acks_late): a review closed already is left alone."""

from celery import shared_task

from boards.flow.followups import queue
from boards.kaizen import services


@shared_task(name="boards.kaizen.close_due_reviews")
def close_due_reviews() -> int:
    """Beat, hourly: one review task per improvement whose review date has come."""
    due = services.due_for_review()
    for improvement_id in due:
        queue("boards.kaizen.close_review", improvement_id)
    return len(due)


@shared_task(name="boards.kaizen.close_review")
def close_review(improvement_id: int) -> str:
    improvement = services.close_review(improvement_id)
    return improvement.status if improvement else "skipped"
