"""Edits as character ranges, and the one function that splices them into text.

Planners produce `Edit`s; `apply_edits` is the only code that builds new file text.
Everything outside the edited ranges is carried over byte for byte.
"""

from __future__ import annotations

import bisect
import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Edit:
    start: int
    end: int
    replacement: str
    why: str = ""


class OverlappingEdits(Exception):
    pass


def apply_edits(text: str, edits: list[Edit]) -> str:
    ordered = sorted(edits, key=lambda edit: (edit.start, edit.end))
    pieces: list[str] = []
    position = 0
    for edit in ordered:
        if edit.start < position:
            raise OverlappingEdits(f"edits overlap at offset {edit.start}: {edit.why}")
        pieces.append(text[position : edit.start])
        pieces.append(edit.replacement)
        position = edit.end
    pieces.append(text[position:])
    return "".join(pieces)


def line_start(text: str, offset: int) -> int:
    return text.rfind("\n", 0, offset) + 1


def line_end(text: str, offset: int) -> int:
    """Offset just past the newline of the line holding `offset` (or the end of text)."""
    newline = text.find("\n", offset)
    return len(text) if newline == -1 else newline + 1


def line_text(text: str, offset: int) -> str:
    start = line_start(text, offset)
    return text[start : line_end(text, offset)].rstrip("\r\n")


