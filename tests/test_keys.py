"""keys.py: the shared key layout, go.sum discovery (go.work included) and hashFiles digests."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ci_gocache import keys, sumfiles


def _module(root: Path, directory: str, with_sum: bool = True) -> None:
    path = root / directory
    path.mkdir(parents=True, exist_ok=True)
    (path / "go.mod").write_text(f"module example.com/{directory or 'root'}\n\ngo 1.22\n")
    if with_sum:
        (path / "go.sum").write_text(f"sum of {directory}\n")


def test_module_key_and_restore_key_share_a_prefix():
    parts = keys.KeyParts(prefix="p", os_name="Linux", arch="X64", sums_digest="abc")
    assert keys.module_cache_key(parts) == "p-Linux-X64-gomod-abc"
    assert keys.module_restore_keys(parts) == ["p-Linux-X64-gomod-"]
    assert keys.module_cache_key(parts).startswith(keys.module_restore_keys(parts)[0])


def test_build_key_scopes_by_go_version_job_and_matrix_and_ends_per_run():
    scope = keys.scope_digest('{\n  "go": "1.23"\n}')
    parts = keys.KeyParts("p", "Linux", "X64", "abc", go_version="go1.23.1", job="test", scope=scope, run="42-1")
    assert keys.build_cache_key(parts) == f"p-Linux-X64-gobuild-go1.23.1-test.{scope}-abc-42-1"
    assert keys.build_restore_keys(parts) == [
        f"p-Linux-X64-gobuild-go1.23.1-test.{scope}-abc-",
        f"p-Linux-X64-gobuild-go1.23.1-test.{scope}-",
    ]
    other_job = keys.KeyParts("p", "Linux", "X64", "abc", go_version="go1.23.1", job="lint", run="42-1")
    assert not keys.build_cache_key(other_job).startswith(keys.build_restore_keys(parts)[1])


def test_restore_keys_do_not_match_other_jobs_by_prefix():
    """`test` must not restore `test-race`'s cache, nor one leg another's (issue 17 point 4)."""
    def build(job: str, matrix: str = "") -> keys.KeyParts:
        return keys.KeyParts("p", "Linux", "X64", "d" * 64, go_version="go1.23.1", job=job, scope=keys.scope_digest(matrix), run="1-1")

    jobs = [build("test"), build("test-race"), build("test", '{"arch": "amd64"}'), build("test", '{"arch": "amd64", "tags": "netgo"}'), build("test_")]
    for mine in jobs:
        for other in jobs:
            if other is mine:
                continue
            for restore in keys.build_restore_keys(mine):
                assert not keys.build_cache_key(other).startswith(restore), (restore, keys.build_cache_key(other))
    # the Go version ends at the next "-": `go1.23` never prefixes `go1.23-rc` or similar
    assert "-" not in keys.version_safe("devel go1.25-abc123 Tue Jan 1 X:boringcrypto")
    assert "." not in keys.job_safe("a.b")


def test_matrix_values_with_commas_and_long_values_give_a_valid_key():
    """Matrix values reach the key only as a digest: valid for actions/cache (issue 10 point 9)."""
    matrix = '{\n  "tags": "netgo,osusergo",\n  "flags": "' + "x" * 600 + '"\n}'
    parts = keys.KeyParts("gocache-v1", "Linux", "X64", "d" * 64, go_version="go1.23.1", job="build", scope=keys.scope_digest(matrix), run="1-1")
    for key in [keys.build_cache_key(parts), *keys.build_restore_keys(parts)]:
        assert keys.key_problem(key) is None
    assert keys.key_problem("a,b") and keys.key_problem("a" * 513)
    assert keys.scope_digest("null") == keys.scope_digest("") == ""
    assert keys.scope_digest(matrix) != keys.scope_digest(matrix.replace("netgo,", ""))


def test_scope_digest_matches_the_locate_steps_shell(tmp_path: Path):
    """The raw steps compute the digest with sha256sum in the job's shell, as keys.text_digest does."""
    import subprocess

    matrix = '{\n  "go": "1.23",\n  "tags": "netgo,osusergo"\n}'
    script = "printf '%s' \"$CI_GOCACHE_MATRIX\" | sha256sum | cut -c1-12"
    shell = subprocess.run(["sh", "-c", script], env={"CI_GOCACHE_MATRIX": matrix, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, check=True)
    assert shell.stdout.strip() == keys.text_digest(matrix)
    # the action hashes the JSON in one canonical form, however the runner printed it
    assert keys.scope_digest(matrix) == keys.scope_digest('{"tags":"netgo,osusergo","go":"1.23"}') != ""
    version = subprocess.run(["sh", "-c", f"printf 'devel go1.25-abc X:a,b\\n' | {keys.VERSION_SAFE_SHELL}"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == keys.version_safe("devel go1.25-abc X:a,b")


def test_sum_files_follow_go_work(tmp_path: Path):
    _module(tmp_path, "a")
    _module(tmp_path, "b")
    _module(tmp_path, "unused")
    (tmp_path / "go.work").write_text("go 1.22\n\nuse (\n\t./a\n\t./b // comment\n)\n")
    (tmp_path / "go.work.sum").write_text("x\n")
    assert keys.sum_files_for_directories(tmp_path, [""]) == ["a/go.sum", "b/go.sum", "go.work.sum"]
    assert keys.sum_files_for_directories(tmp_path, ["a/internal"]) == ["a/go.sum", "b/go.sum", "go.work.sum"]


def test_sum_files_for_a_nested_directory_use_the_enclosing_module(tmp_path: Path):
    _module(tmp_path, "")
    _module(tmp_path, "tools")
    (tmp_path / "cmd" / "app").mkdir(parents=True)
    assert keys.sum_files_for_directories(tmp_path, ["cmd/app"]) == ["go.sum"]
    assert keys.sum_files_for_directories(tmp_path, ["tools", "./"]) == ["go.sum", "tools/go.sum"]


def test_module_without_go_sum_is_keyed_on_go_mod(tmp_path: Path):
    _module(tmp_path, "lib", with_sum=False)
    assert keys.sum_files_for_directories(tmp_path, ["lib"]) == ["lib/go.mod"]


def test_digest_is_hashfiles_compatible(tmp_path: Path):
    (tmp_path / "a").write_bytes(b"one")
    (tmp_path / "b").write_bytes(b"two")
    expected = hashlib.sha256(hashlib.sha256(b"one").digest() + hashlib.sha256(b"two").digest()).hexdigest()
    assert keys.digest_files(tmp_path, ["a", "b"]) == expected
    assert keys.digest_files(tmp_path, []) == ""


def test_changed_sum_files_names_each_change():
    previous = {"a/go.sum": "1", "b/go.sum": "2", "c/go.sum": "3"}
    current = {"a/go.sum": "1", "b/go.sum": "9", "d/go.sum": "4"}
    assert keys.changed_sum_files(previous, current) == {
        "added": ["d/go.sum"], "removed": ["c/go.sum"], "changed": ["b/go.sum"],
    }


@pytest.mark.parametrize("module", [keys, sumfiles], ids=["keys", "sumfiles"])
def test_keys_module_imports_only_the_standard_library(module):
    """keys and the go.sum discovery it uses (sumfiles): the standard library and each other only."""
    import ast

    source = Path(module.__file__).read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    import sys

    outside = {name for name in imported if name.split(".")[0] not in set(sys.stdlib_module_names) | {"__future__"}}
    assert outside <= {"ci_gocache.sumfiles"}
