"""GitLab CI files: find Go jobs and give them go.sum-keyed module and build caches.

inspect() reads a `.gitlab-ci.yml` (or a local include file, or a CI/CD component) into
GitlabFacts: every job with its effective configuration after local includes, `!reference`
tags, `<<` merges, `extends:` chains and `default:` are applied, plus the node positions of the
jobs this file defines. plan() decides the edits, verify() parses the result again and checks it
against check-jsonschema's gitlab-ci schema. Only textedit.apply_edits writes text.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ci_gocache import keys, schemas
from ci_gocache.errors import InputError, Notice
from ci_gocache.gopaths import is_go_cache_path
from ci_gocache.repo import RepoFacts, find_repo_root
from ci_gocache.sourcefile import (
    SourceFile,
    check_keys_are_names,
    compose_documents,
    mapping_get,
    mapping_key_node,
    node_position,
    read_source,
    read_text_if_regular,
    to_plain,
)
from ci_gocache.gocommands import GO_COMMAND, GO_TOOL_COMMAND, MAKE_COMMAND
from ci_gocache.targets.base import FilePlan, JobOutcome, PatchOptions
from ci_gocache.textedit import Edit, apply_edits, end_of_content, leading_comment_start, line_end, line_start
from ci_gocache.yamlnodes import count_parents, leaf_end, locate_node
from ci_gocache.targets.gitlab import docker_jobs
from ci_gocache.targets.gitlab import scripts as shell_scripts

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

    @property
    def display(self) -> str:
        return self.source.display_path


def load_file(source: SourceFile, relative: str) -> LoadedFile:
    documents = compose_documents(source)
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
    return LoadedFile(source, relative, main, header if isinstance(header, MappingNode) else None, config)


def _is_spec_header(node: Node) -> bool:
    return isinstance(node, MappingNode) and [key.value for key, _ in node.value if isinstance(key, ScalarNode)] == ["spec"]


def validate_schema(loaded: LoadedFile, what: str, then: str) -> None:
    """check-jsonschema's gitlab-ci schema on the spec header and on the document after it."""
    documents = [loaded.header, loaded.main] if loaded.header is not None else [loaded.main]
    for document in documents:
        check_keys_are_names(document, loaded.display)
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


# ---------------------------------------------------------------- facts


@dataclass
class CacheEntry:
    detail: str
    go_only: bool
    mixed: bool
    ours: bool
    plain: Any = field(default=None, repr=False)


@dataclass(frozen=True)
class GoLocation:
    """A place the job itself gives GOPATH, GOMODCACHE or GOCACHE."""

    name: str
    value: str  # as written, the first one when it is given several
    origin: str  # variables | rules | before_script | script | after_script
    place: shell_scripts.Place
    conflicting: tuple[str, ...] = ()  # other values it is given that point elsewhere

    @property
    def directory(self) -> str | None:
        """The directory under the project directory, when ci-gocache can cache it."""
        return self.place.directory if self.place.kind == "inside" and not self.conflicting else None


@dataclass
class _JobNodes:
    """Where a job sits in this file's text (only for jobs this file defines)."""

    key: ScalarNode
    value: Node
    shared: bool
    flow: bool
    own_keys: set[str]
    merged_plain: dict[str, Any]


@dataclass
class GitlabJob:
    name: str
    line: int
    col: int
    file: str
    hidden: bool
    trigger: bool
    image: str | None
    image_from: str
    extends: list[str]
    unknown_parents: list[str]
    go_reasons: list[str]
    scripts: list[str]
    caches: list[CacheEntry]
    cache_from: str  # job | merge | extends | default | "" (none)
    has_rules: bool
    has_only_except: bool
    # The job's own `when:` and `start_in:`: GitLab rejects rules: next to `when: delayed`/`start_in`.
    when: str | None
    variables: dict[str, str]
    unresolved: list[str]
    module_directories: list[str] = field(default_factory=list)
    sum_files: list[str] = field(default_factory=list)
    sum_files_known: bool = True
    sum_files_note: str = ""
    # GOPATH/GOMODCACHE/GOCACHE as the job's variables, rules or scripts set them.
    go_locations: dict[str, GoLocation] = field(default_factory=dict)
    # A script's GOFLAGS that replaces the variable and drops -modcacherw.
    goflags_overrides: list[shell_scripts.Setting] = field(default_factory=list)
    build_script: list[str] = field(default_factory=list)
    is_docker_unsafe: bool = False
    docker_left_alone: str = ""  # why its `docker build` stays as written (docker_jobs.buildx_unavailable)
    nodes: _JobNodes | None = field(default=None, repr=False, compare=False)

    @property
    def is_go(self) -> bool:
        return bool(self.go_reasons) and not self.hidden and not self.trigger

    @property
    def already_patched(self) -> bool:
        return sum(1 for cache in self.caches if cache.ours) >= 2

    @property
    def go_cache_directories(self) -> tuple[str, ...]:
        """The project directories the job itself keeps Go's caches in (hand-written caches of them are Go caches)."""
        return _directories_of(self.go_locations)


@dataclass
class GitlabFacts:
    path: str
    kind: str  # pipeline | include | component
    context: str  # which pipeline the jobs were resolved in
    text: str
    newline: str
    jobs: list[GitlabJob]
    includes: list[IncludeFact]
    opaque_includes: list[IncludeFact]
    indent_unit: int
    sequence_offset: int
    root: Path
    notices: list[Notice] = field(default_factory=list)
    loaded: LoadedFile | None = field(default=None, repr=False, compare=False)
    # Whether the pipeline has workflow:rules: "rules", "none", or "unknown" (an include
    # ci-gocache cannot read may set them); `workflow_from` says where that was read.
    workflow: str = "none"
    workflow_from: str = ""
    # How many places refer to each node: more than one means an anchor used by an alias.
    parents: dict[int, int] = field(default_factory=dict, repr=False, compare=False)


def project_root(path: Path, repo_root: Path) -> Path:
    """The project directory: the repository root when it holds a .gitlab-ci.yml (GitLab resolves
    `local:` includes and `cache:key:files` from there, also for an included <dir>/.gitlab-ci.yml),
    else where the nearest .gitlab-ci.yml sits, else the repository root."""
    stop = repo_root.resolve()
    if any((stop / name).is_file() for name in PIPELINE_NAMES):
        return stop
    directory = path.resolve().parent
    for candidate in [directory, *directory.parents]:
        if any((candidate / name).is_file() for name in PIPELINE_NAMES):
            return candidate
        if candidate == stop:
            break
    return repo_root


def inspect(source: SourceFile, repo: RepoFacts) -> GitlabFacts:
    root = project_root(source.path, repo.root)
    relative = _relative_to(root, source.path)
    loaded = load_file(source, relative)
    validate_schema(loaded, "does not match", "; fix the file first")
    project, merged, kind, context = _project_for(root, relative, source, loaded)
    resolver = _ReferenceResolver(merged)
    config = resolver.resolve(merged)
    own_names = [
        key.value for key, _ in loaded.main.value
        if isinstance(key, ScalarNode) and key.value not in TOP_LEVEL_KEYWORDS and key.value != "<<"
    ]
    positions = _job_positions(project)
    parents = count_parents(loaded.main)
    jobs = []
    for name in own_names:
        job = _effective_job(name, config, positions, root)
        job.nodes = _job_nodes(loaded, name, parents)
        jobs.append(job)
    unit, offset = _indentation(loaded.main)
    workflow, workflow_from = pipeline_workflow(config, project.includes)
    return GitlabFacts(
        path=source.display_path,
        kind=kind,
        context=context,
        text=source.text,
        newline=source.newline,
        jobs=jobs,
        includes=project.includes,
        opaque_includes=project.opaque_includes,
        indent_unit=unit,
        sequence_offset=offset,
        root=root,
        loaded=loaded,
        parents=parents,
        workflow=workflow,
        workflow_from=workflow_from,
    )


# GitLab's own templates that set workflow:rules, read by name.
WORKFLOW_TEMPLATES = re.compile(r"^(?:Workflows/|Auto-DevOps(?:\.latest)?\.gitlab-ci\.yml$)")


