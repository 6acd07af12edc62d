"""The `ci-gocache` command line. Each subcommand lives in its own module under commands/."""

from __future__ import annotations

import importlib

import click

from ci_gocache import __version__

# One line per subcommand; each module exposes a click command named `command`.
COMMAND_MODULES = [
    "inspect",
    "patch",
    "key",
    "simulate",
    "diagnose",
    "report",
]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ci-gocache")
def cli() -> None:
    """Make Go CI caching right: inspect a repository, patch its CI files, explain the cache."""


for _name in COMMAND_MODULES:
    cli.add_command(importlib.import_module(f"ci_gocache.commands.{_name}").command)


def main() -> None:
    cli(prog_name="ci-gocache")
