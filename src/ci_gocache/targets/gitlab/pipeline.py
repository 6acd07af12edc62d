"""GitLab CI files: find Go jobs and give them go.sum-keyed module and build caches.

inspect() reads a `.gitlab-ci.yml` (or a local include file, or a CI/CD component) into
GitlabFacts: every job with its effective configuration after local includes, `!reference`
tags, `<<` merges, `extends:` chains and `default:` are applied, plus the node positions of the
jobs this file defines. plan() decides the edits, verify() parses the result again and checks it
against check-jsonschema's gitlab-ci schema. Only textedit.apply_edits writes text.
"""

from __future__ import annotations

import json
from typing import Any

from ci_gocache.errors import InputError
from ci_gocache.sourcefile import (
    SourceFile,
    to_plain,
)
from ci_gocache.targets.base import PatchOptions
from ci_gocache.textedit import apply_edits
from ci_gocache.targets.gitlab import docker_jobs

# The target interface (targets/base.py): reading in loading.py and facts.py, planning in
# planning.py (with cache_settings.py and yaml_edits.py), verification and description here.
from ci_gocache.targets.gitlab.facts import inspect, inspect_loaded
from ci_gocache.targets.gitlab.loading import NAME, claims
from ci_gocache.targets.gitlab.planning import plan
from ci_gocache.targets.gitlab.loading import (
    MODCACHERW,
    OUR_VARIABLES,
    MAX_CACHES,
    SCRIPT_KEYS,
    load_file,
    validate_schema,
)
from ci_gocache.targets.gitlab.facts import (
    GitlabFacts,
    _as_list,
    _dict,
    _cache_entry,
    _is_our_key,
    location_problem,
)
from ci_gocache.targets.gitlab.cache_settings import policy_rules
from ci_gocache.targets.gitlab.planning import (
    JobPlan,
    plan_jobs,
    share_settings,
)

__all__ = ["NAME", "claims", "describe", "inspect", "plan", "verify"]


# ---------------------------------------------------------------- verification


def verify(source: SourceFile, facts: GitlabFacts, new_text: str, options: PatchOptions) -> GitlabFacts | None:
    """Parse the patched text again and check it before anything is written.

    Returns the facts of the patched text, so the pipeline can check that a second plan is empty
    without parsing and validating it once more."""
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
    if facts.repo is None:
        return None
    try:
        return inspect_loaded(patched, facts.repo, new_loaded)
    except InputError as error:
        raise InputError(
            source.display_path, error.line, error.col, f"internal error, the patch would break the file: {error.message}"
        ) from None


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
