"""The steps of the ci-gocache GitHub Action (action.yml and save/action.yml).

Run straight from the action's checkout with the runner's Python and no installed packages:

    PYTHONPATH="$GITHUB_ACTION_PATH/src" python3 -S -m ci_gocache.action.runtime <phase>

Standard library only, like the modules it uses (keys, trim, records). Phases, in job order:

    keys          compute the keys and cache directories (Windows: move them to the faster drive)
    restored      after actions/cache/restore: hit kinds, sizes, restore seconds; back-date the
                  build cache so that what this job uses is marked
    prepare-save  before actions/cache/save: trim what the job did not use; decide what to save
    report        after actions/cache/save: the job summary and one record per cache in the log

The phases pass their facts along in a JSON state file named by $CI_GOCACHE_STATE.
"""

from __future__ import annotations

import json
import ntpath
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Callable

from ci_gocache import keys
from ci_gocache.action import modcache, trim
from ci_gocache.action.records import format_record

SAVE_POLICIES = ("auto", "push", "always", "never")
NEVER_SAVE_EVENTS = ("pull_request", "pull_request_target", "release")
ALWAYS_SAVE_EVENTS = ("push", "schedule", "workflow_dispatch")
STATE_VERSION = 1


class ActionError(Exception):
    """Bad input or a missing prerequisite: reported as a workflow error, exit status 2."""


# ---------------------------------------------------------------- GitHub file commands


def _append(path: str | None, text: str) -> None:
    if not path:
        return
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)


def file_command_lines(name: str, value: str) -> str:
    """`name=value`, or a heredoc when the value spans lines (GITHUB_OUTPUT and GITHUB_ENV)."""
    if "\n" not in value and "\r" not in value:
        return f"{name}={value}\n"
    delimiter = f"ci_gocache_{uuid.uuid4().hex}"
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


def set_outputs(env: dict[str, str], outputs: dict[str, str]) -> None:
    _append(env.get("GITHUB_OUTPUT"), "".join(file_command_lines(k, v) for k, v in outputs.items()))


def export_env(env: dict[str, str], values: dict[str, str]) -> None:
    _append(env.get("GITHUB_ENV"), "".join(file_command_lines(k, v) for k, v in values.items()))


def add_summary(env: dict[str, str], markdown: str) -> None:
    _append(env.get("GITHUB_STEP_SUMMARY"), markdown)


