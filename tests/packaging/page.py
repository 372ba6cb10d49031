"""A long description as the package index shows it: rendered by readme_renderer, PyPI's renderer.

PyPI renders a ``text/markdown`` description with readme_renderer's GFM variant (comrak since
readme_renderer 46, which pypi/warehouse took on 2026-09-14, pull request 20520): headings get ids
prefixed ``user-content-`` and in-page links ``#x`` become ``#user-content-x``. The page's links are the
``href`` of its anchors and the ``src`` of its images.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
LINK_ATTRIBUTE = re.compile(r'\b(href|src)="[^"]*"')


@dataclass
class Page:
    """A rendered description: its HTML, its link targets in order, and the ids its elements carry."""

    html: str
    links: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)

    @property
    def relative_links(self) -> list[str]:
        """Return the targets that resolve against the page's own address (on PyPI: pypi.org/project/...)."""
        return [link for link in self.links if not SCHEME.match(link) and not link.startswith(("#", "//"))]

    def without_link_targets(self) -> str:
        """Return the HTML with every href and src emptied: what the page says, whatever its links point at."""
        return LINK_ATTRIBUTE.sub(r'\1=""', self.html)


class _Collector(HTMLParser):
    def __init__(self, page: Page) -> None:
        super().__init__()
        self.page = page

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value is not None:
                self.page.links.append(value)
            elif name == "id" and value:
                self.page.ids.add(value)


def render_page(markdown: str) -> Page:
    """Render ``markdown`` as PyPI does; fail when readme_renderer's Markdown extra (comrak) is missing."""
    from readme_renderer.markdown import render, variants

    assert variants, "readme_renderer has no Markdown renderer: comrak (readme-renderer[md], the test extra) is not installed"
    html = render(markdown)
    assert html, "readme_renderer rendered nothing"
    page = Page(html)
    _Collector(page).feed(html)
    return page
