"""GitLab CI files as GitLab reads them: which files are pipelines, `!reference` tags, local
includes merged into one project. Part of the GitLab target (see pipeline.py)."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ci_gocache import schemas
from ci_gocache.errors import InputError
from ci_gocache.repo import find_repo_root
from ci_gocache.sourcefile import (
    NodeGraph,
    SourceFile,
    check_keys_are_names,
    compose_graphs,
    mapping_get,
    node_position,
    read_source,
    read_text_if_regular,
    to_plain,
)
from ci_gocache.yamlnodes import locate_node


NAME = "gitlab"

PIPELINE_NAMES = (".gitlab-ci.yml", ".gitlab-ci.yaml")
COMPONENT_DIRECTORY = "templates"

# The variables the caches need; GitLab caches only paths inside the project directory.
GOPATH_DIRECTORY = ".go"
BUILD_CACHE_DIRECTORY = ".go-build"
POLICY_VARIABLE = "GO_CACHE_POLICY"
PROJECT_DIR_PREFIX = re.compile(r"^\$(?:\{CI_PROJECT_DIR\}|CI_PROJECT_DIR)(?:/(.*))?$")
MODCACHERW = "-modcacherw"
OUR_VARIABLES = ("GOPATH", "GOMODCACHE", "GOCACHE", "GOFLAGS", POLICY_VARIABLE)
# GitLab allows at most this many caches per job, and hashes at most two files in key:files.
MAX_CACHES = 4
MAX_KEY_FILES = 2
MAX_EXTENDS_DEPTH = 11
MAX_REFERENCE_DEPTH = 10
MAX_INCLUDED_FILES = 150

TOP_LEVEL_KEYWORDS = {
    "default", "include", "stages", "variables", "workflow", "spec",
    "image", "services", "cache", "before_script", "after_script", "types",
}
DEFAULT_KEYWORDS = (
    "image", "services", "cache", "before_script", "after_script",
    "artifacts", "tags", "retry", "timeout", "interruptible", "hooks", "id_tokens",
)
GLOBAL_DEFAULT_KEYWORDS = ("image", "services", "cache", "before_script", "after_script")
SCRIPT_KEYS = ("before_script", "script", "after_script")

GO_IMAGE = re.compile(r"(?:^|/)(?:golang|golangci-lint|goreleaser)(?::|@|$)")
# Where each of Go's cache variables would put its directory, for notices that suggest one.
SUGGESTED_DIRECTORIES = {"GOPATH": GOPATH_DIRECTORY, "GOMODCACHE": f"{GOPATH_DIRECTORY}/pkg/mod", "GOCACHE": BUILD_CACHE_DIRECTORY}


def claims(relative_path: str) -> bool:
    """A GitLab pipeline file, a local include of the repository's .gitlab-ci.yml, or a component."""
    normal = relative_path.replace("\\", "/").lstrip("/")
    if ".gitlab-ci-local/" in f"/{normal}" or "/.github/" in f"/{normal}":
        return False
    name = normal.rsplit("/", 1)[-1]
    if name in PIPELINE_NAMES or name.endswith(PIPELINE_NAMES):
        return True
    if not normal.endswith((".yml", ".yaml")):
        return False
    root = find_repo_root(Path.cwd())
    if not (root / normal).is_file():
        return False
    return normal in _local_includes_of(root) or _is_component_file(root, normal)


def _is_component_file(root: Path, relative: str) -> bool:
    parts = relative.split("/")
    shaped = (len(parts) == 2 or (len(parts) == 3 and parts[2] in ("template.yml", "template.yaml")))
    if parts[0] != COMPONENT_DIRECTORY or not shaped:
        return False
    text = read_text_if_regular(root / relative)
    if text is None:
        return False
    head = text[:4096]
    return re.search(r"^spec:", head, re.MULTILINE) is not None and re.search(r"^---", head, re.MULTILINE) is not None


_INCLUDES_SEEN: dict[tuple[str, int, int], frozenset[str]] = {}


