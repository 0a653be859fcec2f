"""HTML pages. They read through the same selectors as the API and write through no path of
their own: the page's scripts call the REST API."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from accounts.selectors import memberships_for_user
from boards import selectors
from kanban.exceptions import NotFound


@login_required
def home(request):
    memberships = list(memberships_for_user(request.user).order_by("organization__name"))
    boards = list(selectors.boards_for_user(request.user))
    organizations = [
        {
            "organization": m.organization,
            "role": m.role,
            "boards": [b for b in boards if b.organization_id == m.organization_id],
        }
        for m in memberships
    ]
    return render(request, "boards/home.html", {"organizations": organizations})


@login_required
def board_page(request, board_id: int):
    try:
        board = selectors.get_board_for_user(request.user, board_id)
    except NotFound as exc:
        raise Http404("Board not found") from exc
    snapshot = selectors.board_snapshot(board)
    access = selectors.access_of(board)
    cards_by_cell: dict[tuple[int, int], list] = {}
    for card in snapshot["cards"]:
        cards_by_cell.setdefault((card["column"], card["swimlane"]), []).append(card)
    people = {p["id"]: p for p in snapshot["people"]}
    labels = {label["id"]: label for label in snapshot["labels"]}
    lanes = [
        {
            "swimlane": lane,
            "cells": [
                {
                    "column": column,
                    "cards": [
                        {
                            **card,
                            "people": [people[i] for i in card["assignees"] if i in people],
                            "label_objs": [labels[i] for i in card["labels"] if i in labels],
                        }
                        for card in cards_by_cell.get((column["id"], lane["id"]), [])
                    ],
                }
                for column in snapshot["columns"]
            ],
        }
        for lane in snapshot["swimlanes"]
    ]
    return render(
        request,
        "boards/board.html",
        {"board": board, "snapshot": snapshot, "lanes": lanes, "can_write": access.can_write},
    )
