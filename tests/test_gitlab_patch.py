"""`ci-gocache patch` and `inspect` on GitLab CI files: the guarantees, the template and the component."""

from __future__ import annotations

import difflib
import json
import re
import shutil
import stat
import subprocess
from pathlib import Path

from ruamel.yaml import YAML

from support.cli import run_cli
from support.tools import REPO, tool

FIXTURES = Path(__file__).parent / "fixtures" / "gitlab"
TEMPLATE = REPO / "workflow_templates" / "gitlab" / "go-cache.gitlab-ci.yml"
COMPONENT = REPO / "templates" / "go-cache.yml"

SIMPLE_JOB = """\
# comment kept
test:
  image: golang:1.23   # the toolchain
  script:
    - go test ./...
"""


def _project(tmp_path: Path, files: dict[str, str], module: bool = True) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    if module:
        for name in ("go.mod", "go.sum"):
            shutil.copy(FIXTURES / "module" / name, repo / name)
    for relative, text in files.items():
        (repo / relative).parent.mkdir(parents=True, exist_ok=True)
        (repo / relative).write_text(text)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    return repo


def _load(text: str) -> list:
    yaml = YAML(typ="rt", pure=True)
    return list(yaml.load_all(text))


def _plain(value):
    return json.loads(json.dumps(value))


def _check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", "--data-transform", "gitlab-ci", str(path)],
        capture_output=True, text=True,
    )


# ---------------------------------------------------------------- the template and the component