def _local_includes_of(root: Path) -> frozenset[str]:
    """Local include paths named (transitively) by the repository's .gitlab-ci.yml."""
    main = next((root / name for name in PIPELINE_NAMES if (root / name).is_file()), None)
    if main is None:
        return frozenset()
    stat = main.stat()
    marker = (str(main), stat.st_mtime_ns, stat.st_size)
    if marker not in _INCLUDES_SEEN:
        try:
            project = _Project(root)
            project.load_tree(read_source(main, main.name), main.name)
            _INCLUDES_SEEN[marker] = frozenset(path for path in project.files if path != main.name)
        except InputError:
            _INCLUDES_SEEN[marker] = frozenset()
    return _INCLUDES_SEEN[marker]



# ---------------------------------------------------------------- reading files


@dataclass(frozen=True)
class Reference:
    """A `!reference [job, key, ...]` tag, resolved once every file is merged."""

    path: tuple[str, ...]


class _Unresolved:
    """A value GitLab would take from somewhere ci-gocache cannot read (a remote include)."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __repr__(self) -> str:
        return f"<unresolved {self.what}>"


def _reference_tag(value: Any) -> Any:
    if isinstance(value, list) and value and all(isinstance(part, str) for part in value):
        return Reference(tuple(value))
    return _Unresolved("!reference with a bad path")


TAG_HANDLERS = {"!reference": _reference_tag}


@dataclass
class LoadedFile:
    """One GitLab YAML file: the document that holds the configuration, and its spec header."""

    source: SourceFile
    relative: str
    main: MappingNode
    header: MappingNode | None
    config: dict[str, Any]
    graphs: dict[int, NodeGraph]  # what the checks found in each document, by id of its root

    @property
    def main_graph(self) -> NodeGraph:
        return self.graphs[id(self.main)]

    @property
    def display(self) -> str:
        return self.source.display_path


def load_file(source: SourceFile, relative: str) -> LoadedFile:
    graphs = compose_graphs(source)
    documents = [graph.root for graph in graphs]
    shown = source.display_path
    if not documents:
        raise InputError(shown, 1, 1, "the file is empty; a GitLab CI file holds jobs or includes")
    header: Node | None = None
    if len(documents) == 2 and _is_spec_header(documents[0]):
        header, main = documents
    elif len(documents) == 1:
        main = documents[0]
    else:
        line, col = node_position(documents[1])
        raise InputError(
            shown, line, col,
            f"found {len(documents)} YAML documents; GitLab reads one, or a `spec:` header, `---` and one",
        )
    if not isinstance(main, MappingNode):
        line, col = node_position(main)
        raise InputError(shown, line, col, "the top level is not a mapping of jobs and keywords; fix the file")
    config = to_plain(main, TAG_HANDLERS)
    return LoadedFile(
        source, relative, main, header if isinstance(header, MappingNode) else None, config,
        {id(graph.root): graph for graph in graphs},
    )


def _is_spec_header(node: Node) -> bool:
    return isinstance(node, MappingNode) and [key.value for key, _ in node.value if isinstance(key, ScalarNode)] == ["spec"]


def validate_schema(loaded: LoadedFile, what: str, then: str) -> None:
    """check-jsonschema's gitlab-ci schema on the spec header and on the document after it."""
    documents = [loaded.header, loaded.main] if loaded.header is not None else [loaded.main]
    for document in documents:
        check_keys_are_names(loaded.graphs[id(document)], loaded.display)
        plain = as_gitlab_reads(to_plain(document, TAG_HANDLERS)) if document is loaded.main else to_plain(document)
        problem = schemas.first_schema_error(
            plain, schemas.GITLAB_CI, lambda path, node=document: locate_node(node, path)
        )
        if problem:
            line, col, message = problem
            raise InputError(loaded.display, line, col, f"{what} the GitLab CI schema {message}{then}")


MAX_NESTED_LIST_DEPTH = 10


