"""The action's key phase as action.yml runs it (`python -I -S`, the package from its checkout):
what it imports, what it reads, and that `go env` runs while the tree is walked.

Each run records Python's audit events (os.scandir, open, subprocess.Popen) in the phase's own
process, with the real go command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
# What the key phase must not import: each costs it milliseconds of CPU in every job.
HEAVY_MODULES = ("pathlib", "typing", "dataclasses", "inspect", "shutil", "tempfile", "platform", "ntpath", "urllib")
PROBE = """
import json, sys
events = []
def record(event, args):
    if event in ("os.scandir", "subprocess.Popen"):
        events.append([event, str(args[0])])
    elif event == "open" and isinstance(args[0], str):
        events.append([event, args[0]])
sys.addaudithook(record)
sys.path[:] = [p for p in sys.path if p not in ("", ".")]
sys.path.insert(0, sys.argv[1])
from ci_gocache.action.runtime import main
status = main(["keys"])
loaded = sorted(name for name in sys.modules if name.split(".")[0] in HEAVY)
print("PROBE " + json.dumps({"status": status, "events": events, "loaded": loaded}))
""".replace("HEAVY", repr(HEAVY_MODULES))


def _monorepo(root: Path, modules: int = 4) -> Path:
    for index in range(modules):
        module = root / "services" / f"svc{index}"
        (module / "internal").mkdir(parents=True)
        (module / "go.mod").write_text(f"module example.com/svc{index}\n\ngo 1.22\n")
        (module / "go.sum").write_text(f"example.com/dep v1.0.{index} h1:abc=\n")
        (module / "internal" / "x.go").write_text("package internal\n")
    return root


def _key_phase(tmp_path: Path, workspace: Path, **env: str) -> dict:
    temp = tmp_path / "runner-temp"
    temp.mkdir(exist_ok=True)
    environment = {
        **{name: value for name, value in os.environ.items() if not name.startswith(("GITHUB_", "RUNNER_", "CI_GOCACHE_"))},
        "GITHUB_WORKSPACE": str(workspace),
        "RUNNER_TEMP": str(temp),
        "RUNNER_OS": "Linux",
        "RUNNER_ARCH": "X64",
        "GITHUB_JOB": "build",
        "GOCACHE": str(tmp_path / "go-build"),
        "GOMODCACHE": str(tmp_path / "go-mod"),
        "GOFLAGS": "-mod=mod",
        **env,
    }
    completed = subprocess.run(
        [sys.executable, "-I", "-S", "-c", PROBE, str(SRC)], cwd=workspace, env=environment, capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    line = next(line for line in completed.stdout.splitlines() if line.startswith("PROBE "))
    result = json.loads(line.removeprefix("PROBE "))
    result["log"] = completed.stdout
    assert result["status"] == 0, completed.stdout
    return result


@pytest.mark.parametrize("modules", ["**/go.sum", "", "services/svc1"])
def test_the_key_phase_imports_no_pathlib_typing_dataclasses_or_shutil(tmp_path, modules):
    workspace = _monorepo(tmp_path / "workspace")
    result = _key_phase(tmp_path, workspace, CI_GOCACHE_MODULES=modules, GOTOOLCHAIN="auto")
    assert result["loaded"] == []
    assert "go.sum files" in result["log"]


def test_go_env_starts_before_the_walk_and_runs_in_the_workspace(tmp_path):
    workspace = _monorepo(tmp_path / "workspace")
    result = _key_phase(tmp_path, workspace, CI_GOCACHE_MODULES="**/go.sum", GOTOOLCHAIN="local")
    kinds = [event for event, _ in result["events"]]
    assert "subprocess.Popen" in kinds and "os.scandir" in kinds
    assert kinds.index("subprocess.Popen") < kinds.index("os.scandir")
    assert kinds.count("subprocess.Popen") == 1  # one go command in the whole phase


def test_go_mod_files_are_read_only_when_gotoolchain_can_switch(tmp_path):
    workspace = _monorepo(tmp_path / "workspace")
    go_mods = {str(workspace / "services" / f"svc{index}" / "go.mod") for index in range(4)}
    local = _key_phase(tmp_path, workspace, CI_GOCACHE_MODULES="**/go.sum", GOTOOLCHAIN="local")
    assert not go_mods & {path for event, path in local["events"] if event == "open"}
    auto = _key_phase(tmp_path, workspace, CI_GOCACHE_MODULES="**/go.sum", GOTOOLCHAIN="auto")
    assert go_mods <= {path for event, path in auto["events"] if event == "open"}
    keys_of = [[line for line in result["log"].splitlines() if ": key " in line] for result in (local, auto)]
    assert keys_of[0] == keys_of[1] and len(keys_of[0]) == 2


def test_a_newer_go_line_in_a_nested_module_names_the_key_without_a_root_module(tmp_path):
    """go env runs in the workspace, not in the first module: GOTOOLCHAIN=local makes that the same."""
    workspace = _monorepo(tmp_path / "workspace")
    (workspace / "services" / "svc0" / "go.mod").write_text("module example.com/svc0\n\ngo 1.22\n\ntoolchain go1.99.1\n")
    result = _key_phase(tmp_path, workspace, CI_GOCACHE_MODULES="", GOTOOLCHAIN="auto")
    assert "-gobuild-go1.99.1-build." in result["log"]
    assert not (tmp_path / "go-mod").exists() or not any((tmp_path / "go-mod").iterdir())
