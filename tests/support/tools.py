"""Real tools for the tests. A missing tool is installed by .ci/install-tools, never skipped."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from functools import lru_cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GO_BIN = Path.home() / "go" / "bin"
LOCAL_TOOLS = REPO / ".tools"


def _find(name: str) -> str | None:
    for directory in (LOCAL_TOOLS, GO_BIN):
        candidate = directory / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name)


@lru_cache(maxsize=None)
def tool(name: str) -> str:
    found = _find(name)
    if found is None:
        subprocess.run(["bash", str(REPO / ".ci" / "install-tools")], check=False)
        found = _find(name)
    if found is None:
        pytest.fail(f"{name} is required and .ci/install-tools could not install it")
    return found


def actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("actionlint"), "-no-color", "-shellcheck", tool("shellcheck"), str(path)],
        capture_output=True,
        text=True,
    )


def actionlint_findings(path: Path) -> Counter[str]:
    """actionlint's findings as "kind: message" (without positions, so they compare across edits)."""
    completed = subprocess.run(
        [tool("actionlint"), "-shellcheck", tool("shellcheck"), "-format", "{{json .}}", str(path)],
        capture_output=True,
        text=True,
    )
    if completed.returncode not in (0, 1):
        raise AssertionError(f"actionlint failed ({completed.returncode}): {completed.stderr}")
    return Counter(f"{error['kind']}: {error['message']}" for error in json.loads(completed.stdout or "[]"))


def zizmor_findings(path: Path) -> Counter[str]:
    """zizmor --offline findings by audit id, all personas so nothing is hidden.

    zizmor cannot read a file that starts with a BOM, so it reads a copy without one.
    """
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        stripped = path.with_name(path.stem + ".nobom" + path.suffix)
        stripped.write_bytes(raw[3:])
        path = stripped
    completed = subprocess.run(
        [tool("zizmor"), "--offline", "--persona", "auditor", "--format", "json", "--no-progress", str(path)],
        capture_output=True,
        text=True,
    )
    if completed.returncode not in (0, 10, 11, 12, 13, 14):
        raise AssertionError(f"zizmor failed ({completed.returncode}): {completed.stderr}")
    return Counter(finding["ident"] for finding in json.loads(completed.stdout or "[]"))