def test_template_passes_check_jsonschema():
    result = _check_jsonschema(TEMPLATE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_component_header_and_body_pass_check_jsonschema(tmp_path):
    header, body = COMPONENT.read_text().split("\n---\n", 1)
    for name, text in (("header.yml", header), ("body.yml", body)):
        (tmp_path / name).write_text(text)
        result = _check_jsonschema(tmp_path / name)
        assert result.returncode == 0, name + result.stdout + result.stderr


def test_component_has_the_inputs_the_catalog_shows():
    spec, _ = _load(COMPONENT.read_text())
    inputs = spec["spec"]["inputs"]
    assert {"stage", "key-prefix", "gopath", "gocache", "policy", "default-branch-policy"} <= set(inputs)
    assert inputs["policy"]["options"] == ["pull", "pull-push"]
    assert all(inputs[name].get("description") for name in inputs)


def _interpolated(text: str, inputs: dict[str, str]) -> str:
    return re.sub(r"\$\[\[\s*inputs\.([\w-]+)\s*\]\]", lambda match: inputs[match.group(1)], text)


def test_component_with_default_inputs_is_the_template():
    spec, _ = _load(COMPONENT.read_text())
    defaults = {name: str(value["default"]) for name, value in spec["spec"]["inputs"].items()}
    body = _interpolated(COMPONENT.read_text().split("\n---\n", 1)[1], defaults)
    (component_job,) = _load(body)
    (template,) = _load(TEMPLATE.read_text())
    component_job = _plain(component_job[".go-cache"])
    assert component_job.pop("stage") == "test"
    assert component_job == _plain(template[".go-cache"])


def test_template_never_saves_in_tags_and_saves_only_on_the_default_branch():
    (template,) = _load(TEMPLATE.read_text())
    job = _plain(template[".go-cache"])
    assert job["variables"]["GO_CACHE_POLICY"] == "pull"
    assert all(cache["policy"] == "$GO_CACHE_POLICY" for cache in job["cache"])
    rules = job["rules"]
    assert rules[0] == {
        "if": '$CI_PIPELINE_SOURCE == "merge_request_event" && $GO_CACHE_MERGE_REQUEST_PIPELINES != "true"',
        "when": "never",
    }
    assert "GO_CACHE_MERGE_REQUEST_PIPELINES" not in job["variables"]
    assert rules[1] == {"if": "$CI_COMMIT_TAG", "variables": {"GO_CACHE_POLICY": "pull"}}
    assert rules[2] == {"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH", "variables": {"GO_CACHE_POLICY": "pull-push"}}
    assert rules[3] == {"variables": {"GO_CACHE_POLICY": "pull"}}
    module, build = job["cache"]
    assert module["key"] == {"prefix": "gocache-v1-gomod", "files": ["go.sum", "go.work.sum"]}
    assert build["fallback_keys"] == ["gocache-v1-gobuild-$CI_JOB_NAME_SLUG-$CI_DEFAULT_BRANCH"]
    assert job["variables"]["GOFLAGS"] == "-modcacherw"
    for name in ("GOPATH", "GOMODCACHE", "GOCACHE"):
        assert job["variables"][name].startswith("$CI_PROJECT_DIR/")


def test_patch_writes_what_the_template_defines(tmp_path):
    repo = _project(tmp_path, {".gitlab-ci.yml": SIMPLE_JOB, "go.work": "go 1.22\n\nuse .\n", "go.work.sum": ""})
    result = run_cli("patch", cwd=repo)
    assert result.returncode == 0, result.stderr
    (patched,) = _load((repo / ".gitlab-ci.yml").read_text())
    (template,) = _load(TEMPLATE.read_text())
    job = _plain(patched["test"])
    expected = _plain(template[".go-cache"])
    assert job["cache"] == expected["cache"]
    # The template reads whether the pipeline has workflow:rules from a variable; the patcher reads the file.
    assert job["variables"] == expected["variables"]
    assert job["rules"][1:] == expected["rules"][1:]
    assert job["rules"][0] == {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"', "when": "never"}


# ---------------------------------------------------------------- the patcher's guarantees


def test_only_insertions_outside_the_edit(tmp_path):
    repo = _project(tmp_path, {".gitlab-ci.yml": SIMPLE_JOB})
    assert run_cli("patch", cwd=repo).returncode == 0
    before = SIMPLE_JOB.splitlines(keepends=True)
    after = (repo / ".gitlab-ci.yml").read_text().splitlines(keepends=True)
    operations = {tag for tag, *_ in difflib.SequenceMatcher(a=before, b=after, autojunk=False).get_opcodes()}
    assert operations == {"equal", "insert"}


def test_check_reports_and_writes_nothing(tmp_path):
    repo = _project(tmp_path, {".gitlab-ci.yml": SIMPLE_JOB})
    result = run_cli("patch", "--check", cwd=repo)
    assert result.returncode == 1
    assert ".gitlab-ci.yml: would change (jobs: test)" in result.stdout
    assert (repo / ".gitlab-ci.yml").read_text() == SIMPLE_JOB


def test_write_replaces_the_file_atomically_and_keeps_its_mode(tmp_path):
    repo = _project(tmp_path, {".gitlab-ci.yml": SIMPLE_JOB})
    path = repo / ".gitlab-ci.yml"
    path.chmod(0o640)
    inode = path.stat().st_ino
    assert run_cli("patch", cwd=repo).returncode == 0
    assert path.stat().st_ino != inode  # written beside it, then renamed over it
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(item.name for item in repo.iterdir() if item.name.startswith(".gitlab-ci")) == [".gitlab-ci.yml"]


def test_bad_files_get_path_line_col_exit_2_and_others_are_still_patched(tmp_path):
    files = {
        "broken/.gitlab-ci.yml": "test:\n  script:\n    - go test ./...\n  image: [golang\n",
        "invalid/.gitlab-ci.yml": "test:\n  image: golang\n  script: 42\n",
        "cycle/.gitlab-ci.yml": ".a:\n  extends: .b\n.b:\n  extends: .a\ntest:\n  extends: .a\n  script: [go test ./...]\n",
        "missing/.gitlab-ci.yml": "include:\n  - local: ci/nowhere.yml\ntest:\n  script: [go test ./...]\n",
        "good/.gitlab-ci.yml": SIMPLE_JOB,
    }
    repo = _project(tmp_path, files)
    result = run_cli("patch", cwd=repo)
    assert result.returncode == 2
    assert "broken/.gitlab-ci.yml:5:1: invalid YAML" in result.stderr
    assert "invalid/.gitlab-ci.yml:3:3: does not match the GitLab CI schema at test/script" in result.stderr
    assert "cycle/.gitlab-ci.yml:1:1: `extends:` goes round in a circle (.a -> .b -> .a); break the cycle" in result.stderr
    assert "missing/.gitlab-ci.yml:2:5: local include 'ci/nowhere.yml' does not exist" in result.stderr
    assert "Traceback" not in result.stderr
    for relative in ("broken", "invalid", "cycle", "missing"):
        assert (repo / relative / ".gitlab-ci.yml").read_text() == files[f"{relative}/.gitlab-ci.yml"]
    assert "GO_CACHE_POLICY" in (repo / "good" / ".gitlab-ci.yml").read_text()


def test_alias_bomb_is_refused_not_expanded(tmp_path):
    lines = ["a0: &a0 [go, go]"] + [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 40)]
    lines += ["test:", "  image: golang", "  script: *a39"]
    text = "\n".join(lines) + "\n"
    repo = _project(tmp_path, {".gitlab-ci.yml": text})
    result = run_cli("patch", cwd=repo, timeout=60)
    assert result.returncode == 2
    assert "an alias bomb?" in result.stderr
    assert (repo / ".gitlab-ci.yml").read_text() == text


def test_nested_references_that_loop_do_not_hang(tmp_path):
    text = ".a:\n  script:\n    - !reference [.b, script]\n.b:\n  script:\n    - !reference [.a, script]\n" + SIMPLE_JOB
    repo = _project(tmp_path, {".gitlab-ci.yml": text})
    result = run_cli("patch", cwd=repo, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "GO_CACHE_POLICY" in (repo / ".gitlab-ci.yml").read_text()


def test_no_paths_patches_github_workflows_and_every_gitlab_file(tmp_path):
    workflow = (
        "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n      - uses: actions/setup-go@v5\n      - run: go test ./...\n"
    )
    job = "{name}:\n  image: golang:1.23\n  script:\n    - go test ./...\n"
    component = "spec:\n  inputs: {}\n---\n" + job.format(name="component-job")
    files = {
        ".github/workflows/ci.yml": workflow,
        ".gitlab-ci.yml": "include:\n  - local: ci/go.yml\n" + job.format(name="main-job"),
        "ci/go.yml": job.format(name="included-job"),
        "services/child.gitlab-ci.yml": job.format(name="child-job"),
        "templates/go-test.yml": component,
        ".gitlab-ci-local/builds/main-job/.gitlab-ci.yml": job.format(name="copy"),
    }
    repo = _project(tmp_path, files)
    result = run_cli("patch", "--format", "json", cwd=repo)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    changed = {entry["path"]: entry["target"] for entry in report["files"] if entry["status"] == "changed"}
    assert changed == {
        ".github/workflows/ci.yml": "github",
        ".gitlab-ci.yml": "gitlab",
        "ci/go.yml": "gitlab",
        "services/child.gitlab-ci.yml": "gitlab",
        "templates/go-test.yml": "gitlab",
    }
    assert (repo / ".gitlab-ci-local/builds/main-job/.gitlab-ci.yml").read_text() == job.format(name="copy")


def test_explicit_component_path_is_a_gitlab_file(tmp_path):
    component = "spec:\n  inputs:\n    image:\n      default: golang:1.23\n---\ntest:\n  image: $[[ inputs.image ]]\n  script:\n    - go test ./...\n"
    repo = _project(tmp_path, {"templates/go-test/template.yml": component})
    result = run_cli("patch", "--format", "json", "templates/go-test/template.yml", cwd=repo)
    assert result.returncode == 0, result.stderr
    (entry,) = json.loads(result.stdout)["files"]
    assert (entry["target"], entry["status"]) == ("gitlab", "changed")
    header, body = _load((repo / "templates/go-test/template.yml").read_text())
    assert header == {"spec": {"inputs": {"image": {"default": "golang:1.23"}}}}
    assert len(body["test"]["cache"]) == 2


def test_job_that_is_not_go_and_hidden_jobs_stay_unchanged(tmp_path):
    text = ".go-template:\n  image: golang:1.23\n  script: [go test ./...]\ndocs:\n  image: alpine\n  script:\n    - echo hi\n"
    repo = _project(tmp_path, {".gitlab-ci.yml": text})
    result = run_cli("patch", "--format", "json", cwd=repo)
    assert result.returncode == 0
    (entry,) = json.loads(result.stdout)["files"]
    assert entry["status"] == "unchanged"
    assert entry["jobs"] == [{"job": "docs", "line": 4, "outcome": "not-go", "reason": "does not build Go"}]
    assert (repo / ".gitlab-ci.yml").read_text() == text


def test_job_extending_a_template_from_a_remote_include_is_left_alone(tmp_path):
    text = (
        "include:\n  - project: group/templates\n    ref: v1.2.0\n    file: go.yml\n"
        "test:\n  extends: .go-remote\n  script:\n    - go test ./...\n"
    )
    repo = _project(tmp_path, {".gitlab-ci.yml": text})
    result = run_cli("patch", cwd=repo)
    assert result.returncode == 0
    assert (
        ".gitlab-ci.yml:5:1: job 'test' left unchanged: it extends .go-remote, defined in a file ci-gocache cannot read"
        in result.stderr
    )
    assert (repo / ".gitlab-ci.yml").read_text() == text


# ---------------------------------------------------------------- inspect


def test_inspect_reports_gitlab_jobs_and_their_caches(tmp_path):
    text = (
        "default:\n  image: golang:1.23\n  cache:\n    key: node\n    paths: [node_modules/]\n"
        ".go:\n  before_script:\n    - go version\n"
        "unit:\n  extends: .go\n  script:\n    - make test\n"
        "docs:\n  image: alpine\n  script: [echo hi]\n"
    )
    repo = _project(tmp_path, {".gitlab-ci.yml": text})
    result = run_cli("inspect", "--format", "json", str(repo))
    assert result.returncode == 0, result.stderr
    (entry,) = json.loads(result.stdout)["gitlab"]
    jobs = {job["name"]: job for job in entry["jobs"]}
    assert jobs["unit"]["builds_go"] is True
    assert "default: image golang:1.23 is a Go image" in jobs["unit"]["why"]
    assert jobs["unit"]["cache_from"] == "default"
    assert jobs["unit"]["go_sum_files"] == ["go.sum"]
    assert jobs["docs"]["builds_go"] is False
    assert jobs[".go"]["hidden"] is True
    text_report = run_cli("inspect", str(repo)).stdout
    assert "job unit (line 9): builds Go" in text_report
    assert "cache: cache of node_modules/ keyed on node (from default)" in text_report


def test_inspect_reports_where_a_job_puts_go_directories(tmp_path):
    text = (
        "variables:\n  GOPATH: $CI_PROJECT_DIR/.gopath\n"
        "test:\n  image: golang:1.23\n  before_script:\n    - export GOCACHE=/tmp/go-build\n"
        "  script:\n    - go test ./...\n"
    )
    repo = _project(tmp_path, {".gitlab-ci.yml": text})
    result = run_cli("inspect", "--format", "json", str(repo))
    assert result.returncode == 0, result.stderr
    (entry,) = json.loads(result.stdout)["gitlab"]
    (job,) = entry["jobs"]
    locations = job["go_locations"]
    assert locations["GOPATH"] == {"value": "$CI_PROJECT_DIR/.gopath", "from": "variables", "directory": ".gopath", "problem": ""}
    assert locations["GOCACHE"]["from"] == "before_script"
    assert locations["GOCACHE"]["directory"] is None
    assert "outside $CI_PROJECT_DIR" in locations["GOCACHE"]["problem"]
    text_report = run_cli("inspect", str(repo)).stdout
    assert "GOPATH: $CI_PROJECT_DIR/.gopath (set in variables): in the project directory at .gopath/" in text_report
    assert "GOCACHE: /tmp/go-build (set in before_script): its before_script sets GOCACHE to /tmp/go-build" in text_report


def test_docker_build_that_cannot_be_edited_safely_is_left_with_a_notice(tmp_path):
    text = (
        "build:\n  image: golang:1.23\n  script: [\"go build ./...\", \"docker build -t app .\"]\n"
    )
    repo = _project(tmp_path, {".gitlab-ci.yml": text})
    result = run_cli("patch", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert ".gitlab-ci.yml:1:1: job 'build': its `docker build` sits where ci-gocache cannot rewrite it safely" in result.stderr
    (patched,) = _load((repo / ".gitlab-ci.yml").read_text())
    assert list(patched["build"]["script"]) == ["go build ./...", "docker build -t app ."]
    assert len(patched["build"]["cache"]) == 2
