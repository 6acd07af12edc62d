"""`ci-gocache key [DIR]`: the cache keys the action computes, and why a cache would miss."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ci_gocache import keys

if TYPE_CHECKING:
    from ci_gocache.keyexplain import Explanation

RUNNER_OS = {"Linux": "Linux", "Darwin": "macOS", "Windows": "Windows"}
RUNNER_ARCH = {"x86_64": "X64", "amd64": "X64", "arm64": "ARM64", "aarch64": "ARM64", "i386": "X86", "i686": "X86", "x86": "X86", "armv7l": "ARM"}


def this_machine() -> tuple[str, str]:
    """The system and machine names platform.system() and platform.machine() give: os.uname()'s,
    which is what platform reads where it exists (importing platform costs `key` more)."""
    if hasattr(os, "uname"):
        uname = os.uname()
        return uname.sysname, uname.machine
    import platform

    return platform.system(), platform.machine()


def _fail(path: str, message: str) -> None:
    click.echo(f"{path}:1:1: {message}", err=True)
    sys.exit(2)


def job_go_version(root: Path, go_dir: Path, sum_files: list[str]) -> str:
    """The Go version the job's builds run, worked out as the action works it out: `go env` with
    GOTOOLCHAIN=local (asking never downloads a toolchain), then GOTOOLCHAIN's rules over the
    go.work or go.mod lines of the keyed modules. "unknown" without a working go."""
    from ci_gocache.action.goenv import (
        configured_gotoolchain,
        go_env,
        module_files_for_version,
        read_small_text,
        required_go_version,
    )
    from ci_gocache.action.inputs import ActionError

    try:
        values = go_env(["GOVERSION", "GOENV", "GOROOT"], str(go_dir), dict(os.environ))
    except ActionError:
        return "unknown"
    if not values["GOVERSION"]:
        return "unknown"
    return required_go_version(
        values["GOVERSION"],
        configured_gotoolchain(dict(os.environ), values["GOENV"], values["GOROOT"]),
        (read_small_text(os.path.join(root, name)) for name in module_files_for_version(root, sum_files)),
    )


def _previous_sums(root: Path, current: keys.WorkspaceKeys, values: tuple[str, ...]) -> dict[str, str]:
    previous: dict[str, str] = {}
    for value in values:
        target, _, file_name = value.rpartition("=")
        if not target:
            if len(current.sum_files) != 1:
                choices = ", ".join(current.sum_files) or "(none)"
                _fail(file_name, f"the key uses {len(current.sum_files)} sum files; say which this replaces: --previous-sum PATH={file_name} with PATH one of {choices}")
            target = current.sum_files[0]
        target = keys._normal(target)
        if target not in current.sum_files:
            _fail(file_name, f"{target} is not one of the sum files the key uses ({', '.join(current.sum_files) or 'none'}); pass PATH=FILE with one of them")
        try:
            previous[target] = Path(file_name).read_text(encoding="utf-8", errors="replace")
        except OSError as error:
            _fail(file_name, f"cannot read the previous go.sum ({error.strerror}); pass an existing file")
    return previous


def render_text(root: Path, current: keys.WorkspaceKeys, explanations: list[Explanation]) -> str:
    parts = current.parts
    lines = [f"Keys for {root} ({parts.go_version}, {parts.os_name} {parts.arch})", f"go.sum files ({len(current.sum_files)}):"]
    digests = current.sum_file_sha256
    lines.extend(f"  {path}  {digests[path][:16]}" for path in current.sum_files)
    if not current.sum_files:
        lines.append("  (none: the module key does not change with dependencies)")
    lines.append(f"module key:   {current.module_key}")
    lines.extend(f"  restore:    {restore}" for restore in current.module_restore_keys)
    lines.append(f"build key:    {current.build_key}")
    lines.extend(f"  restore:    {restore}" for restore in current.build_restore_keys)
    for explanation in explanations:
        lines.append("")
        lines.append(f"Previous {explanation.cache} key {explanation.previous_key}")
        lines.append(f"  {explanation.cache} cache: {explanation.verdict}")
        lines.extend(f"  - {reason}" for reason in explanation.reasons)
        for path, change in explanation.changed_files.items():
            lines.append(f"  changed: {path}: {change}")
    return "\n".join(lines) + "\n"


def as_json(root: Path, current: keys.WorkspaceKeys, explanations: list[Explanation]) -> dict[str, Any]:
    return {
        "root": str(root),
        "sum_files": [{"path": path, "sha256": digest} for path, digest in current.sum_file_sha256.items()],
        "digest": current.parts.sums_digest,
        "parts": {
            "prefix": current.parts.prefix,
            "os": current.parts.os_name,
            "arch": current.parts.arch,
            "go_version": current.parts.go_version,
            "job": current.parts.job,
            "scope": current.parts.scope,
            "run": current.parts.run,
        },
        "module": {"key": current.module_key, "restore_keys": current.module_restore_keys},
        "build": {"key": current.build_key, "restore_keys": current.build_restore_keys},
        "explanations": [explanation.as_json() for explanation in explanations],
    }


@click.command("key")
@click.argument("directory", default=".", type=click.Path())
@click.option("--modules", "modules", multiple=True, help="Directories, go.sum files or globs to key on (the action's modules input). Repeatable.")
@click.option("--prefix", default=keys.DEFAULT_PREFIX, show_default=True, help="The key prefix (the action's key-prefix).")
@click.option("--os", "os_name", default=None, help="Runner OS as GitHub names it (Linux, Windows, macOS). Default: $RUNNER_OS or this machine's.")
@click.option("--arch", default=None, help="Runner arch as GitHub names it (X64, ARM64). Default: $RUNNER_ARCH or this machine's.")
@click.option("--go-version", default=None, help="Default: the Go the job's builds run, as the action works it out (never downloads one).")
@click.option("--job", default=None, help="The job id. Default: $GITHUB_JOB, else JOB.")
@click.option("--matrix", "matrix_json", default=None, help="The job's matrix leg as toJSON(matrix) gives it (the action reads it itself). Default: $CI_GOCACHE_MATRIX, else none.")
@click.option("--extra", multiple=True, help="An extra build-key part (the action's extra-key-parts). Repeatable.")
@click.option("--run", "run", default=None, help="<run id>-<attempt>. Default: from $GITHUB_RUN_ID, else RUN.")
@click.option("--previous-key", multiple=True, help="A key from an earlier run: explain whether and why it would miss now. Repeatable.")
@click.option("--previous-sum", multiple=True, metavar="[PATH=]FILE", help="An earlier go.sum: explain what changed and what it does to the keys. Repeatable.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def command(
    directory: str,
    modules: tuple[str, ...],
    prefix: str,
    os_name: str | None,
    arch: str | None,
    go_version: str | None,
    job: str | None,
    matrix_json: str | None,
    extra: tuple[str, ...],
    run: str | None,
    previous_key: tuple[str, ...],
    previous_sum: tuple[str, ...],
    output_format: str,
) -> None:
    """Print the cache keys the ci-gocache action computes for DIR (default: .), and explain misses."""
    root = Path(directory)
    if not root.is_dir():
        _fail(directory, "no such directory; pass the repository (workspace) root")
    module_list = [item for value in modules for item in keys.split_list(value)]
    try:
        sum_files = keys.resolve_sum_files(root, module_list)
    except keys.KeyInputError as error:
        _fail(error.path, error.message)
    sum_digests, problems = keys.sum_file_digests(root, sum_files)
    for path, problem in problems.items():
        click.echo(f"{os.path.join(directory, path)}:1:1: {problem}", err=True)
    if problems:
        sys.exit(2)
    go_dir = root / os.path.dirname(sum_files[0]) if sum_files else root
    system, machine = this_machine()
    env_run = f"{os.environ['GITHUB_RUN_ID']}-{os.environ.get('GITHUB_RUN_ATTEMPT', '1')}" if os.environ.get("GITHUB_RUN_ID") else "RUN"
    current = keys.workspace_keys(
        root,
        module_list,
        prefix=prefix,
        os_name=os_name or os.environ.get("RUNNER_OS") or RUNNER_OS.get(system, system),
        arch=arch or os.environ.get("RUNNER_ARCH") or RUNNER_ARCH.get(machine.lower(), machine),
        go_version=go_version or job_go_version(root, go_dir, sum_files),
        job=job or os.environ.get("GITHUB_JOB") or "JOB",
        matrix_json=matrix_json if matrix_json is not None else os.environ.get("CI_GOCACHE_MATRIX", ""),
        extra=list(extra),
        run=run or env_run,
        sum_files=sum_files,
        sum_digests=sum_digests,
    )
    explanations: list[Explanation] = []
    if previous_key or previous_sum:
        # Only then: explaining a miss imports more than printing the keys does.
        from ci_gocache.keyexplain import explain_previous_key, explain_previous_sums
    for previous in previous_key:
        try:
            explanations.append(explain_previous_key(root, current, previous.strip()))
        except ValueError as error:
            raise click.UsageError(f"--previous-key: {error}") from None
    if previous_sum:
        explanations.append(explain_previous_sums(root, current, _previous_sums(root, current, previous_sum)))
    if output_format == "json":
        click.echo(json.dumps(as_json(root, current, explanations), indent=2))
    else:
        click.echo(render_text(root, current, explanations), nl=False)
