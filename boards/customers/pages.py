"""The customer pages: /o/{slug}/customers/ (every customer with open and finished counts)
and /o/{slug}/customers/<name>/ (the customer's cards by board and stage). Read only, for
every member of the organisation; another organisation's slug answers 404."""

from itertools import groupby

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.authentication import AuthedHttpRequest
from boards.customers import selectors
from boards.models import Stage
from boards.pages.lookups import org_or_404

# A page shows this many cards of a customer at most (the API pages through all of them).
PAGE_CARDS = 1000
STAGE_HEADINGS = {
    Stage.BACKLOG: "Backlog",
    Stage.WAIT: "Waiting",
    Stage.ACTIVE: "In progress",
    Stage.DONE: "Done",
}


@login_required
@require_GET
def customers_page(request: AuthedHttpRequest, slug: str) -> HttpResponse:
    organization, access = org_or_404(request, slug)
    rows = [selectors.summary_dict(r) for r in selectors.customers_of(organization, request.user)]
    return render(
        request,
        "boards/org_customers.html",
        {"organization": organization, "role": access.role, "tab": "customers", "customers": rows},
    )


@login_required
@require_GET
def customer_page(request: AuthedHttpRequest, slug: str, name: str) -> HttpResponse:
    organization, access = org_or_404(request, slug)
    now = timezone.now()
    cards = [
        selectors.card_dict(c, now=now)
        for c in selectors.cards_of_customer(organization, request.user, name)[: PAGE_CARDS + 1]
    ]
    context = {"organization": organization, "role": access.role, "tab": "customers"}
    if not cards:
        return render(
            request,
            "boards/org_customer.html",
            {**context, "name": name.strip(), "missing": True},
            status=404,
        )
    truncated = len(cards) > PAGE_CARDS
    cards = cards[:PAGE_CARDS]
    boards = []
    for (board_id, board_name), group in groupby(
        cards, key=lambda c: (c["board"], c["board_name"])
    ):
        on_board = list(group)
        stages = [
            {"stage": stage, "heading": STAGE_HEADINGS[Stage(stage)], "cards": list(in_stage)}
            for stage, in_stage in groupby(on_board, key=lambda c: c["stage"])
        ]
        boards.append(
            {"id": board_id, "name": board_name, "stages": stages, "count": len(on_board)}
        )
    finished = [c["lead_time_days"] for c in cards if c["lead_time_days"] is not None]
    return render(
        request,
        "boards/org_customer.html",
        {
            **context,
            "name": name.strip(),
            "boards": boards,
            "total": len(cards),
            "open": sum(1 for c in cards if c["finished_at"] is None),
            "finished": len(finished),
            "blocked": sum(1 for c in cards if c["blocked"]),
            "ageing": sum(1 for c in cards if c["ageing"]),
            "truncated": truncated,
            "page_cards": PAGE_CARDS,
        },
    )
