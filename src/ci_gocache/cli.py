"""The `ci-gocache` command line. Each subcommand lives in its own module under commands/.

Subcommands load lazily: `ci-gocache --help`, `--version` and `key` import neither ruamel.yaml nor
jsonschema nor any CI target, so they start about as fast as click itself.
"""

from __future__ import annotations

import importlib
import importlib.util

import click

from ci_gocache import __version__

# One line per subcommand: its module under commands/ (exposing a click command named `command`)
# and the one-line help `ci-gocache --help` shows without importing it.
COMMANDS: dict[str, str] = {
    "init": "Write complete, cached CI for a Go repository that has none.",
    "inspect": "Show the Go modules, CI files, jobs and caches of a repository.",
    "patch": "Patch CI files so Go jobs cache modules and builds correctly.",
    "key": "Print the cache keys for a directory, and why a previous key would miss.",
    "simulate": "Replay git history as CI runs and compare cache keying strategies.",
    "diagnose": "Explain Go dependency and cache failures in a CI or docker build log.",
    "report": "Measure cache hit rates and restore times from CI run history.",
}


class LazyCommands(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if _module_exists(name)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS or not _module_exists(cmd_name):
            return None
        return importlib.import_module(f"ci_gocache.commands.{cmd_name}").command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _module_exists(name: str) -> bool:
    return importlib.util.find_spec(f"ci_gocache.commands.{name}") is not None


@click.group(cls=LazyCommands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ci-gocache")
def cli() -> None:
    """Make Go CI caching right: inspect a repository, patch its CI files, explain the cache."""


def main() -> None:
    cli(prog_name="ci-gocache")
