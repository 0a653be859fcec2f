from django.apps import AppConfig


class BoardsConfig(AppConfig):
    name = "boards"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Register the Celery tasks in every process (web ones too): the services queue them
        # by name (boards.flow.followups), without importing the task module above them.
        from boards import tasks  # noqa: F401
        from boards.hooks import tasks as hook_tasks  # noqa: F401
        from boards.kaizen import tasks as kaizen_tasks  # noqa: F401
