"""The steps of the ci-gocache GitHub Action (action.yml and save/action.yml).

Run straight from the action's checkout with the runner's Python and no installed packages, in
isolated mode so that nothing from the workspace (the current directory) or PYTHON* variables
can be imported in its place:

    python3 -I -S -c 'import sys; sys.path.insert(0, sys.argv[1]); ...main(sys.argv[2:])' \
        "$GITHUB_ACTION_PATH/src" <phase>

Standard library only, like the modules it uses (keys, trim, records). Phases, in job order:

    keys          compute the keys and cache directories (Windows: move them to the faster drive)
    restored      after actions/cache/restore: hit kinds, sizes, restore seconds; back-date the
                  build cache so that what this job uses is marked
    prepare-save  before actions/cache/save: trim what the job did not use; decide what to save
    report        after actions/cache/save: the job summary and one record per cache in the log

The phases pass their facts along in a JSON state file named by $CI_GOCACHE_STATE: a new file
with a random name in RUNNER_TEMP for every use of the action, which names the state of an
earlier use in the same job, so that a second use does not replace the first one's state.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time

from ci_gocache import keys
from ci_gocache.action import modcache, trim
from ci_gocache.action.records import format_record

# Only for annotations: every job runs the key phase, which imports no more than it uses
# (pathlib and typing alone would add a tenth to its CPU time on a large tree; bench/key_speed.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path
    from typing import Any, Callable

SAVE_POLICIES = ("auto", "push", "always", "never")
NEVER_SAVE_EVENTS = ("pull_request", "pull_request_target", "release")
ALWAYS_SAVE_EVENTS = ("push", "schedule", "workflow_dispatch")
STATE_VERSION = 2
# A build cache holding more entries than this before the restore was not emptied for this job:
# a persistent (self-hosted) cache, maybe shared with other jobs. A fresh runner's GOCACHE holds
# at most the few entries setup-go's and our own `go env` calls write.
OWNED_CACHE_MAX_ENTRIES = 64
SUM_LIST_SHOWN = 5
# A restored build cache that this job changed by less than this (entries added, or unused
# entries dropped) is not uploaded again (input build-save-min-change). A save costs an upload
# of the whole cache, about a tenth of a cold build's time; skipping it costs the next run the
# recompiling of what was new, at most this share of the entries: see thinned_build_save.
DEFAULT_BUILD_SAVE_MIN_CHANGE = "5%"
MIN_CHANGE_PATTERN = r"^(\d+(?:\.\d+)?)\s*(%?)$"


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
    delimiter = f"ci_gocache_{os.urandom(16).hex()}"
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


def notice(message: str) -> None:
    print(f"::notice title=ci-gocache::{_escape_command(message)}", flush=True)


def say(line: str) -> None:
    """Print one log line. Values in it (file names, keys) may come from the repository: a line
    break in one would start a new line that the runner reads as a workflow command
    (`::add-mask::`, `::error::`), so CR and LF are shown escaped."""
    print(line.replace("\r", "\\r").replace("\n", "\\n"), flush=True)


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
        "trim_persistent": _flag(env, "CI_GOCACHE_TRIM_PERSISTENT_CACHE", "trim-persistent-cache", False),
        "save": policy,
        "extra": [part for part in extra if part],
    }


# ---------------------------------------------------------------- go and the cache directories


GO_ENV_NAMES = ["GOVERSION", "GOMODCACHE", "GOCACHE", "GOENV", "GOROOT"]


class GoEnvQuery:
    """`go env -json NAMES` with GOTOOLCHAIN=local, started at once and read with `values()`,
    so that it runs while the key phase walks the tree.

    GOTOOLCHAIN=local: a go.mod asking for a newer Go must not make this call download that
    toolchain into GOMODCACHE before the module cache is restored (the restore would then fail
    on every file that exists). The version the build will switch to comes from
    `required_go_version` instead. So the directory it runs in does not matter: without a
    toolchain switch, no go.mod or go.work changes these values."""

    def __init__(self, names: list[str], cwd: str, env: dict[str, str]) -> None:
        self.names, self.cwd = names, cwd
        try:
            self.process: subprocess.Popen[str] | None = subprocess.Popen(
                ["go", "env", "-json", *names],
                cwd=cwd,
                env={**env, "GOTOOLCHAIN": "local"},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        except FileNotFoundError:
            self.process = None

    def __enter__(self) -> GoEnvQuery:
        return self

    def __exit__(self, *exception: object) -> None:
        if self.process is not None:
            self.process.__exit__(None, None, None)  # closes the pipes and waits for go

    def values(self) -> dict[str, str]:
        if self.process is None:
            raise ActionError("go is not on PATH; run actions/setup-go (or install Go) before ci-gocache")
        stdout, stderr = self.process.communicate()
        if self.process.returncode != 0:
            raise ActionError(f"`go env` failed in {self.cwd}: {stderr.strip()}")
        values = json.loads(stdout or "{}")
        return {name: str(values.get(name, "")) for name in self.names}


def go_env(names: list[str], cwd: str, env: dict[str, str]) -> dict[str, str]:
    """`go env` with GOTOOLCHAIN=local (see GoEnvQuery), read at once."""
    with GoEnvQuery(names, cwd, env) as query:
        return query.values()


_GO_VERSION = re.compile(r"^(?:go)?(\d+)\.(\d+)(?:\.(\d+))?(?:(rc|beta)(\d+))?$")
_GO_LINE = re.compile(r"^\s*(go|toolchain)\s+(\S+)\s*(?://.*)?$", re.MULTILINE)


def go_version_order(version: str) -> tuple[int, ...] | None:
    """A sort key in Go's own order: 1.21 < 1.21rc1 < 1.21.0 < 1.21.1; None if not a version."""
    match = _GO_VERSION.match(version.strip())
    if not match:
        return None
    major, minor, patch, stage, number = match.groups()
    if patch is not None:
        return (int(major), int(minor), 2, int(patch), 0)
    if stage is not None:
        return (int(major), int(minor), 1 if stage == "rc" else 0, int(number), 0)
    return (int(major), int(minor), -1, 0, 0)


