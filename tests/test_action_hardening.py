"""The action on other people's code and shared runners (issues 17 and 13), run as the runner runs
its steps (support/composite.py) with the real `go`.

Each test names a guarantee: no code from the workspace runs; trimming touches only entries this
job's restore brought; a newer Go in go.mod does not make the key phase download a toolchain;
printed names cannot inject workflow commands; hits, saves and "unchanged" are reported as they
really are.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ci_gocache.action import goenv, summary, trim
from ci_gocache.action.state import new_state_path
from ci_gocache.reporting.records import parse_records
from support.cachestore import CacheStore
from support.composite import Job, main_action, save_action

FIXTURE = Path(__file__).parent / "fixtures" / "action" / "module"
SRC = Path(__file__).resolve().parents[1] / "src"
OLD = 1_600_000_000.0  # an mtime from 2020: foreign entries of a persistent cache


def _job(tmp_path: Path, workspace: Path | None = None, **options) -> Job:
    if workspace is None:
        workspace = tmp_path / "workspace"
        if not workspace.exists():
            shutil.copytree(FIXTURE, workspace)
    env = {"GOMODCACHE": str(tmp_path / "gomod"), "GOCACHE": str(tmp_path / "gobuild"), "GOTOOLCHAIN": "local"}
    env.update(options.pop("env", {}))
    store = options.pop("store", None) or CacheStore(tmp_path / "store")
    return Job(workspace, tmp_path / "temp", store, env=env, **options)


def _fake_entry(cache: Path, name: str, content: bytes, mtime: float | None = None) -> Path:
    path = cache / name[:2] / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def _action_entry(cache: Path, action_id: str, output_id: str, mtime: float | None = None) -> Path:
    """An `-a` entry in Go's format, naming the output `<output_id>-d`."""
    line = f"v1 {action_id} {output_id} {6:20d} {1700000000000000000:20d}\n".encode()
    return _fake_entry(cache, f"{action_id}-a", line, mtime)


def _seed_build_cache(job: Job, key: str, entries: dict[str, bytes]) -> None:
    """Put a build cache holding `entries` into the job's store under `key`, then clear GOCACHE."""
    cache = Path(job.env["GOCACHE"])
    staging_existing = cache.exists()
    assert not staging_existing, "seed before the job touches GOCACHE"
    for name, content in entries.items():
        _fake_entry(cache, name, content)
    job.store.save({"path": str(cache), "key": key})
    shutil.rmtree(cache)


def _records(log: str) -> dict[str, dict]:
    return {record["cache"]: record for record in parse_records(log)}


# ---------------------------------------------------------------- no workspace code runs


PLANTED = "open({marker!r}, 'a').write(__name__ + '\\n')\n"


def test_files_in_the_workspace_are_never_imported(tmp_path):
    """uuid.py, json.py, subprocess.py and a ci_gocache/ package in the repository root would run
    with the job's token if the runtime imported from the current directory."""
    job = _job(tmp_path)
    marker = tmp_path / "imported.txt"
    for name in ("uuid.py", "json.py", "subprocess.py", "tempfile.py", "re.py", "stat.py"):
        (job.workspace / name).write_text(PLANTED.format(marker=str(marker)))
    package = job.workspace / "ci_gocache"
    (package / "action").mkdir(parents=True)
    (package / "__init__.py").write_text(PLANTED.format(marker=str(marker)))
    (package / "keys.py").write_text(PLANTED.format(marker=str(marker)))
    (package / "action" / "__init__.py").write_text(PLANTED.format(marker=str(marker)))
    (package / "action" / "runtime.py").write_text(PLANTED.format(marker=str(marker)))
    # Variables Python would otherwise honour: isolated mode ignores them too.
    job.env.update(PYTHONPATH=str(job.workspace), PYTHONSTARTUP=str(job.workspace / "json.py"))
    restore = job.use_action(main_action())
    save = job.use_action(save_action())
    assert all(step.outcome == "success" for step in restore.steps + save.steps if step.outcome != "skipped"), restore.log + save.log
    assert {record["cache"] for record in parse_records(save.log)} == {"mod", "build"}
    assert not marker.exists(), f"workspace code ran: {marker.read_text()}"


