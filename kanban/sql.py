"""Plain SQL for the hot path (a card move and the event it appends), portable between Postgres
and SQLite.

The ORM spends ~0.35 ms of Python building and compiling each query, more than the query itself
takes on loopback (bench/RESULTS.md): a move of a dozen statements spent most of its time there.
These helpers keep what the ORM gives that matters — the fields' own conversion of values to and
from the database (aware datetimes on SQLite, JSON, booleans) — and drop the rest.
"""

from collections.abc import Sequence
from functools import cache
from typing import Any, TypeVar

from django.db import connection, models

M = TypeVar("M", bound=models.Model)


def lock_clause(of: str = "") -> str:
    """FOR NO KEY UPDATE [OF `of`] where the database has row locks (Postgres); SQLite has one
    writer at a time, which a transaction already is."""
    if not connection.features.has_select_for_no_key_update:
        return ""
    return f" FOR NO KEY UPDATE OF {of}" if of else " FOR NO KEY UPDATE"


def hold(model: type[models.Model], pk: int) -> bool:
    """Take a KEY SHARE lock on the row (Postgres): it cannot be deleted, nor its key changed,
    until this transaction ends, while others may still update it. Whether it exists.

    For writers that insert rows referring to it: without the lock, a delete committing in
    between makes the insert fail on its foreign key; with it, the delete waits for this
    transaction, or this one finds the row gone and says so."""
    table = model._meta.db_table
    clause = " FOR KEY SHARE" if connection.vendor == "postgresql" else ""
    return fetch_one(f"SELECT 1 FROM {table} WHERE id = %s{clause}", [pk]) is not None


def id_list(expression: str) -> str:
    """An aggregate of ids as one comma-separated string (None when there are none)."""
    if connection.vendor == "postgresql":
        return f"string_agg(CAST({expression} AS TEXT), ',')"
    return f"group_concat({expression}, ',')"


def ids(text: str | None) -> list[int]:
    return sorted(int(i) for i in text.split(",")) if text else []


def _field(model: type[models.Model], name: str) -> models.Field:
    """The field of a column (get_field also answers reverse relations, which have none)."""
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field) and field.column, f"{model.__name__}.{name}: no column"
    return field


@cache
def _converters(model: type[models.Model], names: tuple[str, ...], vendor: str) -> tuple:
    """Per column, the converters Django's compiler would apply (SQLCompiler.apply_converters)."""
    result = []
    for name in names:
        field = _field(model, name)
        column = field.get_col(model._meta.db_table)
        # Field.get_db_converters is Django's (SQLCompiler calls it); django-stubs 5.2 omits it.
        field_converters = field.get_db_converters(connection)  # type: ignore[attr-defined]
        converters = connection.ops.get_db_converters(column) + field_converters
        result.append((column, converters))
    return tuple(result)


def convert(model: type[models.Model], names: tuple[str, ...], row: Sequence[Any]) -> list[Any]:
    values = list(row)
    for i, (column, converters) in enumerate(_converters(model, names, connection.vendor)):
        for converter in converters:
            values[i] = converter(values[i], column, connection)
    return values


def columns(model: type[models.Model], names: tuple[str, ...], alias: str = "") -> str:
    """The database columns of the fields `names`, comma-separated (each prefixed `alias.`)."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(f"{prefix}{_field(model, name).column}" for name in names)


def instance(model: type[M], names: tuple[str, ...], values) -> M:
    """Selected values of the fields `names` (attnames) as a model instance, built as the ORM
    builds one (`Model.from_db`, after the fields' converters)."""
    return model.from_db(connection.alias, names, convert(model, names, values))


def fetch_all(sql: str, params: list | dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def fetch_many(queries: Sequence[tuple[str, list | dict]]) -> list[list[tuple]]:
    """The rows of several statements, sent to Postgres at once (psycopg's pipeline mode: one
    round trip instead of one each) and run there one after another, in order, each seeing
    what was committed before it began and what the ones before it wrote, as when sent apart;
    elsewhere, one by one. Writes with RETURNING answer rows as reads do; a statement that
    fails leaves the rest unrun and raises, as the first of them sent apart would."""
    if connection.vendor != "postgresql":
        return [fetch_all(sql, params) for sql, params in queries]
    connection.ensure_connection()
    cursors = []
    try:
        # A statement's error comes out of the pipeline's end, outside the cursors' wrapping:
        # wrapped here, so that callers see Django's DatabaseError (a deadlock's 409) as ever.
        with connection.wrap_database_errors, connection.connection.pipeline():
            for sql, params in queries:
                cursors.append(connection.cursor())
                cursors[-1].execute(sql, params)
        # The pipeline's end has every result in its cursor; a write without rows has none
        # (psycopg's `rownumber`: None when there are no rows to fetch, a cheaper question
        # than `description`, which builds a Column per field).
        return [[] if cursor.rownumber is None else cursor.fetchall() for cursor in cursors]
    finally:
        for cursor in cursors:
            cursor.close()


def fetch_one(sql: str, params: list | dict) -> tuple | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def execute(sql: str, params: list | dict) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def prepare(model: type[models.Model], name: str, value: Any) -> Any:
    """A value as the field would save it (aware datetimes to the database's form, JSON...)."""
    return _field(model, name).get_db_prep_save(value, connection)


def insert_statement(model: type[models.Model], values: dict[str, Any]) -> tuple[str, list]:
    """The INSERT of one row of `model`, its values prepared by their fields, answering its
    id."""
    names = tuple(values)
    params = [prepare(model, name, value) for name, value in values.items()]
    return (
        f"INSERT INTO {model._meta.db_table} ({columns(model, names)}) "
        f"VALUES ({', '.join(['%s'] * len(names))}) RETURNING id",
        params,
    )


def named_insert(model: type[models.Model], names: tuple[str, ...], prefix: str) -> str:
    """The INSERT of one row of `model` with the fields `names` (attnames), their values named
    `<prefix><name>` (named_values), answering its id: for a statement that writes more."""
    values = ", ".join(f"%({prefix}{name})s" for name in names)
    return (
        f"INSERT INTO {model._meta.db_table} ({columns(model, names)}) VALUES ({values}) "
        "RETURNING id"
    )


def named_values(model: type[models.Model], values: dict[str, Any], prefix: str) -> dict:
    """The parameters of a named_insert: each value prepared by its field."""
    return {f"{prefix}{name}": prepare(model, name, value) for name, value in values.items()}


def insert(model: type[models.Model], values: dict[str, Any]) -> int:
    """INSERT one row of `model`, its values prepared by their fields; return its id."""
    row = fetch_one(*insert_statement(model, values))
    assert row is not None  # an INSERT ... RETURNING answers its row
    return row[0]
