"""Card search: every filter of GET /api/v1/cards/, and full-text search."""

from django.db import connection
from django.db.models import (
    Case,
    Exists,
    ExpressionWrapper,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import Combinable

from accounts.models import Membership, User
from boards.models import (
    Card,
    Comment,
)

# --- card search and history -----------------------------------------------------------------


def search_cards(
    user: User,
    *,
    org: str | None = None,
    board: int | None = None,
    column: int | None = None,
    assignee: int | None = None,
    label: int | None = None,
    blocked: bool | None = None,
    q: str | None = None,
    include_archived: bool = False,
    archived: bool | None = None,
) -> QuerySet[Card]:
    """Cards of the user's organisations matching every given filter (`org`: one of them, by
    slug). With `q`, best matches first (see text_search_postgres). Live cards only, unless
    `include_archived` (both) or `archived` (True: the archived ones, the latest first)."""
    cards = Card.objects.filter(
        Exists(
            Membership.objects.filter(
                user_id=user.pk, organization_id=OuterRef("board__organization_id")
            )
        )
    )
    if archived is not None:
        cards = cards.filter(archived=archived)
    elif not include_archived:
        cards = cards.filter(archived=False)
    if org is not None:
        cards = cards.filter(board__organization__slug=org)
    if board is not None:
        cards = cards.filter(board_id=board)
    if column is not None:
        cards = cards.filter(column_id=column)
    if assignee is not None:
        cards = cards.filter(
            Exists(Card.assignees.through.objects.filter(card_id=OuterRef("pk"), user_id=assignee))
        )
    if label is not None:
        cards = cards.filter(
            Exists(Card.labels.through.objects.filter(card_id=OuterRef("pk"), label_id=label))
        )
    if blocked is not None:
        cards = cards.filter(blocked=blocked)
    order: tuple[str, ...] = ("board_id", "column__position", "swimlane__position", "rank", "id")
    if archived:
        order = ("board_id", "-archived_at", "-id")  # what went last comes first
    if q:
        cards = _text_search(cards, q)
        order = ("-search_rank", *order)
    return cards.order_by(*order)


def _text_search(cards: QuerySet[Card], q: str) -> QuerySet[Card]:
    if connection.vendor == "postgresql":
        return text_search_postgres(cards, q)
    return text_search_fallback(cards, q)


def card_search_vector():
    """A card's search document: its title (weight A) and description (weight B).

    The GIN index card_search_gin (migration 0004) is built on exactly this expression, and so
    is comment_search_gin on comment_search_vector(): change one, change the other."""
    from django.contrib.postgres.search import SearchVector

    return SearchVector("title", weight="A", config="english") + SearchVector(
        "description", weight="B", config="english"
    )


def comment_search_vector():
    from django.contrib.postgres.search import SearchVector

    return SearchVector("body", config="english")


def text_search_postgres(cards: QuerySet[Card], q: str) -> QuerySet[Card]:
    """Cards whose title or description, or one of whose comments, matches `q` in Postgres
    full-text search (websearch syntax: words, "a phrase", or, -word), plus titles containing
    `q` as typed (a part of a word, a ticket number). Annotated with `search_rank`: matches in
    the title weigh more than in the description; a match in comments only ranks 0.

    The matching ids come from the two GIN indexes (uncorrelated subqueries, computed once),
    not from a to_tsvector per card."""
    from django.contrib.postgres.search import SearchQuery, SearchRank

    query = SearchQuery(q, search_type="websearch", config="english")
    vector = card_search_vector()
    by_card = Card.objects.annotate(v=vector).filter(v=query).order_by().values("pk")
    by_comment = (
        Comment.objects.annotate(v=comment_search_vector())
        .filter(v=query)
        .order_by()
        .values("card_id")
    )
    matches = Q(pk__in=by_card) | Q(pk__in=by_comment) | Q(title__icontains=q)
    return cards.filter(matches).annotate(search_rank=SearchRank(vector, query))


def text_search_fallback(cards: QuerySet[Card], q: str) -> QuerySet[Card]:
    """The search of the embedded default (SQLite has no full-text search): every word of `q`
    in the title, description or a comment, ignoring case. Annotated with `search_rank`: two
    points a word found in the title, one a word found in the description."""
    words = [w for w in (part.strip('"').lstrip("-") for part in q.split()) if w] or [q]
    rank: Combinable = Value(0.0)
    for word in words:
        in_comment = Exists(Comment.objects.filter(card_id=OuterRef("pk"), body__icontains=word))
        cards = cards.filter(Q(title__icontains=word) | Q(description__icontains=word) | in_comment)
        rank = (
            rank
            + Case(When(title__icontains=word, then=Value(2.0)), default=Value(0.0))
            + Case(When(description__icontains=word, then=Value(1.0)), default=Value(0.0))
        )
    return cards.annotate(search_rank=ExpressionWrapper(rank, output_field=FloatField()))