# ---------------------------------------------------------------- trimming touches only what the restore brought


def _persistent_cache(cache: Path, count: int) -> dict[Path, float]:
    """A self-hosted runner's GOCACHE: `count` entries of other jobs, old and unused by this one."""
    entries = {}
    for index in range(count):
        path = _fake_entry(cache, f"{index:02x}{'f' * 60}{index:02x}-d", b"foreign", OLD)
        entries[path] = OLD
    return entries


def _seeded_partial_job(tmp_path: Path, **options) -> tuple[Job, dict[str, bytes]]:
    job = _job(tmp_path, **options)
    keys_only = job.use_action(main_action(), stop_after="keys")
    restore_prefix = keys_only.outputs["build-restore-keys"].splitlines()[-1]
    restored = {f"{index:02x}{'e' * 60}{index:02x}-d": b"restored" for index in range(8)}
    _seed_build_cache(job, restore_prefix + "seed", restored)
    return job, restored


def test_a_persistent_build_cache_is_neither_backdated_nor_trimmed(tmp_path):
    job, restored = _seeded_partial_job(tmp_path)
    foreign = _persistent_cache(Path(job.env["GOCACHE"]), 200)
    restore = job.use_action(main_action())
    assert restore.outputs["build-hit"] == "partial", restore.log
    save = job.use_action(save_action())
    build = _records(save.log)["build"]
    assert build["trimmed_entries"] == 0
    assert "GOCACHE held 200 entries before the restore" in build["trim_skipped"]
    assert all(path.exists() and path.stat().st_mtime == mtime for path, mtime in foreign.items())
    assert all((Path(job.env["GOCACHE"]) / name[:2] / name).exists() for name in restored)


def test_trim_persistent_cache_deletes_only_unused_entries_the_restore_brought(tmp_path):
    job, restored = _seeded_partial_job(tmp_path)
    cache = Path(job.env["GOCACHE"])
    foreign = _persistent_cache(cache, 200)
    restore = job.use_action(main_action(), {"trim-persistent-cache": "true"})
    assert restore.outputs["build-hit"] == "partial", restore.log
    used = sorted(restored)[0]
    (cache / used[:2] / used).read_bytes()
    os.utime(cache / used[:2] / used)  # what Go does when it uses a back-dated entry
    save = job.use_action(save_action())
    build = _records(save.log)["build"]
    assert build["trimmed_entries"] == len(restored) - 1
    assert (cache / used[:2] / used).exists()
    assert all(path.exists() and path.stat().st_mtime == mtime for path, mtime in foreign.items())


def test_entries_from_before_the_restore_are_kept_on_a_fresh_runner(tmp_path):
    """setup-go's own `go env` writes a few entries before the restore: not this job's to trim."""
    job, restored = _seeded_partial_job(tmp_path)
    cache = Path(job.env["GOCACHE"])
    early = [_fake_entry(cache, f"{index:02x}{'a' * 60}{index:02x}-d", b"setup-go") for index in range(10)]
    job.use_action(main_action())
    save = job.use_action(save_action())
    build = _records(save.log)["build"]
    assert build["trimmed_entries"] == len(restored)
    assert all(path.exists() for path in early)


def test_trimming_never_follows_a_symlinked_subdirectory_or_trim_txt(tmp_path):
    job, restored = _seeded_partial_job(tmp_path)
    cache = Path(job.env["GOCACHE"])
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / ("7f" + "c" * 62 + "-d")
    victim.write_bytes(b"not the cache's")
    os.utime(victim, (OLD, OLD))
    cache.mkdir(parents=True)
    (cache / "7f").symlink_to(outside, target_is_directory=True)
    precious = outside / "precious.txt"
    precious.write_text("keep me")
    (cache / trim.TRIM_FILE).symlink_to(precious)
    job.use_action(main_action())
    save = job.use_action(save_action())
    assert _records(save.log)["build"]["trimmed_entries"] == len(restored)
    assert victim.exists() and victim.stat().st_mtime == OLD
    assert precious.read_text() == "keep me"
    assert not (cache / trim.TRIM_FILE).is_symlink()