def _escape_command(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def warning(message: str) -> None:
    print(f"::warning title=ci-gocache::{_escape_command(message)}", flush=True)


# ---------------------------------------------------------------- inputs


def _flag(env: dict[str, str], variable: str, input_name: str, default: bool) -> bool:
    raw = env.get(variable, "").strip().lower()
    if raw == "":
        return default
    if raw in ("true", "false"):
        return raw == "true"
    raise ActionError(f"input {input_name}: expected true or false, got {raw!r}; set it to 'true' or 'false'")


def read_inputs(env: dict[str, str]) -> dict[str, Any]:
    prefix = env.get("CI_GOCACHE_KEY_PREFIX", "").strip() or keys.DEFAULT_PREFIX
    if "," in prefix:
        raise ActionError(f"input key-prefix: {prefix!r} has a comma, which cache keys cannot hold; remove it")
    policy = env.get("CI_GOCACHE_SAVE", "").strip().lower() or "auto"
    if policy not in SAVE_POLICIES:
        raise ActionError(f"input save: expected one of {', '.join(SAVE_POLICIES)}, got {policy!r}")
    extra = [part.strip() for part in env.get("CI_GOCACHE_EXTRA_KEY_PARTS", "").replace(",", "\n").splitlines()]
    return {
        "modules": keys.split_list(env.get("CI_GOCACHE_MODULES", "")),
        "prefix": prefix,
        "build_cache": _flag(env, "CI_GOCACHE_BUILD_CACHE", "build-cache", True),
        "trim": _flag(env, "CI_GOCACHE_TRIM", "trim", True),
        "save": policy,
        "extra": [part for part in extra if part],
    }


# ---------------------------------------------------------------- go and the cache directories


def go_env(names: list[str], cwd: str, env: dict[str, str]) -> dict[str, str]:
    try:
        completed = subprocess.run(
            ["go", "env", "-json", *names], cwd=cwd, env=env, capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise ActionError("go is not on PATH; run actions/setup-go (or install Go) before ci-gocache") from None
    if completed.returncode != 0:
        raise ActionError(f"`go env` failed in {cwd}: {completed.stderr.strip()}")
    values = json.loads(completed.stdout or "{}")
    return {name: str(values.get(name, "")) for name in names}


def faster_drive_dirs(env: dict[str, str], current: dict[str, str]) -> dict[str, str]:
    """Windows: GOMODCACHE/GOCACHE on the runner's work drive when Go's defaults are elsewhere.

    Hosted Windows runners put Go's caches on C: (the profile) and the work tree on D:, which
    extracts archives many times faster (setup-go #495, PR #515: 12-15 minute restores
    became one). RUNNER_TEMP lies on the work drive; a path the user set is left alone.
    """
    if env.get("RUNNER_OS") != "Windows":
        return {}
    temp = env.get("RUNNER_TEMP", "")
    drive = ntpath.splitdrive(temp)[0]
    if not drive:
        return {}
    moved: dict[str, str] = {}
    for name, leaf in (("GOMODCACHE", "go-mod"), ("GOCACHE", "go-build")):
        if env.get(name, "").strip():
            continue
        if ntpath.splitdrive(current.get(name, ""))[0].upper() == drive.upper():
            continue
        moved[name] = ntpath.join(temp, "ci-gocache", leaf)
    return moved


# ---------------------------------------------------------------- state


def state_path(env: dict[str, str]) -> str:
    configured = env.get("CI_GOCACHE_STATE", "")
    if configured:
        return configured
    temp = env.get("RUNNER_TEMP") or os.environ.get("TMPDIR") or "/tmp"
    return os.path.join(temp, "ci-gocache-state.json")


def load_state(env: dict[str, str]) -> dict[str, Any]:
    path = env.get("CI_GOCACHE_STATE", "")
    if not path or not os.path.isfile(path):
        raise ActionError("no state from the ci-gocache action: use it (after setup-go) before ci-gocache/save")
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def save_state(path: str, state: dict[str, Any]) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=1, sort_keys=True)


def _seconds(raw: str | None) -> float | None:
    """A timestamp from bash's $EPOCHREALTIME (or `date +%s`); the locale may use a comma."""
    if not raw:
        return None
    try:
        return float(raw.strip().replace(",", "."))
    except ValueError:
        return None


def _span(start: float | None, end: float | None) -> float | None:
    if start is None or end is None or end < start:
        return None
    return round(end - start, 3)


# ---------------------------------------------------------------- phase: keys


def phase_keys(env: dict[str, str]) -> int:
    inputs = read_inputs(env)
    workspace = Path(env.get("GITHUB_WORKSPACE") or os.getcwd())
    sum_files = keys.resolve_sum_files(workspace, inputs["modules"])
    if not sum_files:
        warning(
            f"no go.sum, go.work.sum or go.mod found for modules {' '.join(inputs['modules']) or '(default)'} "
            f"in {workspace}; the module key will not change with dependencies. Set the modules input."
        )
    go_dir = workspace / os.path.dirname(sum_files[0]) if sum_files else workspace
    go_values = go_env(["GOVERSION", "GOMODCACHE", "GOCACHE"], str(go_dir), env)
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
        go_version=go_values["GOVERSION"] or "unknown",
        job=env.get("GITHUB_JOB", "") or "job",
        matrix_json=env.get("CI_GOCACHE_MATRIX", ""),
        extra=inputs["extra"],
        run=f"{env.get('GITHUB_RUN_ID', '0')}-{env.get('GITHUB_RUN_ATTEMPT', '1')}",
    )
    for key in (computed.module_key, computed.build_key):
        problem = keys.key_problem(key)
        if problem:
            raise ActionError(f"the key {key[:60]}... is not a valid cache key: {problem}; shorten key-prefix")
    path = state_path(env)
    state = {
        "v": STATE_VERSION,
        "workspace": str(workspace),
        "sum_files": list(computed.sum_files),
        "digest": computed.parts.sums_digest,
        "go_version": go_values["GOVERSION"],
        "save": inputs["save"],
        "trim": inputs["trim"],
        "moved": moved,
        "module": {
            "dir": go_values["GOMODCACHE"],
            "key": computed.module_key,
            "restore_keys": computed.module_restore_keys,
        },
        "build": {
            "enabled": build_cache,
            "dir": go_values["GOCACHE"],
            "key": computed.build_key,
            "restore_keys": computed.build_restore_keys,
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
            "go-version": go_values["GOVERSION"],
        },
    )
    print(f"go.sum files ({len(sum_files)}): {' '.join(sum_files) or '(none)'}")
    for name, value in moved.items():
        print(f"{name}={value} (Windows: caches on the work drive restore many times faster)")
    print(f"module cache {go_values['GOMODCACHE']}: key {computed.module_key}")
    if build_cache:
        print(f"build cache {go_values['GOCACHE']}: key {computed.build_key}")
    state["keys_done_at"] = time.time()
    save_state(path, state)
    return 0


