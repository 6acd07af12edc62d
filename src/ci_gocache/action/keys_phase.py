"""Phase `keys`, first in the job: compute the keys and cache directories (Windows: move them to
the faster drive), decide whether this run may save, and start the state file.

Every job runs it, so it imports no more than it uses (pathlib and typing alone would add a tenth
to its CPU time on a large tree; bench/key_speed.py).
"""

from __future__ import annotations

import os
import sys
import time

from ci_gocache import keys
from ci_gocache.action import modcache, trim
from ci_gocache.action.goenv import (
    GO_ENV_NAMES,
    GoEnvQuery,
    configured_gotoolchain,
    faster_drive_dirs,
    module_files_for_version,
    read_small_text,
    required_go_version,
)
from ci_gocache.action.inputs import ActionError, read_inputs
from ci_gocache.action.save_policy import default_branch, save_decision
from ci_gocache.action.state import STATE_VERSION, new_state_path, save_state
from ci_gocache.action.summary import summarize_files
from ci_gocache.action.workflow_commands import export_env, notice, say, set_outputs, warning

# A build cache holding more entries than this before the restore was not emptied for this job:
# a persistent (self-hosted) cache, maybe shared with other jobs. A fresh runner's GOCACHE holds
# at most the few entries setup-go's and our own `go env` calls write.
OWNED_CACHE_MAX_ENTRIES = 64


def _readable_sum_files(workspace: str, sum_files: list[str]) -> tuple[list[str], dict[str, bytes]]:
    """Read each sum file once; drop, with a notice, those that are not regular files (FIFO,
    device, dangling link): reading one could hang or fail the job, and it lists no dependency."""
    digests, problems = keys.sum_file_digests(workspace, sum_files)
    for path, problem in problems.items():
        notice(f"{path} {problem}; the keys leave it out")
    return [path for path in sum_files if path not in problems], digests