def test_runs_that_never_save_do_not_backdate_or_trim(tmp_path):
    job, restored = _seeded_partial_job(tmp_path, event_name="pull_request", ref="refs/pull/7/merge")
    restore = job.use_action(main_action())
    assert restore.outputs["build-hit"] == "partial", restore.log
    cache = Path(job.env["GOCACHE"])
    mtimes = {name: (cache / name[:2] / name).stat().st_mtime for name in restored}
    save = job.use_action(save_action())
    build = _records(save.log)["build"]
    assert build["trimmed_entries"] == 0 and not build["saved"]
    assert "never saves" in build["trim_skipped"]
    assert {name: (cache / name[:2] / name).stat().st_mtime for name in restored} == mtimes


def test_trim_keeps_every_output_a_kept_entry_names(tmp_path):
    """Go does not refresh an output's mtime when a new entry writes identical content: the
    output stays back-dated while the entry that names it was used (issue 13, defect 2)."""
    cache = tmp_path / "gobuild"
    shared_output = "0a" + "1" * 62
    used_action = _action_entry(cache, "b0" + "2" * 62, shared_output)
    unused_action = _action_entry(cache, "c0" + "3" * 62, "0b" + "4" * 62)
    _fake_entry(cache, shared_output + "-d", b"shared test log")
    _fake_entry(cache, "0b" + "4" * 62 + "-d", b"unused output")
    stamp, _ = trim.backdate(str(cache))
    os.utime(used_action)  # the job used this entry; its output kept the back-dated mtime
    result = trim.trim_unused(str(cache), stamp)
    assert (cache / "0a" / (shared_output + "-d")).exists()
    assert used_action.exists() and not unused_action.exists()
    assert not (cache / "0b" / ("0b" + "4" * 62 + "-d")).exists()
    assert (result.dropped_entries, result.kept_outputs) == (2, 1)


def test_the_fuzz_corpus_is_kept_and_a_new_input_counts_as_a_change(tmp_path):
    job, restored = _seeded_partial_job(tmp_path)
    cache = Path(job.env["GOCACHE"])
    job.use_action(main_action())
    for name in restored:  # the job used every restored entry
        os.utime(cache / name[:2] / name)
    corpus = cache / "fuzz" / "example.com" / "m" / "FuzzParse"
    corpus.mkdir(parents=True)
    (corpus / "seed1").write_text("go test fuzz v1\n[]byte(\"x\")\n")
    save = job.use_action(save_action())
    build = _records(save.log)["build"]
    assert build["trimmed_entries"] == 0
    assert build["saved"], build["save_reason"]
    assert (corpus / "seed1").exists()


# ---------------------------------------------------------------- a go.mod asking for a newer Go


def test_a_newer_toolchain_in_go_mod_is_not_downloaded_before_the_restore_and_names_the_key(tmp_path):
    """GOTOOLCHAIN=auto (official releases' default) and `toolchain go1.27.4` with go1.26
    installed: the key phase must not fill GOMODCACHE with the toolchain, which would break the
    module restore, and the key names the Go the build will switch to."""
    installed = subprocess.run(["go", "env", "GOVERSION"], env={**os.environ, "GOTOOLCHAIN": "local"},
                               capture_output=True, text=True, check=True).stdout.strip()
    assert tuple(int(part) for part in installed.removeprefix("go").split(".")[:2]) < (1, 27), installed
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "go.mod").write_text("module example.com/m\n\ngo 1.26.0\n\ntoolchain go1.27.4\n")
    (workspace / "main.go").write_text("package main\n\nfunc main() {}\n")
    job = _job(tmp_path, workspace, env={"GOTOOLCHAIN": "auto"})
    result = job.use_action(main_action(), stop_after="keys")
    assert result.step("keys").outcome == "success", result.log
    assert not (tmp_path / "gomod").exists() or not any((tmp_path / "gomod").iterdir())
    assert result.outputs["go-version"] == "go1.27.4"
    assert "-gobuild-go1.27.4-" in result.outputs["build-key"]


