"""The state the phases pass along: one JSON file per use of the action, named by $CI_GOCACHE_STATE.

Each use of the action in a job gets a new file with a random name in RUNNER_TEMP, which names
the state of an earlier use in the same job, so that a second use does not replace the first
one's state.
"""

from __future__ import annotations

import json
import os

from ci_gocache.action.inputs import ActionError

TYPE_CHECKING = False  # typing only for annotations: the key phase imports this module
if TYPE_CHECKING:
    from typing import Any

STATE_VERSION = 2


def new_state_path(env: dict[str, str]) -> str:
    """A new state file for this use of the action: a random name, created exclusively and
    readable by this user only, in RUNNER_TEMP (else $TMPDIR or the system's temporary
    directory). (Not tempfile: importing it costs more than the key phase's own work.)"""
    directory = env.get("RUNNER_TEMP") or env.get("TMPDIR") or ("C:\\Windows\\Temp" if os.name == "nt" else "/tmp")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"ci-gocache-{os.urandom(12).hex()}.json")
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600))
    return path


def _read_state(path: str) -> dict[str, Any]:
    if not path or not os.path.isfile(path):
        raise ActionError("no state from the ci-gocache action: use it (after setup-go) before ci-gocache/save")
    with open(path, encoding="utf-8") as handle:
        state = json.load(handle)
    state["path"] = path
    return state


def load_state(env: dict[str, str]) -> dict[str, Any]:
    """The state of the latest use of the action in this job."""
    return _read_state(env.get("CI_GOCACHE_STATE", ""))


def load_unsaved_state(env: dict[str, str]) -> dict[str, Any]:
    """For ci-gocache/save: the latest use of the action that no save has handled yet, so two
    uses paired with two saves are each saved once (the last use first)."""
    state = load_state(env)
    while state.get("prepared_at") is not None and state.get("previous_state"):
        state = _read_state(state["previous_state"])
    return state


def save_state(path: str, state: dict[str, Any]) -> None:
    body = {key: value for key, value in state.items() if key != "path"}
    temporary = f"{path}.{os.urandom(8).hex()}.tmp"
    with open(temporary, "x", encoding="utf-8") as handle:
        json.dump(body, handle, indent=1, sort_keys=True)
    os.replace(temporary, path)


def parse_timestamp(raw: str | None) -> float | None:
    """A timestamp from bash's $EPOCHREALTIME (or `date +%s`); the locale may use a comma."""
    if not raw:
        return None
    try:
        return float(raw.strip().replace(",", "."))
    except ValueError:
        return None


def span_seconds(start: float | None, end: float | None) -> float | None:
    if start is None or end is None or end < start:
        return None
    return round(end - start, 3)
