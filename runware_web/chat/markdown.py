"""Safe Markdown for model replies: no raw HTML from a model ever reaches the page.

Two layers: markdown-it-py renders CommonMark with raw HTML turned off (so `<img onerror=…>` in a
reply becomes visible text), then nh3 (ammonia) keeps only an allow-list of tags and attributes,
lets links point only at http, https and mailto, and marks them noopener noreferrer nofollow.
Images are not rendered: a reply must not make the browser fetch arbitrary URLs.

Fenced code is highlighted on the server by Pygments (token classes only, styled by
static/css/highlight.css) and gets a "Copy code" button. Both are added by this module, never by
the model: raw HTML is off, so the only `class` attributes and buttons in the result are ours.
"""

from __future__ import annotations

import re

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from pygments import highlight as pygments_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

_formatter = HtmlFormatter(nowrap=True)
_LANGUAGE = re.compile(r"^[\w+#.-]{1,40}$")


def _highlight(code: str, language: str, _attrs: str) -> str:
    """Token spans for a fenced block in a language Pygments knows; "" leaves it to markdown-it."""
    if not language or not _LANGUAGE.match(language):
        return ""
    try:
        lexer = get_lexer_by_name(language, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return ""
    return pygments_highlight(code, lexer, _formatter)


_md = (
    MarkdownIt("commonmark", {"html": False, "linkify": False, "highlight": _highlight})
    .enable(["table", "strikethrough"])
    .disable("image")
)

ALLOWED_TAGS = {
    "p", "br", "hr", "em", "strong", "del", "s", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td", "span",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}, "span": {"class"}, "code": {"class"},
}
URL_SCHEMES = {"http", "https", "mailto"}

_COPY_BUTTON = '<div class="code-block"><button type="button" class="btn btn-small copy-code" data-copy-code>Copy code</button><pre>'


def render_markdown(text: str) -> SafeString:
    """HTML for a reply (complete or still streaming); safe to put in a page as is."""
    html = _md.render(text or "")
    cleaned = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
    # nh3's output has no raw <pre> of the model's (raw HTML is escaped before it), so every <pre>
    # here is a code block of ours: give each a copy button.
    with_buttons = cleaned.replace("<pre>", _COPY_BUTTON).replace("</pre>", "</pre></div>")
    return mark_safe(with_buttons)  # noqa: S308 - sanitised by nh3 just above


def highlight_styles() -> str:
    """The token colours, light and dark (`manage.py shell -c` writes static/css/highlight.css from this)."""
    light = HtmlFormatter(style="default").get_style_defs(".markdown pre")
    dark = HtmlFormatter(style="monokai").get_style_defs(".markdown pre")
    return f"{light}\n@media (prefers-color-scheme: dark) {{\n{dark}\n}}\n"

