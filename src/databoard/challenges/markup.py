"""Markdown written by organizers (a problem's README, an event's description) as safe HTML.

The text is converted with Python-Markdown, then every tag, attribute and URL scheme not on the lists
below is removed by nh3 (raw HTML in the Markdown included), so a page never runs the author's script.
Templates show it with the ``markdown`` filter of ``challenges_tags``; never ``|safe`` on raw text.
"""

from __future__ import annotations

import re

import markdown as _markdown
import nh3
from django.utils.safestring import SafeString, mark_safe

MAX_CHARS = 1_000_000  # a README is cut there (the import keeps at most this much)

TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "details", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q",
    "s", "samp", "small", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th",
    "thead", "tr", "ul", "var",
}
ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "code": {"class"},
    "img": {"src", "alt", "title", "width", "height"},
    "ol": {"start"},
    "td": {"align", "colspan", "rowspan"},
    "th": {"align", "colspan", "rowspan", "scope"},
}
URL_SCHEMES = {"http", "https", "mailto"}
_LANGUAGE_CLASS = re.compile(r"^language-[A-Za-z0-9_+-]{1,30}$")
_EXTENSIONS = ["tables", "fenced_code", "sane_lists", "def_list", "abbr"]


def _keep_attribute(tag: str, attribute: str, value: str) -> str | None:
    # Fenced code blocks say their language as ``class="language-python"``; no other class is kept.
    if attribute == "class":
        return value if tag == "code" and _LANGUAGE_CLASS.match(value) else None
    return value


def render_markdown(text: str | None) -> SafeString:
    """``text`` (Markdown, possibly holding HTML) as sanitized HTML, safe to put in a page."""
    if not text:
        return mark_safe("")
    html = _markdown.markdown(str(text)[:MAX_CHARS], extensions=_EXTENSIONS, output_format="html")
    cleaned = nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, attribute_filter=_keep_attribute,
                        url_schemes=URL_SCHEMES, link_rel="noopener noreferrer nofollow",
                        clean_content_tags={"script", "style"})
    return mark_safe(cleaned)  # noqa: S308 — sanitized by nh3 just above
