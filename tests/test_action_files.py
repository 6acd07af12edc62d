"""action.yml and save/action.yml: schema, actionlint (with shellcheck), pins, stdlib-only runtime.

actionlint lints workflows, not action metadata, so it checks the actions twice over:
1. a workflow that uses `./` and `./save` with every input: actionlint reads the two action
   files, reports metadata it cannot load, and checks the inputs given against them;
2. a reusable workflow (on: workflow_call, declaring the action's inputs) whose job has the
   composite steps verbatim: actionlint type-checks every expression (inputs, steps.<id>.outputs,
   job.status), checks the `uses:` pins and runs shellcheck on every `run:` script.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from ci_gocache import schemas
from ci_gocache.pins import PINNED_ACTIONS
from support.tools import actionlint

REPO = Path(__file__).resolve().parents[1]
ACTION_FILES = [REPO / "action.yml", REPO / "save" / "action.yml"]
USES = re.compile(r"^\s*uses:\s*(\S+)@(\S+)(?:\s+#\s*(\S+))?\s*$", re.MULTILINE)


def _load(path: Path) -> dict:
    return YAML(typ="safe").load(path.read_text())


@pytest.mark.parametrize("path", ACTION_FILES, ids=lambda path: str(path.relative_to(REPO)))
def test_action_file_passes_the_github_actions_schema(path):
    assert schemas.schema_errors(_load(path), schemas.GITHUB_ACTION) == []


@pytest.mark.parametrize("path", ACTION_FILES, ids=lambda path: str(path.relative_to(REPO)))
def test_action_cache_steps_are_pinned_to_the_pins_table(path):
    found = USES.findall(path.read_text())
    assert found, "the action restores or saves through actions/cache"
    pin = PINNED_ACTIONS["actions/cache"]
    for action, ref, comment in found:
        assert action in ("actions/cache/restore", "actions/cache/save")
        assert (ref, comment) == (pin.commit, pin.version), f"{action}@{ref} # {comment}"


def _workflow_using_the_actions(tmp_path: Path) -> Path:
    repo = tmp_path / "uses"
    (repo / "save").mkdir(parents=True)
    # actionlint finds the project (and so `./` actions) by its .git directory.
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "action.yml").write_bytes((REPO / "action.yml").read_bytes())
    (repo / "save" / "action.yml").write_bytes((REPO / "save" / "action.yml").read_bytes())
    workflows = repo / ".github" / "workflows"
    workflows.mkdir(parents=True)
    inputs = "".join(f"          {name}: {spec.get('default') or 'x'!r}\n" for name, spec in _load(REPO / "action.yml")["inputs"].items())
    (workflows / "uses.yml").write_text(
        "on: push\npermissions: {}\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2\n"
        "        with:\n          persist-credentials: false\n"
        "      - id: go-cache\n        uses: ./\n        with:\n" + inputs +
        "      - run: go build ./...\n"
        "      - run: echo \"$HIT\"\n        env:\n          HIT: ${{ steps.go-cache.outputs.build-hit }}\n"
        "      - if: ${{ !cancelled() }}\n        uses: ./save\n"
    )
    return workflows / "uses.yml"


def _workflow_embedding_the_steps(tmp_path: Path, action: Path) -> Path:
    """The composite steps as a reusable workflow's job, so actionlint checks them as it checks any job."""
    definition = _load(action)
    directory = tmp_path / action.parent.name / ".github" / "workflows"
    directory.mkdir(parents=True)
    yaml = YAML()
    yaml.width = 4096
    inputs = {name: {"type": "string", "required": False, "default": str(spec.get("default", ""))} for name, spec in (definition.get("inputs") or {}).items()}
    workflow = {
        "on": {"workflow_call": {"inputs": inputs} if inputs else {}},
        "permissions": {},
        "jobs": {"steps": {"runs-on": "ubuntu-latest", "steps": definition["runs"]["steps"]}},
    }
    path = directory / "embedded.yml"
    with path.open("w") as handle:
        yaml.dump(workflow, handle)
    return path


def test_actionlint_accepts_a_workflow_using_both_actions(tmp_path):
    completed = actionlint(_workflow_using_the_actions(tmp_path))
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_actionlint_rejects_an_input_the_action_does_not_have(tmp_path):
    """Proof that actionlint really reads action.yml in the test above."""
    workflow = _workflow_using_the_actions(tmp_path)
    workflow.write_text(workflow.read_text().replace("          modules:", "          modulez:"))
    completed = actionlint(workflow)
    assert completed.returncode == 1
    assert "modulez" in completed.stdout


@pytest.mark.parametrize("action", ACTION_FILES, ids=lambda path: str(path.relative_to(REPO)))
def test_actionlint_and_shellcheck_accept_the_composite_steps(tmp_path, action):
    embedded = _workflow_embedding_the_steps(tmp_path, action)
    completed = actionlint(embedded)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    # The same check finds a shell mistake in a run script, so it does look at them.
    broken = embedded.read_text().replace('"$GITHUB_OUTPUT"', "$GITHUB_OUTPUT", 1)
    embedded.write_text(broken)
    assert "shellcheck" in actionlint(embedded).stdout


@pytest.mark.parametrize("action", ACTION_FILES, ids=lambda path: str(path.relative_to(REPO)))
def test_run_scripts_take_values_through_env_not_expressions(action):
    for step in _load(action)["runs"]["steps"]:
        if "run" in step:
            assert "${{" not in step["run"], step.get("name")
            assert step["shell"] == "bash"


def test_runtime_imports_with_the_standard_library_only():
    """What the action runs, imported by a Python that sees no site-packages at all (-I -S)."""
    probe = (
        "import sys, os, importlib; sys.path.insert(0, 'src');"
        # every module of the action package: runtime imports each phase's module only when it runs
        "[importlib.import_module('ci_gocache.action.' + n[:-3]) for n in sorted(os.listdir('src/ci_gocache/action')) if n.endswith('.py')];"
        "import ci_gocache.keys, ci_gocache.keyexplain;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] not in sys.stdlib_module_names and m != '__main__'))"
    )
    completed = subprocess.run([sys.executable, "-I", "-S", "-c", probe], cwd=REPO, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    loaded = eval(completed.stdout)  # a printed list of module names
    assert loaded and all(name == "ci_gocache" or name.startswith("ci_gocache.") for name in loaded), loaded
    assert "ci_gocache.cli" not in loaded
    assert {"ci_gocache.action.runtime", "ci_gocache.action.keys_phase", "ci_gocache.action.report_phase"} <= set(loaded)


def test_docs_document_every_input_and_output():
    section = (REPO / "docs" / "action.md").read_text()
    for action in ACTION_FILES:
        definition = _load(action)
        for name in [*(definition.get("inputs") or {}), *(definition.get("outputs") or {})]:
            assert f"`{name}`" in section, f"{action.name}: {name} is not documented"