def _max_version(versions: list[str]) -> str:
    ordered = [(go_version_order(v), v) for v in versions if go_version_order(v) is not None]
    return max(ordered)[1] if ordered else ""


def go_mod_requirement(text: str) -> str:
    """The Go release a go.mod or go.work asks for: its toolchain line, else its go line (a
    language version such as 1.22 means its first release, go1.22.0, from 1.21 on)."""
    lines = {kind: value for kind, value in _GO_LINE.findall(text)}
    toolchain = lines.get("toolchain", "").removeprefix("go")
    go_line = lines.get("go", "")
    if go_line and go_version_order(go_line) is not None and go_version_order(go_line)[2] == -1:
        if go_version_order(go_line) >= (1, 21, -1, 0, 0):
            go_line += ".0"
    return _max_version([version for version in (toolchain, go_line) if version])


def required_go_version(local: str, gotoolchain: str, mod_texts: Iterable[str]) -> str:
    """The Go version the job's go commands will run: GOTOOLCHAIN's rules over the local one.

    gotoolchain is the configured setting (`configured_gotoolchain`). local and path never switch; goX.Y.Z runs exactly that; auto, goX.Y.Z+auto and +path switch
    to what a go.mod or go.work asks for when it is newer than the minimum. mod_texts is read
    only then (pass a generator to read no file when GOTOOLCHAIN says local).
    """
    setting = (gotoolchain or "auto").strip()
    if setting in ("local", "path"):
        return local
    name, plus, mode = setting.partition("+")
    if not plus and name != "auto":
        return name if go_version_order(name) is not None else local
    minimum = local if name in ("auto", "local") else name
    wanted = _max_version([go_mod_requirement(text) for text in mod_texts])
    if wanted and go_version_order(minimum) is not None and go_version_order(wanted) > go_version_order(minimum):
        return "go" + wanted
    return minimum


def configured_gotoolchain(env: dict[str, str], goenv_file: str, goroot: str) -> str:
    """GOTOOLCHAIN as the go command reads it: the environment, else the user's go env file
    (`go env -w`), else $GOROOT/go.env (official releases say auto; some builds say local)."""
    if env.get("GOTOOLCHAIN", "").strip():
        return env["GOTOOLCHAIN"].strip()
    for path in (goenv_file, os.path.join(goroot, "go.env") if goroot else ""):
        if not path or path == "off":
            continue
        for line in _read_small_text(path).splitlines():
            name, equals, value = line.strip().partition("=")
            if equals and name.strip() == "GOTOOLCHAIN" and value.strip():
                return value.strip()
    return "auto"


