"""Phase `report`, after actions/cache/save: whether each save stored its key, the job summary,
one record per cache in the log (records.py), and on request the deletion of the build entry
this job's save superseded."""

from __future__ import annotations

import time

from ci_gocache.action import trim
from ci_gocache.action.inputs import read_flag
from ci_gocache.action.records import format_record
from ci_gocache.action.state import load_state, parse_timestamp, save_state, span_seconds
from ci_gocache.action.summary import summary_markdown
from ci_gocache.action.workflow_commands import add_summary, set_outputs, warning

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def build_records(state: dict[str, Any], env: dict[str, str]) -> list[dict[str, Any]]:
    context = {
        "job": env.get("GITHUB_JOB", ""),
        "workflow": env.get("GITHUB_WORKFLOW", ""),
        "run_id": env.get("GITHUB_RUN_ID", ""),
        "ref": env.get("GITHUB_REF", ""),
        "os": env.get("RUNNER_OS", ""),
        "arch": env.get("RUNNER_ARCH", ""),
    }
    records = []
    for name, cache in (("mod", state["module"]), ("build", state["build"])):
        if name == "build" and not cache.get("enabled"):
            continue
        saved = bool(cache.get("saved"))
        record: dict[str, Any] = {
            "cache": name,
            "hit": cache.get("hit", "miss"),
            "key": cache["key"],
            "restore_keys": cache["restore_keys"],
            "matched_key": cache.get("matched_key", ""),
            "restore_seconds": cache.get("restore_seconds"),
            "size_bytes": cache.get("saved_bytes") if saved else cache.get("restored_bytes"),
            "restored_bytes": cache.get("restored_bytes"),
            "saved": saved,
            "save_reason": cache.get("save_reason", ""),
            "go_version": state.get("go_version", ""),
            **context,
        }
        if saved:
            record["save_seconds"] = cache.get("save_seconds")
            record["saved_bytes"] = cache.get("saved_bytes")
        if name == "build":
            record["trimmed_entries"] = cache.get("trimmed_entries", 0)
            record["trimmed_bytes"] = cache.get("trimmed_bytes", 0)
            if "new_entries" in cache:
                record["new_entries"] = cache["new_entries"]
            if cache.get("trim_skipped"):
                record["trim_skipped"] = cache["trim_skipped"]
        records.append({key: value for key, value in record.items() if value is not None})
    return records


def superseded_build_key(state: dict[str, Any]) -> str:
    """The build entry this job's new save replaces: the one it restored, when it is of the same
    job and matrix leg (its scope restore key) and not the key just saved. Else ""."""
    build = state["build"]
    matched = build.get("matched_key", "")
    scope = build["restore_keys"][-1] if build.get("restore_keys") else ""
    if not build.get("saved") or not matched or not scope or matched == build["key"] or not matched.startswith(scope):
        return ""
    return matched


def delete_superseded(state: dict[str, Any], env: dict[str, str]) -> str:
    """DELETE /repos/{owner}/{repo}/actions/caches?key=...&ref=... for the superseded build entry.

    Only this run's ref: an entry of another branch's scope (the default branch's, restored by a
    feature-branch run) is not found there and stays. Never fails the job; returns the deleted key.
    """
    key = superseded_build_key(state)
    repository, token = env.get("GITHUB_REPOSITORY", ""), env.get("CI_GOCACHE_TOKEN", "")
    if not key or not repository or not token:
        return ""
    # Loaded here: urllib costs the key phase, which runs on every job, a few tens of milliseconds.
    import urllib.error
    import urllib.parse
    import urllib.request

    query = urllib.parse.urlencode({"key": key, "ref": env.get("GITHUB_REF", "")})
    url = f"{env.get('GITHUB_API_URL', 'https://api.github.com').rstrip('/')}/repos/{repository}/actions/caches?{query}"
    request = urllib.request.Request(
        url,
        method="DELETE",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
    except urllib.error.HTTPError as error:
        if error.code == 404:
            print(f"build cache: superseded entry {key} not found in {env.get('GITHUB_REF', '')}; nothing deleted")
        elif error.code == 403:
            warning("delete-superseded: the token may not delete caches; give the job `permissions: actions: write`")
        else:
            warning(f"delete-superseded: the cache API answered {error.code} for {key}")
        return ""
    except (OSError, ValueError) as error:
        warning(f"delete-superseded: could not reach the cache API ({error})")
        return ""
    print(f"build cache: deleted the superseded entry {key}")
    state["build"]["deleted_superseded"] = key
    return key


def save_result(cache: dict[str, Any], outcome: str, found_key: str) -> tuple[bool, str]:
    """Whether the save really stored the key, and the reason to report when it did not.

    actions/cache/save succeeds with only a warning when the service refuses the key ("Unable to
    reserve cache", for example when another job is saving it) or fails to upload; the lookup
    after the save (found_key) tells what the cache holds now.
    """
    if not cache.get("save"):
        return False, cache.get("save_reason", "")
    if outcome != "success":
        return False, f"actions/cache/save {outcome or 'did not run'}"
    if found_key.lower() != cache["key"].lower():
        return False, "refused or failed: actions/cache/save only warned, and the key is not in the cache after it"
    return True, cache.get("save_reason", "")


def phase_report(env: dict[str, str]) -> int:
    state = load_state(env)
    now = time.time()
    module_saved_at = parse_timestamp(env.get("CI_GOCACHE_MODULE_SAVED_AT"))
    prepared_at = state.get("prepared_at")
    spans = {
        "module": span_seconds(prepared_at, module_saved_at),
        "build": span_seconds(module_saved_at or prepared_at, now),
    }
    outputs: dict[str, str] = {}
    for name in ("module", "build"):
        cache = state[name]
        outcome = env.get(f"CI_GOCACHE_{name.upper()}_SAVE_OUTCOME", "")
        found_key = env.get(f"CI_GOCACHE_{name.upper()}_SAVED_KEY", "")
        cache["saved"], cache["save_reason"] = save_result(cache, outcome, found_key)
        if cache["saved"]:
            cache["save_seconds"] = spans[name]
            cache["saved_bytes"] = trim.directory_size(cache["dir"])[1]
        outputs[f"{name}-saved"] = "true" if cache["saved"] else "false"
    outputs["deleted-key"] = delete_superseded(state, env) if read_flag(env, "CI_GOCACHE_DELETE_SUPERSEDED", "delete-superseded", False) else ""
    outputs["trimmed-entries"] = str(state["build"].get("trimmed_entries", 0))
    outputs["trimmed-bytes"] = str(state["build"].get("trimmed_bytes", 0))
    records = build_records(state, env)
    add_summary(env, summary_markdown(state, records))
    set_outputs(env, outputs)
    for record in records:
        print(format_record(record), flush=True)
    save_state(state["path"], state)
    return 0
