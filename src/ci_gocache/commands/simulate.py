"""`ci-gocache simulate`: replay git history under each caching strategy and compare hit rates."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import click

from ci_gocache.simulation import (
    TABLE_HEADER, CostsError, HistoryError, advice, load_costs, project_costs, read_history, render_table, simulate,
    strategy_rows, window_lines,
)


def _stdout_takes_unicode() -> bool:
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "")
    return encoding in ("utf8", "utf16", "utf32")


def _write_atomically(path: Path, text: str) -> None:
    directory = path.parent if str(path.parent) else Path(".")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


@click.command("simulate")
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--last", type=click.IntRange(min=1), default=None, help="Replay only the last N first-parent commits of the window.")
@click.option("--since", default=None, metavar="REV|DATE",
              help="Replay the commits after REV (REV itself excluded) or committed after DATE (2025-08-20).")
@click.option("--until", default=None, metavar="REV|DATE",
              help="Replay the commits up to REV (included) or committed up to DATE.")
@click.option("--rev", default="HEAD", show_default=True, help="The branch or commit whose history is replayed.")
@click.option("--pull-requests", is_flag=True, help="Also run every commit as a pull request before it lands.")
@click.option("--warm-start", is_flag=True,
              help="Replay the commit before the window first, uncounted, so the first run finds warm caches.")
@click.option("--costs", "costs_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Per-event seconds per strategy (JSON, see docs/simulate.md): print projected CI minutes.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write a self-contained HTML page with charts.")
@click.option(
    "--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True,
    help="Output format.",
)
def command(directory: Path, last: int | None, since: str | None, until: str | None, rev: str, pull_requests: bool,
            warm_start: bool, costs_path: Path | None, html_path: Path | None, output_format: str) -> None:
    """Replay DIRECTORY's git history as CI runs and compare setup-go, the actions/cache recipe and ci-gocache."""
    if not directory.is_dir():
        click.echo(f"{directory}:1:1: not a directory; give the root of a git repository", err=True)
        sys.exit(2)
    costs = None
    if costs_path is not None:
        try:
            costs = load_costs(costs_path)
        except CostsError as error:
            click.echo(str(error), err=True)
            sys.exit(2)
    try:
        history = read_history(directory, last=last, since=since, until=until, rev=rev, warm_start=warm_start)
        result = simulate(history, pull_requests=pull_requests)
    except HistoryError as error:
        click.echo(f"{directory}:1:1: {error}", err=True)
        sys.exit(2)
    if costs is not None:
        result["costs"] = project_costs(result, costs)
    if output_format == "json":
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(render_table(result, unicode=_stdout_takes_unicode()))
    if html_path is not None:
        from ci_gocache.reporting.render import render_simulation_html

        page = render_simulation_html(result, TABLE_HEADER, strategy_rows(result), window_lines(result), advice(result))
        _write_atomically(html_path, page)
