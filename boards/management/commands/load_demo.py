from django.core.management.base import BaseCommand, CommandError

from boards.demo.loader import SEED, DemoConflict, load_demo


class Command(BaseCommand):
    """Thin: the demo itself is boards.demo.loader, built through the services."""

    help = (
        "Load the Acme demo organisation (users alice, bob, victor and their colleagues, "
        "password 'demo'), four boards and 120 days of history. Does nothing if it is already "
        "loaded; --reset removes it and loads it again."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Delete the Acme organisation, its boards and teams and the demo users first.",
        )
        parser.add_argument("--seed", type=int, default=SEED, help="Random seed (default: fixed).")

    def handle(self, *args, reset: bool = False, seed: int = SEED, **options) -> None:
        try:
            lines = load_demo(reset=reset, seed=seed)
        except DemoConflict as exc:
            raise CommandError(str(exc)) from exc
        except BaseException:
            self.stderr.write("Loading the demo failed: what was built of it is removed.")
            raise
        if lines is None:
            self.stdout.write(
                "The demo is already loaded (organisation 'acme' exists): nothing to do. "
                "Run with --reset to rebuild it."
            )
            return
        self.stdout.write(self.style.SUCCESS(lines[0]))
        for line in lines[1:]:
            self.stdout.write(line)
