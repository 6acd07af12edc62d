"""The package's layer contracts (pyproject.toml [tool.importlinter]) hold: checked by import-linter."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept() -> None:
    lint_imports = shutil.which("lint-imports")
    assert lint_imports, "lint-imports (import-linter) is not installed; run .ci/install-tools"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    completed = subprocess.run([lint_imports, "--no-cache"], cwd=REPO, env=env, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "0 broken" in completed.stdout


def test_each_ci_target_is_one_package_registered_in_one_table() -> None:
    from ci_gocache.targets import ALL_TARGETS

    for name, target in ALL_TARGETS.items():
        assert target.__file__ is not None and target.__file__.endswith("__init__.py"), name
        assert target.NAME == name
        for function in ("claims", "inspect", "plan", "verify", "describe"):
            assert callable(getattr(target, function)), (name, function)


def test_patching_a_workflow_loads_neither_the_gitlab_nor_the_dockerfile_target(tmp_path):
    workflow = tmp_path / ".github" / "workflows" / "ci.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text("on: push\njobs:\n  hello:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n")
    probe = (
        "import sys; from ci_gocache.cli import main; sys.argv = ['ci-gocache', 'patch', '--check', sys.argv[1]];\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('ci_gocache.targets.gitlab.', 'ci_gocache.targets.dockerfile.', 'jsonschema'))))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    completed = subprocess.run([sys.executable, "-c", probe, str(workflow)], env=env, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip().splitlines()[-1] == "[]"


def test_version_and_help_load_no_yaml_schema_or_target_code():
    for arguments in (["--version"], ["--help"], ["key", "--help"]):
        probe = (
            "import sys; from ci_gocache.cli import main; sys.argv = ['ci-gocache', *sys.argv[1:]];\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith(('ruamel', 'jsonschema', 'ci_gocache.targets'))))"
        )
        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        completed = subprocess.run([sys.executable, "-c", probe, *arguments], env=env, capture_output=True, text=True)
        assert completed.returncode == 0, completed.stderr
        assert completed.stdout.strip().splitlines()[-1] == "[]", arguments


def test_action_runtime_runs_without_the_package_dependencies() -> None:
    probe = (
        "import sys, os, importlib; sys.path.insert(0, 'src');"
        "[importlib.import_module('ci_gocache.action.' + n[:-3]) for n in sorted(os.listdir('src/ci_gocache/action')) if n.endswith('.py')];"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in ('ruamel', 'click', 'jsonschema'))))"
    )
    completed = subprocess.run([sys.executable, "-I", "-S", "-c", probe], cwd=REPO, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == ""
