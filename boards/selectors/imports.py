"""Import jobs, and who may import."""

from typing import Any

from django.db.models import (
    Exists,
    OuterRef,
    QuerySet,
)
from django.urls import reverse

from accounts.models import Membership, Organization, Role, Team, User
from accounts.selectors import Access
from boards.live.events import actor_dict
from boards.models import (
    ImportJob,
)
from boards.selectors.cards import _iso
from kanban.exceptions import NotFound

# --- import jobs -----------------------------------------------------------------------------


def _import_jobs() -> QuerySet[ImportJob]:
    # Never the export: a job's file is up to 20 MB, and its progress is read every second.
    return ImportJob.objects.defer("export").select_related("organization", "team", "created_by")


def get_import_job_for_user(user: User, job_id: int) -> ImportJob:
    """The job if it belongs to one of the user's organisations (every member reads them all,
    as they read every board), else NotFound."""
    if not user.is_authenticated:
        raise NotFound("Import not found.")
    member = Membership.objects.filter(user_id=user.pk, organization_id=OuterRef("organization_id"))
    job = _import_jobs().filter(Exists(member.order_by()), pk=job_id).first()
    if job is None:
        raise NotFound("Import not found.")
    return job


def import_jobs_of_organization(organization: Organization) -> QuerySet[ImportJob]:
    """The organisation's import jobs, newest first (the caller checked membership)."""
    return _import_jobs().filter(organization=organization).order_by("-created_at", "-id")


def teams_for_new_board(user: User, organization: Organization, access: Access) -> QuerySet[Team]:
    """The teams of the organisation that the user may create a board for (the import page's
    choice): every team for an owner or admin, their own teams for a member, none for a
    viewer. create_board checks the same rule (ensure_can_write)."""
    teams = Team.objects.filter(organization=organization).order_by("name", "id")
    if access.is_manager:
        return teams
    if access.role != Role.MEMBER:
        return teams.none()
    return teams.filter(team_memberships__user_id=user.pk)


def may_create_boards(user: User, organization: Organization, access: Access) -> bool:
    """Whether teams_for_new_board has a team (no query for an owner or admin)."""
    return access.is_manager or teams_for_new_board(user, organization, access).exists()


def import_job_dict(job: ImportJob) -> dict[str, Any]:
    return {
        "id": job.pk,
        "url": reverse("api-import", args=[job.pk]),
        "page": reverse("org-import-job", args=[job.organization.slug, job.pk]),
        "organization": job.organization.slug,
        "team": job.team_id,
        "team_name": job.team.name,
        "name": job.name,
        "status": job.status,
        "progress": {"done": job.done, "total": job.total},
        "board": job.board_id,
        "board_url": reverse("board", args=[job.board_id]) if job.board_id else None,
        "counts": job.counts or None,
        "error": job.error or None,
        "created_by": actor_dict(job.created_by),
        "created_at": job.created_at.isoformat(),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
    }
