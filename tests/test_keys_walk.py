"""The go.sum walk: it keys the files it always keyed, and never enters a directory Go skips.

Nested modules keep their own trees walked: every go.sum below the workspace is keyed (the
action's `**/go.sum` and its fallback without a root module), including a nested module's
nested modules, so a module's tree cannot be skipped without changing the key.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ci_gocache import keys
from support.hashfiles import hash_files

SRC = Path(__file__).resolve().parents[1] / "src"

# A monorepo with nested modules, and what Go skips inside them and at the top.
KEYED = [
    "go.sum",
    "go.work.sum",
    "services/api/go.sum",
    "services/api/internal/plugin/go.sum",  # a module nested in a module
    "services/api-gateway/go.sum",
    "tools/go.sum",
    "tools/lint/deep/er/go.sum",
    "testdata.go/go.sum",  # a directory only named like a file Go skips
]
SKIPPED = [
    "vendor/example.com/dep/go.sum",
    "services/api/vendor/example.com/dep/go.sum",
    "services/api/testdata/module/go.sum",
    "tools/lint/testdata/go.sum",
    "web/node_modules/pkg/go.sum",
    ".git/modules/sub/go.sum",
    "services/.cache/go.sum",
    "_examples/go.sum",
    "services/api/_build/go.sum",
]
# What hashFiles() would leave out if it skipped what Go skips.
GO_SKIPS = ["!**/vendor/**", "!**/testdata/**", "!**/node_modules/**", "!**/.*/**", "!**/_*/**"]


def _monorepo(root: Path) -> Path:
    for relative in KEYED + SKIPPED:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"example.com/m v1.0.0 h1:{relative}=\n")
        if path.name == "go.sum":
            (path.parent / "go.mod").write_text(f"module example.com/{path.parent.name}\n\ngo 1.22\n")
        for number in range(3):
            (path.parent / f"file{number}.go").write_text("package p\n")
    return root


def test_nested_modules_testdata_vendor_and_underscore_dirs_key_what_hashfiles_keys_without_them(tmp_path):
    root = _monorepo(tmp_path)
    expected = hash_files(root, ["**/go.sum", "**/go.work.sum", *GO_SKIPS])
    assert sorted(expected["files"]) == sorted(KEYED)
    files = keys.expand_sum_globs(root, ["**/go.sum", "**/go.work.sum"])
    assert files == expected["files"]
    assert keys.digest_files(root, files) == expected["digest"]
    assert keys.all_sum_files(root) == expected["files"]


def test_a_string_root_and_a_path_root_give_the_same_files_and_digest(tmp_path):
    root = _monorepo(tmp_path)
    for modules in (["**/go.sum"], [], ["services/api", "tools/go.sum", "services/api/"]):
        by_path = keys.resolve_sum_files(root, modules)
        by_text = keys.resolve_sum_files(str(root) + os.sep, modules)
        assert by_path == by_text, modules
        assert keys.digest_files(root, by_path) == keys.digest_files(str(root), by_text)


@pytest.mark.parametrize(
    "root, relative",
    [(".", "go.sum"), ("/w/", "a/./b/go.sum"), ("w", "go.sum/"), ("w//x", "/abs/go.sum/."), ("", "x"), ("./", "./"), ("a", "../b")],
)
def test_paths_are_joined_as_pathlib_joins_them(root, relative):
    """A pattern such as `go.sum/` has always named the file: pathlib drops the trailing separator."""
    assert keys._on_disk(root, relative) == str(Path(root) / relative)


def test_the_walk_never_opens_a_directory_go_skips(tmp_path):
    """Every directory the walk lists is recorded through Python's audit hook (os.scandir)."""
    root = _monorepo(tmp_path)
    probe = (
        "import json, sys\n"
        "opened = []\n"
        "sys.addaudithook(lambda event, args: opened.append(str(args[0])) if event == 'os.scandir' else None)\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from ci_gocache import keys\n"
        "files = keys.walk_files(sys.argv[2], {'go.sum'})\n"
        "print(json.dumps({'files': sorted(files), 'opened': opened}))\n"
    )
    completed = subprocess.run([sys.executable, "-I", "-S", "-c", probe, str(SRC), str(root)], capture_output=True, text=True, check=True)
    result = json.loads(completed.stdout)
    assert result["files"] == sorted(path for path in KEYED if path.endswith("/go.sum") or path == "go.sum")
    opened = {os.path.relpath(path, root).replace(os.sep, "/") for path in result["opened"]}
    assert "services/api/internal/plugin" in opened  # nested modules' trees are walked
    for skipped in SKIPPED:
        parts = skipped.split("/")[:-1]
        skipped_at = next(index for index, part in enumerate(parts) if keys.skipped_directory(part))
        directory = "/".join(parts[: skipped_at + 1])
        assert directory not in opened and not any(path.startswith(directory + "/") for path in opened), skipped


def test_a_link_to_a_directory_is_listed_not_followed(tmp_path):
    root = _monorepo(tmp_path)
    (root / "linked").symlink_to(root / "services", target_is_directory=True)
    (root / "go.sum.d").mkdir()
    (root / "go.sum.d" / "go.sum").symlink_to(root / "services")  # a link named go.sum to a directory
    files = keys.walk_files(root, {"go.sum"})
    assert not any(path.startswith("linked/") for path in files)
    assert "go.sum.d/go.sum" in files
