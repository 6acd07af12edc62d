"""Cache keys for Go modules and the Go build cache: the one implementation.

The patcher writes these keys as GitHub expressions, the action computes them with
concrete values, and `ci-gocache key` prints them locally. Standard library only:
the action runs this file straight from its checkout with the runner's Python.

Layout (parts joined with "-"):

    module key:  <prefix>-<os>-<arch>-gomod-<go.sum digest>
    restore:     <prefix>-<os>-<arch>-gomod-
    build key:   <prefix>-<os>-<arch>-gobuild-<go version>-<job>[-<extra>...]-<go.sum digest>-<run>
    restore:     <prefix>-<os>-<arch>-gobuild-<go version>-<job>[-<extra>...]-<go.sum digest>-
                 <prefix>-<os>-<arch>-gobuild-<go version>-<job>[-<extra>...]-
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PREFIX = "gocache-v1"
MODULE_KIND = "gomod"
BUILD_KIND = "gobuild"
SUM_FILE_NAMES = ("go.sum", "go.work.sum")
SKIPPED_DIRECTORIES = {".git", "vendor", "node_modules", "testdata", ".hg", ".svn"}


@dataclass(frozen=True)
class KeyParts:
    """The pieces a key is made of. Values may be literal text or GitHub expressions."""

    prefix: str
    os_name: str
    arch: str
    sums_digest: str
    go_version: str = ""
    job: str = ""
    extra: tuple[str, ...] = field(default_factory=tuple)
    run: str = ""


def _join(parts: list[str]) -> str:
    return "-".join(parts)


def module_key_base(parts: KeyParts) -> str:
    return _join([parts.prefix, parts.os_name, parts.arch, MODULE_KIND]) + "-"


def module_cache_key(parts: KeyParts) -> str:
    return module_key_base(parts) + parts.sums_digest


def module_restore_keys(parts: KeyParts) -> list[str]:
    return [module_key_base(parts)]


def build_key_base(parts: KeyParts) -> str:
    scope = [parts.prefix, parts.os_name, parts.arch, BUILD_KIND, parts.go_version, parts.job, *parts.extra]
    return _join([part for part in scope if part != ""]) + "-"


def build_cache_key(parts: KeyParts) -> str:
    return build_key_base(parts) + parts.sums_digest + "-" + parts.run


def build_restore_keys(parts: KeyParts) -> list[str]:
    return [build_key_base(parts) + parts.sums_digest + "-", build_key_base(parts)]


_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9._+=@~-]+")


def key_safe(value: str) -> str:
    """A value fit for a cache key: actions/cache forbids commas, and keys stay readable."""
    return _KEY_UNSAFE.sub("_", value).strip("_") or "_"


# ---------------------------------------------------------------- go.sum discovery


def parse_go_work_uses(text: str) -> list[str]:
    """The directories named by `use` directives in a go.work file."""
    uses: list[str] = []
    in_block = False
    for raw_line in text.splitlines():
        line = raw_line.split("//", 1)[0].strip()
        if not line:
            continue
        if in_block:
            if line == ")":
                in_block = False
            else:
                uses.append(_unquote(line))
            continue
        if line.startswith("use"):
            rest = line[3:].strip()
            if rest == "(":
                in_block = True
            elif rest.startswith("(") and rest.endswith(")"):
                uses.extend(_unquote(part) for part in rest[1:-1].split())
            elif rest:
                uses.append(_unquote(rest))
    return uses


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"`":
        return value[1:-1]
    return value


def _normal(relative: str) -> str:
    cleaned = os.path.normpath(relative.replace("\\", "/")).replace("\\", "/")
    return "" if cleaned == "." else cleaned


def sum_files_for_directories(root: Path, directories: list[str]) -> list[str]:
    """The go.sum and go.work.sum files (relative to root, sorted) for modules built in `directories`.

    A directory with a go.work contributes every module it uses and its go.work.sum.
    A directory inside a module contributes that module. A module without go.sum
    contributes its go.mod, so the key still changes when it gains dependencies.
    """
    found: set[str] = set()
    for directory in directories:
        found.update(_sum_files_for_directory(root, _normal(directory)))
    return sorted(found)


def _sum_files_for_directory(root: Path, directory: str) -> set[str]:
    module_dir = _enclosing(root, directory, "go.mod")
    work_dir = _enclosing(root, directory, "go.work")
    if os.environ.get("GOWORK") == "off":
        work_dir = None
    # go.work applies when it sits at or above the module (Go's own lookup rule).
    if work_dir is not None and (module_dir is None or _is_within(module_dir, work_dir)):
        return _workspace_sum_files(root, work_dir)
    if module_dir is not None:
        return {_module_sum_file(root, module_dir)}
    return set()


def _is_within(inner: str, outer: str) -> bool:
    return outer == "" or inner == outer or inner.startswith(outer + "/")


def _enclosing(root: Path, directory: str, marker: str) -> str | None:
    current = directory
    while True:
        if (root / current / marker).is_file():
            return current
        if current == "":
            return None
        current = _normal(os.path.dirname(current))


def _join_relative(directory: str, name: str) -> str:
    return f"{directory}/{name}" if directory else name


def _module_sum_file(root: Path, module_dir: str) -> str:
    go_sum = _join_relative(module_dir, "go.sum")
    return go_sum if (root / go_sum).is_file() else _join_relative(module_dir, "go.mod")


def _workspace_sum_files(root: Path, work_dir: str) -> set[str]:
    work_file = root / work_dir / "go.work"
    files: set[str] = set()
    work_sum = _join_relative(work_dir, "go.work.sum")
    if (root / work_sum).is_file():
        files.add(work_sum)
    for used in parse_go_work_uses(work_file.read_text(encoding="utf-8", errors="replace")):
        module_dir = _normal(_join_relative(work_dir, used))
        if (root / module_dir / "go.mod").is_file():
            files.add(_module_sum_file(root, module_dir))
    return files


def all_sum_files(root: Path) -> list[str]:
    """Every go.sum and go.work.sum below root, as `find . -name go.sum` would see them."""
    found: list[str] = []
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = sorted(d for d in subdirectories if d not in SKIPPED_DIRECTORIES)
        for name in files:
            if name in SUM_FILE_NAMES:
                found.append(_normal(os.path.relpath(os.path.join(directory, name), root)))
    return sorted(found)


def expand_sum_globs(root: Path, patterns: list[str]) -> list[str]:
    """Files matched by go.sum globs (`**` allowed) or directories, relative to root."""
    files: set[str] = set()
    directories: list[str] = []
    for pattern in patterns:
        pattern = pattern.strip()
        if not pattern:
            continue
        if any(char in pattern for char in "*?["):
            for match in root.glob(pattern):
                if match.is_file() and not (set(match.relative_to(root).parts) & SKIPPED_DIRECTORIES):
                    files.add(_normal(str(match.relative_to(root))))
        elif (root / pattern).is_file():
            files.add(_normal(pattern))
        else:
            directories.append(pattern)
    files.update(sum_files_for_directories(root, directories))
    return sorted(files)


# ---------------------------------------------------------------- digests


def file_digest(path: Path) -> bytes:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            digest.update(chunk)
    return digest.digest()


def digest_files(root: Path, relative_paths: list[str]) -> str:
    """The digest GitHub's hashFiles() computes: sha256 over each file's sha256, in order.

    An empty list gives "", as hashFiles does when nothing matches.
    """
    if not relative_paths:
        return ""
    combined = hashlib.sha256()
    for relative in relative_paths:
        combined.update(file_digest(root / relative))
    return combined.hexdigest()


def file_digests(root: Path, relative_paths: list[str]) -> dict[str, str]:
    return {relative: file_digest(root / relative).hex() for relative in relative_paths}


def changed_sum_files(previous: dict[str, str], current: dict[str, str]) -> dict[str, list[str]]:
    """Which sum files were added, removed or changed between two digest maps."""
    return {
        "added": sorted(set(current) - set(previous)),
        "removed": sorted(set(previous) - set(current)),
        "changed": sorted(path for path in set(previous) & set(current) if previous[path] != current[path]),
    }
