"""`ci-gocache patch`: add go.sum-keyed module and build caches to CI files."""

from __future__ import annotations

import json
import re
import signal
import sys

import click

from ci_gocache.keys import DEFAULT_PREFIX
from ci_gocache.patching import RepoCache, cache_flow, collector_paused, discover, patch_file
from ci_gocache.targets.base import PATCH_STYLES, SAVE_POLICIES, PatchOptions

DEFAULT_PATHS = ["."]  # every CI file a target claims: workflows, GitLab files, Dockerfiles
# Letters, digits, '.', '_' and '-': safe in a YAML plain scalar, a GitHub expression, a GitLab
# cache key (no '/') and a shell word, and never a comma (actions/cache refuses keys with one).
KEY_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _key_prefix(_context: click.Context, _parameter: click.Parameter, value: str) -> str:
    if not KEY_PREFIX.fullmatch(value):
        raise click.BadParameter(
            f"{value!r} is not a usable key prefix; use 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (for example team-v2)"
        )
    return value


def _exit_cleanly_on_sigterm() -> None:
    """A run stopped with SIGTERM (a CI timeout, a killed pre-commit) unwinds like Ctrl-C, so the
    write in progress removes its temporary file."""
    signal.signal(signal.SIGTERM, lambda _signal, _frame: sys.exit(128 + signal.SIGTERM))


@click.command("patch")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if any file would change.")
@click.option("--dry-run", is_flag=True, help="Print a unified diff; write nothing.")
@click.option(
    "--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True,
    help="Summary format.",
)
@click.option(
    "--save-on", type=click.Choice(SAVE_POLICIES), default="default-branch", show_default=True,
    help="When caches are saved. Pull requests, tags, releases and pull_request_target never save.",
)
@click.option(
    "--key-prefix", default=DEFAULT_PREFIX, show_default=True, callback=_key_prefix,
    help="Fixed first part of every cache key: letters, digits, '.', '_', '-'.",
)
@click.option(
    "--style", type=click.Choice(PATCH_STYLES), default="steps", show_default=True,
    help="steps: raw actions/cache restore/save steps; action: the ci-gocache action's uses: lines.",
)
@click.option("--action-ref", default="", help="With --style action: the commit SHA of the ci-gocache action to pin.")
@click.option("--action-version", default="", help="With --style action: the version comment for --action-ref.")
@click.option(
    "--action-repository", default="ci-gocache/ci-gocache", show_default=True,
    help="With --style action: the OWNER/REPO the action is used from.",
)
@click.option(
    "--cache-mounts-dance", is_flag=True,
    help="Also carry Dockerfile cache mounts between runs with buildkit-cache-dance (docker/build-push-action jobs).",
)
def command(
    paths: tuple[str, ...],
    check: bool,
    dry_run: bool,
    output_format: str,
    save_on: str,
    key_prefix: str,
    style: str,
    action_ref: str,
    action_version: str,
    action_repository: str,
    cache_mounts_dance: bool,
) -> None:
    """Patch CI files (default: every CI file under the current directory) so Go jobs cache modules and builds correctly."""
    if style == "action" and not re.fullmatch(r"[0-9a-f]{40}", action_ref):
        raise click.UsageError("--style action needs --action-ref with a full 40-character commit SHA (lowercase hex)")
    if style == "action" and not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", action_repository):
        raise click.UsageError("--action-repository must be OWNER/REPO")
    options = PatchOptions(
        save_on=save_on,
        key_prefix=key_prefix,
        style=style,
        action_repository=action_repository,
        action_ref=action_ref,
        action_version=action_version,
        cache_mounts_dance=cache_mounts_dance,
    )
    _exit_cleanly_on_sigterm()
    # The collector stays off until the results are gone (see patching.collector_paused): with it
    # on again while they live, its next passes would walk all of them, for nothing.
    with collector_paused():
        status = _patch_and_report(list(paths), options, check, dry_run, output_format)
    if status:
        sys.exit(status)


def _patch_and_report(paths: list[str], options: PatchOptions, check: bool, dry_run: bool, output_format: str) -> int:
    """Patch, print what happened, and return the exit status."""
    repos = RepoCache()
    write = not (check or dry_run)
    results = [patch_file(candidate, options, repos, write) for candidate in discover(paths, DEFAULT_PATHS)]
    if not results:
        click.echo("ci-gocache: no CI files found; pass workflow files or directories", err=True)
    for result in results:
        if result.error is not None:
            click.echo(str(result.error), err=True)
        for notice in result.notices:
            click.echo(f"{notice} (notice)", err=True)
    # Restores of patched jobs that no job of the repository saves: a cache that never fills.
    unsaved = [finding for finding in cache_flow(results, repos) if not finding.saved]
    for finding in unsaved:
        restore = finding.restore
        click.echo(f"{restore.path}:{restore.line}:{restore.col}: {finding.message()} (warning)", err=True)
    changed = [result for result in results if result.status == "changed"]
    if output_format == "json":
        click.echo(
            json.dumps(
                {
                    "mode": "check" if check else "dry-run" if dry_run else "write",
                    "files": [result.as_json() for result in results],
                    "changed": len(changed),
                    "errors": sum(1 for result in results if result.status == "error"),
                    "unsaved_restores": [finding.as_json() for finding in unsaved],
                },
                indent=2,
            )
        )
    else:
        for result in results:
            if dry_run and result.diff:
                sys.stdout.write(result.diff)
            elif not dry_run:
                verb = {"changed": "would change" if check else "patched", "unchanged": "unchanged",
                        "skipped": "left alone (see the notice)", "error": "error"}[
                    result.status
                ]
                # A job can be patched by two planners (caches and docker steps): name it once.
                jobs = ", ".join(dict.fromkeys(job.job for job in result.jobs if job.outcome == "patched"))
                click.echo(f"{result.path}: {verb}" + (f" (jobs: {jobs})" if jobs and result.status == "changed" else ""))
    if any(result.status == "error" for result in results):
        return 2
    if check and changed:
        return 1
    return 0