def test_gotoolchain_comes_from_the_environment_then_go_env_files(tmp_path):
    user, goroot = tmp_path / "user.env", tmp_path / "goroot"
    goroot.mkdir()
    (goroot / "go.env").write_text("GOPROXY=https://proxy.golang.org,direct\nGOTOOLCHAIN=local\n")
    user.write_text("GOTOOLCHAIN=go1.26.9+auto\n")
    assert goenv.configured_gotoolchain({"GOTOOLCHAIN": "auto"}, str(user), str(goroot)) == "auto"
    assert goenv.configured_gotoolchain({}, str(user), str(goroot)) == "go1.26.9+auto"
    assert goenv.configured_gotoolchain({}, str(tmp_path / "none"), str(goroot)) == "local"
    assert goenv.configured_gotoolchain({}, "", "") == "auto"


@pytest.mark.parametrize(
    "local, gotoolchain, mods, expected",
    [
        ("go1.26.8", "", ["module m\ngo 1.26.0\ntoolchain go1.27.4\n"], "go1.27.4"),
        ("go1.26.8", "auto", ["module m\ngo 1.27\n"], "go1.27.0"),
        ("go1.26.8", "local", ["module m\ngo 1.27.1\n"], "go1.26.8"),
        ("go1.26.8", "go1.25.3", ["module m\ngo 1.27.1\n"], "go1.25.3"),
        ("go1.26.8", "go1.26.9+auto", ["module m\ngo 1.22\n"], "go1.26.9"),
        ("go1.26.8", "", ["module m\ngo 1.26.2 // comment\n"], "go1.26.8"),
        ("go1.26.8", "", ["module m\ngo 1.27rc1\n", "module n\ngo 1.27.0\n"], "go1.27.0"),
    ],
)
def test_the_key_names_the_go_the_build_switches_to(local, gotoolchain, mods, expected):
    assert goenv.required_go_version(local, gotoolchain, mods) == expected


# ---------------------------------------------------------------- printed values, state, output encoding


def test_a_file_name_with_a_line_break_cannot_inject_a_workflow_command(tmp_path):
    """No go.mod at the root: the default modules input keys every go.sum, whatever its name."""
    workspace = tmp_path / "workspace"
    for name in ("ok", "x\n::error title=pwned::injected"):
        module = workspace / name
        module.mkdir(parents=True)
        (module / "go.mod").write_text("module example.com/x\n\ngo 1.22\n")
        (module / "go.sum").write_text("")
    job = _job(tmp_path, workspace)
    result = job.use_action(main_action(), stop_after="keys")
    assert result.step("keys").outcome == "success", result.log
    assert "go.sum files (2)" in result.log and "::error title=pwned::injected/go.sum" in result.log
    assert not any(line.startswith("::error") for line in result.log.splitlines()), result.log


def test_a_fifo_and_a_link_to_dev_zero_as_go_sum_are_skipped_with_a_notice(tmp_path):
    job = _job(tmp_path)
    for name in ("pipe", "zero"):
        (job.workspace / name).mkdir()
        (job.workspace / name / "go.mod").write_text(f"module example.com/{name}\n\ngo 1.22\n")
    os.mkfifo(job.workspace / "pipe" / "go.sum")
    (job.workspace / "zero" / "go.sum").symlink_to("/dev/zero")
    result = job.use_action(main_action(), {"modules": "**/go.sum"}, stop_after="keys")
    assert result.step("keys").outcome == "success", result.log
    notices = [line for line in result.log.splitlines() if line.startswith("::notice")]
    assert any("pipe/go.sum is not a regular file" in line for line in notices), result.log
    assert any("zero/go.sum is not a regular file" in line for line in notices), result.log
    assert "go.sum files (1): go.sum" in result.log