def module_files_for_version(root: Path, sum_files: list[str]) -> list[str]:
    """The go.work or go.mod files whose go and toolchain lines pick the Go that builds the keyed
    modules: the workspace root's when it has one (the job's go commands run there), else
    those of every keyed module."""
    base = os.fspath(root)
    for name in ("go.work", "go.mod"):
        if os.path.isfile(os.path.join(base, name)):
            return [name]
    found: dict[str, None] = {}  # in order, without repeats
    for relative in sum_files:
        found[relative.rsplit("/", 1)[0] + "/go.mod" if "/" in relative else "go.mod"] = None
    return list(found)


def _read_small_text(path: str) -> str:
    """A go.mod or go.work: at most 1 MiB of a regular file, without blocking on a FIFO."""
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError:
        return ""
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return ""
        data = b""
        while len(data) < 1 << 20:
            chunk = os.read(descriptor, (1 << 20) - len(data))
            if not chunk:
                break
            data += chunk
        return data.decode("utf-8", errors="replace")
    finally:
        os.close(descriptor)


def faster_drive_dirs(env: dict[str, str], current: dict[str, str]) -> dict[str, str]:
    """Windows: GOMODCACHE/GOCACHE on the runner's work drive when Go's defaults are elsewhere.

    Hosted Windows runners put Go's caches on C: (the profile) and the work tree on D:, which
    extracts archives many times faster (setup-go #495, PR #515: 12-15 minute restores
    became one). RUNNER_TEMP lies on the work drive; a path the user set is left alone.
    """
    if env.get("RUNNER_OS") != "Windows":
        return {}
    import ntpath  # here: the key phase on Linux and macOS does without it

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


def summarize_files(files: list[str], shown: int = SUM_LIST_SHOWN) -> str:
    """A count and the first few names, not hundreds of names on one line."""
    if not files:
        return "(none)"
    head = ", ".join(files[:shown])
    return head if len(files) <= shown else f"{head} and {len(files) - shown} more"


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
        (_read_small_text(os.path.join(workspace, name)) for name in version_files),
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


# ---------------------------------------------------------------- phase: restored


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
    # Checked here, before the build, so that a bad value fails the job early.
    build["save_min_change"] = env.get("CI_GOCACHE_BUILD_SAVE_MIN_CHANGE", "").strip() or DEFAULT_BUILD_SAVE_MIN_CHANGE
    parse_min_change(build["save_min_change"])
    if build["enabled"]:
        build["matched_key"] = env.get("CI_GOCACHE_BUILD_MATCHED_KEY", "")
        build["hit"] = hit_kind(build["key"], build["matched_key"])
        build["restore_seconds"] = _span(module_done, now)
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
            if "new_entries" in cache:
                record["new_entries"] = cache["new_entries"]
            if cache.get("trim_skipped"):
                record["trim_skipped"] = cache["trim_skipped"]
        records.append({key: value for key, value in record.items() if value is not None})
    return records


def _cell(text: str) -> str:
    """A value inside a Markdown table cell of the job summary: one line, no column breaks."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "'").replace("\r", " ").replace("\n", " ")


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
            saved = f"no: {_cell(record['save_reason'])}"
        matched = f"`{_cell(record['matched_key'])}`" if record["matched_key"] else "—"
        lines.append(
            f"| {label} | **{record['hit']}** | `{_cell(record['key'])}` | {matched} | "
            f"{human_bytes(record.get('restored_bytes'))} | {_secs(record.get('restore_seconds'))} | {trimmed} | {saved} |"
        )
    files = state.get("sum_files") or []
    shown = ", ".join(f"`{_cell(f)}`" for f in files[:SUM_LIST_SHOWN])
    more = f" and {len(files) - SUM_LIST_SHOWN} more" if len(files) > SUM_LIST_SHOWN else ""
    lines += ["", f"{_cell(state.get('go_version', ''))}; keyed on {len(files)} file(s): {shown}{more}", ""]
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
        found_key = env.get(f"CI_GOCACHE_{name.upper()}_SAVED_KEY", "")
        cache["saved"], cache["save_reason"] = save_result(cache, outcome, found_key)
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
    save_state(state["path"], state)
    return 0


# ---------------------------------------------------------------- entry point


PHASES: dict[str, Callable[[dict[str, str]], int]] = {
    "keys": phase_keys,
    "restored": phase_restored,
    "prepare-save": phase_prepare_save,
    "report": phase_report,
}


def _utf8_output() -> None:
    """Windows runners' Python writes cp1252 to a pipe: a non-ASCII path would crash a print."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(encoding="utf-8", errors="backslashreplace")


def main(argv: list[str] | None = None) -> int:
    _utf8_output()
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
