"""GIN indexes for card search (boards.selectors.search_cards), Postgres only.

They index exactly the expressions the search builds with SearchVector (see
boards.selectors.CARD_SEARCH_VECTOR), so that `@@` reads the index instead of computing
to_tsvector for every card and comment. They live outside the model state on purpose: an
expression index using to_tsvector cannot exist on SQLite (the embedded default), and Django's
SQLite schema editor recreates every index of the model state whenever it rebuilds the table.
"""

from django.db import migrations

CARD_INDEX = (
    "CREATE INDEX IF NOT EXISTS card_search_gin ON boards_card USING gin (("
    "setweight(to_tsvector('english'::regconfig, COALESCE(title, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, COALESCE(description, '')), 'B')))"
)
COMMENT_INDEX = (
    "CREATE INDEX IF NOT EXISTS comment_search_gin ON boards_comment USING gin ("
    "to_tsvector('english'::regconfig, COALESCE(body, '')))"
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CARD_INDEX)
        schema_editor.execute(COMMENT_INDEX)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS card_search_gin")
        schema_editor.execute("DROP INDEX IF EXISTS comment_search_gin")


class Migration(migrations.Migration):

    dependencies = [
        ("boards", "0003_flow_facts"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
