"""The improvements page (/boards/{id}/improvements/): a board's kaizen experiments with their
before/after tables and XmR verdicts, and plain forms (no script needed) to write one down,
start it and review it, through the same services as the API (post/redirect/get; a refusal
comes back as the page with its sentence and its status, nothing changed)."""

import json
from datetime import date
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.authentication import AuthedHttpRequest
from boards.kaizen import measures, selectors, services
from boards.models import Board, ClassOfService, Improvement, ImprovementMetric
from boards.pages.forms import first_error
from boards.pages.lookups import board_or_404
from boards.selectors.access import access_of
from kanban.exceptions import DomainError, NotFound

# The table's rows: (label, key of Figures, how to show it).
ROWS = [
    ("Lead time p50", "lead_time_p50", "days"),
    ("Lead time p85", "lead_time_p85", "days"),
    ("Cycle time p50", "cycle_time_p50", "days"),
    ("Cycle time p85", "cycle_time_p85", "days"),
    ("Throughput", "throughput_per_week", "a week"),
    ("Flow efficiency", "flow_efficiency", "%"),
    ("Blocked", "blocked_days", "days"),
    ("Cards finished", "finished", ""),
]
# Which key of Figures each target metric is (bold in the table).
TARGET_ROWS = {
    ImprovementMetric.LEAD_TIME: "lead_time_p50",
    ImprovementMetric.CYCLE_TIME: "cycle_time_p50",
    ImprovementMetric.THROUGHPUT: "throughput_per_week",
    ImprovementMetric.FLOW_EFFICIENCY: "flow_efficiency",
    ImprovementMetric.BLOCKED_TIME: "blocked_days",
}


class ImprovementForm(forms.Form):
    title = forms.CharField(max_length=200)
    hypothesis = forms.CharField(max_length=2000, required=False)
    target_metric = forms.ChoiceField(choices=ImprovementMetric.choices, label="Target metric")
    review_on = forms.DateField(label="Review on")
    baseline_weeks = forms.IntegerField(
        min_value=2, max_value=26, initial=6, label="Baseline weeks"
    )
    scope_class_of_service = forms.TypedChoiceField(
        choices=[("", "The whole board"), *ClassOfService.choices],
        required=False,
        empty_value=None,
        label="Scope",
    )


def _improvement(request: AuthedHttpRequest, board_id: int, improvement_id: int) -> Improvement:
    try:
        return selectors.get_improvement_for_user(request.user, board_id, improvement_id)
    except NotFound as exc:
        raise Http404("Improvement not found") from exc


def _show(value: Any, unit: str) -> str:
    if value is None:
        return "\u2013"  # an en dash, as the metrics page shows a missing figure
    if unit == "%":
        return f"{value * 100:.0f} %"
    if unit == "":
        return str(value)
    return f"{value:.1f} {unit}"


def _table(improvement: Improvement) -> list[dict[str, Any]]:
    before = (improvement.baseline or {}).get("figures") or {}
    after = (improvement.result or {}).get("figures") or {}
    target = TARGET_ROWS[ImprovementMetric(improvement.target_metric)]
    return [
        {
            "label": label,
            "before": _show(before.get(key), unit),
            "after": _show(after.get(key), unit) if after else "",
            "target": key == target,
        }
        for label, key, unit in ROWS
    ]


def _chart(improvement: Improvement, check: dict[str, Any] | None) -> str:
    """The XmR chart's data (js/kaizen/xmr.js): the target metric's weekly values before and
    after the start, the centre line and the limits; empty until a review set limits."""
    if not check or check.get("centre") is None:
        return ""
    metric = improvement.target_metric

    def points(weeks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"start": w["start"], "value": w[metric]} for w in weeks]

    return json.dumps(
        {
            "label": ImprovementMetric(metric).label,
            "unit": measures.UNITS[metric],
            "percent": metric == ImprovementMetric.FLOW_EFFICIENCY,
            "before": points((improvement.baseline or {}).get("weeks", [])),
            "after": points((improvement.result or {}).get("weeks", [])),
            "outside": check["outside"],
            "centre": check["centre"],
            "lower": check["lower_limit"],
            "upper": check["upper_limit"],
        }
    )


