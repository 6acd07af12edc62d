"""One walk over a document's distinct nodes (sourcefile.examine_graph) finds the shared nodes and
the first key that is not a name, and hands every document with aliases, a duplicate key or deep
nesting to the exact walk (check_node_graph), which says what is wrong and where. What it
reports must be what the exact walk reports, on documents built to sit at each limit."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

from ci_gocache.errors import InputError
from ci_gocache.sourcefile import MAX_DEPTH, check_node_graph, compose_text, examine_graph


def _only_document(text: str) -> Node:
    (root,) = compose_text(text)
    return root


def _distinct(root: Node) -> list[Node]:
    found: dict[int, Node] = {}
    pending = [root]
    while pending:
        node = pending.pop()
        if id(node) in found:
            continue
        found[id(node)] = node
        if isinstance(node, MappingNode):
            pending.extend(part for pair in node.value for part in pair)
        elif isinstance(node, SequenceNode):
            pending.extend(node.value)
    return list(found.values())


def _parents_counted_edge_by_edge(root: Node) -> dict[int, int]:
    counts: dict[int, int] = {}
    for node in _distinct(root):
        children = [part for pair in node.value for part in pair] if isinstance(node, MappingNode) else (
            node.value if isinstance(node, SequenceNode) else []
        )
        for child in children:
            counts[id(child)] = counts.get(id(child), 0) + 1
    return {identity: count for identity, count in counts.items() if count > 1}


def _outcome(check, root: Node) -> str:
    try:
        check()
    except InputError as error:
        return str(error)
    return "fine"


def _same_as_the_exact_walk(text: str) -> str:
    root = _only_document(text)
    fast = _outcome(lambda: examine_graph(root, "ci.yml"), root)
    exact = _outcome(lambda: check_node_graph(root, "ci.yml", len(_distinct(root))), root)
    assert fast == exact, text[:200]
    return fast


@pytest.mark.parametrize("extra", [-1, 0, 1, 2])
@pytest.mark.parametrize("leaf", ["", "x", "{a: 1}"])
def test_nesting_at_the_depth_limit_is_judged_as_the_exact_walk_does(extra, leaf):
    depth = MAX_DEPTH + extra
    outcome = _same_as_the_exact_walk("a: " + "[" * depth + leaf + "]" * depth + "\n")
    assert ("nesting deeper than" in outcome) == (outcome != "fine")


def test_block_nesting_past_the_limit_is_refused_where_it_goes_too_deep():
    text = "".join("  " * level + f"k{level}:\n" for level in range(MAX_DEPTH + 5)) + "  " * (MAX_DEPTH + 5) + "v: 1\n"
    assert "nesting deeper than" in _same_as_the_exact_walk(text)


# Nine levels of ten aliases each: a billion nodes once expanded.
_ALIAS_BOMB = "l0: &l0 [" + ", ".join(["x"] * 10) + "]\n" + "".join(
    f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 10) + "]\n" for level in range(1, 10)
)


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb: 2\na: 3\n",
        "jobs:\n  t:\n    steps:\n      - run: x\n        run: y\n",
        "a: &x [1, 2]\nb: *x\nc: *x\n",
        "a: &x {k: v}\nb: {<<: *x, k: w}\n",
        "a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\nd: [*c, *c]\n",
        "jobs: &j\n  test:\n    steps: *j\n",
        _ALIAS_BOMB,
    ],
)
def test_duplicates_aliases_and_recursion_are_judged_as_the_exact_walk_does(text):
    _same_as_the_exact_walk(text)


def test_shared_nodes_are_counted_with_every_parent():
    root = _only_document("a: &x {k: v}\nb: *x\nc: [*x, *x, &y z]\nd: *y\ne: plain\n")
    graph = examine_graph(root, "ci.yml")
    assert graph.shared == _parents_counted_edge_by_edge(root)
    assert sorted(graph.shared.values()) == [2, 4]


def test_the_first_key_in_the_text_that_is_not_a_name_is_the_one_reported():
    root = _only_document("b:\n  c:\n    1: x\na:\n  true: y\n  null: z\n")
    key = examine_graph(root, "ci.yml").key_not_a_name
    assert key is not None and (key.value, key.start_mark.line) == ("1", 2)
    assert examine_graph(_only_document("'true': 1\n\"1\": 2\n"), "ci.yml").key_not_a_name is None


_scalars = st.sampled_from(["x", "1", "true", "null", "'q'", "~", "1.5"])
_keys = st.sampled_from(["a", "b", "c", "1", "true", "<<"])


@st.composite
def _documents(draw):
    """Block YAML with anchors, aliases to them, duplicate and merge keys, and now and then an
    alias inside its own anchor's content."""
    anchors: list[str] = []
    made = [0]

    def node(level: int, indent: int) -> str:
        choice = draw(st.integers(0, 5 if level < 4 else 1))
        if choice == 0 or level >= 4:
            return " " + draw(_scalars) + "\n"
        if choice == 1 and anchors:
            return " *" + draw(st.sampled_from(anchors)) + "\n"
        anchor = ""
        if draw(st.booleans()):
            made[0] += 1
            anchor = f" &n{made[0]}"
            if draw(st.integers(0, 4)) == 0:
                anchors.append(anchor[2:])  # its own content may refer to it: a recursive alias
        pad = " " * indent
        if choice in (2, 3):
            keys = draw(st.lists(_keys, min_size=1, max_size=3))
            body = "".join(f"{pad}{key}:{node(level + 1, indent + 2)}" for key in keys)
        else:
            items = draw(st.integers(1, 3))
            body = "".join(f"{pad}-{node(level + 1, indent + 2)}" for _ in range(items))
        if anchor and anchor[2:] not in anchors:
            anchors.append(anchor[2:])
        return anchor + "\n" + body

    keys = draw(st.lists(_keys, min_size=1, max_size=4))
    return "".join(f"{key}:{node(1, 2)}" for key in keys)


@settings(max_examples=150, deadline=None)
@given(_documents())
def test_random_documents_are_judged_as_the_exact_walk_does(text):
    try:
        root = _only_document(text)
    except Exception:
        return  # not YAML (an alias to an anchor defined later): the parser's own error
    outcome = _same_as_the_exact_walk(text)
    if outcome == "fine":
        assert examine_graph(root, "ci.yml").shared == _parents_counted_edge_by_edge(root)
