"""Keeping the user's lines: where a library lays out a line the edit did not touch differently, the original text stays."""

from __future__ import annotations

from difflib import SequenceMatcher


def _leading(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _line_up(original: list[str], base: list[str]) -> list[tuple[str, int, int, int, int]]:
    """Return the blocks of two texts (lines with whitespace removed): equal, or laid out differently.

    Within what :class:`SequenceMatcher` sees as one differing block, lines whose joined text is the
    same (a flow mapping the library writes on one line, the user over two) become blocks of their
    own, so the rest of the block (an anchor the library dropped) stays apart from them.
    """
    blocks: list[tuple[str, int, int, int, int]] = []
    for tag, o1, o2, b1, b2 in SequenceMatcher(None, original, base, autojunk=False).get_opcodes():
        if tag == "equal":
            blocks.append((tag, o1, o2, b1, b2))
            continue
        i, j = o1, b1
        while i < o2 and j < b2:
            group = _joined(original, i, o2, base[j])
            if group is not None:
                blocks.append(("equal" if group == i + 1 else "joined", i, group, j, j + 1))
                i, j = group, j + 1
                continue
            group = _joined(base, j, b2, original[i])
            if group is None:
                break
            blocks.append(("equal" if group == j + 1 else "joined", i, i + 1, j, group))
            i, j = i + 1, group
        if i < o2 or j < b2:
            blocks.append(("replace", i, o2, j, b2))
    return blocks


def _joined(lines: list[str], start: int, stop: int, target: str) -> int | None:
    """Return the end of the lines from ``start`` whose joined text is ``target``, or None."""
    text = ""
    for k in range(start, stop):
        text += lines[k]
        if text == target:
            return k + 1
        if not target.startswith(text):
            return None
    return None


def merge_lines(original: str, base: str, edited: str) -> str | None:
    """Apply the change ``base`` → ``edited`` to ``original``, which differs from ``base`` in layout only.

    ``base`` and ``edited`` are the library's renderings of the file before and after the edit. Where
    the library renders the file exactly (the usual case) this is ``edited``. Otherwise the lines the
    edit does not touch keep the user's text; a changed line the library lays out differently (a flow
    mapping over two lines) is replaced whole; new lines take the user's indentation. Returns None
    when the two cannot be lined up (the caller then uses ``edited`` as it is).
    """
    if original == base:
        return edited
    o_lines = (original if original.endswith("\n") else original + "\n").splitlines(keepends=True)
    b_lines = base.splitlines(keepends=True)
    e_lines = edited.splitlines(keepends=True)

    def squash(line: str) -> str:
        return "".join(line.split())

    odd: list[tuple[int, int]] = []  # base spans the library lays out differently from the original
    at: dict[int, list[int]] = {}  # base boundary -> the original boundaries it may stand for
    indents: dict[str, str] = {}
    for tag, o1, o2, b1, b2 in _line_up([squash(x) for x in o_lines], [squash(x) for x in b_lines]):
        if tag == "equal":
            for k in range(b2 - b1 + 1):
                at.setdefault(b1 + k, []).append(o1 + k)
            for k in range(b2 - b1):
                b_lead, o_lead = _leading(b_lines[b1 + k]), _leading(o_lines[o1 + k])
                if b_lines[b1 + k].strip() and indents.setdefault(b_lead, o_lead) != o_lead:
                    return None  # the file indents one level in two ways: leave the layout to the library
        else:
            odd.append((b1, b2))
            at.setdefault(b1, []).append(o1)
            at.setdefault(b2, []).append(o2)
    identity = all(k == v for k, v in indents.items())
    # the edit's hunks, each widened over the layout differences it touches, merged where they meet
    spans: list[list[int]] = []
    for tag, b1, b2, e1, e2 in SequenceMatcher(None, b_lines, e_lines, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        lo, hi = b1, b2
        for x1, x2 in odd:
            if x1 < x2 and ((x1 < hi and lo < x2) if hi > lo else x1 < lo < x2):
                lo, hi = min(lo, x1), max(hi, x2)
        span = [lo, hi, e1 - (b1 - lo), e2 + (hi - b2)]
        if spans and lo <= spans[-1][1] and (lo < spans[-1][1] or hi > lo):
            previous = spans.pop()
            span = [previous[0], hi, previous[2], span[3]]
        spans.append(span)
    newline = "\r\n" if o_lines[0].endswith("\r\n") else "\n"
    out: list[str] = []
    position = 0
    for lo, hi, e1, e2 in spans:
        if lo not in at or hi not in at:
            return None
        # lines only the original has (a `...`, a dropped anchor) stay outside what is replaced
        start = min(at[lo]) if lo == hi else max(at[lo])
        end = min(at[hi])
        if start < position or end < start:
            return None
        out += o_lines[position:start]
        for line in e_lines[e1:e2]:
            lead = _leading(line)
            if line.strip() and lead not in indents and not identity:
                return None
            out.append(indents.get(lead, lead) + line[len(lead):].rstrip("\r\n") + newline)
        position = end
    out += o_lines[position:]
    return "".join(out)