# ---------------------------------------------------------------- phase: restored


def hit_kind(key: str, matched_key: str) -> str:
    if not matched_key:
        return "miss"
    return "exact" if matched_key == key else "partial"


def phase_restored(env: dict[str, str]) -> int:
    state = load_state(env)
    now = time.time()
    module_done = _seconds(env.get("CI_GOCACHE_MODULE_RESTORED_AT"))
    module = state["module"]
    module["matched_key"] = env.get("CI_GOCACHE_MODULE_MATCHED_KEY", "")
    module["hit"] = hit_kind(module["key"], module["matched_key"])
    module["restore_seconds"] = _span(state.get("keys_done_at"), module_done or now)
    module["restored_files"], module["restored_bytes"] = trim.directory_size(module["dir"])
    outputs = {
        "module-hit": module["hit"],
        "module-matched-key": module["matched_key"],
        "cache-hit": "true" if module["hit"] == "exact" else "false",
    }
    build = state["build"]
    if build["enabled"]:
        build["matched_key"] = env.get("CI_GOCACHE_BUILD_MATCHED_KEY", "")
        build["hit"] = hit_kind(build["key"], build["matched_key"])
        build["restore_seconds"] = _span(module_done, now)
        build["restored_files"], build["restored_bytes"] = trim.directory_size(build["dir"])
        build["restored_entries"] = len(trim.iter_entries(build["dir"]))
        build["backdate_stamp"] = None
        if state["trim"] and build["hit"] != "miss":
            build["backdate_stamp"], _ = trim.backdate(build["dir"], now)
        if state["trim"]:
            trim.mark_trimmed(build["dir"], now)
        outputs.update({"build-hit": build["hit"], "build-matched-key": build["matched_key"]})
    set_outputs(env, outputs)
    print(f"module cache: {module['hit']}" + (f" from {module['matched_key']}" if module["matched_key"] else ""))
    if build["enabled"]:
        print(f"build cache: {build['hit']}" + (f" from {build['matched_key']}" if build["matched_key"] else ""))
    save_state(state_path(env), state)
    return 0


# ---------------------------------------------------------------- phase: prepare-save


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


def complete_module_cache(state: dict[str, Any], module: dict[str, Any], env: dict[str, str]) -> None:
    """Before a module save on a miss: every module the keyed go.sum files need, and no other.

    The first job to finish writes the shared module key, whatever part of the modules it used;
    and a restore through `...-gomod-` brings older module sets that would be saved again.
    """
    root = Path(state["workspace"])
    sum_files = [path for path in state.get("sum_files", []) if os.path.basename(path) in keys.SUM_FILE_NAMES]
    if not sum_files:
        return
    started = time.time()
    problems = modcache.download(root, sum_files, env)
    for problem in problems:
        warning(f"go mod download before the module cache save: {problem}")
    downloaded = time.time()
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
    state = load_state(env)
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
        if state["trim"] and stamp is not None and job_status != "success":
            # A step failed: the build may have stopped before it used what it needs next time.
            build["trim_skipped"] = f"not trimmed: the job status is {job_status}"
            stamp = None
        if state["trim"] and stamp is not None:
            result = trim.trim_unused(build["dir"], stamp)
            build["trimmed_entries"], build["trimmed_bytes"] = result.dropped_entries, result.dropped_bytes
            trim.mark_trimmed(build["dir"])
        else:
            build["trimmed_entries"] = build["trimmed_bytes"] = 0
        entries_now = len(trim.iter_entries(build["dir"]))
        unchanged = (
            build["hit"] != "miss" and build["trimmed_entries"] == 0 and entries_now == build.get("restored_entries", -1)
        )
        if not allowed:
            build["save"], build["save_reason"] = False, reason
        elif entries_now == 0:
            build["save"], build["save_reason"] = False, "the build cache is empty"
        elif unchanged:
            build["save"], build["save_reason"] = False, "unchanged: the job used every restored entry and added none"
        else:
            build["save"], build["save_reason"] = True, reason
        outputs["save-build"] = "true" if build["save"] else "false"
        print(
            f"build cache: trimmed {build['trimmed_entries']} unused entries ({human_bytes(build['trimmed_bytes'])}); "
            f"{entries_now} kept"
        )
    set_outputs(env, outputs)
    for name, cache in (("module", module), ("build", build)):
        if name == "module" or build["enabled"]:
            print(f"{name} cache: {'saving' if cache['save'] else 'not saving'} ({cache['save_reason']})")
    state["prepared_at"] = time.time()
    save_state(state_path(env), state)
    return 0