def test_each_use_of_the_action_gets_its_own_state_and_its_own_save(tmp_path):
    job = _job(tmp_path)
    first = job.use_action(main_action(), {"key-prefix": "first"})
    first_state = job.env["CI_GOCACHE_STATE"]
    second = job.use_action(main_action(), {"key-prefix": "second", "build-cache": "false"})
    assert job.env["CI_GOCACHE_STATE"] != first_state
    assert "used more than once in this job" in second.log
    for state in (first_state, job.env["CI_GOCACHE_STATE"]):
        assert Path(state).parent == tmp_path / "temp" and Path(state).name != "ci-gocache-state.json"
    saves = [job.use_action(save_action()), job.use_action(save_action())]
    module_keys = [_records(save.log)["mod"]["key"] for save in saves]
    assert [key.split("-")[0] for key in module_keys] == ["second", "first"]
    assert first.outputs["module-key"] == module_keys[1]


def test_without_runner_temp_the_state_file_has_an_unpredictable_name(tmp_path):
    env = {"TMPDIR": str(tmp_path)}
    paths = {new_state_path(env) for _ in range(2)}
    assert len(paths) == 2
    assert all(Path(path).parent == tmp_path and "ci-gocache-state.json" not in path for path in paths)
    assert all(Path(path).stat().st_mode & 0o077 == 0 for path in paths)


def test_non_ascii_names_print_as_utf8_under_a_cp1252_console(tmp_path):
    """Windows runners' Python writes cp1252 to a pipe; the runtime switches to UTF-8."""
    workspace = tmp_path / "workspace"
    shutil.copytree(FIXTURE, workspace)
    module = workspace / "模块"
    module.mkdir()
    (module / "go.mod").write_text("module example.com/cjk\n\ngo 1.22\n")
    (module / "go.sum").write_text("")
    env = {**os.environ, "PYTHONIOENCODING": "cp1252", "GITHUB_WORKSPACE": str(workspace), "RUNNER_TEMP": str(tmp_path),
           "CI_GOCACHE_MODULES": "**/go.sum", "GOTOOLCHAIN": "local", "GOCACHE": str(tmp_path / "gobuild"),
           "GOMODCACHE": str(tmp_path / "gomod")}
    env.pop("CI_GOCACHE_STATE", None)
    completed = subprocess.run(
        [sys.executable, "-S", "-c", f"import sys; sys.path.insert(0, {str(SRC)!r}); from ci_gocache.action.runtime import main; sys.exit(main(['keys']))"],
        cwd=workspace, env=env, capture_output=True, check=False,
    )
    assert completed.returncode == 0, completed.stderr.decode("utf-8", "replace")
    assert "模块/go.sum".encode() in completed.stdout


def test_five_hundred_go_sum_files_print_as_a_count_and_a_short_list(tmp_path):
    assert summary.summarize_files([f"m{index:03d}/go.sum" for index in range(500)]) == (
        "m000/go.sum, m001/go.sum, m002/go.sum, m003/go.sum, m004/go.sum and 495 more"
    )


# ---------------------------------------------------------------- issue 13: hits, saves and "unchanged" as they are


def test_an_exact_key_returned_in_another_case_is_an_exact_hit(tmp_path):
    job = _job(tmp_path)
    key = job.use_action(main_action(), stop_after="keys").outputs["module-key"]
    modules = tmp_path / "gomod"
    (modules / "cache" / "download").mkdir(parents=True)
    (modules / "cache" / "download" / "marker").write_text("restored")
    job.store.save({"path": str(modules), "key": key.upper()})
    shutil.rmtree(modules)
    restore = job.use_action(main_action())
    assert restore.outputs["module-hit"] == "exact"
    assert restore.outputs["cache-hit"] == "true"
    save = job.use_action(save_action())
    assert save.outputs["module-saved"] == "false"
    assert _records(save.log)["mod"]["save_reason"].startswith("exact hit")