def pipeline_workflow(config: dict[str, Any], includes: list[IncludeFact]) -> tuple[str, str]:
    """Whether GitLab applies workflow:rules to this pipeline, and where that was read.

    GitLab gives a job without rules:, only: or except: the default `only: [branches, tags]`, so it
    stays out of merge request pipelines, unless the pipeline has workflow:rules: then the job runs
    in every pipeline the workflow creates. An include ci-gocache cannot read may set them."""
    workflow = config.get("workflow")
    if isinstance(workflow, dict) and workflow.get("rules") is not None:
        return "rules", "workflow:rules"
    for include in includes:
        if include.kind == "template" and WORKFLOW_TEMPLATES.match(include.target):
            return "rules", f"include template {include.target} (line {include.line})"
    for include in includes:
        if include.kind in ("project", "remote", "component", "unknown") or (include.kind == "local" and "$" in include.target):
            return "unknown", f"include {include.kind} {include.target} (line {include.line})"
    return "none", ""


def _relative_to(root: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.name


def _project_for(
    root: Path, relative: str, source: SourceFile, loaded: LoadedFile
) -> tuple[_Project, dict[str, Any], str, str]:
    """The pipeline this file's jobs run in: the repository's .gitlab-ci.yml if it includes the
    file locally, else the file on its own with its own local includes."""
    kind = "component" if loaded.header is not None else "pipeline"
    main = next((name for name in PIPELINE_NAMES if (root / name).is_file()), None)
    if main is not None and main != relative:
        project = _Project(root, override=(relative, source))
        merged = project.load_tree(read_source(root / main, os.path.relpath(root / main)), main)
        if relative in project.files:
            project.files[relative] = loaded
            return project, merged, "include", main
    project = _Project(root)
    project.files[relative] = loaded
    merged = project._merged(loaded, depth=0)
    return project, merged, kind, relative


def _job_positions(project: _Project) -> dict[str, tuple[str, int, int]]:
    positions: dict[str, tuple[str, int, int]] = {}
    for loaded in project.files.values():
        for key, _ in loaded.main.value:
            if isinstance(key, ScalarNode):
                line, col = node_position(key)
                positions[key.value] = (loaded.display, line, col)
    return positions


def _indentation(main: MappingNode) -> tuple[int, int]:
    """The file's indentation step, and how far a block sequence's dash sits right of its key."""
    unit, offset = 2, None
    for key, value in main.value:
        if isinstance(value, MappingNode) and not value.flow_style and value.value:
            unit = max(1, value.value[0][0].start_mark.column - key.start_mark.column)
            for child_key, child in value.value:
                if isinstance(child, SequenceNode) and not child.flow_style and child.value:
                    offset = max(0, child.value[0].start_mark.column - 2 - child_key.start_mark.column)
                    break
            if offset is not None:
                break
    return unit, unit if offset is None else offset


def _job_nodes(loaded: LoadedFile, name: str, parents: dict[int, int]) -> _JobNodes | None:
    key = mapping_key_node(loaded.main, name)
    value = mapping_get(loaded.main, name)
    if key is None or value is None:
        return None
    own = {k.value for k, _ in value.value if isinstance(k, ScalarNode)} if isinstance(value, MappingNode) else set()
    merged = to_plain(value, TAG_HANDLERS) if isinstance(value, MappingNode) else {}
    return _JobNodes(
        key=key,
        value=value,
        shared=parents.get(id(value), 0) > 1 or value.start_mark.index < key.start_mark.index,
        flow=bool(getattr(value, "flow_style", False)),
        own_keys=own - {"<<"},
        merged_plain=merged if isinstance(merged, dict) else {},
    )


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _flatten_strings(value: Any) -> list[str]:
    found: list[str] = []
    for item in _as_list(value):
        if isinstance(item, list):
            found.extend(_flatten_strings(item))
        elif isinstance(item, str):
            found.append(item)
    return found


def _effective_job(
    name: str, config: dict[str, Any], positions: dict[str, tuple[str, int, int]], root: Path
) -> GitlabJob:
    shown, line, col = positions.get(name, ("", 1, 1))
    unknown: list[str] = []
    resolved, cache_from = _resolve_extends(name, config, positions, [], unknown)
    raw_own = config.get(name) if isinstance(config.get(name), dict) else {}
    extends = [str(parent) for parent in _as_list(raw_own.get("extends"))]
    unresolved: list[str] = []
    inherit = resolved.get("inherit") if isinstance(resolved.get("inherit"), dict) else {}
    inherited_defaults = _inherited(inherit.get("default", True), DEFAULT_KEYWORDS)
    defaults = config.get("default") if isinstance(config.get("default"), dict) else {}
    image_from = "job" if "image" in resolved else ""
    for keyword in DEFAULT_KEYWORDS:
        if keyword in resolved or keyword not in inherited_defaults:
            continue
        if keyword in defaults:
            resolved[keyword] = defaults[keyword]
        elif keyword in GLOBAL_DEFAULT_KEYWORDS and keyword in config:
            resolved[keyword] = config[keyword]
        else:
            continue
        if keyword == "cache":
            cache_from = "default"
        if keyword == "image":
            image_from = "default"
    variables: dict[str, str] = {}
    global_variables = _dict(config.get("variables"))
    for key in _inherited(inherit.get("variables", True), tuple(global_variables)):
        if key in global_variables:
            variables[str(key)] = _variable_value(global_variables[key])
    for key, value in _dict(resolved.get("variables")).items():
        variables[str(key)] = _variable_value(value)
    image = resolved.get("image")
    if isinstance(image, dict):
        image = image.get("name")
    image_text = image if isinstance(image, str) else None
    if image is not None and not isinstance(image, str):
        unresolved.append("image")
    scripts = []
    sections: dict[str, list[str]] = {}
    for key in SCRIPT_KEYS:
        if contains_unresolved(resolved.get(key)):
            unresolved.append(key)
        sections[key] = _flatten_strings(resolved.get(key))
        scripts.extend(sections[key])
    script_facts = shell_scripts.read_scripts(sections)
    locations = _go_locations(variables, resolved.get("rules"), script_facts)
    caches = [_cache_entry(entry, _directories_of(locations)) for entry in _flat_list(_as_list(resolved.get("cache")))]
    if contains_unresolved(resolved.get("cache")):
        unresolved.append("cache")
    job = GitlabJob(
        name=name,
        line=line,
        col=col,
        file=shown,
        hidden=name.startswith("."),
        trigger="trigger" in resolved,
        image=image_text,
        image_from=image_from,
        extends=extends,
        unknown_parents=unknown,
        go_reasons=[],
        scripts=scripts,
        caches=caches,
        cache_from=cache_from if caches or "cache" in resolved else "",
        has_rules="rules" in resolved,
        has_only_except="only" in resolved or "except" in resolved,
        when="delayed" if "start_in" in resolved else (str(resolved["when"]) if "when" in resolved else None),
        variables=variables,
        unresolved=unresolved,
        go_locations=locations,
        goflags_overrides=[
            setting for setting in script_facts.settings
            if setting.name == "GOFLAGS" and not setting.by_go_env
            and MODCACHERW not in setting.value.split() and not re.search(r"\$\{?GOFLAGS\b", setting.value)
        ],
    )
    job.build_script = _flatten_strings(resolved.get("before_script")) + _flatten_strings(resolved.get("script"))
    _go_reasons(job, raw_own)
    if job.is_go:
        _resolve_sum_files(job, root, script_facts)
    return job


def _dict(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def _inherited(setting: Any, names: tuple[str, ...]) -> tuple[str, ...]:
    if setting is False:
        return ()
    if isinstance(setting, list):
        return tuple(str(item) for item in setting)
    return names


def _variable_value(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("value", "")
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None or isinstance(value, (_Unresolved, Reference)) else str(value)


def _resolve_extends(
    name: str,
    config: dict[str, Any],
    positions: dict[str, tuple[str, int, int]],
    chain: list[str],
    unknown: list[str],
) -> tuple[dict[str, Any], str]:
    """The job with its `extends:` parents merged in, and where its cache came from."""
    if name in chain:
        shown, line, col = positions.get(chain[0], ("", 1, 1))
        cycle = " -> ".join([*chain, name])
        raise InputError(shown, line, col, f"`extends:` goes round in a circle ({cycle}); break the cycle")
    if len(chain) > MAX_EXTENDS_DEPTH:
        shown, line, col = positions.get(chain[0], ("", 1, 1))
        raise InputError(shown, line, col, f"`extends:` nests deeper than {MAX_EXTENDS_DEPTH} levels; flatten it")
    own = config.get(name)
    if not isinstance(own, dict):
        return {}, ""
    result: dict[str, Any] = {}
    cache_from = ""
    for parent in _as_list(own.get("extends")):
        parent_name = str(parent)
        if not isinstance(config.get(parent_name), dict):
            unknown.append(parent_name)
            continue
        parent_config, parent_cache = _resolve_extends(parent_name, config, positions, [*chain, name], unknown)
        result = deep_merge(result, parent_config)
        if "cache" in parent_config:
            cache_from = "extends"
    result = deep_merge(result, {key: value for key, value in own.items() if key != "extends"})
    if "cache" in own:
        cache_from = "job"
    return result, cache_from


def _cache_entry(entry: Any, go_directories: tuple[str, ...] = ()) -> CacheEntry:
    """A cache as the job has it. Its paths are Go's when they look like Go cache directories, or
    are the directories the job itself keeps Go's caches in (`go_directories`)."""
    if not isinstance(entry, dict):
        return CacheEntry(detail=str(entry), go_only=False, mixed=False, ours=False, plain=entry)
    paths = [str(path) for path in _as_list(entry.get("paths"))]
    go_paths = [path for path in paths if is_go_cache_path(path) or _within_any(path, go_directories)]
    key = entry.get("key")
    ours = _is_our_key(key)
    key_text = json.dumps(key, default=str) if isinstance(key, (dict, list)) else str(key)
    return CacheEntry(
        detail=f"cache of {', '.join(paths) or '(no paths)'} keyed on {key_text}",
        go_only=bool(go_paths) and len(go_paths) == len(paths),
        mixed=bool(go_paths) and len(go_paths) != len(paths),
        ours=ours,
        plain=entry,
    )


def _within_any(path: str, directories: tuple[str, ...]) -> bool:
    written = path.strip()
    project = PROJECT_DIR_PREFIX.match(written)
    if project:
        written = project.group(1) or ""
    cleaned = keys._normal(written.removeprefix("./").rstrip("/") or ".")
    return any(cleaned == directory or cleaned.startswith(directory + "/") for directory in directories if directory)


def _is_our_key(key: Any) -> bool:
    if isinstance(key, dict):
        return str(key.get("prefix", "")).endswith(f"-{keys.MODULE_KIND}")
    text = str(key or "")
    return any(f"-{kind}-$CI_JOB_NAME_SLUG" in text for kind in (keys.MODULE_KIND, keys.BUILD_KIND))


# GitLab's security and quality template jobs (SAST, dependency scanning, secret detection, ...):
# a job of that name overrides the template's job, whose script is the analyzer's, not Go.
SCANNER_JOB = re.compile(
    r"^(?:sast|[\w-]+-sast|dependency_scanning|gemnasium(?:-[\w]+)?-dependency_scanning|secret_detection"
    r"|container_scanning|code_quality|license_scanning|dast|api_fuzzing|coverage_fuzzing)$"
)
# A command's words that are only text: echo/printf arguments and comments, up to the next command.
_TEXT_ONLY = re.compile(r"(?:^|(?<=[;&|(`\n]))\s*(?:echo|printf)\b[^;&|\n]*|(?:^|(?<=\s))#[^\n]*", re.MULTILINE)
# A script file run in a Go image (./ci/test.sh, bash scripts/build.sh): it may run Go.
_SCRIPT_FILE = re.compile(r"(?:^|[\s;&|(`])(?:\./[\w./-]+|(?:ba|z)?sh\s+[\w./-]+\.sh)\b", re.MULTILINE)


def commands_of(script: str) -> str:
    """The script without what only prints text, so that `echo "go test"` is not Go."""
    return _TEXT_ONLY.sub(" ", script)


def _go_reasons(job: GitlabJob, raw_own: dict[str, Any]) -> None:
    """Why the job runs Go. A Go image alone is not enough: the scripts must run Go, a Go tool, or
    make/task or a script file in a Go image. A job named like one of GitLab's scanner template
    jobs overrides that job and is not a Go job."""
    if SCANNER_JOB.match(job.name):
        return
    script = commands_of("\n".join(job.scripts))
    via = ""
    if job.extends and not any(key in raw_own for key in SCRIPT_KEYS):
        via = f" (script from {', '.join(job.extends)})"
    go_image = bool(job.image and GO_IMAGE.search(job.image.lower()))
    image_reason = f"{'default:' if job.image_from == 'default' else 'job'} image {job.image} is a Go image"
    if GO_COMMAND.search(script):
        job.go_reasons.append("runs go commands" + via)
    elif GO_TOOL_COMMAND.search(script):
        job.go_reasons.append("runs Go tools" + via)
    elif go_image and MAKE_COMMAND.search(script):
        job.go_reasons.append("runs make/task in a Go image")
    elif go_image and _SCRIPT_FILE.search(script):
        job.go_reasons.append("runs a script file in a Go image")
    if job.go_reasons and go_image:
        job.go_reasons.insert(0, image_reason)


def _go_locations(
    variables: dict[str, str], rules: Any, script: shell_scripts.ScriptFacts
) -> dict[str, GoLocation]:
    """Where the job's own settings put GOPATH, GOMODCACHE and GOCACHE. A script's assignment
    replaces the variable; values that point to different places are a conflict."""
    locations: dict[str, GoLocation] = {}
    script_values = {**variables, **{setting.name: setting.value for setting in script.settings}}
    for name in shell_scripts.CACHE_VARIABLES:
        given = [(setting.value, setting.section, setting.cwd) for setting in script.settings if setting.name == name]
        context = script_values
        if not given:
            context = variables
            if name in variables:
                given.append((variables[name], "variables", ""))
            for rule in _as_list(rules):
                rule_variables = _dict(rule.get("variables")) if isinstance(rule, dict) else {}
                if name in rule_variables:
                    given.append((_variable_value(rule_variables[name]), "rules", ""))
        if not given:
            continue
        # A value naming itself ($GOPATH in GOPATH) refers to what it replaces, which is unknown here.
        others = {key: value for key, value in context.items() if key != name}
        placed = [
            (value, origin, shell_scripts.locate(value, others, cwd, list_of_paths=name == "GOPATH"))
            for value, origin, cwd in given
        ]
        value, origin, place = placed[0]
        conflicting = tuple(
            dict.fromkeys(
                other_value for other_value, _, other_place in placed[1:]
                if (other_place.kind, other_place.directory) != (place.kind, place.directory)
                or (place.kind != "inside" and other_value != value)
            )
        )
        locations[name] = GoLocation(name, value, origin, place, conflicting)
    return locations


def _directories_of(locations: dict[str, GoLocation]) -> tuple[str, ...]:
    return tuple(location.directory for location in locations.values() if location.directory)


def location_problem(location: GoLocation) -> str:
    """Why ci-gocache cannot cache where the job puts one of Go's directories, and what to do; "" when it can."""
    name, value, place = location.name, location.value, location.place
    shown = value if value else '""'
    suggestion = f"$CI_PROJECT_DIR/{SUGGESTED_DIRECTORIES[name]}"
    if location.conflicting:
        values = ", ".join([shown, *location.conflicting])
        return (
            f"it sets {name} to different places ({values}); set it once, to a directory under "
            f"$CI_PROJECT_DIR such as {suggestion}, then run again"
        )
    if location.origin == "variables":
        subject = f"{name} is {shown}"
    elif location.origin == "rules":
        subject = f"a rule sets {name} to {shown}"
    else:
        subject = f"its {location.origin} sets {name} to {shown}"
    if place.kind == "inside":
        return ""
    if place.kind == "outside":
        return (
            f"{subject}, outside $CI_PROJECT_DIR, and GitLab caches only paths inside it; "
            f"point it at a directory under $CI_PROJECT_DIR such as {suggestion}, then run again"
        )
    if place.kind == "project":
        return f"{subject}, the project directory itself; point it at a directory under it such as {suggestion}, then run again"
    if place.kind == "relative":
        return f"{subject}, a relative path, which Go rejects; write it as $CI_PROJECT_DIR/{value}, then run again"
    return (
        f"{subject}, which ci-gocache cannot work out before the job runs; write it as "
        f"$CI_PROJECT_DIR/<directory> (such as {suggestion}), or remove it and let ci-gocache choose, then run again"
    )


def _resolve_sum_files(job: GitlabJob, root: Path, script: shell_scripts.ScriptFacts) -> None:
    """The go.sum files (those that exist) of the modules the job runs Go in, relative to the project directory."""
    if script.runs_go:
        directories = list(script.go_directories)
        unknown_directories = list(script.unknown_directories)
    else:
        # Go runs only inside something ci-gocache does not read (a script file in a Go image):
        # every directory the job enters may be where it runs.
        directories = list(script.visited)
        unknown_directories = list(script.visited_unknown)
    files = keys.sum_files_for_directories(root, directories)
    note = ""
    too_many = "GitLab's cache:key:files hashes at most two files"
    if unknown_directories:
        note = f"changes into directories ci-gocache cannot work out ({', '.join(unknown_directories)})"
    elif not files:
        note = "builds where ci-gocache finds no go.mod"
    if note:
        every = keys.all_sum_files(root)
        if not every:
            note = "runs Go, but ci-gocache finds no go.mod or go.sum for its module cache key"
        elif len(every) <= MAX_KEY_FILES:
            files, note = sorted(set(files) | set(every)), ""
        else:
            note += f", in a repository with {len(every)} go.sum files; {too_many}"
    elif len(files) > MAX_KEY_FILES:
        note = f"builds with {len(files)} go.sum files ({', '.join(files)}); {too_many}"
    job.module_directories = directories
    job.sum_files = files
    job.sum_files_known = not note
    job.sum_files_note = note


# ---------------------------------------------------------------- planning


@dataclass
class _Layout:
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


def cache_directories(job: GitlabJob) -> tuple[str, str] | str:
    """The module and build cache paths (relative to the project), or why there are none.

    Where the job puts GOMODCACHE or GOCACHE itself, there; else under GOPATH when the job puts
    that inside the project directory; else ci-gocache's own directories."""
    module_dir = f"{GOPATH_DIRECTORY}/pkg/mod"
    build_dir = BUILD_CACHE_DIRECTORY
    modcache = job.go_locations.get("GOMODCACHE")
    gopath = job.go_locations.get("GOPATH")
    gocache = job.go_locations.get("GOCACHE")
    if modcache is not None:
        if modcache.directory is None:
            return location_problem(modcache)
        module_dir = modcache.directory
    elif gopath is not None and gopath.directory is not None:
        module_dir = f"{gopath.directory}/pkg/mod"
    if gocache is not None:
        if gocache.directory is None:
            return location_problem(gocache)
        build_dir = gocache.directory
    return module_dir, build_dir


def policy_rules(save_on: str, default_only: bool = True) -> list[dict[str, Any]] | None:
    """Rules that set the cache policy: save only where --save-on says, never in tag pipelines.

    They keep the job in exactly the pipelines it ran in: with `default_only` (no workflow:rules,
    where GitLab gives the job `only: [branches, tags]`) they keep it out of merge request
    pipelines; with workflow:rules every pipeline the workflow creates runs it, as before."""
    save_if = {
        "default-branch": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH",
        "push": '$CI_PIPELINE_SOURCE == "push" && $CI_COMMIT_BRANCH',
        "always": "$CI_COMMIT_BRANCH",
    }.get(save_on)
    if save_if is None:
        return None
    never_in_merge_requests = [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"', "when": "never"}]
    return [
        *(never_in_merge_requests if default_only else []),
        {"if": "$CI_COMMIT_TAG", "variables": {POLICY_VARIABLE: "pull"}},
        {"if": save_if, "variables": {POLICY_VARIABLE: "pull-push"}},
        {"variables": {POLICY_VARIABLE: "pull"}},
    ]


def our_caches(job: GitlabJob, options: PatchOptions, directories: tuple[str, str]) -> list[dict[str, Any]]:
    module_dir, build_dir = directories
    policy = "pull" if options.save_on == "never" else f"${POLICY_VARIABLE}"
    prefix = options.key_prefix
    per_job = "$CI_JOB_NAME_SLUG"
    if job.sum_files_known:
        module_key: dict[str, Any] = {"key": {"prefix": f"{prefix}-{keys.MODULE_KIND}", "files": job.sum_files}}
    else:
        # More go.sum files than key:files can hash: a cache per job and branch that the
        # default branch saves again on every pipeline, so it follows every go.sum.
        module_key = {
            "key": f"{prefix}-{keys.MODULE_KIND}-{per_job}-$CI_COMMIT_REF_SLUG",
            "fallback_keys": [f"{prefix}-{keys.MODULE_KIND}-{per_job}-$CI_DEFAULT_BRANCH"],
        }
    module = {**module_key, "paths": [f"{module_dir}/"], "policy": policy}
    build = {
        "key": f"{prefix}-{keys.BUILD_KIND}-{per_job}-$CI_COMMIT_REF_SLUG",
        "fallback_keys": [f"{prefix}-{keys.BUILD_KIND}-{per_job}-$CI_DEFAULT_BRANCH"],
        "paths": [f"{build_dir}/"],
        "policy": policy,
    }
    return [module, build]


# `go install`, and `go get`, which installs commands up to Go 1.17: the job keeps its GOPATH so
# the binaries land in its bin directory on PATH (/go/bin in golang images), not in the project.
GO_INSTALL = re.compile(r"(?:^|[\s;&|(`])go\s+(?:-C\s+\S+\s+)?(?:install|get)\b")

# Commands that walk the whole project directory, where the Go caches sit: third-party modules
# are often not gofmt-clean, and copying the directory into GOPATH copies it into itself.
_PROJECT_PATH = r"(?:\.|\./|\.//|\$\{?CI_PROJECT_DIR\}?/?|\$\{?PWD\}?/?|\"\$\{?CI_PROJECT_DIR\}?\"|\$\(pwd\))"
_WALKS = "walks every file under the project directory, Go's caches included, where third-party modules are often not gofmt-clean"
_SKIP_CACHES = "make it skip them (such as `gofmt -l $(git ls-files '*.go')`, or `find . -path ./.go -prune -o ...`)"
_TREE_WALKERS = (
    (re.compile(rf"(?:^|[\s;&|(`])(gofmt|goimports|gofumpt|goimports-reviser|gci)\b[^;&|\n]*?\s{_PROJECT_PATH}(?=[\s;&|)`\"]|$)", re.MULTILINE), _WALKS, _SKIP_CACHES),
    (re.compile(rf"(?:^|[\s;&|(`])(find)(?:\s+-[HLP])*\s+{_PROJECT_PATH}(?=[\s;&|)`\"]|$)", re.MULTILINE), _WALKS, _SKIP_CACHES),
    (re.compile(r"(?:^|[\s;&|(`])(find)\s+-(?:name|iname|type|path)\b", re.MULTILINE), _WALKS, _SKIP_CACHES),
    (re.compile(rf"(?:^|[\s;&|(`])(cp|rsync)\s+(?:-\w+\s+)*{_PROJECT_PATH}(?=[\s;&|)`\"]|$)", re.MULTILINE),
     "copies the whole project directory, Go's caches included, and into itself when the target is under GOPATH=$CI_PROJECT_DIR/.go",
     "copy only the sources (such as `git ls-files | cpio -pd <target>`), or set GOPATH to a directory under $CI_PROJECT_DIR yourself"),
    (re.compile(r"(?:^|[\s;&|(`])(cp|rsync|ln|mv|mkdir)\b[^;&|\n]*\$\{?GOPATH\}?/src\b", re.MULTILINE),
     "builds in GOPATH mode under $GOPATH/src, which ci-gocache's GOPATH would move into the project directory",
     "move the job to Go modules, or set GOPATH to a directory under $CI_PROJECT_DIR yourself"),
)
GO_IMAGE_VERSION = re.compile(r"(?:^|/)golang:1\.(\d+)(?:[.\-]|$)")


def script_hazard(job: GitlabJob) -> str:
    """Why Go's directories inside $CI_PROJECT_DIR would break the job's scripts, and what to do; "" if they would not."""
    image = (job.image or "").lower()
    version = GO_IMAGE_VERSION.search(image)
    if version and int(version.group(1)) < 14:
        return (
            f"its image {job.image} has Go 1.{version.group(1)}, older than 1.14, which lacks {MODCACHERW} (every go "
            "command would abort with it) and GOMODCACHE; move the job to golang:1.14 or newer, then run again"
        )
    script = commands_of("\n".join(job.scripts))
    for pattern, what, fix in _TREE_WALKERS:
        found = pattern.search(script)
        if found is None:
            continue
        if found.group(1) == "find" and re.search(r"\.go(?:-build)?\b['\"]?\s*-prune|-path\s+['\"]?\./\.go", script):
            continue
        command = found.group(0).strip(" \t\n;&|(`")
        return (
            f"its script runs `{command}`, which {what} ({GOPATH_DIRECTORY}/ and {BUILD_CACHE_DIRECTORY}/ once "
            f"cached there); {fix}, then run again"
        )
    return ""


def our_variables(job: GitlabJob, options: PatchOptions, directories: tuple[str, str]) -> dict[str, str]:
    """The variables to add to the job (those it does not already have right)."""
    module_dir, build_dir = directories
    # What the job sets itself (in variables, rules or its scripts) stays: a variable added here
    # would only be replaced by the script's export, or would move the job's own directories.
    own = set(job.go_locations)
    wanted: dict[str, str] = {}
    # A job that runs `go install` keeps its GOPATH, so the tools land where PATH finds them
    # (/go/bin in golang images); GOMODCACHE alone moves the module cache into the project.
    installs_tools = any(GO_INSTALL.search(line) for line in job.scripts)
    if not own & {"GOPATH", "GOMODCACHE"} and not installs_tools:
        wanted["GOPATH"] = f"$CI_PROJECT_DIR/{GOPATH_DIRECTORY}"
    if "GOMODCACHE" not in own:
        wanted["GOMODCACHE"] = f"$CI_PROJECT_DIR/{module_dir}"
    if "GOCACHE" not in own:
        wanted["GOCACHE"] = f"$CI_PROJECT_DIR/{build_dir}"
    flags = job.variables.get("GOFLAGS")
    if flags is None:
        wanted["GOFLAGS"] = MODCACHERW
    elif MODCACHERW not in flags.split():
        wanted["GOFLAGS"] = f"{flags} {MODCACHERW}".strip()
    if options.save_on != "never" and POLICY_VARIABLE not in job.variables:
        wanted[POLICY_VARIABLE] = "pull"
    return wanted


@dataclass
class JobPlan:
    job: GitlabJob
    edits: list[Edit]
    created_cache: bool
    added_rules: bool
    kept_caches: list[Any]
    restore_only_reason: str = ""
    go: bool = True
    # `docker build` turned into `docker buildx build` with a registry cache (docker_gitlab).
    docker_edits: list[Edit] = field(default_factory=list)
    # The keys written into the job (variables, cache, rules), when another job with the same ones
    # could share them through a hidden job instead: the edit that writes them, and where.
    shareable: dict[str, Any] | None = None
    new_keys_edit: Edit | None = None
    key_column: int = 0
    job_end: int = 0
    # The hidden job it extends instead, when it shares them.
    shared_as: str = ""


class _Refused(Exception):
    def __init__(self, outcome: str, reason: str) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason


def plan(facts: GitlabFacts, options: PatchOptions) -> FilePlan:
    result = FilePlan()
    plans, outcomes = plan_jobs(facts, options)
    for outcome in outcomes:
        result.jobs.append(outcome)
        if outcome.outcome in ("skipped", "unsafe"):
            job = next(job for job in facts.jobs if job.name == outcome.job)
            result.notices.append(Notice(facts.path, job.line, job.col, f"job {job.name!r} left unchanged: {outcome.reason}"))
    unsafe = [outcome.job for outcome in outcomes if outcome.outcome == "unsafe"]
    if unsafe:
        # Never half patched: a structure we cannot edit safely leaves the whole file as it is.
        for outcome in result.jobs:
            if outcome.outcome == "patched":
                outcome.outcome = "skipped"
                outcome.reason = f"file left unchanged because job {unsafe[0]!r} cannot be edited safely"
                job = next(job for job in facts.jobs if job.name == outcome.job)
                result.notices.append(Notice(facts.path, job.line, job.col, f"job {job.name!r} left unchanged: {outcome.reason}"))
        return result
    for job in facts.jobs:
        if job.nodes is not None and job.is_docker_unsafe:
            result.notices.append(
                Notice(
                    facts.path, job.line, job.col,
                    f"job {job.name!r}: its `docker build` sits where ci-gocache cannot rewrite it safely "
                    "(flow style, a nested list or an alias); it is left as written",
                )
            )
        if job.docker_left_alone:
            result.notices.append(
                Notice(facts.path, job.line, job.col, f"job {job.name!r}: its `docker build` is left as written: {job.docker_left_alone}")
            )
    flow = cache_flow(plans, options)
    # The hidden jobs go last: after any key written at the very end of the file.
    hidden_jobs = share_settings(facts, plans)
    for job_plan in plans:
        result.edits.extend(job_plan.edits)
        result.edits.extend(job_plan.docker_edits)
        if job_plan.restore_only_reason:
            job = job_plan.job
            saved_by = flow.get(_module_cache_id(job), [])
            module = (
                f"its module cache (keyed on {', '.join(job.sum_files)}) is saved by job {saved_by[0]!r} on the default branch"
                if saved_by else "no job in this file saves its module cache"
            ) if job_plan.go else ""
            flow_text = f" Cache flow: {module}; no other job saves its build cache (one per job)." if module else ""
            result.notices.append(
                Notice(facts.path, job.line, job.col, f"job {job.name!r}: {job_plan.restore_only_reason}.{flow_text}")
            )
        job = job_plan.job
        if job.sum_files_note and job_plan.go:
            result.notices.append(
                Notice(
                    facts.path, job.line, job.col,
                    f"job {job.name!r} {job.sum_files_note}, so its module cache is kept per job and branch, "
                    "and the default branch saves it on every pipeline",
                )
            )
        for setting in job.goflags_overrides if job_plan.go else []:
            result.notices.append(
                Notice(
                    facts.path, job.line, job.col,
                    f"job {job.name!r}: its {setting.section} sets GOFLAGS without {MODCACHERW} ({setting.command}), "
                    f"replacing the GOFLAGS variable that has it; add {MODCACHERW} there, or Go's read-only module "
                    "files stop the runner from cleaning the build directory",
                )
            )
    result.edits.extend(hidden_jobs)
    return result


def _module_cache_id(job: GitlabJob) -> tuple[str, ...]:
    """Jobs with the same id share one module cache key; a per-job key is the job's own."""
    return ("files", *job.sum_files) if job.sum_files_known else ("job", job.name)


def cache_flow(plans: list[JobPlan], options: PatchOptions) -> dict[tuple[str, ...], list[str]]:
    """For each module cache key the patched jobs restore, the jobs that save it."""
    flow: dict[tuple[str, ...], list[str]] = {}
    for job_plan in plans:
        if not job_plan.go:
            continue
        savers = flow.setdefault(_module_cache_id(job_plan.job), [])
        if job_plan.added_rules and options.save_on != "never":
            savers.append(job_plan.job.name)
    return flow


def plan_jobs(facts: GitlabFacts, options: PatchOptions) -> tuple[list[JobPlan], list[JobOutcome]]:
    plans: list[JobPlan] = []
    outcomes: list[JobOutcome] = []
    for job in facts.jobs:
        if job.hidden:
            continue
        if job.trigger:
            outcomes.append(JobOutcome(job.name, job.line, "not-go", "triggers a downstream pipeline"))
            continue
        docker = _docker_edits(facts, job)
        docker_reason = "docker build uses buildx with a registry cache" if docker else ""
        if not job.is_go or job.already_patched:
            if docker:
                plans.append(JobPlan(job, [], False, False, [], go=False, docker_edits=docker))
                outcomes.append(JobOutcome(job.name, job.line, "patched", docker_reason))
            elif job.is_go:
                outcomes.append(JobOutcome(job.name, job.line, "already-cached", "already has ci-gocache caches"))
            else:
                outcomes.append(JobOutcome(job.name, job.line, "not-go", "does not build Go"))
            continue
        try:
            job_plan = _plan_job(facts, job, options)
        except _Refused as refused:
            outcomes.append(JobOutcome(job.name, job.line, refused.outcome, refused.reason))
            continue
        job_plan.docker_edits = docker
        plans.append(job_plan)
        reason = "; ".join(part for part in (job_plan.restore_only_reason, docker_reason) if part)
        outcomes.append(JobOutcome(job.name, job.line, "patched", reason))
    return plans, outcomes


def _docker_edits(facts: GitlabFacts, job: GitlabJob) -> list[Edit]:
    """The rewrite of the job's own `docker build` script entries; [] when there is none, or when
    one cannot be edited safely (job.is_docker_unsafe then says so)."""
    nodes = job.nodes
    if nodes is None or not isinstance(nodes.value, MappingNode) or nodes.shared or nodes.flow:
        return []
    script_nodes = []
    for name in ("before_script", "script"):
        key = mapping_key_node(nodes.value, name)
        node = mapping_get(nodes.value, name)
        if key is None or node is None or name not in nodes.own_keys:
            continue
        if node.start_mark.index < key.start_mark.index or facts.parents.get(id(node), 0) > 1:
            if any(docker_jobs.builds_image(entry) for entry in _flatten_strings(to_plain(node))):
                job.is_docker_unsafe = True
                return []
            continue
        script_nodes.append(node)
    edits = docker_jobs.job_script_edits(facts.text, facts.newline, script_nodes, job.build_script)
    if edits is None:
        job.is_docker_unsafe = True
        return []
    if edits:
        job.docker_left_alone = docker_jobs.buildx_unavailable(job.image, job.variables, job.build_script)
        if job.docker_left_alone:
            return []
    return edits


def _plan_job(facts: GitlabFacts, job: GitlabJob, options: PatchOptions) -> JobPlan:
    nodes = job.nodes
    if nodes is None or not isinstance(nodes.value, MappingNode) or not nodes.value.value:
        raise _Refused("unsafe", "the job is not a mapping of keywords; it cannot be edited safely")
    if nodes.shared:
        raise _Refused("unsafe", "the job is an alias or an anchor used elsewhere; it cannot be edited safely")
    if nodes.flow:
        raise _Refused("unsafe", "the job is written in flow style ({...}); it cannot be edited safely")
    if job.unknown_parents:
        raise _Refused(
            "skipped",
            f"it extends {', '.join(job.unknown_parents)}, defined in a file ci-gocache cannot read; "
            "its caches and rules are unknown",
        )
    if "cache" in job.unresolved:
        raise _Refused("skipped", "its cache comes from a !reference ci-gocache cannot resolve")
    hazard = script_hazard(job)
    if hazard:
        raise _Refused("skipped", hazard)
    directories = cache_directories(job)
    if isinstance(directories, str):
        raise _Refused("skipped", directories)
    mixed = [cache for cache in job.caches if cache.mixed]
    if mixed:
        raise _Refused("skipped", f"a cache holds Go and other paths together ({mixed[0].detail}); split it, then run again")
    kept = [cache.plain for cache in job.caches if not cache.go_only and not cache.ours]
    if len(kept) + 2 > MAX_CACHES:
        raise _Refused(
            "skipped",
            f"it has {len(kept)} other caches; with the 2 Go caches that is more than GitLab's {MAX_CACHES} per job",
        )
    text = facts.text
    newline = facts.newline
    value: MappingNode = nodes.value  # type: ignore[assignment]
    column = value.value[0][0].start_mark.column
    unit = max(1, column - nodes.key.start_mark.column)
    layout = _Layout(unit, min(facts.sequence_offset, unit))
    parents = facts.parents
    job_stop = _following_key_start(text, facts.loaded.main if facts.loaded else value, nodes.key, len(text))
    job_end = _node_end(text, value, nodes.key.start_mark.index, job_stop)
    edits: list[Edit] = []
    new_keys: list[str] = []
    new_values: dict[str, Any] = {}

    wanted_variables = our_variables(job, options, directories)
    if wanted_variables:
        if "variables" in nodes.own_keys:
            edits.extend(_extend_variables(text, newline, value, wanted_variables, layout, parents, job_stop))
        else:
            merged_variables = _dict(nodes.merged_plain.get("variables"))
            if contains_unresolved(merged_variables):
                raise _Refused("skipped", "the variables it merges with `<<` use !reference tags ci-gocache cannot copy")
            new_keys.extend(layout.entry("variables", {**merged_variables, **wanted_variables}, column))
            new_values["variables"] = {**merged_variables, **wanted_variables}

    caches = our_caches(job, options, directories)
    created = "cache" not in nodes.own_keys
    if created:
        if contains_unresolved(kept):
            raise _Refused("skipped", "the caches it inherits use !reference tags ci-gocache cannot copy")
        new_keys.extend(layout.entry("cache", [*kept, *caches], column))
        new_values["cache"] = [*kept, *caches]
    else:
        edits.extend(_extend_cache(text, newline, value, caches, layout, parents, job_stop, job.go_cache_directories))

    rules = policy_rules(options.save_on, default_only=facts.workflow == "none")
    added_rules = False
    restore_only = ""
    if rules is not None:
        restore_only = restore_only_reason(job, facts, options)
        if not restore_only:
            added_rules = True
            new_keys.extend(layout.entry("rules", rules, column))
            new_values["rules"] = rules
    job_plan = JobPlan(job, edits, created, added_rules, kept, restore_only, key_column=column, job_end=job_end)
    if new_keys:
        job_plan.new_keys_edit = _insertion(text, newline, job_end, new_keys, f"ci-gocache keys for job {job.name}")
        edits.append(job_plan.new_keys_edit)
        merged_only = (set(nodes.merged_plain) - nodes.own_keys) & {"variables", "cache", "rules", "extends"}
        # The cache (and rules) can be shared; variables the job writes itself are extended in place.
        if "cache" in new_values and not merged_only and _extends_editable(job, facts):
            job_plan.shareable = new_values
    return job_plan


SHARED_JOB = ".ci-gocache-go"
SHARED_JOB_COMMENT = "# ci-gocache: Go module and build caches, shared by the jobs that extend this hidden job."


def _extends_node(job: GitlabJob) -> tuple[Node | None, Node | None]:
    nodes = job.nodes
    if nodes is None or "extends" not in nodes.own_keys:
        return None, None
    return mapping_key_node(nodes.value, "extends"), mapping_get(nodes.value, "extends")


def _extends_editable(job: GitlabJob, facts: GitlabFacts) -> bool:
    """Whether ci-gocache can add a parent to the job's own `extends:` (absent, one name, or a list of names)."""
    key, node = _extends_node(job)
    if node is None:
        return True
    if key is None or node.start_mark.index < key.start_mark.index or facts.parents.get(id(node), 0) > 1:
        return False
    if node.tag == "!reference":
        return False
    if isinstance(node, ScalarNode):
        return node.style in (None, "", "'", '"')
    if isinstance(node, SequenceNode) and node.value:
        return all(isinstance(item, ScalarNode) and item.style in (None, "", "'", '"') for item in node.value) and (
            not node.flow_style or facts.text[node.end_mark.index - 1] == "]"
        )
    return False


def _extends_edit(facts: GitlabFacts, job_plan: JobPlan, name: str) -> Edit:
    """`extends:` with the hidden job added last, so that its keys win over the other parents' as
    the job's own keys would have (the job's caches already list what it inherited)."""
    text, newline = facts.text, facts.newline
    key, node = _extends_node(job_plan.job)
    why = f"job {job_plan.job.name} extends {name}"
    if node is None:
        return _insertion(text, newline, job_plan.job_end, [f"{' ' * job_plan.key_column}extends: {name}"], why)
    if isinstance(node, ScalarNode):
        written = text[node.start_mark.index : node.end_mark.index]
        return Edit(node.start_mark.index, node.end_mark.index, f"[{written}, {name}]", why)
    assert isinstance(node, SequenceNode) and key is not None
    if node.flow_style:
        closing = node.end_mark.index - 1
        return Edit(closing, closing, f", {name}", why)
    stop = _following_key_start(text, job_plan.job.nodes.value, key, job_plan.job_end)  # type: ignore[union-attr]
    dash = node.value[0].start_mark.column - 2
    return _insertion(text, newline, _node_end(text, node, key.start_mark.index, stop), [f"{' ' * dash}- {name}"], why)


def share_settings(facts: GitlabFacts, plans: list[JobPlan]) -> list[Edit]:
    """Jobs that would get the very same variables, caches and rules extend one hidden job that
    holds them instead of repeating them: the edits that write the hidden jobs (their own edits
    are switched to `extends:`)."""
    groups: dict[str, list[JobPlan]] = {}
    for job_plan in plans:
        if job_plan.shareable is not None:
            groups.setdefault(json.dumps(job_plan.shareable, default=str), []).append(job_plan)
    taken = {key.value for key, _ in facts.loaded.main.value if isinstance(key, ScalarNode)} if facts.loaded else set()
    unit = facts.indent_unit
    layout = _Layout(unit, min(facts.sequence_offset, unit))
    lines: list[str] = []
    number = 1
    for members in groups.values():
        if len(members) < 2:
            continue
        name = SHARED_JOB if number == 1 else f"{SHARED_JOB}-{number}"
        while name in taken:
            number += 1
            name = f"{SHARED_JOB}-{number}"
        taken.add(name)
        number += 1
        values = members[0].shareable or {}
        lines.extend(["", SHARED_JOB_COMMENT, f"{name}:"])
        for key, value in values.items():
            lines.extend(layout.entry(key, value, unit))
        for job_plan in members:
            job_plan.edits.remove(job_plan.new_keys_edit)  # type: ignore[arg-type]
            job_plan.edits.append(_extends_edit(facts, job_plan, name))
            job_plan.shared_as = name
    if not lines:
        return []
    return [_insertion(facts.text, facts.newline, len(facts.text), lines, "hidden jobs with the shared Go settings")]


def _save_condition(options: PatchOptions) -> str:
    rules = policy_rules(options.save_on) or []
    return next((rule["if"] for rule in rules if rule.get("variables", {}).get(POLICY_VARIABLE) == "pull-push"), "")


def restore_only_reason(job: GitlabJob, facts: GitlabFacts, options: PatchOptions) -> str:
    """Why ci-gocache adds no rules: to the job, so that its caches only restore, and exactly what
    the user can add to save them; "" when it adds its rules."""
    condition = _save_condition(options)
    save_rule = f"`- if: {condition}` with `variables: {{{POLICY_VARIABLE}: pull-push}}`"
    nothing_saves = "nothing in this job saves its Go caches"
    if job.has_rules:
        return (
            f"caches are restore-only because the job has its own rules:; {nothing_saves}. To save them, give "
            f"its rule for the default branch `variables: {{{POLICY_VARIABLE}: pull-push}}`, or add {save_rule} "
            "before its other rules if that rule would match the same pipelines"
        )
    if job.has_only_except:
        return (
            f"caches are restore-only because the job uses only:/except:, and GitLab rejects rules: next to them; "
            f"{nothing_saves}. To save them, replace only:/except: with rules: that keep the same pipelines and "
            f"start with {save_rule}"
        )
    if job.when == "delayed":
        return (
            "caches are restore-only because the job is `when: delayed` (start_in:), and GitLab rejects rules: "
            f"next to it; {nothing_saves}. To save them, move `when: delayed` and start_in: into rules: that "
            f"start with {save_rule}"
        )
    if facts.workflow == "unknown":
        return (
            f"caches are restore-only because its pipeline uses {facts.workflow_from}, which ci-gocache cannot "
            "read and which may set workflow:rules, so it cannot tell whether the job runs in merge request "
            f"pipelines; {nothing_saves}. To save them, add rules: that start with {save_rule} and end with "
            "`- when: on_success`, and, if that pipeline has no workflow:rules, first "
            '`- if: $CI_PIPELINE_SOURCE == "merge_request_event"` with `when: never`'
        )
    return ""


def _following_key_start(text: str, mapping: MappingNode, key: Node, stop: int) -> int:
    """Start of the line of the key written after `key` in `mapping`, else `stop`."""
    later = [other.start_mark.index for other, _ in mapping.value if other.start_mark.index > key.start_mark.index]
    return line_start(text, min(later)) if later else stop


def _node_end(text: str, node: Node, written_at: int, stop: int) -> int:
    """Offset just past the last content line of `node`, which is written at `written_at` (its key
    or its dash) and ends before `stop`. An alias is only its `*name` there, wherever its anchor is."""
    if node.start_mark.index < written_at:
        return end_of_content(text, line_start(text, written_at), stop)
    if isinstance(node, MappingNode) and not node.flow_style and node.value:
        key, value = node.value[-1]
        return _node_end(text, value, key.start_mark.index, stop)
    if isinstance(node, SequenceNode) and not node.flow_style and node.value:
        dashes = _item_starts(text, node, stop)
        return _node_end(text, node.value[-1], dashes[-1], stop)
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
        raise _Refused("unsafe", "a list is laid out in a way ci-gocache cannot follow; it cannot be edited safely")
    return starts


def _insertion(text: str, newline: str, position: int, lines: list[str], why: str) -> Edit:
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
        raise _Refused("unsafe", f"`{getattr(key, 'value', '?')}:` is laid out in a way ci-gocache cannot follow")
    edits = []
    if colon < value.start_mark.index < value.end_mark.index <= key_line_end:
        edits.append(Edit(colon + 1, value.end_mark.index, "", f"empty {why}"))
    edits.append(_insertion(text, newline, key_line_end, lines, why))
    return edits


def _editable(node: Node | None, parents: dict[int, int], what: str) -> None:
    if node is None:
        return
    if node.tag == "!reference":
        raise _Refused("unsafe", f"`{what}:` is a !reference tag; it cannot be edited safely")
    if parents.get(id(node), 0) > 1:
        raise _Refused("unsafe", f"`{what}:` is an alias or an anchor used elsewhere; it cannot be edited safely")
    if getattr(node, "flow_style", False):
        raise _Refused("unsafe", f"`{what}:` is written in flow style; it cannot be edited safely")


def _extend_variables(
    text: str,
    newline: str,
    job: MappingNode,
    wanted: dict[str, str],
    layout: _Layout,
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
        raise _Refused("unsafe", "`variables:` is not a block mapping; it cannot be edited safely")
    edits: list[Edit] = []
    missing = dict(wanted)
    for key_node, value_node in node.value:
        name = key_node.value if isinstance(key_node, ScalarNode) else None
        if name == "GOFLAGS" and name in missing:
            if not isinstance(value_node, ScalarNode) or parents.get(id(value_node), 0) > 1 or value_node.style in ("|", ">"):
                raise _Refused("unsafe", "`GOFLAGS` is not a plain value; add -modcacherw to it yourself")
            replacement = _scalar_like(value_node, missing.pop(name))
            edits.append(Edit(value_node.start_mark.index, value_node.end_mark.index, replacement, "GOFLAGS"))
        elif name in missing:
            missing.pop(name)
    if missing:
        stop = _following_key_start(text, job, key, job_stop)
        column = node.value[0][0].start_mark.column
        lines = [line for name, value in missing.items() for line in layout.entry(name, value, column)]
        edits.append(_insertion(text, newline, _node_end(text, node, key.start_mark.index, stop), lines, "Go variables"))
    return edits


def _extend_cache(
    text: str,
    newline: str,
    job: MappingNode,
    caches: list[dict[str, Any]],
    layout: _Layout,
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
        raise _Refused("unsafe", "`cache:` is an alias; it cannot be edited safely")
    stop = _following_key_start(text, job, key, job_stop)
    end = _node_end(text, node, key.start_mark.index, stop)
    if isinstance(node, MappingNode) and node.value:
        start = line_start(text, node.start_mark.index)
        if text[start : node.start_mark.index].strip() or start <= key.start_mark.index:
            raise _Refused("unsafe", "`cache:` starts on the line of its key; it cannot be edited safely")
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
        edits.append(_insertion(text, newline, end, lines, "Go caches"))
        return edits
    raise _Refused("unsafe", "`cache:` is neither a mapping nor a list of caches; it cannot be edited safely")


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


# ---------------------------------------------------------------- verification


def verify(source: SourceFile, facts: GitlabFacts, new_text: str, options: PatchOptions) -> None:
    """Parse the patched text again and check it before anything is written."""
    patched = SourceFile(source.path, source.display_path, new_text, source.has_bom, source.newline, source.mode)
    try:
        new_loaded = load_file(patched, facts.loaded.relative if facts.loaded else "")
        validate_schema(new_loaded, "the patched file fails", "")
    except InputError as error:
        raise InputError(
            source.display_path, error.line, error.col, f"internal error, the patch would break the file: {error.message}"
        ) from None
    original = to_plain(facts.loaded.main) if facts.loaded else {}
    updated = to_plain(new_loaded.main)
    if facts.loaded and facts.loaded.header is not None:
        if to_plain(facts.loaded.header) != to_plain(new_loaded.header):
            raise InputError(source.display_path, 1, 1, "internal error: the patch changed the spec: header; nothing was written")
    plans, _ = plan_jobs(facts, options)
    share_settings(facts, plans)
    shared = {job_plan.shared_as for job_plan in plans if job_plan.shared_as}
    for name in shared:
        members = [job_plan for job_plan in plans if job_plan.shared_as == name]
        if name in original or updated.get(name) != _plain_json(members[0].shareable):
            raise InputError(source.display_path, 1, 1, f"internal error: the hidden job {name} came out differently; nothing was written")
    docker_edits = [edit for job_plan in plans for edit in job_plan.docker_edits]
    docker_only = original
    if docker_edits:
        # The script rewrite is docker_gitlab's: what it alone makes of the file is the reference.
        rewritten = SourceFile(
            source.path, source.display_path, apply_edits(source.text, docker_edits), source.has_bom, source.newline, source.mode
        )
        docker_only = to_plain(load_file(rewritten, new_loaded.relative).main)
    for job_plan in plans:
        name = job_plan.job.name
        before = original.get(name) if isinstance(original.get(name), dict) else {}
        after = updated.get(name) if isinstance(updated.get(name), dict) else {}
        effective = after
        problem = ""
        if job_plan.shared_as:
            # The job's own keys win over what it extends; the hidden job is its last parent.
            parents = [str(parent) for parent in _as_list(before.get("extends"))]
            if [str(parent) for parent in _as_list(after.get("extends"))] != [*parents, job_plan.shared_as]:
                problem = "`extends:` came out differently"
            effective = {**updated[job_plan.shared_as], **{key: value for key, value in after.items() if key != "extends"}}
            after = {**after, "extends": before.get("extends")} if "extends" in before else {
                key: value for key, value in after.items() if key != "extends"
            }
        problem = problem or (_check_job(before, effective, job_plan, options, facts.workflow) if job_plan.go else "")
        if not problem and job_plan.docker_edits:
            expected = _scripts(docker_only.get(name, {}))
            problem = "" if expected == _scripts(after) else "the docker build rewrite came out differently"
        if problem:
            raise InputError(
                source.display_path, job_plan.job.line, job_plan.job.col,
                f"internal error: {problem} in job {name!r}; nothing was written",
            )
        touched = ("variables", "cache", "rules") if job_plan.go else ()
        if job_plan.docker_edits:
            touched += ("before_script", "script")
        original[name] = _without(before, touched)
        updated[name] = _without(after, touched)
    for name in shared:
        updated.pop(name)
    # Jobs the patch did not plan for compare as a shell sees them too (see _without): the last job of
    # a file without a final newline gains one when the hidden job is written after it.
    original = {name: _without(job, ()) if isinstance(job, dict) else job for name, job in original.items()}
    updated = {name: _without(job, ()) if isinstance(job, dict) else job for name, job in updated.items()}
    if original != updated:
        raise InputError(source.display_path, 1, 1, "internal error: the patch changed more than the Go caches; nothing was written")


def _plain_json(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _scripts(job: Any) -> dict[str, Any]:
    return _without({key: job.get(key) for key in ("before_script", "script")} if isinstance(job, dict) else {}, ())


def _without(job: dict[str, Any], touched: tuple[str, ...]) -> dict[str, Any]:
    kept = {key: value for key, value in job.items() if key not in touched}
    for key in SCRIPT_KEYS:
        # A block scalar at the very end of a file without a final newline gains one when keys
        # are added after it; a shell does not see the difference.
        if isinstance(kept.get(key), str):
            kept[key] = kept[key].rstrip("\n")
        elif isinstance(kept.get(key), list) and kept[key] and isinstance(kept[key][-1], str):
            kept[key] = [*kept[key][:-1], kept[key][-1].rstrip("\n")]
    return kept


def _check_job(
    before: dict[str, Any], after: dict[str, Any], job_plan: JobPlan, options: PatchOptions, workflow: str = "none"
) -> str:
    old_variables = {key: value for key, value in _dict(before.get("variables")).items() if key not in OUR_VARIABLES}
    new_variables = _dict(after.get("variables"))
    if {key: value for key, value in new_variables.items() if key not in OUR_VARIABLES} != old_variables:
        return "the patch changed other variables"
    flags = new_variables.get("GOFLAGS", job_plan.job.variables.get("GOFLAGS", ""))
    if MODCACHERW not in str(flags).split():
        return "GOFLAGS lacks -modcacherw"
    new_caches = _as_list(after.get("cache"))
    if len(new_caches) > MAX_CACHES:
        return f"more than {MAX_CACHES} caches"
    ours = [cache for cache in new_caches if isinstance(cache, dict) and _is_our_key(cache.get("key"))]
    others = [cache for cache in new_caches if not (isinstance(cache, dict) and _is_our_key(cache.get("key")))]
    if len(ours) != 2:
        return "the Go caches are missing"
    expected = job_plan.kept_caches
    if not job_plan.created_cache:
        entries = [_cache_entry(cache, job_plan.job.go_cache_directories) for cache in _as_list(before.get("cache"))]
        expected = [entry.plain for entry in entries if not (entry.go_only or entry.ours)]
    if others != expected:
        return "the patch changed other caches"
    if job_plan.added_rules:
        if after.get("rules") != policy_rules(options.save_on, default_only=workflow == "none"):
            return "the rules are not ci-gocache's"
    elif before.get("rules") != after.get("rules"):
        return "the patch changed the rules"
    return ""


# ---------------------------------------------------------------- description


def describe(facts: GitlabFacts) -> dict[str, Any]:
    jobs = []
    findings = []
    if facts.context != facts.path and facts.kind == "include":
        findings.append(f"included by {facts.context}; jobs resolved in that pipeline")
    for include in facts.includes:
        readable = "" if include.kind == "local" else " (not read: ci-gocache reads local includes only)"
        findings.append(f"include {include.kind}: {include.target} (line {include.line}){readable}")
    for job in facts.jobs:
        docker_builds = [entry for entry in job.build_script if docker_jobs.builds_image(entry)]
        entry = {
            "name": job.name,
            "line": job.line,
            "hidden": job.hidden,
            "builds_go": job.is_go,
            "why": job.go_reasons,
            "image": job.image,
            "extends": job.extends,
            "unknown_parents": job.unknown_parents,
            "caches": [{"detail": cache.detail, "go": cache.go_only, "ci_gocache": cache.ours} for cache in job.caches],
            "cache_from": job.cache_from,
            "rules": job.has_rules,
            "go_sum_files": job.sum_files if job.is_go else [],
            "go_locations": {
                name: {"value": location.value, "from": location.origin, "directory": location.directory,
                       "problem": location_problem(location)}
                for name, location in job.go_locations.items()
            },
            "ci_gocache": job.already_patched,
            "docker_builds": docker_builds,
        }
        jobs.append(entry)
        if job.hidden:
            continue
        if job.is_go:
            findings.append(f"job {job.name} (line {job.line}): builds Go ({'; '.join(job.go_reasons)})")
            findings.append(f"  go.sum files: {', '.join(job.sum_files) or '(none found)'}")
            for name, location in job.go_locations.items():
                where = f"in the project directory at {location.directory}/" if location.directory else location_problem(location)
                findings.append(f"  {name}: {location.value} (set in {location.origin}): {where}")
            for cache in job.caches:
                origin = f" (from {job.cache_from})" if job.cache_from not in ("job", "") else ""
                findings.append(f"  cache: {cache.detail}{origin}")
            if not job.caches:
                findings.append("  cache: none")
        elif not job.trigger:
            findings.append(f"job {job.name} (line {job.line}): does not build Go")
        for build in docker_builds:
            findings.append(f"  docker build without a layer cache: {build.splitlines()[0]}")
    return {"path": facts.path, "kind": f"gitlab-{facts.kind}", "context": facts.context, "jobs": jobs, "findings": findings}
