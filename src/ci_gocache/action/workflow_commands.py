"""GitHub's file commands and log commands, as the action's phases write them.

Outputs and environment variables go to the files named by GITHUB_OUTPUT and GITHUB_ENV, the job
summary to GITHUB_STEP_SUMMARY; warnings, notices and errors are `::name title=ci-gocache::`
lines in the log.
"""

from __future__ import annotations

import os


def _append(path: str | None, text: str) -> None:
    if not path:
        return
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)


def file_command_lines(name: str, value: str) -> str:
    """`name=value`, or a heredoc when the value spans lines (GITHUB_OUTPUT and GITHUB_ENV)."""
    if "\n" not in value and "\r" not in value:
        return f"{name}={value}\n"
    delimiter = f"ci_gocache_{os.urandom(16).hex()}"
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


def set_outputs(env: dict[str, str], outputs: dict[str, str]) -> None:
    _append(env.get("GITHUB_OUTPUT"), "".join(file_command_lines(k, v) for k, v in outputs.items()))


def export_env(env: dict[str, str], values: dict[str, str]) -> None:
    _append(env.get("GITHUB_ENV"), "".join(file_command_lines(k, v) for k, v in values.items()))


def add_summary(env: dict[str, str], markdown: str) -> None:
    _append(env.get("GITHUB_STEP_SUMMARY"), markdown)


def _escape_command(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def warning(message: str) -> None:
    print(f"::warning title=ci-gocache::{_escape_command(message)}", flush=True)


def notice(message: str) -> None:
    print(f"::notice title=ci-gocache::{_escape_command(message)}", flush=True)


def say(line: str) -> None:
    """Print one log line. Values in it (file names, keys) may come from the repository: a line
    break in one would start a new line that the runner reads as a workflow command
    (`::add-mask::`, `::error::`), so CR and LF are shown escaped."""
    print(line.replace("\r", "\\r").replace("\n", "\\n"), flush=True)


def error(message: str) -> None:
    print(f"::error title=ci-gocache::{_escape_command(message)}", flush=True)
