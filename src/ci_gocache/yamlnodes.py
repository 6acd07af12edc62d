"""Positions in composed YAML: where a node's content ends, where a path points."""

from __future__ import annotations

from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ci_gocache.sourcefile import mapping_get, mapping_key_node, node_position
from ci_gocache.textedit import line_end, line_start


def leaf_end(text: str, node: Node) -> int:
    """Offset just past the last line that holds content of `node`."""
    if isinstance(node, MappingNode) and not node.flow_style and node.value:
        return leaf_end(text, node.value[-1][1])
    if isinstance(node, SequenceNode) and not node.flow_style and node.value:
        return leaf_end(text, node.value[-1])
    end = node.end_mark.index
    if isinstance(node, ScalarNode) and node.style in ("|", ">"):
        header = text[node.start_mark.index : line_end(text, node.start_mark.index)]
        if "+" in header.split("#")[0]:
            return end
        # Trailing blank lines are not content unless the scalar keeps them.
        position = end
        while position > node.start_mark.index:
            previous = line_start(text, position - 1)
            if text[previous:position].strip():
                break
            position = previous
        return position
    if end > 0 and text[end - 1] == "\n":
        return end
    return line_end(text, end)


def locate_node(root: Node, path: list[Any]) -> tuple[int, int]:
    node: Node | None = root
    best = node_position(root)
    for part in path:
        if isinstance(node, MappingNode):
            key_node = mapping_key_node(node, str(part))
            node = mapping_get(node, str(part))
            if key_node is not None:
                best = node_position(key_node)
        elif isinstance(node, SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            best = node_position(node)
        else:
            break
    return best
