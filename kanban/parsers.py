"""The one JSON parser of the REST API (DEFAULT_PARSER_CLASSES; the Trello import's parser is
a subclass with a larger body limit).

Beyond decoding, it refuses what would otherwise turn into a 500 further in: a body nested
deeper than MAX_DEPTH (Python's decoder recurses, and so would every serializer and renderer
after it), and strings or keys holding a NUL (Postgres refuses it in text) or a lone surrogate
(which cannot be encoded, into the database or back into a response), and integers outside
Postgres' bigint (an id or a position that large would fail in the statement). One iterative
walk over the decoded value checks them all, so no input can make it recurse."""

import codecs
import json
import re
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import BaseParser
from rest_framework.renderers import JSONRenderer

from kanban.exceptions import PayloadTooLarge

MAX_DEPTH = 32  # arrays and objects within each other; the deepest body we take is ~6
# Postgres' bigint: a larger integer reaching a statement (an id, a position) is a DataError.
INT_RANGE = (-(2**63), 2**63 - 1)
_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a JSON value")


def _problem(text: str) -> str:
    """Why a string cannot be stored, in the words DRF's CharField uses for the same."""
    found = _FORBIDDEN.search(text)
    assert found is not None, "called for a string _FORBIDDEN matched"
    char = found.group()
    if char == "\x00":
        return "Null characters are not allowed."
    return f"Surrogate characters are not allowed: U+{ord(char):X}."


def _label(path: tuple[str | int, ...]) -> str:
    """`board.lists[3].name`: where a value sits in the body (keys on a path are clean)."""
    label = ""
    for part in path:
        label += f"[{part}]" if isinstance(part, int) else f".{part}" if label else part
    return label or "non_field_errors"


def check_value(value: Any) -> None:
    """Raise ParseError if `value` nests deeper than MAX_DEPTH, ValidationError naming the path
    of the first string or key holding a NUL or a lone surrogate, or of an integer outside
    INT_RANGE. Iterative: no recursion."""
    stack: list[tuple[Any, int, tuple[str | int, ...]]] = [(value, 0, ())]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, str):
            if _FORBIDDEN.search(item):
                raise ValidationError({_label(path): [_problem(item)]})
            continue
        if isinstance(item, int) and not INT_RANGE[0] <= item <= INT_RANGE[1]:
            # Named by its top-level field, as DRF names an error inside a list field.
            raise ValidationError(
                {
                    _label(path[:1]): [
                        f"Ensure this value is between {INT_RANGE[0]} and {INT_RANGE[1]}."
                    ]
                }
            )
        children: Iterable[tuple[Any, Any]]
        if isinstance(item, dict):
            children = item.items()
        elif isinstance(item, list):
            children = enumerate(item)
        else:
            continue
        if depth == MAX_DEPTH:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.")
        for key, child in children:
            if isinstance(key, str) and _FORBIDDEN.search(key):
                raise ValidationError({_label(path): [f"A key: {_problem(key)}"]})
            stack.append((child, depth + 1, (*path, key)))


class JSONParser(BaseParser):
    """JSON bodies, strict (no NaN or Infinity), at most `max_bytes()` long, checked by
    check_value.

    Not a subclass of DRF's JSONParser on purpose: DRF hands those `request.body`, which Django
    checks against DATA_UPLOAD_MAX_MEMORY_SIZE, and so no subclass could take a larger body.
    This reads the stream itself, at most one byte past its own limit."""

    media_type = "application/json"
    renderer_class = JSONRenderer

    def max_bytes(self) -> int | None:
        return settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    def parse(self, stream, media_type=None, parser_context=None):
        limit = self.max_bytes()
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise PayloadTooLarge(f"The request body is larger than the limit of {limit} bytes.")
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        try:
            # str.encode refuses codecs that are not text encodings (bz2_codec and the like,
            # which would inflate a small body past every limit).
            "".encode(encoding)
            text = codecs.decode(raw, encoding)
        except (LookupError, UnicodeError, ValueError) as exc:
            raise ParseError("JSON parse error - the body is not text in its charset.") from exc
        try:
            value = json.loads(text, parse_constant=_reject_constant)
        except RecursionError as exc:
            # The decoder recurses per level: far past MAX_DEPTH it stops here, not in the walk.
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.") from exc
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        check_value(value)
        return value
