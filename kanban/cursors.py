"""Keyset ("cursor") paging for the API's lists, opt-in beside the page numbers.

`?cursor=` (empty: the first page) switches a list to keyset paging: each page is the rows
after the last one of the page before, in the list's own order, found by a WHERE on the
ordering's values rather than an OFFSET, so rows inserted or deleted meanwhile neither repeat
nor skip a row, and a deep page costs what the first does. The token is opaque to clients:
base64url of the last row's ordering values (its id last, as the tie-break).

Only lists ordered by columns of their own rows, none nullable, can be paged so (every list
but the text search, ranked by relevance); the others answer 400 `cursor_not_supported`.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Q, QuerySet
from django.db.models.query import ModelIterable

from kanban.exceptions import InvalidInput


class CursorNotSupported(InvalidInput):
    code = "cursor_not_supported"
    default_detail = "This list cannot be paged by cursor: use page numbers."


def _bad_cursor() -> InvalidInput:
    return InvalidInput(
        "The cursor is not valid: pass back one `next_cursor` of this list.",
        fields={"cursor": ["Not a cursor of this list."]},
    )


@dataclass(frozen=True)
class Key:
    """One column of the ordering: its lookup path ("name", "organization__name"), the model
    field at its end, its direction."""

    path: str
    field: Any
    descending: bool

    def value(self, row) -> Any:
        *relations, last = self.path.split("__")
        for name in relations:  # select_related by the list, or one query per page at most
            row = getattr(row, name)
        return getattr(row, self.field.attname if last == self.field.name else last)


def _resolve(model, path: str):
    """The field at the end of `path` through non-null foreign keys, or None."""
    *relations, last = path.split("__")
    meta = model._meta
    for name in relations:
        try:
            relation = meta.get_field(name)
        except FieldDoesNotExist:
            return None
        if not relation.many_to_one or relation.null:
            return None
        meta = relation.related_model._meta
    if last == "pk":
        return meta.pk
    try:
        return meta.get_field(last)
    except FieldDoesNotExist:
        # a foreign key's column ("board_id") is its field's attname
        return next((f for f in meta.concrete_fields if f.attname == last), None)


def ordering(queryset: QuerySet) -> list[Key]:
    """The queryset's ordering as keys, its primary key appended as the tie-break;
    CursorNotSupported when it cannot be keyset-paged (an expression, a nullable column, rows
    that are not model instances)."""
    query = queryset.query
    names = list(query.order_by) or (
        list(queryset.model._meta.ordering) if query.default_ordering else []
    )
    if not issubclass(queryset._iterable_class, ModelIterable):
        raise CursorNotSupported()
    keys = []
    for name in names:
        if not isinstance(name, str) or name.lstrip("-") in ("?", ""):
            raise CursorNotSupported()
        path = name.lstrip("-")
        field = _resolve(queryset.model, path)
        if field is None or not field.concrete or field.null or field.many_to_many:
            raise CursorNotSupported()
        keys.append(Key(path, field, name.startswith("-")))
    if not any(key.field.primary_key and "__" not in key.path for key in keys):
        keys.append(Key("pk", queryset.model._meta.pk, keys[-1].descending if keys else False))
    return keys


def encode(keys: list[Key], row) -> str:
    values = [key.field.to_python(key.value(row)) for key in keys]
    values = [v.isoformat() if hasattr(v, "isoformat") else v for v in values]
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(keys: list[Key], token: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _bad_cursor() from None
    if not isinstance(values, list) or len(values) != len(keys):
        raise _bad_cursor()
    try:
        return [key.field.to_python(v) for key, v in zip(keys, values, strict=True)]
    except (ValidationError, TypeError, ValueError):
        raise _bad_cursor() from None


def after(queryset: QuerySet, token: str) -> tuple[QuerySet, list[Key]]:
    """The queryset ordered by its keys, from after the row `token` names (from the start when
    `token` is empty)."""
    keys = ordering(queryset)
    ordered = queryset.order_by(*[("-" if k.descending else "") + k.path for k in keys])
    if not token:
        return ordered, keys
    values = _decode(keys, token)
    # (a, b, id) after (x, y, z): a > x, or a = x and b > y, or a = x and b = y and id > z
    # (< for a descending key).
    condition = Q()
    for i, key in enumerate(keys):
        step = Q(**{k.path: v for k, v in zip(keys[:i], values[:i], strict=True)})
        step &= Q(**{f"{key.path}__{'lt' if key.descending else 'gt'}": values[i]})
        condition |= step
    return ordered.filter(condition), keys
