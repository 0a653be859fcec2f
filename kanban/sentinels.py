import enum
from typing import Final


class Unset(enum.Enum):
    """The default of a keyword argument that the caller did not give: services change only
    the fields they are given, and None is a value (e.g. "no WIP limit"). An enum of one
    member, so that `x is UNSET` narrows `str | Unset` to `str` for the type checker."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset.UNSET