def as_gitlab_reads(config: dict[str, Any]) -> dict[str, Any]:
    """The document as GitLab validates it, where the schema is stricter than GitLab: `!reference`
    tags resolved (those into other files dropped, since GitLab checks them after merging),
    nested `rules:` and `cache:` lists flattened (GitLab flattens rules up to 10 levels, as
    YAML anchors of lists produce them), and `parallel: null` read as no `parallel:`."""
    resolved = _ReferenceResolver(config).resolve(config)
    if not isinstance(resolved, dict):
        return config
    result: dict[str, Any] = {}
    for name, value in resolved.items():
        if name == "workflow" and isinstance(value, dict):
            value = _without_unresolved(_flattened_keys(value, ("rules",)))
        elif name not in TOP_LEVEL_KEYWORDS or name == "default":
            value = _without_unresolved(_flattened_keys(value, ("rules", "cache")))
            if isinstance(value, dict) and "parallel" in value and value["parallel"] is None:
                value = {key: item for key, item in value.items() if key != "parallel"}
        else:
            value = _without_unresolved(value)
        result[name] = value
    return result


def _flattened_keys(job: Any, names: tuple[str, ...]) -> Any:
    if not isinstance(job, dict):
        return job
    return {key: _flat_list(value) if key in names and isinstance(value, list) else value for key, value in job.items()}


def _flat_list(items: list[Any], depth: int = 0) -> list[Any]:
    flat: list[Any] = []
    for item in items:
        if isinstance(item, list) and depth < MAX_NESTED_LIST_DEPTH:
            flat.extend(_flat_list(item, depth + 1))
        else:
            flat.append(item)
    return flat


def _without_unresolved(value: Any) -> Any:
    """A reference into another file cannot be checked here: leave it out, as a script of one
    command where a job must have one."""
    if isinstance(value, dict):
        kept = {}
        for key, item in value.items():
            if isinstance(item, (_Unresolved, Reference)):
                if key == "script":
                    kept[key] = "true"
                continue
            kept[key] = _without_unresolved(item)
        return kept
    if isinstance(value, list):
        return [_without_unresolved(item) for item in value if not isinstance(item, (_Unresolved, Reference))]
    return value


# ---------------------------------------------------------------- the project: includes merged


@dataclass
class IncludeFact:
    kind: str  # local | project | remote | template | component
    target: str
    line: int


class _Project:
    """The pipeline a file belongs to: its local includes loaded and merged as GitLab merges them."""

    def __init__(self, root: Path, override: tuple[str, SourceFile] | None = None) -> None:
        self.root = root
        self.override = override
        self.files: dict[str, LoadedFile] = {}
        self.includes: list[IncludeFact] = []
        self.opaque_includes: list[IncludeFact] = []

    def _source_for(self, relative: str, shown_from: LoadedFile, line: int, col: int) -> SourceFile:
        if self.override is not None and self.override[0] == relative:
            return self.override[1]
        path = self.root / relative
        if not path.is_file():
            raise InputError(
                shown_from.display, line, col, f"local include {relative!r} does not exist; fix the include"
            )
        return read_source(path, os.path.relpath(path))

    def load_tree(self, source: SourceFile, relative: str) -> dict[str, Any]:
        """The merged configuration of a file and everything it includes locally."""
        loaded = load_file(source, relative)
        self.files[relative] = loaded
        return self._merged(loaded, depth=0)

    def _merged(self, loaded: LoadedFile, depth: int) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        include_node = mapping_get(loaded.main, "include")
        for entry, node in _include_entries(loaded.config.get("include"), include_node):
            line, col = node_position(node) if node is not None else (1, 1)
            kind, target = _include_kind(entry)
            fact = IncludeFact(kind, target, line)
            self.includes.append(fact)
            if kind != "local" or "$" in target:
                self.opaque_includes.append(fact)
                continue
            for relative in self._expand_local(target, loaded, line, col):
                if relative in self.files:
                    continue
                if len(self.files) >= MAX_INCLUDED_FILES or depth >= 100:
                    raise InputError(loaded.display, line, col, "too many nested local includes; GitLab stops at 150")
                child = load_file(self._source_for(relative, loaded, line, col), relative)
                self.files[relative] = child
                merged = deep_merge(merged, self._merged(child, depth + 1))
        own = {key: value for key, value in loaded.config.items() if key != "include"}
        return deep_merge(merged, own)

    def _expand_local(self, target: str, loaded: LoadedFile, line: int, col: int) -> list[str]:
        pattern = target.lstrip("/")
        if any(char in pattern for char in "*?["):
            found = sorted(
                match.relative_to(self.root).as_posix()
                for match in self.root.glob(pattern)
                if match.is_file() and ".gitlab-ci-local" not in match.parts
            )
            return found
        return [pattern]


