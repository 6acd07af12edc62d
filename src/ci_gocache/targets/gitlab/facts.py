"""The facts of a GitLab pipeline: every job with its effective configuration, where Go runs in it
and where its caches and directories are. inspect() reads them; it edits nothing."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ci_gocache import keys
from ci_gocache.errors import InputError, Notice
from ci_gocache.gopaths import is_go_cache_path
from ci_gocache.repo import RepoFacts
from ci_gocache.sourcefile import (
    SourceFile,
    node_position,
    read_source,
    to_plain,
)
from ci_gocache.gocommands import GO_COMMAND, GO_TOOL_COMMAND, MAKE_COMMAND
from ci_gocache.targets.gitlab import scripts as shell_scripts
from ci_gocache.targets.gitlab.loading import (
    PIPELINE_NAMES,
    PROJECT_DIR_PREFIX,
    MODCACHERW,
    MAX_KEY_FILES,
    MAX_EXTENDS_DEPTH,
    TOP_LEVEL_KEYWORDS,
    DEFAULT_KEYWORDS,
    GLOBAL_DEFAULT_KEYWORDS,
    SCRIPT_KEYS,
    GO_IMAGE,
    SUGGESTED_DIRECTORIES,
    Reference,
    _Unresolved,
    TAG_HANDLERS,
    LoadedFile,
    load_file,
    validate_schema,
    _flat_list,
    IncludeFact,
    _Project,
    deep_merge,
    _ReferenceResolver,
    contains_unresolved,
)


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
    # The sorted offsets of the top-level keys (where each job's text ends: yaml_edits.following_key_start).
    main_key_starts: list[int] = field(default_factory=list, repr=False, compare=False)
    repo: RepoFacts | None = field(default=None, repr=False, compare=False)


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
    loaded = load_file(source, _relative_to(project_root(source.path, repo.root), source.path))
    validate_schema(loaded, "does not match", "; fix the file first")
    return inspect_loaded(source, repo, loaded)


def inspect_loaded(source: SourceFile, repo: RepoFacts, loaded: LoadedFile) -> GitlabFacts:
    """The facts of a file that is already read and validated (`inspect`, and verify's patched text)."""
    root = project_root(source.path, repo.root)
    relative = loaded.relative
    project, merged, kind, context = _project_for(root, relative, source, loaded)
    resolver = _ReferenceResolver(merged)
    config = resolver.resolve(merged)
    own_names = [
        key.value for key, _ in loaded.main.value
        if isinstance(key, ScalarNode) and key.value not in TOP_LEVEL_KEYWORDS and key.value != "<<"
    ]
    positions = _job_positions(project)
    parents = loaded.main_graph.shared
    entries: dict[str, tuple[Node, Node]] = {}
    for key, value in loaded.main.value:
        if isinstance(key, ScalarNode):
            entries.setdefault(key.value, (key, value))
    jobs = []
    for name in own_names:
        job = _effective_job(name, config, positions, root)
        job.nodes = _job_nodes(entries.get(name), parents)
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
        main_key_starts=sorted(key.start_mark.index for key, _ in loaded.main.value),
        repo=repo,
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


def _job_nodes(entry: tuple[Node, Node] | None, parents: dict[int, int]) -> _JobNodes | None:
    """The job's key and value nodes in the file (`entry`, its top-level key and value), as the
    planner edits them."""
    if entry is None:
        return None
    key, value = entry
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
