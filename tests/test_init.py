"""`ci-gocache init`: complete, cached CI for Go repositories that have none, checked by the real tools.

Every emitted GitHub workflow passes check-jsonschema's github-workflows schema, actionlint (with
shellcheck) and zizmor with no finding at all (auditor persona), and `ci-gocache patch --check`
leaves it as it is. Every emitted GitLab pipeline passes `gitlab-ci-local --preview`, and the
single-module pipeline runs for real in gitlab-ci-local with `go` and modules from the proxy.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from support.cli import run_cli
from support.tools import REPO, actionlint, tool, zizmor_findings

FIXTURES = Path(__file__).parent / "fixtures"
MODULE = FIXTURES / "gitlab" / "module"
WORKFLOW = Path(".github/workflows/go.yml")
LAYOUTS = ["single", "workspace", "modules", "cgo", "dockerfile", "golangci"]
GO_ENVIRONMENT = ("GOPATH", "GOMODCACHE", "GOCACHE", "GOFLAGS", "GOENV", "GOWORK", "GOTOOLCHAIN")


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=ci-gocache tests", "-c", "user.email=tests@ci-gocache.invalid", *args],
        cwd=repo, check=True, capture_output=True, text=True,
    )


def _module(directory: Path, path: str) -> None:
    """A module at `directory` with the uuid dependency (go.mod, go.sum and a test)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("go.sum", "main.go", "main_test.go"):
        shutil.copy(MODULE / name, directory / name)
    (directory / "go.mod").write_text((MODULE / "go.mod").read_text().replace("example.com/fixture", path))


def _layout(tmp_path: Path, kind: str) -> Path:
    repo = tmp_path / kind
    if kind == "workspace":
        for name in ("api", "core", "tools"):
            _module(repo / name, f"example.com/{name}")
        (repo / "go.work").write_text("go 1.22\n\nuse (\n\t./api\n\t./core\n\t./tools\n)\n")
    elif kind == "modules":
        _module(repo / "server", "example.com/server")
        _module(repo / "client", "example.com/client")
    else:
        _module(repo, "example.com/fixture")
    if kind == "cgo":
        (repo / "cgo.go").write_text('package main\n\n// int answer(void) { return 42; }\nimport "C"\n\nfunc answer() int { return int(C.answer()) }\n')
    if kind == "dockerfile":
        (repo / "Dockerfile").write_text(
            "FROM golang:1.22 AS build\nWORKDIR /src\nCOPY . .\nRUN go build -o /app .\n\n"
            "FROM gcr.io/distroless/static\nCOPY --from=build /app /app\nENTRYPOINT [\"/app\"]\n"
        )
    if kind == "golangci":
        (repo / ".golangci.yml").write_text('version: "2"\n')
    _git(repo, "init", "-q", "-b", "main")
    return repo


def _zizmor_all(path: Path) -> list[str]:
    findings = zizmor_findings(path)
    return sorted(findings.elements())


