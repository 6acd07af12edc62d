"""`ci-gocache report`: how often Go caches hit, across recent CI runs on GitHub or GitLab."""

from __future__ import annotations

import json
import os
import re
import sys
from datetime import datetime
from pathlib import Path

import click

from ci_gocache.reporting import github, gitlab
from ci_gocache.reporting.client import ApiError
from ci_gocache.reporting.render import render_html, render_markdown, render_table
from ci_gocache.reporting.summary import GIB, summarize

EXIT_PARTIAL = 3
DEFAULT_LAST = 20


class ProgressBar:
    """A one-line bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, enabled: bool, width: int = 30) -> None:
        self.enabled = enabled
        self.width = width
        self.drawn = False

    def __call__(self, done: int, total: int, what: str) -> None:
        if not self.enabled or total <= 0:
            return
        filled = int(self.width * done / total)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} {what[:30]:<30}")
        sys.stderr.flush()
        self.drawn = True

    def clear(self) -> None:
        if self.drawn:
            sys.stderr.write("\r" + " " * (self.width + 45) + "\r")
            sys.stderr.flush()


def _since(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD or an ISO 8601 time", param_hint="--since")
    return value


@click.command("report")
@click.option("--github", "github_repo", metavar="OWNER/REPO", help="Read GitHub Actions runs (token: GITHUB_TOKEN or GH_TOKEN).")
@click.option("--api-url", default=github.DEFAULT_API_URL, show_default=True, help="GitHub API base URL (GitHub Enterprise: https://HOST/api/v3).")
@click.option("--gitlab", "gitlab_project", metavar="PROJECT", help="Read GitLab pipelines of a project path or id (token: GITLAB_TOKEN or CI_JOB_TOKEN).")
@click.option("--gitlab-url", default=gitlab.DEFAULT_URL, show_default=True, help="GitLab instance URL.")
@click.option("--last", type=click.IntRange(min=1), default=None, help=f"The last N runs or pipelines (default {DEFAULT_LAST} without --since).")
@click.option("--since", default=None, metavar="DATE", help="Runs created (GitLab: updated) on or after DATE (YYYY-MM-DD or ISO 8601).")
@click.option("--workflow", "workflows", multiple=True, metavar="NAME", help="GitHub: only this workflow (file name or display name); repeatable.")
@click.option("--branch", default=None, help="Only runs for this branch.")
@click.option("--format", "output_format", type=click.Choice(["table", "json", "markdown"]), default="table", show_default=True)
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Also write a self-contained HTML page with charts.")
@click.option("--max-wait", type=click.FloatRange(min=0), default=300.0, show_default=True, help="Seconds to wait in total for rate limits before stopping with a partial report.")
@click.option("--cache-limit-gb", type=click.FloatRange(min=0.001), default=10.0, show_default=True, help="The repository's cache size limit, for the near-limit warning.")
def command(
    github_repo: str | None, api_url: str, gitlab_project: str | None, gitlab_url: str, last: int | None,
    since: str | None, workflows: tuple[str, ...], branch: str | None, output_format: str, html_path: Path | None,
    max_wait: float, cache_limit_gb: float,
) -> None:
    """Report cache hit rates (exact, partial, miss), restore times and sizes for each workflow, job and cache."""
    if bool(github_repo) == bool(gitlab_project):
        raise click.UsageError("give exactly one of --github OWNER/REPO or --gitlab PROJECT")
    if github_repo and not re.fullmatch(r"[\w.-]+/[\w.-]+", github_repo):
        raise click.BadParameter(f"{github_repo!r} is not OWNER/REPO", param_hint="--github")
    since = _since(since)
    if last is None and since is None:
        last = DEFAULT_LAST
    progress = ProgressBar(sys.stderr.isatty())
    try:
        if github_repo:
            token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
            client = github.make_client(api_url, token, max_wait)
            collection = github.collect(client, github_repo, last=last, since=since, workflows=list(workflows),
                                        branch=branch, progress=progress)
        else:
            assert gitlab_project is not None
            client = gitlab.make_client(gitlab_url, os.environ.get("GITLAB_TOKEN"), os.environ.get("CI_JOB_TOKEN"), max_wait)
            collection = gitlab.collect(client, gitlab_project, last=last, since=since, branch=branch, progress=progress)
    except ApiError as error:
        progress.clear()
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    progress.clear()
    report = summarize(collection, limit_bytes=int(cache_limit_gb * GIB))
    if output_format == "json":
        click.echo(json.dumps(report, indent=2))
    elif output_format == "markdown":
        click.echo(render_markdown(report), nl=False)
    else:
        click.echo(render_table(report))
    if html_path is not None:
        html_path.write_text(render_html(report), encoding="utf-8")
    if report["partial"]:
        click.echo(f"warning: partial report: {report['partial_reason']}", err=True)
        sys.exit(EXIT_PARTIAL)