def _include_entries(value: Any, node: Node | None) -> list[tuple[dict[str, Any], Node | None]]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    nodes = node.value if isinstance(node, SequenceNode) else [node] * len(items)
    entries = []
    for item, item_node in zip(items, nodes):
        if isinstance(item, str):
            item = {"remote": item} if item.startswith(("http://", "https://")) else {"local": item}
        if isinstance(item, dict):
            entries.append((item, item_node))
    return entries


def _include_kind(entry: dict[str, Any]) -> tuple[str, str]:
    for kind in ("local", "component", "remote", "template"):
        if isinstance(entry.get(kind), str):
            return kind, entry[kind]
    if "project" in entry:
        files = entry.get("file")
        names = files if isinstance(files, list) else [files]
        ref = f"@{entry['ref']}" if entry.get("ref") else ""
        return "project", f"{entry['project']}{ref}:{','.join(str(name) for name in names)}"
    return "unknown", json.dumps(entry, default=str)[:80]


def deep_merge(base: Any, override: Any) -> Any:
    """GitLab's merge for includes and `extends:`: mappings merge key by key, anything else is replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        result = dict(base)
        for key, value in override.items():
            result[key] = deep_merge(base[key], value) if key in base else value
        return result
    return override


class _ReferenceResolver:
    """Replaces `!reference` tags with what they point at, nested at most 10 deep as in GitLab."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.resolved: dict[Reference, Any] = {}
        self.active: set[Reference] = set()
        # Aliases share one object between many places; each is resolved once.
        self.done: dict[int, Any] = {}

    def resolve(self, value: Any, depth: int = 0) -> Any:
        if isinstance(value, Reference):
            return self._target(value, depth)
        if not isinstance(value, (dict, list)):
            return value
        if id(value) in self.done:
            return self.done[id(value)]
        if isinstance(value, dict):
            result: Any = {key: self.resolve(item, depth) for key, item in value.items()}
        else:
            result = []
            for item in value:
                resolved = self.resolve(item, depth)
                # A reference inside a list splices its list in, as GitLab does for scripts and rules.
                if isinstance(item, Reference) and isinstance(resolved, list):
                    result.extend(resolved)
                else:
                    result.append(resolved)
        if not self.active:
            self.done[id(value)] = result
        return result

    def _target(self, reference: Reference, depth: int) -> Any:
        if reference in self.resolved:
            return self.resolved[reference]
        if depth >= MAX_REFERENCE_DEPTH or reference in self.active:
            return _Unresolved(f"!reference {list(reference.path)} nests too deep")
        self.active.add(reference)
        current: Any = self.config
        for part in reference.path:
            if isinstance(current, dict) and part in current:
                current = current[part]
            else:
                current = _Unresolved(f"!reference {list(reference.path)}")
                break
        result = self.resolve(current, depth + 1)
        self.active.discard(reference)
        self.resolved[reference] = result
        return result


def contains_unresolved(value: Any) -> bool:
    if isinstance(value, (_Unresolved, Reference)):
        return True
    if isinstance(value, dict):
        return any(contains_unresolved(item) for item in value.values())
    if isinstance(value, list):
        return any(contains_unresolved(item) for item in value)
    return False
