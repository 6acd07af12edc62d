"""Go and its cache directories: `go env`, the Go version the job's builds will run (GOTOOLCHAIN's
rules over go.mod and go.work), and on Windows the caches moved to the faster drive."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess

from ci_gocache.action.inputs import ActionError

TYPE_CHECKING = False  # pathlib and typing only for annotations: the key phase imports this module
if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

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
        for line in read_small_text(path).splitlines():
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


def read_small_text(path: str) -> str:
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
