"""Phase `prepare-save`, before actions/cache/save: trim what the job did not use, complete and
prune the module cache, and decide what to save."""

from __future__ import annotations

import os
import time

from ci_gocache import keys
from ci_gocache.action import modcache, trim
from ci_gocache.action.save_policy import default_branch, save_decision, thinned_build_save
from ci_gocache.action.state import load_unsaved_state, save_state
from ci_gocache.action.summary import human_bytes
from ci_gocache.action.workflow_commands import notice, say, set_outputs, warning

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def complete_module_cache(state: dict[str, Any], module: dict[str, Any], env: dict[str, str]) -> None:
    """Before a module save on a miss: every module the keyed go.sum files need, and no other.

    The first job to finish writes the shared module key, whatever part of the modules it used;
    and a restore through `...-gomod-` brings older module sets that would be saved again.
    """
    root = state["workspace"]
    sum_files = [path for path in state.get("sum_files", []) if os.path.basename(path) in keys.SUM_FILE_NAMES]
    if not sum_files:
        return
    started = time.time()
    problems = modcache.download(root, sum_files, env)
    for problem in problems:
        warning(f"go mod download before the module cache save: {problem}")
    downloaded = time.time()
    if not module.get("owned", True):
        module["download_seconds"] = round(downloaded - started, 3)
        print("module cache: go mod download done; not pruned: the module cache held modules before the restore (persistent)")
        return
    result = modcache.prune(module["dir"], modcache.listed_versions(root, sum_files))
    module["download_seconds"] = round(downloaded - started, 3)
    module["prune_seconds"] = round(time.time() - downloaded, 3)
    module["pruned_versions"], module["pruned_bytes"] = result.dropped_versions, result.dropped_bytes
    print(
        f"module cache: go mod download in {len(modcache.module_directories(root, sum_files))} module(s) "
        f"({module['download_seconds']:.1f} s); pruned {result.dropped_versions} module versions no go.sum lists "
        f"({human_bytes(result.dropped_bytes)})"
    )


def phase_prepare_save(env: dict[str, str]) -> int:
    state = load_unsaved_state(env)
    allowed, reason = save_decision(
        state["save"], env.get("GITHUB_EVENT_NAME", ""), env.get("GITHUB_REF", ""), default_branch(env)
    )
    module = state["module"]
    module.setdefault("hit", "miss")
    if not allowed:
        module["save"], module["save_reason"] = False, reason
    elif module["hit"] == "exact":
        module["save"], module["save_reason"] = False, "exact hit: the key already holds these modules"
    elif not trim.directory_size(module["dir"])[0]:
        module["save"], module["save_reason"] = False, "the module cache is empty"
    else:
        module["save"], module["save_reason"] = True, reason
        complete_module_cache(state, module, env)
    build = state["build"]
    outputs = {
        "state": state["path"],
        "save-module": "true" if module["save"] else "false",
        "module-cache-dir": module["dir"],
        "module-key": module["key"],
        "save-build": "false",
        "build-cache-dir": build["dir"],
        "build-key": build["key"],
    }
    if build["enabled"]:
        build.setdefault("hit", "miss")
        stamp = build.get("backdate_stamp")
        job_status = env.get("CI_GOCACHE_JOB_STATUS", "success") or "success"
        if not allowed:
            # Nothing is saved: the cache on disk stays as the job left it.
            if stamp is not None:
                build["trim_skipped"] = f"not trimmed: nothing is saved ({reason})"
            stamp = None
        if stamp is not None and job_status != "success":
            # A step failed: the build may have stopped before it used what it needs next time.
            build["trim_skipped"] = f"not trimmed: the job status is {job_status}"
            stamp = None
        if stamp is not None:
            result = trim.trim_unused(build["dir"], stamp, keep=set(build.get("entries_before_restore", [])))
            build["trimmed_entries"], build["trimmed_bytes"] = result.dropped_entries, result.dropped_bytes
            build["trimmed_outputs"], build["kept_outputs"] = result.dropped_outputs, result.kept_outputs
            trim.mark_trimmed(build["dir"])
        else:
            build["trimmed_entries"] = build["trimmed_bytes"] = build["trimmed_outputs"] = 0
        entries = trim.iter_entries(build["dir"])
        entries_now = len(entries)
        fuzz_now = list(trim.directory_size(os.path.join(build["dir"], trim.FUZZ_DIRECTORY)))
        # Changed is decided by content: a build output (`-d`) added or trimmed, or the fuzz
        # corpus (GOCACHE/fuzz) changed. An action entry (`-a`) that names an output already
        # cached is not worth an upload: Go writes one per run for the module index of a fresh
        # checkout (its key holds the files' times), and setup-go's `go env` writes some.
        # Entries from before the restore were counted at the restore too.
        fuzz_changed = fuzz_now != build.get("restored_fuzz", fuzz_now)
        unchanged = (
            build["hit"] != "miss"
            and build["trimmed_outputs"] == 0
            and trim.count_outputs(entries) == build.get("restored_outputs", -1)
            and not fuzz_changed
        )
        # Entries are only ever added by the build or dropped by the trim.
        build["new_entries"] = max(0, entries_now - build.get("restored_entries", entries_now) + build["trimmed_entries"])
        thinned = thinned_build_save(build, fuzz_changed)
        if not allowed:
            build["save"], build["save_reason"] = False, reason
        elif entries_now == 0:
            build["save"], build["save_reason"] = False, "the build cache is empty"
        elif unchanged:
            build["save"], build["save_reason"] = False, "unchanged: the job added no build output and used every restored one"
        elif thinned:
            build["save"], build["save_reason"] = False, thinned
            notice(
                f"build cache not saved: this job added {build['new_entries']} entries and dropped {build['trimmed_entries']} "
                f"of the {build['restored_entries']} it restored, under build-save-min-change {build['save_min_change']}; "
                f"the next run restores {build.get('matched_key', '')} again and recompiles those {build['new_entries']} entries"
            )
        else:
            build["save"], build["save_reason"] = True, reason
        outputs["save-build"] = "true" if build["save"] else "false"
        say(
            f"build cache: trimmed {build['trimmed_entries']} unused entries ({human_bytes(build['trimmed_bytes'])}); "
            f"{entries_now} kept" + (f"; fuzz corpus {human_bytes(fuzz_now[1])} kept" if fuzz_now[0] else "")
        )
        if build.get("trim_skipped"):
            say(f"build cache: {build['trim_skipped']}")
    set_outputs(env, outputs)
    for name, cache in (("module", module), ("build", build)):
        if name == "module" or build["enabled"]:
            say(f"{name} cache: {'saving' if cache['save'] else 'not saving'} ({cache['save_reason']})")
    state["prepared_at"] = time.time()
    save_state(state["path"], state)
    return 0
