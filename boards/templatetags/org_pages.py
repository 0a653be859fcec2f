"""Template helpers of the organisation's pages: sparklines drawn on the server, the header's
search target, search highlights and durations people read at a glance."""

import re
from collections.abc import Sequence

from django import template
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.simple_tag
def sparkline(
    values: Sequence[int | float], width: int = 88, height: int = 22, label: str = ""
) -> SafeString:
    """A small inline SVG polyline of `values` (oldest first), scaled to the largest value,
    with a dot on the last point. All zero draws a flat line along the bottom."""
    values = [float(v or 0) for v in values] or [0.0]
    top = max(values) or 1.0
    pad = 2.0
    step = (width - 2 * pad) / max(len(values) - 1, 1)
    span = height - 2 * pad
    points = [(pad + i * step, height - pad - (v / top) * span) for i, v in enumerate(values)]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    last_x, last_y = points[-1]
    return format_html(
        '<svg class="sparkline" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" '
        'aria-label="{label}"><polyline points="{path}" fill="none" stroke="currentColor" '
        'stroke-width="1.5" stroke-linejoin="round" stroke-linecap="round"/>'
        '<circle cx="{x}" cy="{y}" r="2" fill="currentColor"/></svg>',
        w=width,
        h=height,
        label=label,
        path=path,
        x=f"{last_x:.1f}",
        y=f"{last_y:.1f}",
    )


@register.simple_tag(takes_context=True)
def header_search_org(context):
    """The organisation the header's search box searches: the page's own (an org page's
    `organization`, a board page's board's), else the signed-in user's first organisation
    (by name, as the home page lists them). One query, only on pages that name none."""
    organization = context.get("organization")
    if organization is not None:
        return organization
    board = context.get("board")
    if board is not None and getattr(board, "organization", None) is not None:
        return board.organization
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    from accounts.selectors import memberships_for_user

    membership = memberships_for_user(user).order_by("organization__name").first()
    return membership.organization if membership else None


@register.filter
def highlight(text: str, q: str) -> SafeString:
    """`text`, escaped, with the words of `q` wrapped in <mark> (case-insensitive). The matches
    are found in the raw text and each piece escaped on its own, so a word never splits an
    entity."""
    text = text or ""
    words = sorted(
        {w.strip('"').lstrip("-") for w in (q or "").split() if len(w.strip('"-')) > 1},
        key=len,
        reverse=True,
    )
    if not words:
        return escape(text)
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    parts, last = [], 0
    for match in pattern.finditer(text):
        parts.append(escape(text[last : match.start()]))
        parts.append(format_html("<mark>{}</mark>", match.group(0)))
        last = match.end()
    parts.append(escape(text[last:]))
    return mark_safe("".join(parts))  # every piece escaped above


@register.filter
def excerpt(text: str, q: str = "", length: int = 160) -> str:
    """About `length` characters of `text` on one line, around the first word of `q` found."""
    text = " ".join((text or "").split())
    if len(text) <= length:
        return text
    start = 0
    lowered = text.lower()
    for word in (q or "").split():
        found = lowered.find(word.strip('"').lstrip("-").lower())
        if found > 0:
            start = max(0, found - length // 3)
            break
    piece = text[start : start + length].strip()
    return ("…" if start else "") + piece + ("…" if start + length < len(text) else "")


@register.filter
def duration(days: float | None) -> str:
    """Days as people say them: "40 min", "5 h", "1.5 days", "12 days"."""
    if days is None:
        return "\u2013"  # an en dash: no figure
    hours = days * 24
    if hours < 1:
        return f"{max(int(hours * 60), 1)} min"
    if days < 1:
        return f"{round(hours)} h"
    if days < 10:
        return f"{days:.1f} days"
    return f"{round(days)} days"