def phase_keys(env: dict[str, str]) -> int:
    inputs = read_inputs(env)
    workspace = keys.path_text(env.get("GITHUB_WORKSPACE") or os.getcwd())
    with GoEnvQuery(GO_ENV_NAMES, workspace, env) as go_query:  # runs during the walk
        try:
            sum_files, sum_digests = _readable_sum_files(workspace, keys.resolve_sum_files(workspace, inputs["modules"]))
        except keys.KeyInputError as error:
            raise ActionError(f"input modules: {error.path}: {error.message}") from None
        if not sum_files:
            warning(
                f"no go.sum, go.work.sum or go.mod found for modules {' '.join(inputs['modules']) or '(default)'} "
                f"in {workspace}; the module key will not change with dependencies. Set the modules input."
            )
        go_values = go_query.values()
    version_files = module_files_for_version(workspace, sum_files)
    local_version = go_values["GOVERSION"]
    go_version = required_go_version(
        local_version,
        configured_gotoolchain(env, go_values.pop("GOENV"), go_values.pop("GOROOT")),
        (read_small_text(os.path.join(workspace, name)) for name in version_files),
    )
    moved = faster_drive_dirs(env, go_values)
    go_values.update(moved)
    build_cache = inputs["build_cache"]
    if build_cache and go_values["GOCACHE"] in ("", "off"):
        warning("GOCACHE is off, so there is no build cache to restore or save")
        build_cache = False
    computed = keys.workspace_keys(
        workspace,
        inputs["modules"],
        prefix=inputs["prefix"],
        os_name=env.get("RUNNER_OS", "") or "unknown",
        arch=env.get("RUNNER_ARCH", "") or "unknown",
        go_version=go_version or "unknown",
        job=env.get("GITHUB_JOB", "") or "job",
        matrix_json=env.get("CI_GOCACHE_MATRIX", ""),
        extra=inputs["extra"],
        run=f"{env.get('GITHUB_RUN_ID', '0')}-{env.get('GITHUB_RUN_ATTEMPT', '1')}",
        sum_files=sum_files,
        sum_digests=sum_digests,
    )
    for key in (computed.module_key, computed.build_key):
        problem = keys.key_problem(key)
        if problem:
            raise ActionError(f"the key {key[:60]}... is not a valid cache key: {problem}; shorten key-prefix")
    may_save, save_reason = save_decision(
        inputs["save"], env.get("GITHUB_EVENT_NAME", ""), env.get("GITHUB_REF", ""), default_branch(env)
    )
    previous = env.get("CI_GOCACHE_STATE", "")
    if previous and os.path.isfile(previous):
        warning(
            "ci-gocache is used more than once in this job: each use keeps its own state; pair each "
            "with its own ci-gocache/save (the last use is saved first)"
        )
    path = new_state_path(env)
    build_dir = go_values["GOCACHE"]
    before_restore = sorted(trim.entry_names(build_dir)) if build_cache else []
    owned = bool(moved.get("GOCACHE")) or len(before_restore) <= OWNED_CACHE_MAX_ENTRIES
    # A module cache that held modules before the restore is not this job's alone: never pruned.
    module_owned = bool(moved.get("GOMODCACHE")) or not modcache.holds_modules(go_values["GOMODCACHE"])
    state = {
        "v": STATE_VERSION,
        "previous_state": previous,
        "workspace": workspace,
        "sum_files": list(computed.sum_files),
        "digest": computed.parts.sums_digest,
        "go_version": go_version,
        "local_go_version": local_version,
        "save": inputs["save"],
        "may_save": may_save,
        "save_reason": save_reason,
        "trim": inputs["trim"],
        "trim_persistent": inputs["trim_persistent"],
        "moved": moved,
        "module": {
            "dir": go_values["GOMODCACHE"],
            "key": computed.module_key,
            "restore_keys": computed.module_restore_keys,
            "owned": module_owned,
        },
        "build": {
            "enabled": build_cache,
            "dir": build_dir,
            "key": computed.build_key,
            "restore_keys": computed.build_restore_keys,
            # Entries already in GOCACHE before the restore (setup-go's `go env`, or a
            # persistent cache's): never back-dated, trimmed or counted as this job's changes.
            "entries_before_restore": before_restore if owned or inputs["trim_persistent"] else [],
            "entries_before_restore_count": len(before_restore),
            "owned": owned,
        },
    }
    export_env(env, {**moved, "CI_GOCACHE_STATE": path, "CI_GOCACHE_PYTHON": sys.executable})
    set_outputs(
        env,
        {
            "module-key": computed.module_key,
            "module-restore-keys": "\n".join(computed.module_restore_keys),
            "build-key": computed.build_key,
            "build-restore-keys": "\n".join(computed.build_restore_keys),
            "module-cache-dir": go_values["GOMODCACHE"],
            "build-cache-dir": go_values["GOCACHE"],
            "build-cache": "true" if build_cache else "false",
            "go-version": go_version,
        },
    )
    say(f"go.sum files ({len(sum_files)}): {summarize_files(sum_files)}")
    if go_version != local_version:
        say(f"Go: {local_version} is installed; the go and toolchain lines of {summarize_files(version_files)} switch the build to {go_version}, which the build key names")
    for name, value in moved.items():
        say(f"{name}={value} (Windows: caches on the work drive restore many times faster)")
    if computed.parts.scope:
        matrix_text = keys.canonical_json(env.get("CI_GOCACHE_MATRIX", "").strip())
        say(f"build key scope {computed.parts.scope}: matrix {matrix_text[:300]}, {len(inputs['extra'])} extra part(s)")
    say(f"module cache {go_values['GOMODCACHE']}: key {computed.module_key}")
    if build_cache:
        say(f"build cache {go_values['GOCACHE']}: key {computed.build_key}")
    state["keys_done_at"] = time.time()
    save_state(path, state)
    return 0
