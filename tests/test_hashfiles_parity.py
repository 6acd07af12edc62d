"""keys.py's go.sum digest against GitHub's hashFiles(), computed with the runner's own glob
library (@actions/glob 0.4.0 from npm, installed by .ci/install-tools into tests/hashfiles/).

For the same patterns both must hash the same files in the same order, so that a digest the
action computes and one a raw-steps key holds can be compared (`ci-gocache key --previous-key`).
The one documented difference: keys.py does not descend into the directories Go skips
(keys.skipped_directory: vendor, testdata, node_modules, and names starting with "." or "_").
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_gocache import keys
from support.hashfiles import hash_files

def _tree(root: Path, files: list[str]) -> Path:
    for relative in files:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"checksums of {relative}\n")
    return root


LAYOUTS = {
    "prefix-names": ["go.sum", "foo/go.sum", "foo-bar/go.sum", "foo.d/go.sum", "foo/sub/go.sum", "Foo/go.sum", "tools_/go.sum"],
    "workspace": ["go.work.sum", "a/go.sum", "b/go.sum", "b/internal/x/go.sum", "c d/go.sum"],
    "deep": ["x/y/z/go.sum", "x/go.sum", "x/y/go.sum", "x-y/go.sum", "go.sum"],
}
PATTERN_SETS = [
    ["**/go.sum"],
    ["**/go.sum", "**/go.work.sum"],
    ["go.sum", "**/go.sum"],
    ["foo/go.sum", "go.sum", "foo-bar/go.sum"],
    ["x/**/go.sum", "go.sum"],
    ["x/y/go.sum", "x/**/go.sum"],
    ["*/go.sum"],
    ["b/go.sum", "a/go.sum", "go.work.sum"],
]


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("patterns", PATTERN_SETS, ids=lambda patterns: " ".join(patterns))
def test_digest_equals_hashfiles_file_set_by_file_set(layout, patterns, tmp_path):
    root = _tree(tmp_path, LAYOUTS[layout])
    expected = hash_files(root, patterns)
    files = keys.expand_sum_globs(root, patterns)
    assert files == expected["files"]
    assert keys.digest_files(root, files) == expected["digest"]


def test_every_go_sum_fallback_equals_hashfiles_of_both_globs(tmp_path):
    root = _tree(tmp_path, LAYOUTS["prefix-names"] + LAYOUTS["workspace"])
    expected = hash_files(root, ["**/go.sum", "**/go.work.sum"])
    assert keys.all_sum_files(root) == expected["files"]
    assert keys.digest_files(root, keys.all_sum_files(root)) == expected["digest"]


def test_the_one_difference_is_the_skipped_directories(tmp_path):
    """hashFiles('**/go.sum') also hashes vendor/, testdata/, node_modules/, .git/ and _tools/; keys.py does not."""
    kept = ["go.sum", "api/go.sum"]
    skipped = ["vendor/example.com/x/go.sum", "api/testdata/fixture/go.sum", "web/node_modules/m/go.sum", ".git/x/go.sum", "_tools/go.sum"]
    root = _tree(tmp_path, kept + skipped)
    expected = hash_files(root, ["**/go.sum"])
    files = keys.expand_sum_globs(root, ["**/go.sum"])
    assert files == [file for file in expected["files"] if file in kept]
    assert sorted(set(expected["files"]) - set(files)) == sorted(skipped)
    for file in skipped:
        assert any(keys.skipped_directory(part) for part in file.split("/")[:-1])
