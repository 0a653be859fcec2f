class _Unset:
    """The default of a keyword argument that the caller did not give: services change only
    the fields they are given, and None is a value (e.g. "no WIP limit")."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET = _Unset()
