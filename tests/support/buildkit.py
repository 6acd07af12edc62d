"""BuildKit's own Dockerfile front end for the tests (tests/go/dockerfile-check)."""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

from support.tools import tool

MOUNT_TYPES = {"bind", "cache", "tmpfs", "secret", "ssh"}
GO_BUILD = re.compile(r"\bgo\s+(build|test|generate|install|vet|run)\b")
GO_DOWNLOAD = re.compile(r"\bgo\s+mod\s+download\b")


def dockerfile_check(*paths: Path) -> list[dict[str, Any]]:
    """What BuildKit's parser, instructions and linter packages make of each file."""
    completed = subprocess.run(
        [tool("dockerfile-check"), *map(str, paths)], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def lint_warnings(report: dict[str, Any]) -> Counter[tuple[str, str]]:
    return Counter((warning["rule"], warning["message"]) for warning in report["warnings"])


def runs(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [run for stage in report["stages"] for run in stage["runs"]]


def script_of(run: dict[str, Any]) -> str:
    return run["command"] + "\n" + "".join(run["heredocs"])


def assert_front_end_accepts(original: Path, patched: Path) -> dict[str, Any]:
    """No parse error, every RUN mount recognised with its type and target, no new lint warning."""
    before, after = dockerfile_check(original, patched)
    assert after["parse_errors"] == [], after["parse_errors"]
    for run in runs(after):
        assert len(run["mounts"]) == len(run["mount_flags"]), run
        for mount in run["mounts"]:
            assert mount["type"] in MOUNT_TYPES, run
            if mount["type"] in ("cache", "bind", "tmpfs"):
                assert mount["target"].startswith("/") or mount["type"] == "bind", run
    new = lint_warnings(after) - lint_warnings(before)
    assert not new, f"{patched}: new lint warnings {dict(new)}"
    return after
