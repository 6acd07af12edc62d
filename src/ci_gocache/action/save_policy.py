"""Whether a run saves its caches: the save input against the event and ref, and for a restored
build cache, whether the job changed it enough to upload it again (build-save-min-change)."""

from __future__ import annotations

import json
import os
import re

from ci_gocache.action.inputs import ActionError

TYPE_CHECKING = False  # typing only for annotations: the key phase imports this module
if TYPE_CHECKING:
    from typing import Any

NEVER_SAVE_EVENTS = ("pull_request", "pull_request_target", "release")
ALWAYS_SAVE_EVENTS = ("push", "schedule", "workflow_dispatch")
# A restored build cache that this job changed by less than this (entries added, or unused
# entries dropped) is not uploaded again (input build-save-min-change). A save costs an upload
# of the whole cache, about a tenth of a cold build's time; skipping it costs the next run the
# recompiling of what was new, at most this share of the entries: see thinned_build_save.
DEFAULT_BUILD_SAVE_MIN_CHANGE = "5%"
MIN_CHANGE_PATTERN = r"^(\d+(?:\.\d+)?)\s*(%?)$"


def default_branch(env: dict[str, str]) -> str:
    path = env.get("GITHUB_EVENT_PATH", "")
    if not path or not os.path.isfile(path):
        return ""
    try:
        with open(path, encoding="utf-8") as handle:
            event = json.load(handle)
    except (OSError, ValueError):
        return ""
    repository = event.get("repository") if isinstance(event, dict) else None
    branch = repository.get("default_branch") if isinstance(repository, dict) else None
    return branch if isinstance(branch, str) else ""


def save_decision(policy: str, event_name: str, ref: str, branch: str) -> tuple[bool, str]:
    """Whether this run may save caches, and why. Pull requests, tags and releases never save."""
    if policy == "never":
        return False, "save is never"
    if event_name in NEVER_SAVE_EVENTS:
        return False, f"{event_name} runs never save"
    if ref.startswith("refs/tags/"):
        return False, "tag runs never save"
    if ref.startswith("refs/pull/"):
        return False, "pull request refs never save"
    if policy == "always":
        # Only events a pull request cannot start: workflow_run, issue_comment and merge_group
        # runs write in the default branch's scope with code a pull request may have brought.
        if event_name in ALWAYS_SAVE_EVENTS and ref.startswith("refs/heads/"):
            return True, f"save is always: a {event_name} run on a branch"
        return False, f"save is always: only push, schedule and workflow_dispatch runs on a branch save, this run is {event_name or 'unknown'} on {ref or 'no ref'}"
    if event_name != "push" or not ref.startswith("refs/heads/"):
        return False, f"save is {policy}: only pushes save, this run is {event_name or 'unknown'}"
    if policy == "push":
        return True, "a push to a branch"
    if not branch:
        return False, "save is auto but the default branch is unknown (no repository in the event)"
    if ref != f"refs/heads/{branch}":
        return False, f"save is auto: only pushes to {branch} save, this is {ref}"
    return True, f"a push to the default branch {branch}"


def parse_min_change(text: str) -> tuple[float, bool]:
    """build-save-min-change: `5%` (a share of the restored entries) or `200` (entries), as
    (value, is a share). `0` always saves a changed cache."""
    match = re.match(MIN_CHANGE_PATTERN, text.strip())
    if not match or (match.group(2) and float(match.group(1)) > 100):
        raise ActionError(
            f"input build-save-min-change: expected a share of the restored entries such as 5% or a number of "
            f"entries such as 200, got {text!r}"
        )
    return float(match.group(1)), bool(match.group(2))


def thinned_build_save(build: dict[str, Any], fuzz_changed: bool) -> str:
    """Why a restored build cache that this job changed little is not saved again, or "" to save.

    Changed counts both ways: entries the job added (the next run, restoring the older entry,
    recompiles them) and restored entries it did not use (the next run downloads them again).
    Each run counts against the entry it restored, so skipped changes add up run after run
    until they reach the threshold and a run saves: what a run recompiles for a skipped save
    stays under the threshold. A miss always saves, and so does a changed fuzz corpus (inputs
    found by fuzzing are not recompiled).
    """
    if build["hit"] == "miss" or fuzz_changed:
        return ""
    value, share = parse_min_change(build.get("save_min_change", DEFAULT_BUILD_SAVE_MIN_CHANGE))
    restored = build.get("restored_entries", 0)
    limit = restored * value / 100 if share else value
    new, dropped = build["new_entries"], build["trimmed_entries"]
    if new >= limit or dropped >= limit:
        return ""
    return (
        f"thinned: {new} new and {dropped} dropped of {restored} restored entries, under build-save-min-change "
        f"{build.get('save_min_change', DEFAULT_BUILD_SAVE_MIN_CHANGE)} ({limit:g} entries); the next run restores "
        f"the same entry and recompiles what is new"
    )
