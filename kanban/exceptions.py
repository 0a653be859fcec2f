"""Domain errors. Each carries a machine `code` and an HTTP status; kanban.api maps them to JSON
once, so services raise meaning and never build responses."""

from typing import Any


class DomainError(Exception):
    code = "error"
    status = 400
    default_detail = "The request could not be completed."

    def __init__(
        self,
        detail: str | None = None,
        *,
        fields: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ):
        self.detail = detail or self.default_detail
        self.fields = fields or {}
        # More keys of the error's body, beside code, detail and fields (a stale write's
        # current card and the changes it missed).
        self.extra = extra or {}
        super().__init__(self.detail)


class InvalidInput(DomainError):
    code = "invalid"
    status = 400
    default_detail = "The request is not valid."


class NotFound(DomainError):
    code = "not_found"
    status = 404
    default_detail = "Not found."


class Forbidden(DomainError):
    code = "permission_denied"
    status = 403
    default_detail = "You do not have permission to do this."


class Conflict(DomainError):
    code = "conflict"
    status = 409
    default_detail = "The request conflicts with the current state."


class WipLimitExceeded(Conflict):
    code = "wip_limit_exceeded"
    default_detail = "The column is at its hard WIP limit."


class StaleVersion(Conflict):
    """A write made from a version of the card that is no longer the current one: 409 for a
    `version` in the body, 412 for an If-Match header (the view sets `status`)."""

    code = "version_conflict"
    default_detail = "The card changed since it was loaded."


class InvitationNotValid(NotFound):
    # One answer for a key that never existed, expired, was used or was revoked: which it was
    # is nobody's business but the inviter's.
    code = "invitation_not_valid"
    default_detail = "This invitation is not valid (expired, used or revoked)."


class PayloadTooLarge(DomainError):
    code = "payload_too_large"
    status = 413
    default_detail = "The request body is too large."


class WaitCycle(InvalidInput):
    code = "wait_cycle"
    default_detail = "That would make a cycle of waits."


class StillWaiting(Conflict):
    # The board's rule "no done while a wait is open" (Board.no_done_while_waiting).
    code = "still_waiting"
    default_detail = "The card still waits on another card."
