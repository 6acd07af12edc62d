"""The edits a GitLab pipeline gets: caches, variables and rules for its Go jobs, decided from the
facts (plan() is pure)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ci_gocache import keys
from ci_gocache.errors import Notice
from ci_gocache.sourcefile import (
    mapping_get,
    mapping_key_node,
    to_plain,
)
from ci_gocache.targets.base import FilePlan, JobOutcome, PatchOptions
from ci_gocache.textedit import Edit, end_of_content, leading_comment_start, line_end, line_start
from ci_gocache.yamlnodes import leaf_end
from ci_gocache.targets.gitlab import docker_jobs
from ci_gocache.targets.gitlab.loading import (
    GOPATH_DIRECTORY,
    BUILD_CACHE_DIRECTORY,
    POLICY_VARIABLE,
    MODCACHERW,
    MAX_CACHES,
    TAG_HANDLERS,
    contains_unresolved,
)
from ci_gocache.targets.gitlab.facts import (
    GitlabJob,
    GitlabFacts,
    _flatten_strings,
    _dict,
    _cache_entry,
    commands_of,
    location_problem,
)


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
