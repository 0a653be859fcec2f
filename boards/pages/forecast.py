"""The board's forecast page (/boards/{id}/forecast/): the forecast's form, answered by
static/js/forecast.js through the API (GET /api/v1/boards/{id}/forecast/ and its backtest), and,
rendered here, the service levels of each class of service, the cards at risk of breaching them
and blocked time by cause. Read only, for everyone in the organisation."""

from datetime import UTC, timedelta

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.authentication import AuthedHttpRequest
from boards.flow import forecast, metrics, service_levels
from boards.models import ClassOfService
from boards.pages.lookups import board_or_404

CUSTOMERS_SHOWN = 200  # the customer filter's suggestions


@login_required
@require_GET
def forecast_page(request: AuthedHttpRequest, board_id: int) -> HttpResponse:
    board = board_or_404(request, board_id)
    now = timezone.now()
    today = now.astimezone(UTC).date()
    levels = service_levels.board_service_levels(board, now)
    labels = dict(ClassOfService.choices)
    window = metrics.default_window(now)
    customers = list(
        board.cards.exclude(customer="")
        .order_by("customer")
        .values_list("customer", flat=True)
        .distinct()[:CUSTOMERS_SHOWN]
    )
    return render(
        request,
        "boards/forecast.html",
        {
            "board": board,
            "today": today.isoformat(),
            "default_by": (today + timedelta(days=forecast.DEFAULT_HORIZON_DAYS - 1)).isoformat(),
            "max_by": (today + timedelta(days=forecast.MAX_HORIZON_DAYS - 1)).isoformat(),
            "earliest_from": (today - timedelta(days=forecast.MAX_HISTORY_DAYS)).isoformat(),
            "yesterday": (today - timedelta(days=1)).isoformat(),
            "max_cards": forecast.MAX_CARDS,
            "trials": forecast.TRIALS,
            "history_days": forecast.DEFAULT_HISTORY_DAYS,
            "classes": ClassOfService.choices,
            "customers": customers,
            "levels": [{**lv, "label": labels[lv["class_of_service"]]} for lv in levels],
            "at_risk_percent": round(service_levels.AT_RISK_FRACTION * 100),
            "at_risk": [
                {**c, "label": labels[c["class_of_service"]]}
                for c in service_levels.cards_at_risk(
                    board, now, service_levels.sle_by_class(levels)
                )
            ],
            "window": window,
            "causes": service_levels.blocker_causes(board, window, now),
        },
    )
