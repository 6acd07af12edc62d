"""`ci-gocache patch --style action`: the two `uses:` lines, with inputs action.yml really has."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from ci_gocache import keys
from support.cachestore import CacheStore
from support.cli import run_cli
from support.composite import Job, main_action
from support.tools import actionlint_findings, zizmor_findings

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "github"
CASES = sorted(path.name for path in FIXTURES.iterdir() if (path / "repo").is_dir())
SHA = "0123456789abcdef0123456789abcdef01234567"
ACTION_ARGS = ["--style", "action", "--action-ref", SHA, "--action-version", "v1.2.3", "--action-repository", "acme/ci-gocache"]


def _action_inputs() -> dict:
    return YAML(typ="safe").load((REPO / "action.yml").read_text())["inputs"]


def _workflows(root: Path) -> dict[str, Path]:
    return {path.name: path for path in sorted((root / ".github" / "workflows").iterdir())}


def _our_steps(path: Path) -> list[tuple[str, dict]]:
    document = YAML(typ="safe").load(path.read_text())
    found = []
    for job_id, job in (document.get("jobs") or {}).items():
        for step in (job or {}).get("steps") or []:
            if isinstance(step, dict) and str(step.get("uses", "")).startswith("acme/ci-gocache"):
                found.append((job_id, step))
    return found


@pytest.fixture(params=CASES)
def patched(request, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURES / request.param / "repo", repo)
    before = {name: path.read_bytes() for name, path in _workflows(repo).items()}
    completed = run_cli("patch", *ACTION_ARGS, cwd=repo)
    assert completed.returncode == 0, completed.stderr
    return repo, before, completed


def test_written_inputs_are_inputs_of_action_yml(patched):
    repo, _, _ = patched
    declared = _action_inputs()
    for path in _workflows(repo).values():
        for _, step in _our_steps(path):
            if step["uses"].startswith("acme/ci-gocache/save@"):
                assert "with" not in step
                assert step["if"] == "${{ !cancelled() }}"
                continue
            assert step["uses"] == f"acme/ci-gocache@{SHA}"
            assert set(step["with"]) <= set(declared), set(step["with"]) - set(declared)
            assert step["with"]["save"] in ("auto", "push", "always", "never")


def test_each_patched_job_gets_both_lines_pinned_with_a_version_comment(patched):
    repo, before, _ = patched
    for name, path in _workflows(repo).items():
        text = path.read_text()
        if path.read_bytes() == before[name]:
            continue
        restores = text.count(f"uses: acme/ci-gocache@{SHA} # v1.2.3")
        saves = text.count(f"uses: acme/ci-gocache/save@{SHA} # v1.2.3")
        container_jobs = text.count("actions/cache/restore@") // 2
        assert restores == saves
        assert restores + container_jobs > 0


def test_second_run_changes_nothing(patched):
    repo, _, _ = patched
    after = {name: path.read_bytes() for name, path in _workflows(repo).items()}
    check = run_cli("patch", "--check", *ACTION_ARGS, cwd=repo)
    assert check.returncode == 0, check.stdout + check.stderr
    assert {name: path.read_bytes() for name, path in _workflows(repo).items()} == after


def test_patched_workflows_add_no_actionlint_or_zizmor_findings(patched, tmp_path):
    repo, before, _ = patched
    for name, path in _workflows(repo).items():
        original = tmp_path / f"original-{name}"
        original.write_bytes(before[name])
        assert actionlint_findings(path) - actionlint_findings(original) == {}, name
        assert zizmor_findings(path) - zizmor_findings(original) == {}, name


def test_modules_input_resolves_to_the_go_sum_files_the_job_builds(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURES / "matrix-modules" / "repo", repo)
    assert run_cli("patch", *ACTION_ARGS, cwd=repo).returncode == 0
    facts = json.loads(run_cli("inspect", "--format", "json", str(FIXTURES / "matrix-modules" / "repo")).stdout)
    jobs = {job["id"]: job for workflow in facts["workflows"] for job in workflow["jobs"]}
    steps = {job_id: step for job_id, step in _our_steps(_workflows(repo)["test.yml"]) if "with" in step}
    assert steps["tools"]["with"]["modules"].split() == jobs["tools"]["go_sum_files"]
    # A matrix directory becomes an expression the runner fills in for each matrix value.
    assert steps["unit"]["with"]["modules"].strip() == "${{ matrix.module }}/go.sum"
    for module in ("services/api", "services/worker"):
        filled = steps["unit"]["with"]["modules"].replace("${{ matrix.module }}", module).split()
        assert keys.resolve_sum_files(repo, filled) == [f"{module}/go.sum"]


def test_the_action_accepts_what_the_patch_writes(tmp_path):
    """The patched step's inputs, given to the action's own keys step."""
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "tests" / "fixtures" / "action" / "module", repo)
    workflows = repo / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "ci.yml").write_text(
        "on:\n  push:\n    branches: [main]\npermissions: {}\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2\n"
        "        with:\n          persist-credentials: false\n"
        "      - uses: actions/setup-go@d35c59abb061a4a6fb18e82ac0862c26744d6ab5 # v5.5.0\n"
        "        with:\n          go-version-file: go.mod\n"
        "      - run: go test ./...\n"
    )
    assert run_cli("patch", *ACTION_ARGS, "--key-prefix", "team-v2", cwd=repo).returncode == 0
    (_, step), (_, save_step) = _our_steps(workflows / "ci.yml")
    assert save_step["uses"].startswith("acme/ci-gocache/save@")
    job = Job(repo, tmp_path / "temp", CacheStore(tmp_path / "store"),
              env={"GOMODCACHE": str(tmp_path / "m"), "GOCACHE": str(tmp_path / "b"), "GOTOOLCHAIN": "local"})
    result = job.use_action(main_action(), {name: str(value) for name, value in step["with"].items()}, stop_after="keys")
    assert result.step("keys").outcome == "success", result.log
    assert step["with"]["save"] == "auto"
    assert result.outputs["module-key"].startswith("team-v2-Linux-X64-gomod-")
    assert "go.sum files (1): go.sum" in result.log


@pytest.mark.parametrize(
    "args, message",
    [
        (["--style", "action"], "--action-ref with a full 40-character commit SHA"),
        (["--style", "action", "--action-ref", "v1"], "--action-ref with a full 40-character commit SHA"),
        (["--style", "action", "--action-ref", SHA.upper()], "--action-ref with a full 40-character commit SHA"),
        (["--style", "action", "--action-ref", SHA, "--action-repository", "acme"], "--action-repository must be OWNER/REPO"),
    ],
)
def test_bad_action_options_exit_2_and_write_nothing(tmp_path, args, message):
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURES / "basic" / "repo", repo)
    before = {name: path.read_bytes() for name, path in _workflows(repo).items()}
    completed = run_cli("patch", *args, cwd=repo)
    assert completed.returncode == 2
    assert message in completed.stderr
    assert {name: path.read_bytes() for name, path in _workflows(repo).items()} == before


def test_a_replaced_cache_step_keeps_its_id_for_the_steps_that_read_it(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURES / "setup-go-forms" / "repo", repo)
    assert run_cli("patch", *ACTION_ARGS, cwd=repo).returncode == 0
    text = _workflows(repo)["ci.yml"].read_text()
    assert "if: steps.cache.outputs.cache-hit != 'true'" in text
    restores = [step for job_id, step in _our_steps(_workflows(repo)["ci.yml"]) if job_id == "quoted-cache" and "with" in step]
    assert restores[0]["id"] == "cache"
    outputs = YAML(typ="safe").load((REPO / "action.yml").read_text())["outputs"]
    assert "cache-hit" in outputs


def test_container_jobs_get_cache_steps_and_a_notice(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURES / "container-make" / "repo", repo)
    completed = run_cli("patch", *ACTION_ARGS, cwd=repo)
    assert completed.returncode == 0
    assert "which may have no Python for the ci-gocache action: wrote actions/cache steps instead" in completed.stderr
    assert "acme/ci-gocache" not in _workflows(repo)["ci.yml"].read_text()
