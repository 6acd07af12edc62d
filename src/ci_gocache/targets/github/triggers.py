"""What a workflow's `on:` lets a save step do: which events can reach the default branch.

Saving is decided per save step by its `if:` condition (see steps.save_condition), not per
workflow: a CI workflow on `push: {branches: [main], tags: ['v*']}` still saves on main, and the
condition keeps tag and release-branch runs from writing. Only a workflow that can never run
on the default branch (release events, tag pushes, release branches, pull_request_target) is
restore-only as a whole.
"""

from __future__ import annotations

import re
from typing import Any

# Branch filters that name release lines rather than the default branch.
RELEASE_BRANCH = re.compile(r"release|stable|hotfix|^v?\d|^refs/tags/", re.IGNORECASE)
# Events whose runs use the default branch's ref (and so write caches every branch can read).
DEFAULT_BRANCH_EVENTS = ("schedule", "workflow_dispatch", "repository_dispatch")
# --save-on always: the events that may save (steps.save_condition, the action's save_decision).
ALWAYS_SAVE_EVENTS = ("push", "schedule", "workflow_dispatch")

# Events whose runs a pull request can start with the base repository's rights: zizmor's
# github-env audit reports every write to $GITHUB_ENV in their workflows.
PRIVILEGED_EVENTS = ("pull_request_target", "workflow_run")


def events_of(on_value: Any) -> dict[str, Any]:
    """`on:` as {event name: its filter mapping or None}, whichever of the three forms it has."""
    if isinstance(on_value, str):
        return {on_value: None}
    if isinstance(on_value, list):
        return {str(item): None for item in on_value}
    if isinstance(on_value, dict):
        return {str(key): value for key, value in on_value.items()}
    return {}


def _patterns(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(item) for item in value]
    return []


def push_reaches_branches(events: dict[str, Any]) -> bool:
    """Can the `push` trigger fire for a branch push at all (not only for tags)?"""
    if "push" not in events:
        return False
    push = events["push"]
    if not isinstance(push, dict):
        return True
    has_tag_filter = "tags" in push or "tags-ignore" in push
    has_branch_filter = "branches" in push or "branches-ignore" in push
    return has_branch_filter or not has_tag_filter


def push_reaches_default_branch(events: dict[str, Any]) -> bool:
    """Can a push to the default branch run this workflow? Branch lists that only name release
    lines (`release-*`, `v1.x`) cannot."""
    if not push_reaches_branches(events):
        return False
    push = events["push"]
    if not isinstance(push, dict) or "branches" not in push:
        return True
    return any(not RELEASE_BRANCH.search(pattern) for pattern in _patterns(push.get("branches")))


def runs_on_default_branch(events: dict[str, Any]) -> bool:
    """Can any run of this workflow have the default branch as its ref?"""
    return (
        push_reaches_default_branch(events)
        or "workflow_call" in events
        or any(event in events for event in DEFAULT_BRANCH_EVENTS)
    )


def restore_only_reasons(events: dict[str, Any]) -> list[str]:
    """Why the whole workflow is restore-only; empty unless EVERY trigger is a release-like one."""
    reasons: list[str] = []
    for event in events:
        if event == "release":
            reasons.append("runs on release events")
        elif event == "pull_request_target":
            reasons.append("runs on pull_request_target")
        elif event == "push" and not push_reaches_branches(events):
            reasons.append("runs on tag pushes")
        elif event == "push" and not push_reaches_default_branch(events):
            reasons.append("runs on pushes to release branches")
        else:
            return []
    return reasons


def policy_can_save(policy: str, events: dict[str, Any]) -> bool:
    """Can a save step gated by --save-on POLICY ever run in this workflow?"""
    if policy == "never" or not events or restore_only_reasons(events):
        return False
    if "workflow_call" in events:
        return True
    if policy == "default-branch":
        return push_reaches_default_branch(events)
    if policy == "push":
        return push_reaches_branches(events)
    # always: branch pushes, schedules and manual runs; never events a pull request can start
    # (workflow_run, issue_comment, merge_group, pull_request*), see steps.save_condition.
    return push_reaches_branches(events) or any(event in events for event in ALWAYS_SAVE_EVENTS[1:])


def privileged(events: dict[str, Any]) -> bool:
    """Can a pull request start a run of this workflow with the base repository's rights?"""
    return any(event in events for event in PRIVILEGED_EVENTS)
