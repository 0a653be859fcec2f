"""Cards keep their place by a sparse rank instead of a dense position, and each (column,
swimlane) counts its live cards in a Cell row: placing a card no longer renumbers the cards
after it (a move into a 50,000-card column rewrote up to 50,000 rows)."""

import django.db.models.constraints
import django.db.models.deletion
from django.db import migrations, models

RANK_GAP = 2**32


def ranks_from_positions(apps, schema_editor):
    Card = apps.get_model("boards", "Card")
    Cell = apps.get_model("boards", "Cell")
    table = Card._meta.db_table
    with schema_editor.connection.cursor() as cursor:
        # Dense positions, spread RANK_GAP apart: the same order in every cell.
        cursor.execute(
            f"UPDATE {table} SET rank = (rank + 1) * %s WHERE rank IS NOT NULL", [RANK_GAP]
        )
        cursor.execute(
            f"INSERT INTO {Cell._meta.db_table} (column_id, swimlane_id, size) "
            f"SELECT column_id, swimlane_id, COUNT(*) FROM {table} WHERE NOT archived "
            "GROUP BY column_id, swimlane_id"
        )


def positions_from_ranks(apps, schema_editor):
    Card = apps.get_model("boards", "Card")
    cards = Card.objects.filter(rank__isnull=False).order_by("column_id", "swimlane_id", "rank")
    cell, index = None, 0
    for card in cards.only("id", "column_id", "swimlane_id", "rank").iterator():
        if (card.column_id, card.swimlane_id) != cell:
            cell, index = (card.column_id, card.swimlane_id), 0
        Card.objects.filter(pk=card.pk).update(rank=index)
        index += 1


class Migration(migrations.Migration):
    dependencies = [
        ("boards", "0007_import_job"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="card", name="card_position_unique_in_cell"),
        migrations.RemoveConstraint(model_name="card", name="card_position_iff_live"),
        migrations.RenameField(model_name="card", old_name="position", new_name="rank"),
        migrations.AlterField(
            model_name="card", name="rank", field=models.BigIntegerField(null=True)
        ),
        migrations.AlterModelOptions(
            name="card", options={"ordering": ["board_id", "column_id", "swimlane_id", "rank"]}
        ),
        migrations.CreateModel(
            name="Cell",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("size", models.PositiveIntegerField(default=0)),
                (
                    "column",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="cells",
                        to="boards.column",
                    ),
                ),
                (
                    "swimlane",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="cells",
                        to="boards.swimlane",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("column", "swimlane"), name="cell_unique"),
                    models.CheckConstraint(
                        condition=models.Q(("size__gte", 0)), name="cell_size_not_negative"
                    ),
                ],
            },
        ),
        migrations.RunPython(ranks_from_positions, positions_from_ranks),
        migrations.AddConstraint(
            model_name="card",
            constraint=models.UniqueConstraint(
                deferrable=django.db.models.constraints.Deferrable["DEFERRED"],
                fields=("column", "swimlane", "rank"),
                name="card_rank_unique_in_cell",
            ),
        ),
        migrations.AddConstraint(
            model_name="card",
            constraint=models.CheckConstraint(
                condition=models.Q(("archived", True), ("rank__isnull", True))
                | models.Q(("archived", False), ("rank__isnull", False)),
                name="card_rank_iff_live",
            ),
        ),
    ]
