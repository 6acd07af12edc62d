"""`ci-gocache simulate`: replay git history under each caching strategy and compare hit rates."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ci_gocache.simulation import HistoryError, read_history, render_table, simulate


@click.command("simulate")
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--last", type=click.IntRange(min=1), default=None, help="Replay only the last N first-parent commits.")
@click.option("--since", default=None, metavar="REV", help="Replay the commits after REV (REV itself excluded).")
@click.option("--rev", default="HEAD", show_default=True, help="The branch or commit whose history is replayed.")
@click.option("--pull-requests", is_flag=True, help="Also run every commit as a pull request before it lands.")
@click.option(
    "--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True,
    help="Output format.",
)
def command(directory: Path, last: int | None, since: str | None, rev: str, pull_requests: bool, output_format: str) -> None:
    """Replay DIRECTORY's git history as CI runs and compare setup-go, the actions/cache recipe and ci-gocache."""
    if not directory.is_dir():
        click.echo(f"{directory}:1:1: not a directory; give the root of a git repository", err=True)
        sys.exit(2)
    try:
        history = read_history(directory, last=last, since=since, rev=rev)
    except HistoryError as error:
        click.echo(f"{directory}:1:1: {error}; give a git repository and a revision that exists", err=True)
        sys.exit(2)
    result = simulate(history, pull_requests=pull_requests)
    if output_format == "json":
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(render_table(result))