def _card(improvement: Improvement) -> dict[str, Any]:
    result = improvement.result or {}
    check = (result.get("checks") or {}).get(improvement.target_metric)
    limits = ""
    if check and check.get("centre") is not None:
        metric = improvement.target_metric

        def show(key: str) -> str:
            return measures.fmt_value(metric, check[key])

        weeks = check["baseline_points"]
        limits = (
            f"Centre line {show('centre')}; natural process limits {show('lower_limit')} to "
            f"{show('upper_limit')} (mean moving range {show('mean_moving_range')}, from "
            f"{weeks} baseline week{'s' if weeks != 1 else ''})."
        )
    return {
        "item": improvement,
        "limits": limits,
        "chart": _chart(improvement, check),
        "table": _table(improvement),
        "before": (improvement.baseline or {}).get("figures"),
        "after": result.get("figures"),
        "check": check,
        "weeks": {
            "before": (improvement.baseline or {}).get("weeks", []),
            "after": result.get("weeks", []),
        },
    }


def _render(request, board: Board, form: ImprovementForm, status: int = 200) -> HttpResponse:
    cards = [_card(i) for i in selectors.improvements_of(board)]
    return render(
        request,
        "boards/improvements.html",
        {
            "board": board,
            "can_write": access_of(board).can_write,
            "role": board.access_role,  # type: ignore[attr-defined]  # get_board_for_user's
            "improvements": cards,
            "form": form,
            "metrics": ImprovementMetric.choices,
            "classes": ClassOfService.choices,
            "today": timezone.now().date().isoformat(),
        },
        status=status,
    )


@login_required
@require_GET
def improvements_page(request: AuthedHttpRequest, board_id: int) -> HttpResponse:
    board = board_or_404(request, board_id)
    review = timezone.now().date() + 4 * measures.WEEK
    return _render(request, board, ImprovementForm(initial={"review_on": review.isoformat()}))


@login_required
@require_POST
def create_action(request: AuthedHttpRequest, board_id: int) -> HttpResponse:
    board = board_or_404(request, board_id)
    form = ImprovementForm(request.POST)
    if not form.is_valid():
        messages.error(request, first_error(form))
        return _render(request, board, form, status=400)
    try:
        improvement = services.create_improvement(board, **form.cleaned_data, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.detail)
        return _render(request, board, form, status=exc.status)
    messages.success(
        request, f"“{improvement.title}” is written down: start it on the day of the change."
    )
    return redirect("board-improvements", board_id=board.pk)


@login_required
@require_POST
def start_action(request: AuthedHttpRequest, board_id: int, improvement_id: int) -> HttpResponse:
    improvement = _improvement(request, board_id, improvement_id)
    raw = request.POST.get("started_on", "")
    try:
        started_on = date.fromisoformat(raw) if raw else None
    except ValueError:
        messages.error(request, "Start on: pick a day (YYYY-MM-DD).")
        return _render(request, improvement.board, ImprovementForm(), status=400)
    try:
        services.start_improvement(improvement, started_on=started_on, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.detail)
        return _render(request, improvement.board, ImprovementForm(), status=exc.status)
    messages.success(request, f"“{improvement.title}” started: its baseline is captured.")
    return redirect("board-improvements", board_id=board_id)


@login_required
@require_POST
def review_action(request: AuthedHttpRequest, board_id: int, improvement_id: int) -> HttpResponse:
    improvement = _improvement(request, board_id, improvement_id)
    try:
        services.review_improvement(improvement, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.detail)
        return _render(request, improvement.board, ImprovementForm(), status=exc.status)
    messages.success(request, f"“{improvement.title}” reviewed.")
    return redirect(f"/boards/{board_id}/improvements/#improvement-{improvement_id}")
