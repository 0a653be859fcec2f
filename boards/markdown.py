"""Markdown to safe HTML, for card descriptions and comments.

The parser is markdown-it-py (CommonMark): Python-Markdown backtracks on unclosed brackets, and
a description of 20,000 `[` took ~40 s to render (bench/markdown_render.py). markdown-it-py
renders the worst inputs we know of at the size limit in under half a second, and the services
render before taking any lock, so a slow text costs its own request and nobody else's. Raw HTML
in the source is escaped by the parser; nh3 then keeps only the tags below.
"""

import nh3
from markdown_it import MarkdownIt

# The longest texts accepted (the API's serializers, the services and the Trello import agree).
DESCRIPTION_MAX = 20_000
COMMENT_MAX = 10_000

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}

# Nesting deeper than this (quotes in lists in quotes...) is rendered as text: it bounds the
# parser's recursion, and no card needs more.
_MAX_NESTING = 20
_parser = MarkdownIt("commonmark", {"html": False, "maxNesting": _MAX_NESTING}).enable(
    ["table", "strikethrough"]
)


def render_markdown(text: str) -> str:
    """Markdown to HTML that is safe to put in a page: raw HTML in the source is escaped, links
    get rel="noopener noreferrer", scripts and event handlers never survive. Callers bound the
    text's length (DESCRIPTION_MAX, COMMENT_MAX) and call this before taking any row lock."""
    if not text:
        return ""
    html = _parser.render(text)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title"}, "abbr": {"title"}, "code": {"class"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    ).strip()