# ---------------------------------------------------------------- phase: report


def human_bytes(count: int | None) -> str:
    if count is None:
        return "?"
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"


def _secs(value: float | None) -> str:
    return "?" if value is None else f"{value:.1f} s"


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
            if cache.get("trim_skipped"):
                record["trim_skipped"] = cache["trim_skipped"]
        records.append({key: value for key, value in record.items() if value is not None})
    return records


def summary_markdown(state: dict[str, Any], records: list[dict[str, Any]]) -> str:
    lines = [
        "### Go caches (ci-gocache)",
        "",
        "| cache | hit | key | restored from | size | restore | trimmed | saved |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for record in records:
        label = "modules" if record["cache"] == "mod" else "build"
        trimmed = "—"
        if record.get("trim_skipped"):
            trimmed = record["trim_skipped"]
        elif record["cache"] == "build":
            trimmed = f"{record['trimmed_entries']} entries, {human_bytes(record['trimmed_bytes'])}"
        if record["saved"]:
            saved = f"yes, {human_bytes(record.get('saved_bytes'))} in {_secs(record.get('save_seconds'))}"
        else:
            saved = f"no: {record['save_reason']}"
        matched = f"`{record['matched_key']}`" if record["matched_key"] else "—"
        lines.append(
            f"| {label} | **{record['hit']}** | `{record['key']}` | {matched} | "
            f"{human_bytes(record.get('restored_bytes'))} | {_secs(record.get('restore_seconds'))} | {trimmed} | {saved} |"
        )
    files = state.get("sum_files") or []
    lines += ["", f"{state.get('go_version', '')}; keyed on {len(files)} file(s): {', '.join(f'`{f}`' for f in files)}", ""]
    return "\n".join(lines) + "\n"


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


def phase_report(env: dict[str, str]) -> int:
    state = load_state(env)
    now = time.time()
    module_saved_at = _seconds(env.get("CI_GOCACHE_MODULE_SAVED_AT"))
    prepared_at = state.get("prepared_at")
    spans = {
        "module": _span(prepared_at, module_saved_at),
        "build": _span(module_saved_at or prepared_at, now),
    }
    outputs: dict[str, str] = {}
    for name in ("module", "build"):
        cache = state[name]
        outcome = env.get(f"CI_GOCACHE_{name.upper()}_SAVE_OUTCOME", "")
        cache["saved"] = bool(cache.get("save")) and outcome == "success"
        if cache.get("save") and not cache["saved"]:
            cache["save_reason"] = f"actions/cache/save {outcome or 'did not run'}"
        if cache["saved"]:
            cache["save_seconds"] = spans[name]
            cache["saved_bytes"] = trim.directory_size(cache["dir"])[1]
        outputs[f"{name}-saved"] = "true" if cache["saved"] else "false"
    outputs["deleted-key"] = delete_superseded(state, env) if _flag(env, "CI_GOCACHE_DELETE_SUPERSEDED", "delete-superseded", False) else ""
    outputs["trimmed-entries"] = str(state["build"].get("trimmed_entries", 0))
    outputs["trimmed-bytes"] = str(state["build"].get("trimmed_bytes", 0))
    records = build_records(state, env)
    add_summary(env, summary_markdown(state, records))
    set_outputs(env, outputs)
    for record in records:
        print(format_record(record), flush=True)
    save_state(state_path(env), state)
    return 0


# ---------------------------------------------------------------- entry point


PHASES: dict[str, Callable[[dict[str, str]], int]] = {
    "keys": phase_keys,
    "restored": phase_restored,
    "prepare-save": phase_prepare_save,
    "report": phase_report,
}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in PHASES:
        print(f"usage: python -m ci_gocache.action.runtime {{{','.join(PHASES)}}}", file=sys.stderr)
        return 2
    try:
        return PHASES[args[0]](dict(os.environ))
    except ActionError as error:
        print(f"::error title=ci-gocache::{_escape_command(str(error))}", flush=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