@pytest.mark.parametrize("kind", LAYOUTS)
def test_emitted_workflow_passes_every_validator_with_no_finding(kind, tmp_path):
    repo = _layout(tmp_path, kind)
    completed = run_cli("init", str(repo))
    assert completed.returncode == 0, completed.stderr
    workflow = repo / WORKFLOW
    assert workflow.is_file()
    schema = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow)],
        capture_output=True, text=True,
    )
    assert schema.returncode == 0, schema.stdout + schema.stderr
    linted = actionlint(workflow)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert _zizmor_all(workflow) == []
    check = run_cli("patch", "--check", str(workflow))
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize("kind", LAYOUTS)
def test_emitted_workflow_restores_before_go_and_saves_on_default_branch_pushes(kind, tmp_path):
    repo = _layout(tmp_path, kind)
    assert run_cli("init", str(repo)).returncode == 0
    from ruamel.yaml import YAML

    document = YAML(typ="safe").load((repo / WORKFLOW).read_text())
    assert document[True if True in document else "on"]["push"]["branches"] == ["main"]
    assert document["permissions"] == {"contents": "read"}
    for name, job in document["jobs"].items():
        steps = job["steps"]
        uses = [step.get("uses", "") for step in steps]
        assert all(re.fullmatch(r"[\w./-]+@[0-9a-f]{40}", use) for use in uses if use), (name, uses)
        if name == "image":
            assert job["permissions"] == {"contents": "read", "packages": "write"}
            continue
        go_steps = [index for index, step in enumerate(steps) if re.search(r"\bgo (vet|build|test|run)\b", step.get("run", ""))]
        go_steps += [index for index, use in enumerate(uses) if use.startswith("golangci/golangci-lint-action@")]
        restores = [index for index, use in enumerate(uses) if use.startswith("actions/cache/restore@")]
        saves = [index for index, use in enumerate(uses) if use.startswith("actions/cache/save@")]
        assert len(restores) == 2 and len(saves) == 2, (name, uses)
        assert max(restores) < min(go_steps) <= max(go_steps) < min(saves), name
        for index in saves:
            assert "github.event_name == 'push'" in steps[index]["if"], steps[index]["if"]
            assert "github.event.repository.default_branch" in steps[index]["if"], steps[index]["if"]
        checkout = steps[uses.index(next(u for u in uses if u.startswith("actions/checkout@")))]
        assert checkout["with"]["persist-credentials"] is False


def test_workspace_modules_are_matrix_entries_keyed_on_their_own_go_sum(tmp_path):
    repo = _layout(tmp_path, "workspace")
    assert run_cli("init", str(repo)).returncode == 0
    text = (repo / WORKFLOW).read_text()
    assert "module: [api, core, tools]" in text
    assert "go-version-file: go.work" in text
    assert "working-directory: ${{ matrix.module }}" in text


def test_independent_modules_each_take_the_go_version_of_their_own_go_mod(tmp_path):
    repo = _layout(tmp_path, "modules")
    assert run_cli("init", str(repo)).returncode == 0
    text = (repo / WORKFLOW).read_text()
    assert "module: [client, server]" in text
    assert "go-version-file: ${{ matrix.module }}/go.mod" in text


def test_os_matrix_runs_the_race_detector_where_cgo_has_a_compiler(tmp_path):
    repo = _layout(tmp_path, "single")
    completed = run_cli("init", "--os", "linux,windows,macos", str(repo))
    assert completed.returncode == 0, completed.stderr
    text = (repo / WORKFLOW).read_text()
    assert "os: [ubuntu-latest, windows-latest, macos-latest]" in text
    assert "runs-on: ${{ matrix.os }}" in text
    assert "if: runner.os != 'Windows'\n        run: go test -race ./..." in text
    assert actionlint(repo / WORKFLOW).returncode == 0
    assert _zizmor_all(repo / WORKFLOW) == []


def test_lint_job_only_where_a_golangci_config_exists(tmp_path):
    with_config = _layout(tmp_path, "golangci")
    without = _layout(tmp_path, "single")
    for repo in (with_config, without):
        assert run_cli("init", str(repo)).returncode == 0
    assert "golangci/golangci-lint-action@" in (with_config / WORKFLOW).read_text()
    assert "golangci-lint" not in (without / WORKFLOW).read_text()


def test_image_job_pushes_only_from_the_default_branch_with_a_registry_cache(tmp_path):
    repo = _layout(tmp_path, "dockerfile")
    assert run_cli("init", str(repo)).returncode == 0
    text = (repo / WORKFLOW).read_text()
    assert "push: ${{ github.event_name == 'push' && github.ref == format('refs/heads/{0}', github.event.repository.default_branch) }}" in text
    assert "cache-from: type=registry" in text
    assert "packages: write" in text.split("  image:")[1]
    assert "packages: write" not in text.split("  image:")[0]


