"""The long description: README.md with its relative links made absolute, for the package index's page.

PyPI shows the long description as the project's page, where a link such as ``docs/topology.md``
resolves against pypi.org and breaks. pyproject.toml declares ``readme`` dynamic and setuptools runs
this file for it: every relative link target of README.md (inline links and images, reference
definitions, ``href``/``src`` in HTML) becomes the file in the repository at the release's tag,
``{Source}/blob/v{version}/docs/topology.md`` (``raw`` for images, so the page shows them), with
``Source`` from pyproject's ``[project.urls]``. In-page anchors (``#...``) stay: PyPI's renderer gives
headings the same ids GitHub does. Code (fenced blocks, code spans) is left as written.

The repository's public address is set in ``[project.urls]`` before the first release (RELEASING.md);
until then the links stay relative, the build says so, and ``make release`` refuses to release.
The sdist carries this file and README.md, so the wheel built from it gets the same description.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent
# Where a hosting service shows a repository's file at a ref (a page), and serves its bytes (for images).
# GitHub's and GitLab's page URL of a folder redirects to the folder's listing, so folders need no case.
LAYOUTS = {"github.com": ("blob", "raw"), "gitlab.com": ("-/blob", "-/raw")}
IMAGE = re.compile(r"\.(png|jpe?g|gif|svg|webp)$", re.IGNORECASE)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
# a code span: a run of backticks, then anything up to a run of the same length (CommonMark 6.1)
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`).+?(?<!`)\1(?!`)")
INLINE = re.compile(r"(\]\(\s*<?)([^\s)>]+)")  # [text](target "title") and ![alt](<target>)
REFERENCE = re.compile(r"^( {0,3}\[[^\]]+\]:[ \t]*<?)([^\s>]+)")  # [label]: target
HTML_ATTR = re.compile(r"(\b(?:href|src)[ \t]*=[ \t]*[\"'])([^\"']+)")


def absolute_links(markdown: str, base: str, ref: str) -> str:
    """Return ``markdown`` with every relative link target made absolute under ``base`` at ``ref``.

    ``base`` is the repository's URL (``https://github.com/ORG/planner``), ``ref`` the tag the links
    name. Targets with a scheme, protocol-relative ones and in-page anchors are kept.
    """
    host = urlsplit(base).hostname or ""
    if host not in LAYOUTS:
        raise ValueError(f"[project.urls] Source {base}: no known file layout for {host!r} (known: {', '.join(LAYOUTS)}); "
                         "add the host to LAYOUTS in setup.py")
    page, raw = LAYOUTS[host]
    root = base.rstrip("/")

    def absolute(match: re.Match[str]) -> str:
        target = match.group(2)
        if target.startswith(("#", "//")) or SCHEME.match(target):
            return match.group(0)
        path = target.lstrip("/").removeprefix("./")  # "/x" is the repository's root on GitHub too
        kind = raw if IMAGE.search(re.split(r"[?#]", path, maxsplit=1)[0]) else page
        return f"{match.group(1)}{root}/{kind}/{ref}/{path}"

    def outside_code(text: str) -> str:
        pieces, last = [], 0
        for span in CODE_SPAN.finditer(text):
            pieces += [HTML_ATTR.sub(absolute, INLINE.sub(absolute, text[last:span.start()])), span.group(0)]
            last = span.end()
        pieces.append(HTML_ATTR.sub(absolute, INLINE.sub(absolute, text[last:])))
        return "".join(pieces)

    lines, fence = [], ""
    for line in markdown.splitlines(keepends=True):
        opening = FENCE.match(line)
        if fence:
            # a fence closes with a run of its own character at least as long, and nothing after it
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence) and not line.strip().strip(fence[0]):
                fence = ""
            lines.append(line)
        elif opening:
            fence = opening.group(1)
            lines.append(line)
        else:
            lines.append(outside_code(REFERENCE.sub(absolute, line)))
    return "".join(lines)


def long_description(root: Path = ROOT) -> str:
    """Return README.md as the package index shows it: relative links absolute when the Source URL is known."""
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    readme = (root / "README.md").read_text(encoding="utf-8")
    base = project.get("urls", {}).get("Source")
    if not base:
        print("setup.py: pyproject.toml has no [project.urls] Source: README.md's relative links stay relative, "
              "and break on the package index page (set it before releasing: RELEASING.md)", file=sys.stderr)
        return readme
    return absolute_links(readme, base, f"v{project['version']}")


if __name__ == "__main__":
    from setuptools import setup

    setup(long_description=long_description(), long_description_content_type="text/markdown")
