"""Edits inside a GitLab job's YAML: values written in the file's own layout and quoting, new keys
inserted after the job, and `variables:` and `cache:` extended in place. Anything laid out in a
way these cannot follow raises Refused, which leaves the job unchanged."""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ci_gocache.sourcefile import mapping_get, mapping_key_node, to_plain
from ci_gocache.targets.gitlab.facts import _cache_entry
from ci_gocache.targets.gitlab.loading import TAG_HANDLERS
from ci_gocache.textedit import Edit, end_of_content, leading_comment_start, line_end, line_start
from ci_gocache.yamlnodes import leaf_end


class Refused(Exception):
    def __init__(self, outcome: str, reason: str) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason


@dataclass
class YamlLayout:
    unit: int
    sequence_offset: int

    def entry(self, key: str, value: Any, column: int) -> list[str]:
        pad = " " * column
        if isinstance(value, dict) and value:
            lines = [f"{pad}{_key(key)}:"]
            for child_key, child_value in value.items():
                lines.extend(self.entry(str(child_key), child_value, column + self.unit))
            return lines
        if isinstance(value, list) and value:
            lines = [f"{pad}{_key(key)}:"]
            for item in value:
                lines.extend(self.item(item, column + self.sequence_offset))
            return lines
        return [f"{pad}{_key(key)}: {_scalar(value)}"]

    def item(self, value: Any, dash_column: int) -> list[str]:
        pad = " " * dash_column
        if isinstance(value, dict) and value:
            lines: list[str] = []
            for index, (key, child) in enumerate(value.items()):
                entry = self.entry(str(key), child, dash_column + 2)
                if index == 0:
                    entry[0] = pad + "- " + entry[0][dash_column + 2 :]
                lines.extend(entry)
            return lines
        if isinstance(value, list) and value:
            return [f"{pad}- {json.dumps(value, default=str)}"]
        return [f"{pad}- {_scalar(value)}"]


_PLAIN_START = re.compile(r"^(?:[^-?:,\[\]{}#&*!|>'\"%@`\s]|[-?:][^\s])")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}
_NUMBER = re.compile(r"^[-+]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$|^0[xob]|^[-+]?\.(?:inf|nan)$", re.I)


def _plain_ok(text: str) -> bool:
    """Whether a string reads back as the same string when written without quotes."""
    return (
        bool(_PLAIN_START.match(text))
        and text == text.strip()
        and text.isprintable()
        and ": " not in text
        and " #" not in text
        and not text.endswith(":")
        and text.lower() not in _YAML_WORDS
        and not _NUMBER.match(text)
    )


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    text = str(value)
    if _plain_ok(text):
        return text
    if "'" not in text and text.isprintable():
        return f"'{text}'"
    return json.dumps(text, ensure_ascii=False)


def _scalar_like(node: ScalarNode, value: str) -> str:
    """A new value for a scalar, quoted the way the old one was."""
    if node.style == '"':
        return json.dumps(value, ensure_ascii=False)
    if node.style == "'" and value.isprintable():
        return "'" + value.replace("'", "''") + "'"
    return _scalar(value)