def test_action_style_uses_the_ci_gocache_action(tmp_path):
    repo = _layout(tmp_path, "single")
    sha = "0123456789abcdef0123456789abcdef01234567"
    completed = run_cli("init", "--style", "action", "--action-ref", sha, "--action-version", "v0.1.0", str(repo))
    assert completed.returncode == 0, completed.stderr
    text = (repo / WORKFLOW).read_text()
    assert f"ci-gocache/ci-gocache@{sha} # v0.1.0" in text
    assert "actions/cache/restore@" not in text
    assert run_cli("patch", "--check", "--style", "action", "--action-ref", sha, "--action-version", "v0.1.0",
                   str(repo / WORKFLOW)).returncode == 0


def test_output_is_the_same_on_every_run(tmp_path):
    first = _layout(tmp_path / "a", "workspace")
    second = _layout(tmp_path / "b", "workspace")
    for repo in (first, second):
        assert run_cli("init", str(repo)).returncode == 0
        assert run_cli("init", "--gitlab", str(repo)).returncode == 0
    for relative in (WORKFLOW, Path(".gitlab-ci.yml")):
        assert (first / relative).read_bytes() == (second / relative).read_bytes()


def test_existing_files_are_never_overwritten_without_force(tmp_path):
    repo = _layout(tmp_path, "single")
    workflow = repo / ".github" / "workflows" / "ci.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text("on: push\njobs: {}\n")
    refused = run_cli("init", str(repo))
    assert refused.returncode == 1
    assert "ci-gocache patch" in refused.stderr
    assert not (repo / WORKFLOW).exists()
    assert run_cli("init", "--force", str(repo)).returncode == 0
    (repo / WORKFLOW).write_text("mine\n")
    again = run_cli("init", str(repo))
    assert again.returncode == 1 and "exists; not overwritten" in again.stderr
    assert (repo / WORKFLOW).read_text() == "mine\n"


def test_dry_run_and_json_write_nothing_and_describe_the_files(tmp_path):
    repo = _layout(tmp_path, "single")
    dry = run_cli("init", "--dry-run", str(repo))
    assert dry.returncode == 0 and dry.stdout.startswith("# .github/workflows/go.yml\n")
    assert not (repo / ".github").exists()
    as_json = run_cli("init", "--dry-run", "--format", "json", str(repo))
    report = json.loads(as_json.stdout)
    assert report["ci"] == "github" and report["written"] is False
    assert report["files"] == [{"path": ".github/workflows/go.yml", "status": "new", "jobs": ["test", "vulncheck"]}]


def test_no_go_module_is_bad_input(tmp_path):
    completed = run_cli("init", str(tmp_path))
    assert completed.returncode == 2
    assert "no go.mod found" in completed.stderr and "Traceback" not in completed.stderr


def test_gitlab_is_chosen_where_the_repository_shows_gitlab_signs(tmp_path):
    repo = _layout(tmp_path, "single")
    (repo / ".gitlab").mkdir()
    completed = run_cli("init", "--dry-run", "--format", "json", str(repo))
    assert json.loads(completed.stdout)["ci"] == "gitlab"


