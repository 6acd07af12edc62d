"""Hostile repositories: links, special files, odd owners and modes. `patch` never writes outside
the repository, never hangs, never changes a file's identity, and says why it left a file alone.

Real files, real symbolic and hard links, real FIFOs, sockets and devices, the real command line."""

from __future__ import annotations

import os
import shutil
import socket
import stat
from pathlib import Path

import pytest

from support.cli import run_cli

BASIC = Path(__file__).parent / "fixtures" / "github" / "basic" / "repo"
WORKFLOW = (BASIC / ".github" / "workflows" / "ci.yml").read_bytes()


def make_repo(root: Path) -> Path:
    """The basic fixture's go.mod/go.sum and an empty workflows folder."""
    (root / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(BASIC / "go.mod", root / "go.mod")
    shutil.copy(BASIC / "go.sum", root / "go.sum")
    return root / ".github" / "workflows"


@pytest.fixture(scope="module")
def patched_workflow(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """What `patch` makes of WORKFLOW in a plain repository (the reference the cases compare with)."""
    workflows = make_repo(tmp_path_factory.mktemp("reference"))
    (workflows / "ci.yml").write_bytes(WORKFLOW)
    result = run_cli("patch", cwd=workflows.parent.parent)
    assert result.returncode == 0, result.stderr
    patched = (workflows / "ci.yml").read_bytes()
    assert patched != WORKFLOW
    return patched


def temporary_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if "ci-gocache" in path.name and path.name.endswith(".tmp")]


def test_planted_temporary_name_link_does_not_redirect_the_write(tmp_path: Path, patched_workflow: bytes) -> None:
    repo = tmp_path / "repo"
    workflows = make_repo(repo)
    (workflows / "ci.yml").write_bytes(WORKFLOW)
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"not yours\n")
    victim.chmod(0o600)
    # The fixed name older versions wrote through, and a few names of the new shape.
    for name in [".ci.yml.ci-gocache.tmp", *(f".ci.yml.{n:016x}.ci-gocache.tmp" for n in range(3))]:
        (workflows / name).symlink_to(victim)
    result = run_cli("patch", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert victim.read_bytes() == b"not yours\n"
    assert stat.S_IMODE(victim.stat().st_mode) == 0o600
    assert (workflows / "ci.yml").read_bytes() == patched_workflow
    assert all((workflows / name).is_symlink() for name in os.listdir(workflows) if name.endswith(".tmp"))


def test_link_to_a_file_outside_the_repository_is_left_alone_with_a_notice(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    workflows = make_repo(repo)
    outside = tmp_path / "elsewhere.yml"
    outside.write_bytes(WORKFLOW)
    (workflows / "ci.yml").symlink_to(outside)
    result = run_cli("patch", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert "outside the repository" in result.stderr and "(notice)" in result.stderr
    assert ".github/workflows/ci.yml: left alone" in result.stdout
    assert (workflows / "ci.yml").is_symlink() and os.readlink(workflows / "ci.yml") == str(outside)
    assert outside.read_bytes() == WORKFLOW


def test_workflows_folder_linked_outside_the_repository_is_left_alone(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    make_repo(repo)
    (repo / ".github" / "workflows").rmdir()
    outside = tmp_path / "shared-workflows"
    outside.mkdir()
    (outside / "ci.yml").write_bytes(WORKFLOW)
    (repo / ".github" / "workflows").symlink_to(outside)
    result = run_cli("patch", ".github/workflows/ci.yml", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert "outside the repository" in result.stderr
    assert (outside / "ci.yml").read_bytes() == WORKFLOW


def test_link_to_a_file_inside_the_repository_patches_the_target_and_keeps_the_link(
    tmp_path: Path, patched_workflow: bytes
) -> None:
    repo = tmp_path / "repo"
    workflows = make_repo(repo)
    (repo / "ci-shared").mkdir()
    target = repo / "ci-shared" / "go.yml"
    target.write_bytes(WORKFLOW)
    (workflows / "ci.yml").symlink_to("../../ci-shared/go.yml")
    result = run_cli("patch", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert (workflows / "ci.yml").is_symlink()
    assert os.readlink(workflows / "ci.yml") == "../../ci-shared/go.yml"
    assert target.read_bytes() == patched_workflow
    assert not temporary_files(repo)


def test_owner_group_and_mode_are_kept(tmp_path: Path, patched_workflow: bytes) -> None:
    repo = tmp_path / "repo"
    workflows = make_repo(repo)
    workflow = workflows / "ci.yml"
    workflow.write_bytes(WORKFLOW)
    os.chown(workflow, 4321, 8765)
    workflow.chmod(0o640)
    result = run_cli("patch", cwd=repo)
    assert result.returncode == 0, result.stderr
    after = workflow.stat()
    assert (after.st_uid, after.st_gid, stat.S_IMODE(after.st_mode)) == (4321, 8765, 0o640)
    assert workflow.read_bytes() == patched_workflow


def test_hard_linked_workflow_is_refused_with_a_notice_and_the_links_stay(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    workflows = make_repo(repo)
    workflow = workflows / "ci.yml"
    workflow.write_bytes(WORKFLOW)
    other_name = tmp_path / "backup-ci.yml"
    os.link(workflow, other_name)
    result = run_cli("patch", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert "2 hard links" in result.stderr and "(notice)" in result.stderr
    assert os.stat(workflow).st_ino == os.stat(other_name).st_ino
    assert workflow.stat().st_nlink == 2
    assert workflow.read_bytes() == WORKFLOW
    # --check still says what would change: refusing is about writing only.
    assert run_cli("patch", "--check", cwd=repo).returncode == 1


def test_read_only_file_is_refused_and_other_files_are_still_patched(tmp_path: Path, patched_workflow: bytes) -> None:
    repo = tmp_path / "repo"
    workflows = make_repo(repo)
    (workflows / "a-readonly.yml").write_bytes(WORKFLOW)
    (workflows / "a-readonly.yml").chmod(0o444)
    (workflows / "b.yml").write_bytes(WORKFLOW)
    result = run_cli("patch", cwd=repo)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert ".github/workflows/a-readonly.yml:1:1: the file is read-only (mode 0444" in result.stderr
    assert (workflows / "a-readonly.yml").read_bytes() == WORKFLOW
    assert (workflows / "b.yml").read_bytes() == patched_workflow


def test_read_only_workflows_folder_gets_a_message_not_a_traceback(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    workflows = make_repo(repo)
    (workflows / "ci.yml").write_bytes(WORKFLOW)
    workflows.chmod(0o555)
    try:
        result = run_cli("patch", cwd=repo)
    finally:
        workflows.chmod(0o755)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "ci.yml:1:1: its folder" in result.stderr and "is read-only (mode 0555)" in result.stderr
    assert (workflows / "ci.yml").read_bytes() == WORKFLOW
    assert sorted(os.listdir(workflows)) == ["ci.yml"]


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _socket(path: Path) -> None:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()  # the socket file stays


def _null_device(path: Path) -> None:
    os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))


@pytest.mark.parametrize("make_special, kind", [(_fifo, "FIFO"), (_socket, "socket"), (_null_device, "character device")])
def test_special_file_named_like_a_workflow_is_skipped_without_hanging(
    tmp_path: Path, patched_workflow: bytes, make_special, kind: str
) -> None:
    repo = tmp_path / "repo"
    workflows = make_repo(repo)
    make_special(workflows / "a-special.yml")
    (workflows / "ci.yml").write_bytes(WORKFLOW)
    # A FIFO nobody writes to blocks an ordinary open() forever: the timeout is the hang detector.
    result = run_cli("patch", cwd=repo, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f".github/workflows/a-special.yml:1:1: a {kind}" in result.stderr
    assert "not a regular file; skipped" in result.stderr
    assert (workflows / "ci.yml").read_bytes() == patched_workflow


def test_fifo_passed_explicitly_does_not_hang(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    workflows = make_repo(repo)
    os.mkfifo(workflows / "ci.yml")
    result = run_cli("patch", ".github/workflows/ci.yml", cwd=repo, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "FIFO" in result.stderr
    assert stat.S_ISFIFO(os.lstat(workflows / "ci.yml").st_mode)


@pytest.mark.parametrize(
    "make_go_mod, message",
    [
        (lambda path: os.mkfifo(path), "go.mod:1:1: a FIFO (named pipe), not a regular file"),
        (lambda path: path.symlink_to("missing-go.mod"), "go.mod:1:1: no such file: a symbolic link to 'missing-go.mod'"),
        (lambda path: path.symlink_to("go.mod"), "go.mod:1:1: cannot read a go.mod file (Too many levels of symbolic links)"),
    ],
    ids=["fifo", "dangling-link", "link-loop"],
)
def test_unreadable_go_mod_gets_a_located_message(tmp_path: Path, make_go_mod, message: str) -> None:
    repo = tmp_path / "repo"
    workflows = make_repo(repo)
    (repo / "go.mod").unlink()
    make_go_mod(repo / "go.mod")
    (workflows / "ci.yml").write_bytes(WORKFLOW)
    result = run_cli("patch", cwd=repo, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert message in result.stderr
    assert (workflows / "ci.yml").read_bytes() == WORKFLOW


@pytest.mark.parametrize("prefix", ["a,b", "x${{ github.token }}", "", "team/v2", "a\nb", "*anchor", "-lead"])
def test_bad_key_prefix_is_a_usage_error_and_nothing_is_written(tmp_path: Path, prefix: str) -> None:
    repo = tmp_path / "repo"
    workflows = make_repo(repo)
    (workflows / "ci.yml").write_bytes(WORKFLOW)
    result = run_cli("patch", "--key-prefix", prefix, cwd=repo)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert "Invalid value for '--key-prefix'" in result.stderr
    assert (workflows / "ci.yml").read_bytes() == WORKFLOW


def test_good_key_prefix_is_used(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    workflows = make_repo(repo)
    (workflows / "ci.yml").write_bytes(WORKFLOW)
    result = run_cli("patch", "--key-prefix", "team.v2_x-1", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert b"team.v2_x-1-" in (workflows / "ci.yml").read_bytes()


def test_fifo_workflow_does_not_hang_the_patch_of_a_dockerfile_or_gitlab_file(tmp_path: Path) -> None:
    """The Dockerfile and GitLab targets read the other CI files of the repository (image builds,
    includes): a FIFO among them is passed over, not waited on."""
    repo = tmp_path / "repo"
    workflows = make_repo(repo)
    os.mkfifo(workflows / "ci.yml")
    os.mkfifo(repo / "go.work.fifo")
    (repo / "Dockerfile").write_text(
        "FROM golang:1.22 AS build\nWORKDIR /src\nCOPY go.mod go.sum ./\nRUN go mod download\nCOPY . .\nRUN go build ./...\n"
    )
    (repo / ".gitlab-ci.yml").write_text("test:\n  image: golang:1.22\n  script:\n    - go test ./...\n")
    result = run_cli("patch", cwd=repo, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "Dockerfile: patched" in result.stdout and ".gitlab-ci.yml: patched" in result.stdout
    assert stat.S_ISFIFO(os.lstat(workflows / "ci.yml").st_mode)