def test_a_save_the_cache_service_refuses_is_reported_as_not_saved(tmp_path):
    """Two matrix jobs miss on the same new key: the second one's save is refused with only a
    warning, and actions/cache/save still succeeds."""
    job = _job(tmp_path)
    restore = job.use_action(main_action())
    build_dir = Path(job.env["GOCACHE"])
    _fake_entry(build_dir, "ab" * 32 + "-d", b"built")
    _fake_entry(Path(job.env["GOMODCACHE"]), "cache-marker", b"module")
    job.store.reserve(restore.outputs["build-key"], [str(build_dir)])
    save = job.use_action(save_action())
    assert save.step("save-build").outcome == "success"
    assert "Unable to reserve cache" in save.log
    records = _records(save.log)
    assert save.outputs["build-saved"] == "false"
    assert not records["build"]["saved"]
    assert "refused or failed" in records["build"]["save_reason"]
    assert save.outputs["module-saved"] == "true" and records["mod"]["saved"]


def _stdlib_module(workspace: Path) -> None:
    workspace.mkdir(parents=True)
    (workspace / "go.mod").write_text("module example.com/hello\n\ngo 1.22\n")
    (workspace / "main.go").write_text('package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello") }\n')


def _ci_run(home: Path, store: CacheStore, run_id: str) -> dict[str, dict]:
    """A fresh runner: a step before our action (as setup-go's `go env`) writes a few build-cache
    entries; the checkout gives the files new times, as actions/checkout does."""
    for name in ("gobuild", "gomod", "temp", "workspace", "setup"):
        if (home / name).exists():
            subprocess.run(["chmod", "-R", "u+w", str(home / name)], check=True)
            shutil.rmtree(home / name)
    _stdlib_module(home / "workspace")
    job = _job(home, home / "workspace", store=store, run_id=run_id, env={"GOFLAGS": "-trimpath"})
    setup = home / "setup"
    setup.mkdir()
    (setup / "go.mod").write_text("module example.com/setup\n\ngo 1.22\n")
    (setup / "setup.go").write_text("package setup\n\nconst Version = 1\n")
    assert job.run_shell("go build .", cwd=setup).outcome == "success"
    assert 0 < len(trim.iter_entries(job.env["GOCACHE"])) <= 64  # a few, as setup-go's `go env` writes
    restore = job.use_action(main_action())
    assert all(step.outcome != "failure" for step in restore.steps), restore.log
    built = job.run_shell("go build -o /dev/null .")
    assert built.outcome == "success", built.stderr
    save = job.use_action(save_action())
    assert all(step.outcome != "failure" for step in save.steps), save.log
    return _records(save.log)


def test_a_rerun_with_no_change_does_not_save_the_build_cache_again(tmp_path):
    """Entries written before the restore (setup-go's, here a small build) and the module-index
    entry Go writes for every fresh checkout are not changes, so "unchanged, don't save" is
    reached (issue 13, defect 4)."""
    store = CacheStore(tmp_path / "store")
    cold = _ci_run(tmp_path / "runner", store, "1")
    assert cold["build"]["hit"] == "miss" and cold["build"]["saved"]
    # The first warm run drops what only a cold build writes (intermediate files) and saves.
    first_warm = _ci_run(tmp_path / "runner", store, "2")
    assert first_warm["build"]["trimmed_entries"] > 0 and first_warm["build"]["saved"]
    rerun = _ci_run(tmp_path / "runner", store, "3")
    assert rerun["build"]["hit"] == "partial"
    # Go may write a new module-index action entry for the fresh checkout (keyed by the files'
    # times, written only when they are a few seconds old) and so leave the previous one unused:
    # trimmed, but naming the same output, so not a change.
    assert not rerun["build"]["saved"], rerun["build"]
    assert rerun["build"]["save_reason"].startswith("unchanged")