def _gitlab_ci_local(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {name: value for name, value in os.environ.items() if name not in GO_ENVIRONMENT}
    environment["FORCE_COLOR"] = "0"
    return subprocess.run(
        [tool("gitlab-ci-local"), *args], cwd=repo, env=environment, capture_output=True, text=True, timeout=600
    )


def _commit_for_gitlab_ci_local(repo: Path, component: bool) -> None:
    if component:
        # The component as GitLab documents testing it from its own project: at the pipeline's commit.
        (repo / "templates").mkdir(exist_ok=True)
        shutil.copy(REPO / "templates" / "go-cache.yml", repo / "templates" / "go-cache.yml")
        pipeline = repo / ".gitlab-ci.yml"
        text = pipeline.read_text()
        pipeline.write_text(text.replace("gitlab.com/ci-gocache/ci-gocache/go-cache@0.1.0",
                                         "$CI_SERVER_FQDN/$CI_PROJECT_PATH/go-cache@$CI_COMMIT_SHA"))
    (repo / ".gitignore").write_text(".gitlab-ci-local/\n")
    _git(repo, "remote", "add", "origin", "https://gitlab.example.com/ci-gocache/fixture.git")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "fixture")
    _git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    _git(repo, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")


@pytest.mark.parametrize(
    "kind, include", [(kind, "template") for kind in LAYOUTS] + [("single", "component"), ("dockerfile", "component")]
)
def test_emitted_gitlab_pipeline_passes_gitlab_ci_local_preview(kind, include, tmp_path):
    repo = _layout(tmp_path, kind)
    completed = run_cli("init", "--gitlab", "--gitlab-include", include, str(repo))
    assert completed.returncode == 0, completed.stderr
    assert run_cli("patch", "--check", str(repo / ".gitlab-ci.yml")).returncode == 0
    _commit_for_gitlab_ci_local(repo, component=include == "component")
    preview = _gitlab_ci_local(repo, "--preview")
    assert preview.returncode == 0, preview.stdout + preview.stderr
    assert re.search(r"^test[\w-]*:", preview.stdout, re.MULTILINE), preview.stdout


def test_emitted_gitlab_pipeline_runs_and_caches_in_gitlab_ci_local(tmp_path):
    repo = _layout(tmp_path, "single")
    assert run_cli("init", "--gitlab", "--gitlab-include", "template", str(repo)).returncode == 0
    # No Docker engine here: the job runs in the shell with the host's go instead of the golang image.
    pipeline = repo / ".gitlab-ci.yml"
    pipeline.write_text(re.sub(r"^  image: golang:.*\n", "", pipeline.read_text(), flags=re.MULTILINE))
    _commit_for_gitlab_ci_local(repo, component=False)
    first = _gitlab_ci_local(repo, "--shell-isolation", "test")
    assert first.returncode == 0, first.stdout + first.stderr
    created = re.findall(r"cache created in '\.gitlab-ci-local/cache/([^']+)'", first.stdout + first.stderr)
    assert any("gomod" in name for name in created) and any("gobuild" in name for name in created), created
    second = _gitlab_ci_local(repo, "--shell-isolation", "--variable", "GOPROXY=off", "test")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "imported cache" in second.stdout + second.stderr


def test_starter_workflow_template_is_what_init_renders():
    from ci_gocache.commands.init import STARTER_PROPERTIES, render_starter_workflow

    starter = REPO / "workflow_templates" / "github" / "go-cache.yml"
    properties = REPO / "workflow_templates" / "github" / "go-cache.properties.json"
    if os.environ.get("CI_GOCACHE_REGEN"):
        starter.write_text(render_starter_workflow())
        properties.write_text(json.dumps(STARTER_PROPERTIES, indent=2) + "\n")
    assert starter.read_text() == render_starter_workflow()
    assert json.loads(properties.read_text()) == STARTER_PROPERTIES
    assert "branches: ['$default-branch']" in starter.read_text()


def test_starter_properties_have_the_fields_github_documents():
    properties = json.loads((REPO / "workflow_templates" / "github" / "go-cache.properties.json").read_text())
    # GitHub's starter-workflow metadata: name and description are required; iconName, categories
    # and filePatterns are optional and nothing else is read.
    assert set(properties) <= {"name", "description", "iconName", "categories", "filePatterns", "creator", "labels"}
    assert isinstance(properties["name"], str) and properties["name"]
    assert isinstance(properties["description"], str) and properties["description"]
    assert properties["categories"] == ["Go"]
    assert properties["filePatterns"] == ["go.mod$"]
    for pattern in properties["filePatterns"]:
        re.compile(pattern)


def test_starter_workflow_passes_actionlint_and_zizmor():
    starter = REPO / "workflow_templates" / "github" / "go-cache.yml"
    assert actionlint(starter).returncode == 0
    assert _zizmor_all(starter) == []


def test_gitlab_template_shipped_in_the_package_is_the_include_template():
    shipped = REPO / "src" / "ci_gocache" / "targets" / "gitlab" / "go-cache.gitlab-ci.yml"
    assert shipped.read_bytes() == (REPO / "workflow_templates" / "gitlab" / "go-cache.gitlab-ci.yml").read_bytes()
