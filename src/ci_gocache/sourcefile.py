"""Reading a CI file safely: bytes → text → YAML nodes with positions → plain data.

The nodes keep character offsets into the text, which is what the patchers edit.
Plain data (dicts, lists, scalars) is what the planners and the schemas look at.
Writing a file back is filewrites.py's job.
"""

from __future__ import annotations

import os
import stat as stat_module
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ci_gocache.errors import InputError, line_col_of_offset

MAX_FILE_BYTES = 2 * 1024 * 1024
# Aliases may add at most this many nodes to a document once expanded. An "alias bomb" (anchors
# nested many levels deep) expands exponentially; a large file without aliases adds nothing.
MAX_EXPANDED_NODES = 200_000
MAX_DEPTH = 200

BOM = "\ufeff"


class NotPatchable(InputError):
    """A file left alone on purpose (a FIFO, a link out of the repository, a hard link). `patch`
    reports it as a notice; code that only reads (inspect, includes) sees an InputError."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(path, 1, 1, message)


@dataclass
class DiskState:
    """A file as read: where it is (links resolved), its bytes and its stat, to compare before writing."""

    path: Path
    raw: bytes
    stat: os.stat_result


@dataclass
class SourceFile:
    """One file as read from disk: its text without BOM, and how to write it back."""

    path: Path
    display_path: str
    text: str
    has_bom: bool
    newline: str
    mode: int
    # What was read from disk, to compare before a write replaces it (None for text built in memory).
    disk: DiskState | None = None

    def encode(self, text: str) -> bytes:
        return ((BOM if self.has_bom else "") + text).encode("utf-8")


def read_source(path: Path, display_path: str | None = None, read_from: Path | None = None) -> SourceFile:
    """Read a regular file (never a FIFO, device or socket: those raise NotPatchable without blocking).

    `read_from` is where the bytes are (a symbolic link's target); `path` stays the name the
    repository lists, which is what positions and repository-relative paths are computed from.
    """
    shown = display_path or str(path)
    location = read_from or path
    raw, stat = read_regular_file(location, shown, MAX_FILE_BYTES, "a CI file")
    source = decode_source(raw, path, shown, stat.st_mode & 0o7777)
    source.disk = DiskState(Path(location), raw, stat)
    return source


_KINDS = (
    (stat_module.S_ISDIR, "a directory"),
    (stat_module.S_ISFIFO, "a FIFO (named pipe)"),
    (stat_module.S_ISSOCK, "a socket"),
    (stat_module.S_ISCHR, "a character device"),
    (stat_module.S_ISBLK, "a block device"),
)


def file_kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def read_text_if_regular(path: Path, limit: int = MAX_FILE_BYTES) -> str | None:
    """A side file's text (another CI file, a go.work) for a look, or None when it is missing,
    unreadable, too big or not a regular file. Never blocks on a FIFO."""
    try:
        raw, _ = read_regular_file(path, str(path), limit, "a file")
    except InputError:
        return None
    return raw.decode("utf-8", errors="replace")


def read_regular_file(path: Path, shown: str, limit: int, what: str) -> tuple[bytes, os.stat_result]:
    """The bytes of a regular file of at most `limit` bytes.

    Opened with O_NONBLOCK so that a FIFO or a device never blocks us, then checked with fstat on
    the open descriptor (no window between the check and the read). Special files raise
    NotPatchable; missing, unreadable and oversized files raise InputError.
    """
    try:
        # stat first: opening a device can act on it, opening a socket fails; neither is read.
        kind = os.stat(path).st_mode
        if not stat_module.S_ISREG(kind):
            raise NotPatchable(shown, f"{file_kind(kind)}, not a regular file; skipped, nothing read")
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        try:
            target = os.readlink(path)
        except OSError:  # not a link, or gone by now too
            raise InputError(shown, 1, 1, "no such file; check the path") from None
        raise InputError(shown, 1, 1, f"no such file: a symbolic link to {target!r}, which does not exist; fix or remove the link") from None
    except OSError as exc:
        raise InputError(shown, 1, 1, f"cannot read {what} ({exc.strerror}); check its permissions") from None
    try:
        stat = os.fstat(descriptor)
        if not stat_module.S_ISREG(stat.st_mode):
            raise NotPatchable(shown, f"{file_kind(stat.st_mode)}, not a regular file; skipped, nothing read")
        if stat.st_size > limit:
            raise InputError(
                shown, 1, 1, f"file is {stat.st_size} bytes, over the {limit}-byte limit for {what}; pass the right file or split it"
            )
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(descriptor, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise InputError(shown, 1, 1, f"file grew over the {limit}-byte limit for {what} while being read; pass the right file")
        return b"".join(chunks), stat
    except OSError as exc:
        raise InputError(shown, 1, 1, f"cannot read {what} ({exc.strerror}); check its permissions") from None
    finally:
        os.close(descriptor)


def decode_source(raw: bytes, path: Path, shown: str, mode: int = 0o644) -> SourceFile:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        prefix = raw[: exc.start].decode("utf-8", errors="replace")
        line, col = line_col_of_offset(prefix, len(prefix))
        raise InputError(
            shown, line, col, f"byte 0x{raw[exc.start]:02x} is not valid UTF-8; save the file as UTF-8"
        ) from None
    has_bom = text.startswith(BOM)
    if has_bom:
        text = text[1:]
    if "\x00" in text:
        line, col = line_col_of_offset(text, text.index("\x00"))
        raise InputError(shown, line, col, "file contains a NUL byte; it is not a text file")
    newline = "\r\n" if "\r\n" in text else "\n"
    return SourceFile(path=path, display_path=shown, text=text, has_bom=has_bom, newline=newline, mode=mode)


def _fast_parser_available() -> bool:
    try:
        import _ruamel_yaml  # noqa: F401
    except ImportError:
        try:
            from ruamel.yaml.clib import _ruamel_yaml  # noqa: F401
        except ImportError:
            return False
    return True


FAST_PARSER = _fast_parser_available()


class _OneVersionResolver(VersionedResolver):
    """ruamel's resolver looks the YAML version up again for every scalar, with libyaml's parser
    by raising and catching an AttributeError each time: a third of composing a large file. With
    that parser the version cannot change within a load, so its implicit resolvers are looked
    up once, and so is the tag of each distinct plain scalar text."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Without path resolvers a plain scalar's tag depends on its text alone, and texts recur
        # (runner labels, action names, `true`): each is matched against the patterns once.
        self._tags_of_the_load: dict[str, Any] | None = None if self.yaml_path_resolvers else {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        tags = self._tags_of_the_load
        if tags is None or kind is not ScalarNode or not implicit[0]:
            return super().resolve(kind, value, implicit)
        tag = tags.get(value)
        if tag is None:
            tag = tags[value] = super().resolve(kind, value, implicit)
        return tag

    @property
    def versioned_resolver(self) -> Any:
        try:
            return self._resolvers_of_the_load
        except AttributeError:
            self._resolvers_of_the_load = VersionedResolver.versioned_resolver.fget(self)  # type: ignore[attr-defined]
            return self._resolvers_of_the_load


def _compose_all(text: str, pure: bool) -> list[Node]:
    yaml = YAML(typ="safe", pure=pure)
    if not pure:
        yaml.Resolver = _OneVersionResolver
    return [doc for doc in yaml.compose_all(text) if doc is not None]


def compose_text(text: str, fast: bool | None = None) -> list[Node]:
    """The documents of a text as node trees. ruamel's libyaml-based parser when ruamel.yaml.clib
    is installed (ten times faster, the same marks), else, and whenever it fails, the pure-Python
    one: libyaml reads YAML 1.1 and refuses valid 1.2 such as `[postgres:16]` or `[.a:b, c]`, which
    GitLab accepts. Only the pure parser's errors are reported."""
    use_fast = FAST_PARSER if fast is None else fast
    if use_fast:
        try:
            return _compose_all(text, pure=False)
        except (YAMLError, RecursionError):
            pass
    return _compose_all(text, pure=True)


def _tab_near(text: str, index: int) -> bool:
    """Is there a tab in the indentation of the line at `index`, or right at it?"""
    line_begin = text.rfind("\n", 0, index) + 1
    line = text[line_begin : text.find("\n", index) if "\n" in text[index:] else len(text)]
    indentation = line[: len(line) - len(line.lstrip(" \t"))]
    return "\t" in indentation or text[index : index + 1] == "\t"


@dataclass(frozen=True)
class NodeGraph:
    """A checked document and what one walk over its distinct nodes found."""

    root: Node
    shared: dict[int, int]  # nodes (by id) with more than one parent (aliased), and how many
    key_not_a_name: ScalarNode | None  # the first mapping key in the text that reads as a boolean, number or null


def compose_graphs(source: SourceFile) -> list[NodeGraph]:
    """Parse the text into YAML node trees, one per document, with checks for bad input."""
    try:
        documents = compose_text(source.text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = (exc.problem or exc.context or "invalid YAML").strip()
        if mark is not None and _tab_near(source.text, mark.index):
            what = "a tab character where YAML allows only spaces"
        raise InputError(source.display_path, line, col, f"invalid YAML: {what}; fix the syntax") from None
    except ReaderError as exc:
        # Characters YAML does not allow (control characters): ruamel gives an offset, not a mark.
        line, col = line_col_of_offset(source.text, min(max(exc.position, 0), len(source.text)))
        character = exc.character if isinstance(exc.character, str) else chr(exc.character)
        raise InputError(
            source.display_path, line, col,
            f"invalid YAML: character U+{ord(character):04X} is not allowed in YAML (a control character); remove it",
        ) from None
    except YAMLError as exc:
        what = " ".join(str(exc).split())
        raise InputError(source.display_path, 1, 1, f"invalid YAML: {what}; fix the syntax") from None
    except RecursionError:
        raise InputError(
            source.display_path, 1, 1, "YAML nested too deeply to read; simplify the file"
        ) from None
    return [examine_graph(document, source.display_path) for document in documents]


def examine_graph(root: Node, shown: str) -> NodeGraph:
    """One walk over the document's distinct nodes: which are shared, whether a key is not a name,
    and whether anything needs check_node_graph's exact walk (aliases, which can recurse or
    expand; a duplicate key; deep nesting), which then says where and what is wrong.

    A document without aliases is a tree: it cannot recurse or expand, so for most files this
    walk is the only one.
    """
    seen = {id(root)}
    shared: dict[int, int] = {}
    pending: list[tuple[Node, int]] = [(root, 0)]  # collections, with their depth
    key_not_a_name: ScalarNode | None = None
    needs_exact_walk = False
    # Scalars (most nodes) are checked where they are met instead of being queued.
    while pending:
        node, depth = pending.pop()
        depth += 1  # the depth of its children
        if isinstance(node, MappingNode):
            names = set()
            children = []
            for key_node, value_node in node.value:
                if isinstance(key_node, ScalarNode) and key_node.value != "<<":
                    name = key_node.value
                    if name in names:
                        needs_exact_walk = True
                    names.add(name)
                    if key_node.ctag is not _STR_TAG and not isinstance(scalar_value(key_node), str):
                        if key_not_a_name is None or key_node.start_mark.index < key_not_a_name.start_mark.index:
                            key_not_a_name = key_node  # the first in the text
                children.append(key_node)
                children.append(value_node)
        elif isinstance(node, SequenceNode):
            children = node.value
        else:
            continue
        if depth > MAX_DEPTH and children:
            needs_exact_walk = True
        for child in children:
            identity = id(child)
            if identity in seen:
                shared[identity] = shared.get(identity, 1) + 1
            else:
                seen.add(identity)
                if not isinstance(child, ScalarNode):
                    pending.append((child, depth))
    if shared or needs_exact_walk:
        check_node_graph(root, shown, len(seen))
    return NodeGraph(root, shared, key_not_a_name)


def check_keys_are_names(graph: NodeGraph, shown: str) -> None:
    """Every mapping key is a name: `true:` or `1:` reads as a boolean or a number, which CI schemas
    (and the CI systems) do not take for the name it looks like."""
    key = graph.key_not_a_name
    if key is not None:
        line, col = node_position(key)
        raise InputError(
            shown, line, col,
            f"the key `{key.value}` reads as a {key.tag.rsplit(':', 1)[-1]}, not a name; "
            f"quote it ('{key.value}':) or rename it",
        )


def node_position(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def check_node_graph(root: Node, shown: str, distinct_nodes: int) -> None:
    """Refuse recursive aliases, alias bombs, excessive depth and duplicate keys.

    Each distinct node is visited once; the expanded size is counted with memoisation,
    so this is linear in the file even when its aliases would expand exponentially.
    What is limited is what aliases add: a large file without aliases is not a bomb.
    """
    expanded_size: dict[int, int] = {}
    on_path: set[int] = set()
    limit = distinct_nodes + MAX_EXPANDED_NODES

    def visit(node: Node, depth: int) -> int:
        key = id(node)
        if key in expanded_size:
            return expanded_size[key]
        if key in on_path:
            line, col = node_position(node)
            raise InputError(shown, line, col, "recursive alias: an anchor refers to itself; remove the cycle")
        if depth > MAX_DEPTH:
            line, col = node_position(node)
            raise InputError(shown, line, col, f"nesting deeper than {MAX_DEPTH} levels; simplify the file")
        on_path.add(key)
        size = 1
        if isinstance(node, MappingNode):
            seen: dict[Any, Node] = {}
            for key_node, value_node in node.value:
                if isinstance(key_node, ScalarNode) and key_node.value != "<<":
                    if key_node.value in seen:
                        first_line, _ = node_position(seen[key_node.value])
                        kline, kcol = node_position(key_node)
                        raise InputError(
                            shown,
                            kline,
                            kcol,
                            f"duplicate key {key_node.value!r} (first at line {first_line}); keep one of them",
                        )
                    seen[key_node.value] = key_node
                size += visit(key_node, depth + 1) + visit(value_node, depth + 1)
                if size > limit:
                    break
        elif isinstance(node, SequenceNode):
            for item in node.value:
                size += visit(item, depth + 1)
                if size > limit:
                    break
        on_path.discard(key)
        if size > limit:
            line, col = node_position(node)
            raise InputError(
                shown,
                line,
                col,
                f"aliases here expand the document by more than {MAX_EXPANDED_NODES} nodes (an alias bomb?); "
                "remove the nested aliases",
            )
        expanded_size[key] = size
        return size

    try:
        visit(root, 0)
    finally:
        del visit  # it refers to itself (see to_plain)


_BOOL_TRUE = {"true", "True", "TRUE"}
_BOOL_FALSE = {"false", "False", "FALSE"}


# The tag ruamel gives every scalar that resolves to a string, shared by all of them.
_STR_TAG = VersionedResolver.DEFAULT_SCALAR_TAG


def scalar_value(node: ScalarNode) -> Any:
    """The plain value of a scalar under the YAML 1.2 core schema that ruamel resolved."""
    if node.ctag is _STR_TAG:
        return node.value
    tag = node.tag
    text = node.value
    if tag == "tag:yaml.org,2002:null":
        return None
    if tag == "tag:yaml.org,2002:bool":
        return text in _BOOL_TRUE if text in _BOOL_TRUE | _BOOL_FALSE else text
    if tag == "tag:yaml.org,2002:int":
        try:
            return int(text.replace("_", ""), 0)
        except ValueError:
            return text
    if tag == "tag:yaml.org,2002:float":
        lowered = text.lower()
        if lowered in (".inf", "+.inf"):
            return float("inf")
        if lowered == "-.inf":
            return float("-inf")
        if lowered == ".nan":
            return float("nan")
        try:
            return float(text.replace("_", ""))
        except ValueError:
            return text
    return text


def to_plain(node: Node, tag_handlers: dict[str, Any] | None = None, memo: dict[int, Any] | None = None) -> Any:
    """Plain Python data from a checked node graph, with `<<` merge keys applied.

    `tag_handlers` maps a local tag such as `!reference` to a function of the plain
    value; unknown local tags keep the plain value. Calls that pass the same `memo` share
    the values of the nodes they have in common (the same objects: do not change them).
    """
    handlers = tag_handlers or {}
    if memo is None:
        memo = {}

    def build(current: Node) -> Any:
        if isinstance(current, ScalarNode):
            # Scalars are not remembered: their values are immutable, and equal for every alias.
            if handlers and current.tag in handlers:
                return handlers[current.tag](scalar_value(current))
            return scalar_value(current)
        key = id(current)
        if key in memo:
            return memo[key]
        result: Any
        if isinstance(current, SequenceNode):
            result = [build(item) for item in current.value]
        else:
            result = {}
            merged: dict[Any, Any] = {}
            for key_node, value_node in current.value:
                if isinstance(key_node, ScalarNode):
                    if key_node.value == "<<" and key_node.tag in ("tag:yaml.org,2002:merge", "tag:yaml.org,2002:str"):
                        sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                        for source_node in sources:
                            source_value = build(source_node)
                            if isinstance(source_value, dict):
                                for merge_key, merge_value in source_value.items():
                                    merged.setdefault(merge_key, merge_value)
                        continue
                    plain_key = build(key_node)
                else:
                    plain_key = build(key_node)
                if isinstance(plain_key, (list, dict)):
                    plain_key = str(plain_key)
                result[plain_key] = build(value_node)
            for merge_key, merge_value in merged.items():
                result.setdefault(merge_key, merge_value)
        if handlers and current.tag in handlers:
            result = handlers[current.tag](result)
        memo[key] = result
        return result

    try:
        return build(node)
    finally:
        # build refers to itself: left so, it and the memo would wait for the cycle collector.
        del build


def mapping_get(node: Node | None, key: str) -> Node | None:
    """The value node for a key in a mapping node (own keys only, not merged ones)."""
    if not isinstance(node, MappingNode):
        return None
    for key_node, value_node in node.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            return value_node
    return None


def mapping_key_node(node: Node | None, key: str) -> Node | None:
    if not isinstance(node, MappingNode):
        return None
    for key_node, _ in node.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            return key_node
    return None


def is_block(node: Node) -> bool:
    return not getattr(node, "flow_style", False)
