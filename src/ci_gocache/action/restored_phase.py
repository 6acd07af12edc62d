"""Phase `restored`, after actions/cache/restore: hit kinds, sizes and restore seconds; back-date
the build cache so that what this job uses is marked (trim.py)."""

from __future__ import annotations

import os
import time

from ci_gocache.action import trim
from ci_gocache.action.save_policy import DEFAULT_BUILD_SAVE_MIN_CHANGE, parse_min_change
from ci_gocache.action.state import load_state, parse_timestamp, save_state, span_seconds
from ci_gocache.action.workflow_commands import say, set_outputs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def hit_kind(key: str, matched_key: str) -> str:
    """exact, partial or miss. actions/cache matches keys case-insensitively, and a cache
    service may return the matched key in another case."""
    if not matched_key:
        return "miss"
    return "exact" if matched_key.lower() == key.lower() else "partial"


def trim_plan(state: dict[str, Any]) -> tuple[bool, str]:
    """Whether this job may back-date and trim its build cache, and if not, why."""
    build = state["build"]
    if not state["trim"]:
        return False, "not trimmed: trim is false"
    if not state.get("may_save", True):
        return False, f"not trimmed: this run never saves ({state.get('save_reason', '')})"
    if not build.get("owned", True) and not state.get("trim_persistent"):
        return False, (
            f"not trimmed: GOCACHE held {build.get('entries_before_restore_count', 0)} entries before the "
            "restore (a persistent cache, perhaps shared with other jobs); set trim-persistent-cache: "
            "true to trim what this job's restore brought"
        )
    return True, ""


def phase_restored(env: dict[str, str]) -> int:
    state = load_state(env)
    now = time.time()
    module_done = parse_timestamp(env.get("CI_GOCACHE_MODULE_RESTORED_AT"))
    module = state["module"]
    module["matched_key"] = env.get("CI_GOCACHE_MODULE_MATCHED_KEY", "")
    module["hit"] = hit_kind(module["key"], module["matched_key"])
    module["restore_seconds"] = span_seconds(state.get("keys_done_at"), module_done or now)
    module["restored_files"], module["restored_bytes"] = trim.directory_size(module["dir"])
    outputs = {
        "module-hit": module["hit"],
        "module-matched-key": module["matched_key"],
        "cache-hit": "true" if module["hit"] == "exact" else "false",
    }
    build = state["build"]
    # Checked here, before the build, so that a bad value fails the job early.
    build["save_min_change"] = env.get("CI_GOCACHE_BUILD_SAVE_MIN_CHANGE", "").strip() or DEFAULT_BUILD_SAVE_MIN_CHANGE
    parse_min_change(build["save_min_change"])
    if build["enabled"]:
        build["matched_key"] = env.get("CI_GOCACHE_BUILD_MATCHED_KEY", "")
        build["hit"] = hit_kind(build["key"], build["matched_key"])
        build["restore_seconds"] = span_seconds(module_done, now)
        build["restored_files"], build["restored_bytes"] = trim.directory_size(build["dir"])
        restored_entries = trim.iter_entries(build["dir"])
        build["restored_entries"] = len(restored_entries)
        build["restored_outputs"] = trim.count_outputs(restored_entries)
        build["restored_fuzz"] = list(trim.directory_size(os.path.join(build["dir"], trim.FUZZ_DIRECTORY)))
        build["backdate_stamp"] = None
        allowed, why_not = trim_plan(state)
        build["trim_skipped"] = why_not
        if allowed and build["hit"] != "miss":
            build["backdate_stamp"], _ = trim.backdate(build["dir"], now, keep=set(build.get("entries_before_restore", [])))
        if allowed:
            trim.mark_trimmed(build["dir"], now)
        outputs.update({"build-hit": build["hit"], "build-matched-key": build["matched_key"]})
    set_outputs(env, outputs)
    say(f"module cache: {module['hit']}" + (f" from {module['matched_key']}" if module["matched_key"] else ""))
    if build["enabled"]:
        say(f"build cache: {build['hit']}" + (f" from {build['matched_key']}" if build["matched_key"] else ""))
        if build["trim_skipped"]:
            say(f"build cache: {build['trim_skipped']}")
    save_state(state["path"], state)
    return 0
