"""How `patch` reads a workflow: the input and the patched result are each parsed once (the
result's parse serves verification, the second-run check and the cache-flow check), and
Python's cycle collector is paused while a file is patched, then back on."""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ci_gocache import sourcefile
from ci_gocache.cli import cli
from support.large_workflows import go_jobs_workflow, repo_with

ACTION_ARGS = ["--style", "action", "--action-ref", "0" * 40, "--action-version", "v1.0.0"]


def _patch_in_process(repo: Path, args: list[str]) -> Any:
    previous = os.getcwd()
    os.chdir(repo)
    try:
        return CliRunner().invoke(cli, ["patch", *args], catch_exceptions=False)
    finally:
        os.chdir(previous)


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """Every text compose_text parses, with whether the cycle collector was on at the time."""
    seen: list[tuple[str, bool]] = []
    real = sourcefile.compose_text

    def recording(text: str, fast: bool | None = None) -> Any:
        seen.append((text, gc.isenabled()))
        return real(text, fast)

    monkeypatch.setattr(sourcefile, "compose_text", recording)
    return seen


@pytest.mark.parametrize("args", [[], ACTION_ARGS], ids=["steps", "action"])
def test_input_and_result_are_each_parsed_once_per_patch(tmp_path: Path, parses: list[tuple[str, bool]], args: list[str]) -> None:
    workflow = go_jobs_workflow(20)
    repo = repo_with(tmp_path, workflow)
    result = _patch_in_process(repo, args)
    assert result.exit_code == 0, result.output
    written = (repo / ".github" / "workflows" / "ci.yml").read_text()
    assert written != workflow
    texts = [text for text, _ in parses]
    assert texts.count(workflow) == 1
    assert texts.count(written) == 1
    assert len(texts) == 2


def test_refused_oversized_patch_parses_only_the_input(tmp_path: Path, parses: list[tuple[str, bool]]) -> None:
    workflow = go_jobs_workflow(3000)
    repo = repo_with(tmp_path, workflow)
    result = _patch_in_process(repo, [])
    assert result.exit_code == 2
    assert "over the 2097152-byte limit" in result.output
    assert [text for text, _ in parses] == [workflow]
    assert (repo / ".github" / "workflows" / "ci.yml").read_text() == workflow


def test_cycle_collector_is_paused_while_patching_and_on_again_after(tmp_path: Path, parses: list[tuple[str, bool]]) -> None:
    repo = repo_with(tmp_path, go_jobs_workflow(3))
    assert gc.isenabled()
    result = _patch_in_process(repo, ACTION_ARGS)
    assert result.exit_code == 0, result.output
    assert parses and not any(enabled for _, enabled in parses)
    assert gc.isenabled()


def test_cycle_collector_stays_off_after_patching_when_it_was_off(tmp_path: Path) -> None:
    repo = repo_with(tmp_path, go_jobs_workflow(3))
    gc.disable()
    try:
        result = _patch_in_process(repo, [])
        assert result.exit_code == 0, result.output
        assert not gc.isenabled()
    finally:
        gc.enable()


def _garbage_after_patching(repo: Path) -> list[Any]:
    """The objects left in cycles (found by the collector, kept for looking at) by one patch run."""
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        result = _patch_in_process(repo, ACTION_ARGS)
        gc.collect()
        return list(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
        assert result.exit_code == 0, result.output


def test_a_patched_files_data_is_released_without_the_cycle_collector(tmp_path: Path) -> None:
    """What patching builds (nodes, plain values, facts) is freed by reference counting, so the
    collector's pause costs no memory: none of it is left in a cycle for the collector to find.
    (A recursive helper that kept a reference to itself once held every plain value.) The
    libraries leave a few objects per run, however large the file."""
    _patch_in_process(repo_with(tmp_path / "warm", go_jobs_workflow(2)), ACTION_ARGS)  # imports done
    small = _garbage_after_patching(repo_with(tmp_path / "small", go_jobs_workflow(40)))
    large = _garbage_after_patching(repo_with(tmp_path / "large", go_jobs_workflow(400)))
    ours = [item for item in large if str(getattr(item, "__module__", "") or "").startswith("ci_gocache")]
    assert ours == []
    assert len(large) - len(small) < 40, f"{len(small)} objects in cycles after 40 jobs, {len(large)} after 400"
