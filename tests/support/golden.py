"""Golden before/after fixtures, shared by every CI target.

Each tests/fixtures/<area>/<case>/ holds repo/ (a repository before patching), expected/ (the
files after `ci-gocache patch` with no paths, by their path in the repository; a file missing
there must stay byte-identical) and optionally case.json with extra `patch` arguments ("args")
and the notices expected on stderr ("notices").
Regenerate with CI_GOCACHE_REGEN=1 and review the diff before committing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from support.cli import run_cli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
AREAS = ("github", "gitlab", "docker", "docker-workflows")


def cases(area: str) -> list[str]:
    return sorted(path.name for path in (FIXTURES / area).iterdir() if (path / "repo").is_dir())


def all_cases() -> list[tuple[str, str]]:
    return [(area, name) for area in AREAS for name in cases(area)]


def case_config(area: str, name: str) -> dict:
    config = FIXTURES / area / name / "case.json"
    return json.loads(config.read_text()) if config.exists() else {}


def files_of(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(root).parts
    }


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=ci-gocache tests", "-c", "user.email=tests@ci-gocache.invalid", *args],
        cwd=repo, check=True, capture_output=True,
    )


def project_copy(area: str, name: str, destination: Path) -> Path:
    """The case's repository as a git checkout with an `origin` remote (gitlab-ci-local needs one)."""
    repo = destination / "repo"
    shutil.copytree(FIXTURES / area / name / "repo", repo)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "remote", "add", "origin", "https://gitlab.example.com/ci-gocache/fixture.git")
    return repo


@dataclass
class PatchedCase:
    area: str
    name: str
    repo: Path
    before: dict[str, bytes]
    after: dict[str, bytes]
    stderr: str
    config: dict

    def expected(self, relative: str) -> bytes:
        golden = FIXTURES / self.area / self.name / "expected" / relative
        return golden.read_bytes() if golden.exists() else self.before[relative]

    def changed(self) -> list[str]:
        return [relative for relative, content in self.after.items() if content != self.before.get(relative)]


def patch_case(area: str, name: str, destination: Path) -> PatchedCase:
    """Copy the case, run `ci-gocache patch` in it as a user would, and (in regen mode) record it."""
    repo = project_copy(area, name, destination)
    before = files_of(repo)
    config = case_config(area, name)
    first = run_cli("patch", *config.get("args", []), cwd=repo)
    assert first.returncode == 0, first.stderr
    after = files_of(repo)
    patched = PatchedCase(area, name, repo, before, after, first.stderr, config)
    if os.environ.get("CI_GOCACHE_REGEN"):
        expected_dir = FIXTURES / area / name / "expected"
        shutil.rmtree(expected_dir, ignore_errors=True)
        for relative in patched.changed():
            (expected_dir / relative).parent.mkdir(parents=True, exist_ok=True)
            (expected_dir / relative).write_bytes(after[relative])
    return patched
