"""Bad input: `path:line:col: message` on stderr, exit 2, no traceback, file untouched,
the other files still processed, and never a hang (alias bombs included)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from support.cli import run_cli

FIXTURES = Path(__file__).parent / "fixtures" / "github"
GOOD_WORKFLOW = (FIXTURES / "basic" / "repo" / ".github" / "workflows" / "ci.yml").read_bytes()

ALIAS_BOMB = "on: push\njobs:\n  a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"  {chr(98 + level)}: &{chr(98 + level)} [{', '.join(['*' + chr(97 + level)] * 9)}]\n" for level in range(9)
)

BAD_FILES: dict[str, tuple[bytes, str]] = {
    "invalid-yaml.yml": (b"on: push\njobs:\n  test: [unclosed\n", r"invalid YAML"),
    "tabs.yml": (b"on: push\njobs:\n\ttest:\n    runs-on: x\n", r"tab character"),
    "duplicate-keys.yml": (
        b"on: push\njobs:\n  test:\n    runs-on: a\n    runs-on: b\n    steps:\n      - run: go test\n",
        r"duplicate key 'runs-on' \(first at line 4\)",
    ),
    "not-utf8.yml": (b"on: push\nname: caf\xe9\njobs: {}\n", r"not valid UTF-8"),
    "root-list.yml": (b"- on: push\n- jobs: {}\n", r"top level is not a mapping"),
    "not-a-workflow.yml": (b"version: 2\nservices:\n  db: {}\n", r"not a GitHub Actions workflow"),
    "recursive-alias.yml": (b"on: push\njobs: &j\n  test:\n    steps: *j\n", r"recursive alias"),
    "alias-bomb.yml": (ALIAS_BOMB.encode(), r"alias bomb"),
    "huge.yml": (b"on: push\njobs: {}\n" + b"#" * (3 * 1024 * 1024) + b"\n", r"over the \d+-byte limit"),
    "boolean-key.yml": (
        b"on: push\njobs:\n  true:\n    runs-on: ubuntu-latest\n    steps:\n"
        b"      - uses: actions/checkout@v4\n      - run: go test ./...\n",
        r"the key `true` reads as a bool, not a name; quote it",
    ),
    "boolean-env-key.yml": (
        b"on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n"
        b"      - uses: actions/checkout@v4\n      - run: go test ./...\n        env:\n          true: 1\n",
        r"the key `true` reads as a bool",
    ),
    "schema-violation.yml": (
        b"on: push\njobs:\n  test:\n    runs-on: x\n    continue-on-error: maybe\n    steps:\n"
        b"      - uses: actions/checkout@v4\n      - run: go test\n",
        r"does not match the GitHub workflow schema at jobs/test/continue-on-error",
    ),
}

MESSAGE = re.compile(r"^(?P<path>[^\n]+?):(?P<line>\d+):(?P<col>\d+): (?P<message>.+)$", re.MULTILINE)


@pytest.fixture
def repo_with_bad_files(tmp_path: Path) -> Path:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    for name, (content, _) in BAD_FILES.items():
        (workflows / name).write_bytes(content)
    (workflows / "zz-good.yml").write_bytes(GOOD_WORKFLOW)
    shutil.copy(FIXTURES / "basic" / "repo" / "go.mod", tmp_path / "go.mod")
    shutil.copy(FIXTURES / "basic" / "repo" / "go.sum", tmp_path / "go.sum")
    return tmp_path


def test_each_bad_file_gets_a_located_message_and_exit_2(repo_with_bad_files: Path) -> None:
    result = run_cli("patch", cwd=repo_with_bad_files, timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    for name, (_, pattern) in BAD_FILES.items():
        lines = [line for line in result.stderr.splitlines() if f"workflows/{name}:" in line]
        assert lines, f"no message for {name}:\n{result.stderr}"
        match = MESSAGE.match(lines[0])
        assert match, lines[0]
        assert int(match["line"]) >= 1 and int(match["col"]) >= 1
        assert re.search(pattern, match["message"]), lines[0]


def test_bad_files_are_left_untouched_and_good_files_still_patched(repo_with_bad_files: Path) -> None:
    run_cli("patch", cwd=repo_with_bad_files, timeout=60)
    workflows = repo_with_bad_files / ".github" / "workflows"
    for name, (content, _) in BAD_FILES.items():
        assert (workflows / name).read_bytes() == content, name
    assert b"go-cache-dirs" in (workflows / "zz-good.yml").read_bytes()
    assert not list(workflows.glob(".*.tmp")), "temporary file left behind"


def test_located_lines_point_at_the_problem(repo_with_bad_files: Path) -> None:
    result = run_cli("patch", cwd=repo_with_bad_files, timeout=60)
    by_name = {
        Path(match["path"]).name: (int(match["line"]), int(match["col"]))
        for match in MESSAGE.finditer(result.stderr)
    }
    assert by_name["duplicate-keys.yml"] == (5, 5)
    assert by_name["tabs.yml"][0] == 3
    assert by_name["not-utf8.yml"] == (2, 10)
    assert by_name["boolean-key.yml"] == (3, 3)
    assert by_name["boolean-env-key.yml"] == (9, 11)


def test_missing_path_is_an_error_not_a_crash(tmp_path: Path) -> None:
    result = run_cli("patch", str(tmp_path / "nope.yml"), cwd=tmp_path)
    assert result.returncode == 2
    assert re.match(r".*nope\.yml:1:1: no such file", result.stderr)
    assert "Traceback" not in result.stderr


def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "ci.yml").symlink_to(tmp_path / "gone.yml")  # listed, but cannot be read
    (workflows / "good.yml").write_bytes(GOOD_WORKFLOW)
    result = run_cli("patch", cwd=tmp_path)
    assert result.returncode == 2
    assert ".github/workflows/ci.yml:1:1: no such file" in result.stderr
    assert "Traceback" not in result.stderr
    assert b"go-cache-dirs" in (workflows / "good.yml").read_bytes()


def test_check_and_dry_run_write_nothing(tmp_path: Path) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "ci.yml").write_bytes(GOOD_WORKFLOW)
    shutil.copy(FIXTURES / "basic" / "repo" / "go.sum", tmp_path / "go.sum")
    check = run_cli("patch", "--check", cwd=tmp_path)
    assert check.returncode == 1
    dry = run_cli("patch", "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0
    assert dry.stdout.startswith("--- a/.github/workflows/ci.yml")
    assert "+      - name: Locate Go caches" in dry.stdout
    assert (workflows / "ci.yml").read_bytes() == GOOD_WORKFLOW


def test_write_keeps_file_mode(tmp_path: Path) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    target = workflows / "ci.yml"
    target.write_bytes(GOOD_WORKFLOW)
    target.chmod(0o640)
    assert run_cli("patch", cwd=tmp_path).returncode == 0
    assert target.stat().st_mode & 0o777 == 0o640
    assert b"go-cache-dirs" in target.read_bytes()


def test_subfolders_of_the_workflows_folder_are_not_searched_but_named_files_are_processed(tmp_path):
    """GitHub runs the YAML files directly in .github/workflows, not those in a subfolder of it:
    a default run, or one given the folder, leaves those alone (minio keeps docker-compose files
    in .github/workflows/mint/, which once made `patch` exit 2), and a file named on the command
    line is still processed. The pre-commit hook passes the same files."""
    import yaml

    from support.large_workflows import go_jobs_workflow, repo_with

    repo = repo_with(tmp_path / "repo", go_jobs_workflow(1))
    compose = repo / ".github" / "workflows" / "mint" / "compose.yaml"
    compose.parent.mkdir()
    compose.write_text("services:\n  minio:\n    image: minio/minio\n")
    ours = repo / ".github" / "workflows" / "ci.yml"
    original = ours.read_text()

    result = run_cli("patch", cwd=repo)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ours.read_text() != original
    assert "compose.yaml" not in result.stdout + result.stderr

    named_folder = run_cli("patch", "--check", ".github/workflows", cwd=repo)
    assert named_folder.returncode == 0, named_folder.stdout + named_folder.stderr
    assert "compose.yaml" not in named_folder.stdout + named_folder.stderr

    named_file = run_cli("patch", ".github/workflows/mint/compose.yaml", cwd=repo)
    assert named_file.returncode == 2
    assert "compose.yaml:1:1: not a GitHub Actions workflow" in named_file.stderr
    assert compose.read_text() == "services:\n  minio:\n    image: minio/minio\n"

    hook = yaml.safe_load((Path(__file__).parents[1] / ".pre-commit-hooks.yaml").read_text())[0]
    files = re.compile(hook["files"])
    assert files.search(".github/workflows/ci.yml") and files.search(".github/workflows/release.yaml")
    assert not files.search(".github/workflows/mint/compose.yaml")
