"""Edits as character ranges, and the one function that splices them into text.

Planners produce `Edit`s; `apply_edits` is the only code that builds new file text.
Everything outside the edited ranges is carried over byte for byte.
"""

from __future__ import annotations

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