def _key(key: str) -> str:
    return key if re.match(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$", key) else _scalar(key)


def following_key_start(text: str, mapping: MappingNode, key: Node, stop: int, key_starts: list[int] | None = None) -> int:
    """Start of the line of the key written after `key` in `mapping`, else `stop`. `key_starts`,
    the sorted offsets of the mapping's keys, spares a pass over a large one (the top level)."""
    if key_starts is not None:
        later = bisect.bisect_right(key_starts, key.start_mark.index)
        return line_start(text, key_starts[later]) if later < len(key_starts) else stop
    after = [other.start_mark.index for other, _ in mapping.value if other.start_mark.index > key.start_mark.index]
    return line_start(text, min(after)) if after else stop


def node_end(text: str, node: Node, written_at: int, stop: int) -> int:
    """Offset just past the last content line of `node`, which is written at `written_at` (its key
    or its dash) and ends before `stop`. An alias is only its `*name` there, wherever its anchor is."""
    if node.start_mark.index < written_at:
        return end_of_content(text, line_start(text, written_at), stop)
    if isinstance(node, MappingNode) and not node.flow_style and node.value:
        key, value = node.value[-1]
        return node_end(text, value, key.start_mark.index, stop)
    if isinstance(node, SequenceNode) and not node.flow_style and node.value:
        dashes = _item_starts(text, node, stop)
        return node_end(text, node.value[-1], dashes[-1], stop)
    return min(leaf_end(text, node), max(stop, line_start(text, written_at)))


def _item_starts(text: str, sequence: SequenceNode, stop: int) -> list[int]:
    """The offset of each item's dash: lines whose first character is `-` at the sequence's column."""
    first_dash = sequence.start_mark.index
    column = first_dash - line_start(text, first_dash)
    starts = []
    position = line_start(text, first_dash)
    while position < stop:
        end = text.find("\n", position)
        end = stop if end == -1 or end + 1 > stop else end + 1
        line = text[position:end].rstrip("\r\n")
        if len(line) > column and line[column] == "-" and not line[:column].strip() and line[column + 1 : column + 2] in ("", " "):
            starts.append(position + column)
        elif line.strip() and not line.lstrip().startswith("#") and len(line) - len(line.lstrip(" ")) < column:
            break
        position = end
    if len(starts) != len(sequence.value):
        raise Refused("unsafe", "a list is laid out in a way ci-gocache cannot follow; it cannot be edited safely")
    return starts


def insertion(text: str, newline: str, position: int, lines: list[str], why: str) -> Edit:
    prefix = "" if position == 0 or text[position - 1] == "\n" else newline
    block = "".join(line + newline for line in lines)
    if position == len(text) and not text.endswith("\n"):
        block = block[: -len(newline)]
    return Edit(position, position, prefix + block, why)


def _is_empty(node: Node | None) -> bool:
    """`[]`, `{}`, `null`, `~` or nothing at all."""
    if isinstance(node, (SequenceNode, MappingNode)):
        return not node.value and bool(node.flow_style)
    return isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null" and node.style is None


def _fill_empty(text: str, newline: str, key: Node, value: Node, lines: list[str], why: str) -> list[Edit]:
    """Put a block below `key:` in place of its empty value, keeping a comment on the key's line."""
    key_line_end = line_end(text, key.start_mark.index)
    colon = text.find(":", key.end_mark.index, key_line_end)
    if colon == -1 or value.start_mark.index < colon:
        raise Refused("unsafe", f"`{getattr(key, 'value', '?')}:` is laid out in a way ci-gocache cannot follow")
    edits = []
    if colon < value.start_mark.index < value.end_mark.index <= key_line_end:
        edits.append(Edit(colon + 1, value.end_mark.index, "", f"empty {why}"))
    edits.append(insertion(text, newline, key_line_end, lines, why))
    return edits


def _editable(node: Node | None, parents: dict[int, int], what: str) -> None:
    if node is None:
        return
    if node.tag == "!reference":
        raise Refused("unsafe", f"`{what}:` is a !reference tag; it cannot be edited safely")
    if parents.get(id(node), 0) > 1:
        raise Refused("unsafe", f"`{what}:` is an alias or an anchor used elsewhere; it cannot be edited safely")
    if getattr(node, "flow_style", False):
        raise Refused("unsafe", f"`{what}:` is written in flow style; it cannot be edited safely")


def extend_variables(
    text: str,
    newline: str,
    job: MappingNode,
    wanted: dict[str, str],
    layout: YamlLayout,
    parents: dict[int, int],
    job_stop: int,
) -> list[Edit]:
    key = mapping_key_node(job, "variables")
    node = mapping_get(job, "variables")
    if key is not None and node is not None and _is_empty(node) and node.start_mark.index > key.start_mark.index:
        column = key.start_mark.column + layout.unit
        lines = [line for name, value in wanted.items() for line in layout.entry(name, value, column)]
        return _fill_empty(text, newline, key, node, lines, "Go variables")
    _editable(node, parents, "variables")
    if key is None or not isinstance(node, MappingNode) or not node.value or node.start_mark.index < key.start_mark.index:
        raise Refused("unsafe", "`variables:` is not a block mapping; it cannot be edited safely")
    edits: list[Edit] = []
    missing = dict(wanted)
    for key_node, value_node in node.value:
        name = key_node.value if isinstance(key_node, ScalarNode) else None
        if name == "GOFLAGS" and name in missing:
            if not isinstance(value_node, ScalarNode) or parents.get(id(value_node), 0) > 1 or value_node.style in ("|", ">"):
                raise Refused("unsafe", "`GOFLAGS` is not a plain value; add -modcacherw to it yourself")
            replacement = _scalar_like(value_node, missing.pop(name))
            edits.append(Edit(value_node.start_mark.index, value_node.end_mark.index, replacement, "GOFLAGS"))
        elif name in missing:
            missing.pop(name)
    if missing:
        stop = following_key_start(text, job, key, job_stop)
        column = node.value[0][0].start_mark.column
        lines = [line for name, value in missing.items() for line in layout.entry(name, value, column)]
        edits.append(insertion(text, newline, node_end(text, node, key.start_mark.index, stop), lines, "Go variables"))
    return edits


def extend_cache(
    text: str,
    newline: str,
    job: MappingNode,
    caches: list[dict[str, Any]],
    layout: YamlLayout,
    parents: dict[int, int],
    job_stop: int,
    go_directories: tuple[str, ...],
) -> list[Edit]:
    key = mapping_key_node(job, "cache")
    node = mapping_get(job, "cache")
    if key is not None and node is not None and _is_empty(node) and node.start_mark.index > key.start_mark.index:
        # `cache: []` turns the default cache off: the Go caches are then the job's only ones.
        dash_column = key.start_mark.column + layout.sequence_offset
        lines = [line for cache in caches for line in layout.item(cache, dash_column)]
        return _fill_empty(text, newline, key, node, lines, "Go caches")
    _editable(node, parents, "cache")
    if key is None or node is None or node.start_mark.index < key.start_mark.index:
        raise Refused("unsafe", "`cache:` is an alias; it cannot be edited safely")
    stop = following_key_start(text, job, key, job_stop)
    end = node_end(text, node, key.start_mark.index, stop)
    if isinstance(node, MappingNode) and node.value:
        start = line_start(text, node.start_mark.index)
        if text[start : node.start_mark.index].strip() or start <= key.start_mark.index:
            raise Refused("unsafe", "`cache:` starts on the line of its key; it cannot be edited safely")
        column = node.start_mark.column
        ours = "".join(line + newline for cache in caches for line in layout.item(cache, column))
        entry = _cache_entry(to_plain(node, TAG_HANDLERS), go_directories)
        if entry.go_only or entry.ours:
            # The job's one cache is a hand-written Go cache: ours take its place.
            return [_replacement(text, newline, start, end, ours, "replace the Go cache")]
        return [_replacement(text, newline, start, end, _moved_right(text[start:end], column, newline) + ours, "cache list")]
    if isinstance(node, SequenceNode) and node.value:
        dashes = _item_starts(text, node, stop)
        dash_column = dashes[0] - line_start(text, dashes[0])
        edits: list[Edit] = []
        for index, item in enumerate(node.value):
            entry = _cache_entry(to_plain(item, TAG_HANDLERS), go_directories)
            if entry.go_only or entry.ours:
                item_start = leading_comment_start(text, line_start(text, dashes[index]), dash_column)
                if index + 1 < len(node.value):
                    item_end = leading_comment_start(text, line_start(text, dashes[index + 1]), dash_column)
                else:
                    item_end = end
                edits.append(Edit(item_start, item_end, "", "replace a hand-written Go cache"))
        lines = [line for cache in caches for line in layout.item(cache, dash_column)]
        edits.append(insertion(text, newline, end, lines, "Go caches"))
        return edits
    raise Refused("unsafe", "`cache:` is neither a mapping nor a list of caches; it cannot be edited safely")


def _moved_right(block: str, column: int, newline: str) -> str:
    """A mapping written at `column` as the first item of a list: `- ` before it, two spaces on the rest."""
    lines = block.splitlines(keepends=True)
    moved = [lines[0][:column] + "- " + lines[0][column:]]
    moved.extend("  " + line if line.strip() else line for line in lines[1:])
    body = "".join(moved)
    return body if body.endswith("\n") else body + newline


def _replacement(text: str, newline: str, start: int, end: int, replacement: str, why: str) -> Edit:
    if end == len(text) and not text.endswith("\n") and replacement.endswith(newline):
        replacement = replacement[: -len(newline)]
    return Edit(start, end, replacement, why)
