"""The edits a GitLab pipeline gets: caches, variables and rules for its Go jobs, decided from the
facts (plan() is pure). What each job gets is in cache_settings.py, how it is written into the
job's YAML in yaml_edits.py."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ci_gocache.errors import Notice
from ci_gocache.sourcefile import mapping_get, mapping_key_node, to_plain
from ci_gocache.targets.base import FilePlan, JobOutcome, PatchOptions
from ci_gocache.targets.gitlab import docker_jobs
from ci_gocache.targets.gitlab.cache_settings import (
    cache_directories,
    our_caches,
    our_variables,
    policy_rules,
    restore_only_reason,
    script_hazard,
)
from ci_gocache.targets.gitlab.facts import GitlabFacts, GitlabJob, _dict, _flatten_strings
from ci_gocache.targets.gitlab.loading import MAX_CACHES, MODCACHERW, contains_unresolved
from ci_gocache.targets.gitlab.yaml_edits import (
    Refused,
    YamlLayout,
    extend_cache,
    extend_variables,
    following_key_start,
    insertion,
    node_end,
)
from ci_gocache.textedit import Edit


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
        except Refused as refused:
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
        raise Refused("unsafe", "the job is not a mapping of keywords; it cannot be edited safely")
    if nodes.shared:
        raise Refused("unsafe", "the job is an alias or an anchor used elsewhere; it cannot be edited safely")
    if nodes.flow:
        raise Refused("unsafe", "the job is written in flow style ({...}); it cannot be edited safely")
    if job.unknown_parents:
        raise Refused(
            "skipped",
            f"it extends {', '.join(job.unknown_parents)}, defined in a file ci-gocache cannot read; "
            "its caches and rules are unknown",
        )
    if "cache" in job.unresolved:
        raise Refused("skipped", "its cache comes from a !reference ci-gocache cannot resolve")
    hazard = script_hazard(job)
    if hazard:
        raise Refused("skipped", hazard)
    directories = cache_directories(job)
    if isinstance(directories, str):
        raise Refused("skipped", directories)
    mixed = [cache for cache in job.caches if cache.mixed]
    if mixed:
        raise Refused("skipped", f"a cache holds Go and other paths together ({mixed[0].detail}); split it, then run again")
    kept = [cache.plain for cache in job.caches if not cache.go_only and not cache.ours]
    if len(kept) + 2 > MAX_CACHES:
        raise Refused(
            "skipped",
            f"it has {len(kept)} other caches; with the 2 Go caches that is more than GitLab's {MAX_CACHES} per job",
        )
    text = facts.text
    newline = facts.newline
    value: MappingNode = nodes.value  # type: ignore[assignment]
    column = value.value[0][0].start_mark.column
    unit = max(1, column - nodes.key.start_mark.column)
    layout = YamlLayout(unit, min(facts.sequence_offset, unit))
    parents = facts.parents
    job_stop = following_key_start(
        text, facts.loaded.main if facts.loaded else value, nodes.key, len(text), facts.main_key_starts if facts.loaded else None
    )
    job_end = node_end(text, value, nodes.key.start_mark.index, job_stop)
    edits: list[Edit] = []
    new_keys: list[str] = []
    new_values: dict[str, Any] = {}

    wanted_variables = our_variables(job, options, directories)
    if wanted_variables:
        if "variables" in nodes.own_keys:
            edits.extend(extend_variables(text, newline, value, wanted_variables, layout, parents, job_stop))
        else:
            merged_variables = _dict(nodes.merged_plain.get("variables"))
            if contains_unresolved(merged_variables):
                raise Refused("skipped", "the variables it merges with `<<` use !reference tags ci-gocache cannot copy")
            new_keys.extend(layout.entry("variables", {**merged_variables, **wanted_variables}, column))
            new_values["variables"] = {**merged_variables, **wanted_variables}

    caches = our_caches(job, options, directories)
    created = "cache" not in nodes.own_keys
    if created:
        if contains_unresolved(kept):
            raise Refused("skipped", "the caches it inherits use !reference tags ci-gocache cannot copy")
        new_keys.extend(layout.entry("cache", [*kept, *caches], column))
        new_values["cache"] = [*kept, *caches]
    else:
        edits.extend(extend_cache(text, newline, value, caches, layout, parents, job_stop, job.go_cache_directories))

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
        job_plan.new_keys_edit = insertion(text, newline, job_end, new_keys, f"ci-gocache keys for job {job.name}")
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
        return insertion(text, newline, job_plan.job_end, [f"{' ' * job_plan.key_column}extends: {name}"], why)
    if isinstance(node, ScalarNode):
        written = text[node.start_mark.index : node.end_mark.index]
        return Edit(node.start_mark.index, node.end_mark.index, f"[{written}, {name}]", why)
    assert isinstance(node, SequenceNode) and key is not None
    if node.flow_style:
        closing = node.end_mark.index - 1
        return Edit(closing, closing, f", {name}", why)
    stop = following_key_start(text, job_plan.job.nodes.value, key, job_plan.job_end)  # type: ignore[union-attr]
    dash = node.value[0].start_mark.column - 2
    return insertion(text, newline, node_end(text, node, key.start_mark.index, stop), [f"{' ' * dash}- {name}"], why)


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
    layout = YamlLayout(unit, min(facts.sequence_offset, unit))
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
    return [insertion(facts.text, facts.newline, len(facts.text), lines, "hidden jobs with the shared Go settings")]
