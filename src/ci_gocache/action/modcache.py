"""The module cache a save uploads: complete for the keyed go.sum files, and nothing else.

Several jobs share one module key and the first to finish saves it; when that job built only
part of the modules (`go build ./cmd/x`, `go mod tidy`), every other job downloads the rest on
every run. And the `...-gomod-` restore key brings any older module set, so each save would
upload the union of every set since the cache began. Before a module save on a miss the
action therefore downloads what the keyed go.sum files need (`go mod download` in their
modules) and deletes the module versions none of them lists.

Standard library only: the action runs it with the runner's Python.
"""

from __future__ import annotations

import os
import stat
import subprocess

from ci_gocache import keys

# No shutil, pathlib or dataclasses at import: the key phase, which every job runs, imports this
# module (holds_modules), and each of them adds milliseconds of CPU to it (bench/key_speed.py).

# Go's own toolchain downloads (GOTOOLCHAIN) live in the module cache but are never in a go.sum.
ALWAYS_KEPT = ("golang.org/toolchain",)
_DOWNLOAD_SUFFIXES = (".info", ".mod", ".zip", ".ziphash", ".lock", ".partial", ".tmp")


def escape(text: str) -> str:
    """A module path or version as the module cache spells it on disk (`!` before a lower-cased capital)."""
    return "".join(f"!{char.lower()}" if "A" <= char <= "Z" else char for char in text)


def listed_versions(root: str | os.PathLike[str], sum_files: list[str]) -> set[tuple[str, str]]:
    """(escaped module path, escaped version) for every module version the sum files list."""
    listed: set[tuple[str, str]] = set()
    for relative in sum_files:
        path = os.path.join(root, relative)
        if os.path.basename(path) not in ("go.sum", "go.work.sum"):
            continue
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                text = handle.read()
        except OSError:
            continue
        for line in text.splitlines():
            fields = line.split()
            if len(fields) == 3:
                listed.add((escape(fields[0]), escape(fields[1].removesuffix("/go.mod"))))
    return listed


class PruneResult:
    def __init__(self) -> None:
        self.kept_versions = 0
        self.dropped_versions = 0
        self.dropped_bytes = 0
        self.dropped: list[str] = []


def _kept(module: str, version: str, listed: set[tuple[str, str]]) -> bool:
    return (module, version) in listed or any(module == kept or module.startswith(kept + "/") for kept in ALWAYS_KEPT)


def _size(path: str) -> int:
    total = 0
    for directory, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except OSError:
                pass
    return total


def _remove_tree(path: str) -> None:
    # Go makes extracted modules read-only.
    def make_writable(function, target, _info):  # type: ignore[no-untyped-def]
        os.chmod(os.path.dirname(target), stat.S_IRWXU)
        if os.path.exists(target) and not os.path.islink(target):
            os.chmod(target, stat.S_IRWXU)
        function(target)

    import shutil  # here, not at the top: see the imports

    for directory, subdirectories, _ in os.walk(path):
        for name in subdirectories:
            try:
                os.chmod(os.path.join(directory, name), stat.S_IRWXU)
            except OSError:
                pass
    shutil.rmtree(path, onerror=make_writable)


def prune(module_cache: str, listed: set[tuple[str, str]]) -> PruneResult:
    """Delete every module version below module_cache that `listed` does not name.

    Both forms go: the download cache (cache/download/<module>/@v/<version>.*) and the extracted
    tree (<module>@<version>/). Version lists, the checksum database cache and VCS clones stay.
    """
    result = PruneResult()
    base = keys.path_text(module_cache)
    download = os.path.join(base, "cache", "download")
    seen_kept: set[tuple[str, str]] = set()
    for directory, subdirectories, files in os.walk(download):
        if os.path.basename(directory) != "@v":
            if directory == download:
                subdirectories[:] = [name for name in subdirectories if name != "sumdb"]
            continue
        subdirectories[:] = []
        module = os.path.relpath(os.path.dirname(directory), download).replace(os.sep, "/")
        for name in files:
            version = next((name[: -len(suffix)] for suffix in _DOWNLOAD_SUFFIXES if name.endswith(suffix)), None)
            if version is None:
                continue  # `list`, `list.lock`
            if _kept(module, version, listed):
                seen_kept.add((module, version))
                continue
            target = os.path.join(directory, name)
            try:
                result.dropped_bytes += os.lstat(target).st_size
                os.remove(target)
            except OSError:
                continue
            result.dropped.append(f"{module}@{version}")
    for directory, subdirectories, _ in os.walk(base):
        if directory == base:
            subdirectories[:] = [name for name in subdirectories if name != "cache"]
        for name in list(subdirectories):
            if "@" not in name:
                continue
            subdirectories.remove(name)
            relative = os.path.relpath(os.path.join(directory, name), base).replace(os.sep, "/")
            module, _, version = relative.rpartition("@")
            if _kept(module, version, listed):
                seen_kept.add((module, version))
                continue
            target = os.path.join(directory, name)
            result.dropped_bytes += _size(target)
            _remove_tree(target)
            result.dropped.append(f"{module}@{version}")
    result.dropped = sorted(set(result.dropped))
    result.dropped_versions = len(result.dropped)
    result.kept_versions = len(seen_kept)
    return result


def holds_modules(module_cache: str) -> bool:
    """Whether the module cache already holds a module (other than Go toolchains): before the
    restore, that means a persistent cache (self-hosted runner) that other jobs may share."""
    download = os.path.join(module_cache, "cache", "download")
    for directory, subdirectories, files in os.walk(download):
        if os.path.basename(directory) == "@v":
            subdirectories[:] = []
            module = os.path.relpath(os.path.dirname(directory), download).replace(os.sep, "/")
            if any(name.endswith(".zip") for name in files) and not _kept(module, "", set()):
                return True
        elif directory == download:
            subdirectories[:] = [name for name in subdirectories if name != "sumdb"]
    return False


def module_directories(root: str | os.PathLike[str], sum_files: list[str]) -> list[str]:
    """Where to run `go mod download` for these sum files: each go.sum's module, each go.work.sum's workspace."""
    directories: list[str] = []
    for relative in sum_files:
        directory, name = os.path.split(os.path.join(root, relative))
        if name in ("go.sum", "go.mod", "go.work.sum") and directory not in directories:
            directories.append(directory)
    return directories


def download(root: str | os.PathLike[str], sum_files: list[str], env: dict[str, str]) -> list[str]:
    """`go mod download` in every keyed module; the problems, one line each (empty when all went well)."""
    problems = []
    for directory in module_directories(root, sum_files):
        try:
            completed = subprocess.run(
                ["go", "mod", "download"], cwd=directory, env=env, capture_output=True, text=True, check=False, timeout=1800
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            problems.append(f"{directory}: {error}")
            continue
        if completed.returncode != 0:
            problems.append(f"{directory}: {completed.stderr.strip().splitlines()[-1] if completed.stderr.strip() else 'failed'}")
    return problems
