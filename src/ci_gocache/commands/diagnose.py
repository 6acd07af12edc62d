"""`ci-gocache diagnose`: name the root cause of Go dependency and cache failures in a CI log."""

from __future__ import annotations

import json
import sys

import click

from ci_gocache.diagnosis import diagnose_stream, render_text


@click.command("diagnose")
@click.argument("logfile", default="-", metavar="[LOGFILE|-]")
@click.option(
    "--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True,
    help="Output format.",
)
def command(logfile: str, output_format: str) -> None:
    """Read a CI or docker build log (a file, or - for stdin) and explain each Go dependency or cache failure."""
    if logfile == "-":
        source = "<stdin>"
        result = diagnose_stream(sys.stdin.buffer)
    else:
        source = logfile
        try:
            with open(logfile, "rb") as handle:
                result = diagnose_stream(handle)
        except OSError as error:
            click.echo(f"{logfile}:1:1: cannot read the log ({error.strerror}); give a log file or - for stdin", err=True)
            sys.exit(2)
    if output_format == "json":
        click.echo(json.dumps({"log": source, **result}, indent=2))
    else:
        click.echo(render_text(result, source))
