"""The beat task of improvements, thin: the service does the work."""

from celery import shared_task

from boards.kaizen import services


@shared_task(name="boards.kaizen.close_due_reviews")
def close_due_reviews() -> int:
    return services.close_due_reviews()
