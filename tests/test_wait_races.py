"""Waits racing on real Postgres transactions (boards/services/waits.py): two additions that
would close a cycle together, and a wait added while its upstream card is being finished."""

import pytest
from django.db import connection

from boards import services
from boards.models import CardWait
from kanban.exceptions import DomainError
from tests.test_concurrency import pool_room, run_together  # noqa: F401  (a fixture)

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]
ROUNDS = 5


def test_two_waits_that_together_close_a_cycle_never_both_commit(world):
    product = services.create_board(team=world.product, name="Roadmap", actor=world.alice)
    for round_ in range(ROUNDS):
        # A (Sales) and B (Product): A on B and B on A asked for at the same instant
        a = services.create_card(
            world.board, title=f"A{round_}", column=world.column("Ready"), actor=world.alice
        )
        b = services.create_card(
            product, title=f"B{round_}", column=world.column("Ready", product), actor=world.alice
        )

        outcomes = run_together(
            [
                lambda a=a, b=b: services.add_wait(a, on=b, actor=world.alice),
                lambda a=a, b=b: services.add_wait(b, on=a, actor=world.alice),
            ]
        )

        errors = [o.error for o in outcomes if o.error is not None]
        assert len(errors) == 1, [repr(e) for e in errors]
        assert isinstance(errors[0], DomainError) and errors[0].code == "wait_cycle"
        assert CardWait.objects.filter(card__in=[a, b]).count() == 1


def test_a_wait_added_while_its_upstream_is_finished_is_refused_or_ended(world):
    """Whichever commits first: the wait is refused (the card is already finished) or it is
    ended by the finish; never left open on a finished card."""
    product = services.create_board(team=world.product, name="Roadmap", actor=world.alice)
    done = product.columns.get(name="Done")
    for round_ in range(ROUNDS):
        upstream = services.create_card(
            product, title=f"U{round_}", column=world.column("Doing", product), actor=world.alice
        )
        waiting = services.create_card(
            world.board, title=f"W{round_}", column=world.column("Ready"), actor=world.alice
        )

        outcomes = run_together(
            [
                lambda w=waiting, u=upstream: services.add_wait(w, on=u, actor=world.bob),
                lambda u=upstream: services.move_card(u, to_column=done, actor=world.mia),
            ]
        )

        assert outcomes[1].error is None, repr(outcomes[1].error)
        connection.ensure_connection()
        waiting.refresh_from_db()
        if outcomes[0].error is not None:
            assert outcomes[0].error.fields == {"on": ["The card is finished."]}, repr(
                outcomes[0].error
            )
            assert not CardWait.objects.filter(card=waiting).exists()
            assert waiting.blocked is False
        else:
            wait = CardWait.objects.get(card=waiting)
            assert wait.ended_reason == "finished"  # by the move's end_waits, after its commit
            assert waiting.blocked is False
