"""The table of pinned actions is well formed, and every pinned line we write matches it."""

from __future__ import annotations

import re
from pathlib import Path

from ci_gocache.pins import PINNED_ACTIONS, pinned_uses

REPO = Path(__file__).resolve().parents[1]
PINNED_LINE = re.compile(r"uses: (?P<path>[\w.-]+/[\w.-]+(?:/[\w./-]+)?)@(?P<ref>\S+)(?: # (?P<version>\S+))?")


def test_table_entries_are_full_shas_with_semver_versions():
    for name, pin in PINNED_ACTIONS.items():
        assert name == pin.repository
        assert re.fullmatch(r"[0-9a-f]{40}", pin.commit), name
        assert re.fullmatch(r"v\d+\.\d+\.\d+", pin.version), name


def test_pinned_uses_writes_sha_and_matching_comment():
    line = pinned_uses("actions/cache/restore")
    pin = PINNED_ACTIONS["actions/cache"]
    assert line == f"actions/cache/restore@{pin.commit} # {pin.version}"


def _original_text(expected_file: Path) -> str:
    """For a golden file under <case>/expected/, the text of the same-named files of the case's input."""
    parts = expected_file.parts
    if "expected" not in parts:
        return ""
    case_dir = Path(*parts[: parts.index("expected")])
    return "".join(
        candidate.read_text(encoding="utf-8-sig")
        for candidate in case_dir.rglob(expected_file.name)
        if "expected" not in candidate.relative_to(case_dir).parts
    )


def test_every_pinned_line_in_the_repository_matches_the_table():
    """Golden fixtures, examples and action files: each SHA comment agrees with the table."""
    checked = 0
    files = [*REPO.glob("tests/fixtures/**/expected/**/*.y*ml"), *REPO.glob("examples/**/*.y*ml"),
             *REPO.glob("action.yml"), *REPO.glob("*/action.yml"), *REPO.glob("workflow_templates/**/*.y*ml")]
    for path in files:
        original = _original_text(path)
        for match in PINNED_LINE.finditer(path.read_text(encoding="utf-8-sig")):
            if match.group(0) in original:
                continue  # the user's own line, kept as it was
            owner_repo = "/".join(match["path"].split("/")[:2])
            if owner_repo not in PINNED_ACTIONS or not re.fullmatch(r"[0-9a-f]{40}", match["ref"]):
                continue
            pin = PINNED_ACTIONS[owner_repo]
            assert match["ref"] == pin.commit, f"{path}: {match.group(0)}"
            assert match["version"] == pin.version, f"{path}: {match.group(0)}"
            checked += 1
    assert checked > 0
