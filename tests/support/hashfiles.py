"""GitHub's hashFiles() as the runner computes it, through tests/hashfiles/hashfiles.js and the
runner's glob library (@actions/glob 0.4.0, installed by .ci/install-tools)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

HASHFILES = Path(__file__).resolve().parents[1] / "hashfiles" / "hashfiles.js"


def hash_files(root: Path, patterns: list[str]) -> dict:
    node = shutil.which("node")
    assert node, "node is not on PATH"
    assert (HASHFILES.parent / "node_modules" / "@actions" / "glob").is_dir(), "run .ci/install-tools (@actions/glob)"
    completed = subprocess.run([node, str(HASHFILES), *patterns], cwd=root, capture_output=True, text=True, timeout=60, check=True)
    # @actions/core prints ::debug:: lines first; the result is the last line.
    return json.loads(completed.stdout.strip().splitlines()[-1])