def is_blank_or_comment(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def previous_line_start(text: str, start_of_line: int) -> int | None:
    if start_of_line == 0:
        return None
    return line_start(text, start_of_line - 1)


def leading_comment_start(text: str, item_line_start: int, min_indent: int) -> int:
    """Where the comment lines directly above an item begin.

    A comment block that touches an item (no blank line between) describes it, so an
    insertion before the item goes before its comments and they stay with it.
    """
    start = item_line_start
    while True:
        previous = previous_line_start(text, start)
        if previous is None:
            return start
        line = text[previous:start].rstrip("\r\n")
        stripped = line.strip()
        if stripped.startswith("#") and indent_of(line) >= min_indent:
            start = previous
            continue
        return start


def end_of_content(text: str, start: int, stop: int) -> int:
    """Offset just past the last line in [start, stop) that is neither blank nor a comment."""
    position = stop
    while position > start:
        previous = line_start(text, position - 1)
        if previous < start:
            break
        if not is_blank_or_comment(text[previous:position]):
            return position if text[position - 1] == "\n" else position
        position = previous
    return start


def with_newlines(lines: list[str], newline: str) -> str:
    return "".join(line + newline for line in lines)


def unified_diff_of_edits(text: str, edits: list[Edit], fromfile: str, tofile: str, context: int = 3) -> str:
    """The unified diff that `apply_edits(text, edits)` makes, computed from the edits.

    difflib on whole files is quadratic on long runs of similar lines (a workflow with thousands of
    alike jobs took minutes); here difflib only compares each edited region with its replacement.
    """
    old_lines = _lines(text)
    starts = [0]
    for line in old_lines:
        starts.append(starts[-1] + len(line))
    opcodes: list[tuple[str, int, int, int, int]] = []
    shift = 0  # new line index minus old line index after the regions so far
    previous_end = 0
    for first, last, new_region in _replaced_regions(text, edits, starts):
        if first > previous_end:
            opcodes.append(("equal", previous_end, first, previous_end + shift, first + shift))
        matcher = difflib.SequenceMatcher(None, old_lines[first:last], new_region, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            opcodes.append((tag, first + i1, first + i2, first + shift + j1, first + shift + j2))
        shift += len(new_region) - (last - first)
        previous_end = last
    if len(old_lines) > previous_end:
        opcodes.append(("equal", previous_end, len(old_lines), previous_end + shift, len(old_lines) + shift))
    if not any(tag != "equal" for tag, *_ in opcodes):
        return ""
    new_lines = _lines(apply_edits(text, edits))
    return "".join(_format_unified(opcodes, old_lines, new_lines, fromfile, tofile, context))


def _lines(text: str) -> list[str]:
    """Lines split at "\n" only, each with its ending ("\r\n" stays whole; str.splitlines would also
    split at form feeds, U+2028 and lone carriage returns)."""
    pieces = text.split("\n")
    lines = [piece + "\n" for piece in pieces[:-1]]
    if pieces[-1]:
        lines.append(pieces[-1])
    return lines


def _replaced_regions(text: str, edits: list[Edit], starts: list[int]) -> list[tuple[int, int, list[str]]]:
    """Each edited region [first, last) of old lines with its new lines. A region grows by a line
    while its new text does not end at a line boundary (an insertion without a newline joins the
    next line)."""
    line_count = len(starts) - 1
    regions: list[tuple[int, int, list[Edit]]] = []
    for first, last, region_edits in _edited_regions(text, sorted(edits, key=lambda edit: (edit.start, edit.end)), starts):
        if regions and first <= regions[-1][1]:
            merged_first, merged_last, merged_edits = regions.pop()
            first, last, region_edits = merged_first, max(merged_last, last), [*merged_edits, *region_edits]
        while True:
            new_text = _apply_in_region(text, starts, first, last, region_edits)
            if not new_text or new_text.endswith("\n") or last >= line_count:
                break
            last += 1
        regions.append((first, last, region_edits))
    return [(first, last, _lines(_apply_in_region(text, starts, first, last, region_edits))) for first, last, region_edits in regions]


def _apply_in_region(text: str, starts: list[int], first: int, last: int, edits: list[Edit]) -> str:
    begin = starts[first]
    moved = [Edit(edit.start - begin, edit.end - begin, edit.replacement) for edit in edits]
    return apply_edits(text[begin : starts[last]], moved)


def _edited_regions(text: str, ordered: list[Edit], starts: list[int]) -> list[tuple[int, int, list[Edit]]]:
    """Whole-line regions [first, last) of the old text that the edits touch, merged when they meet.
    `starts` holds the offset of every line and, last, the length of the text."""
    line_count = len(starts) - 1
    unterminated_last = line_count > 0 and not text.endswith("\n")
    regions: list[tuple[int, int, list[Edit]]] = []
    for edit in ordered:
        first = bisect.bisect_right(starts, edit.start) - 1  # the line holding the start
        touches_line = edit.start > starts[first]
        if first == line_count and unterminated_last:
            first, touches_line = line_count - 1, True  # appending to a last line without newline changes it
        last = bisect.bisect_left(starts, edit.end)  # past the line holding the end
        if touches_line:
            last = max(last, first + 1)
        last = max(last, first)
        if regions and first <= regions[-1][1]:
            merged_first, merged_last, merged_edits = regions[-1]
            regions[-1] = (merged_first, max(merged_last, last), [*merged_edits, edit])
        else:
            regions.append((first, last, [edit]))
    return regions


def _format_unified(
    opcodes: list[tuple[str, int, int, int, int]],
    old_lines: list[str],
    new_lines: list[str],
    fromfile: str,
    tofile: str,
    context: int,
) -> list[str]:
    matcher = _KnownOpcodes(opcodes)
    out = [f"--- {fromfile}\n", f"+++ {tofile}\n"]
    for group in matcher.get_grouped_opcodes(context):
        first, last = group[0], group[-1]
        out.append(f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@\n")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend(" " + line for line in old_lines[i1:i2])
                continue
            out.extend("-" + line for line in old_lines[i1:i2])
            out.extend("+" + line for line in new_lines[j1:j2])
    # The last line of a file without a final newline: the marker `patch` and `git apply` expect.
    return [line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in out]


def _range(start: int, stop: int) -> str:
    length = stop - start
    beginning = start + 1 if length else start
    return f"{beginning}" if length == 1 else f"{beginning},{length}"


class _KnownOpcodes(difflib.SequenceMatcher):
    """difflib's hunk grouping over opcodes we already know."""

    def __init__(self, opcodes: list[tuple[str, int, int, int, int]]) -> None:
        super().__init__(None, [], [])
        self.known = opcodes

    def get_opcodes(self) -> list[tuple[str, int, int, int, int]]:  # type: ignore[override]
        return list(self.known)
