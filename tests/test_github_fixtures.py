"""GitHub workflow golden fixtures (tests/fixtures/github/, walked by test_golden.py), checked
with the real tools: every patched workflow passes check-jsonschema's github-workflows schema,
has no actionlint (with shellcheck) or zizmor finding the original did not have, and never a
cache-poisoning finding."""

from __future__ import annotations

import subprocess

import pytest

from ci_gocache.repo import inspect_repo
from ci_gocache.sourcefile import read_source
from ci_gocache.targets import github
from ci_gocache.targets.github import triggers
from ci_gocache.targets.github.workflow import OUR_STEP_IDS
from support.golden import cases, patch_case
from support.tools import actionlint_findings, tool, zizmor_findings


@pytest.mark.parametrize("name", cases("github"))
def test_patched_workflows_pass_schema_actionlint_and_zizmor(name, tmp_path):
    patched = patch_case("github", name, tmp_path)
    original_dir = tmp_path / "original"
    original_dir.mkdir()
    for relative in patched.changed():
        patched_file = patched.repo / relative
        schema = subprocess.run(
            [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(patched_file)],
            capture_output=True,
            text=True,
        )
        assert schema.returncode == 0, schema.stdout + schema.stderr
        original_file = original_dir / patched_file.name
        original_file.write_bytes(patched.before[relative])
        lint_before = actionlint_findings(original_file)
        lint_after = actionlint_findings(patched_file)
        assert lint_after - lint_before == {}, f"{name}/{relative}: new actionlint findings"
        found_before = zizmor_findings(original_file)
        found_after = zizmor_findings(patched_file)
        assert found_after["cache-poisoning"] == 0, f"{name}: cache-poisoning finding"
        new = {ident: count for ident, count in found_after.items() if count > found_before[ident]}
        assert not new, f"{name}/{relative}: new zizmor findings {new}"


def test_actionlint_and_zizmor_checks_can_fail(tmp_path):
    """The checks above are real: a broken workflow gives findings."""
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: release\npermissions: {}\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/setup-go@v5\n      - run: echo ${{ github.event.release.body }} ${{ steps.nope.outputs.x }}\n"
    )
    assert actionlint_findings(broken)
    found = zizmor_findings(broken)
    assert found["cache-poisoning"] >= 1 and found["template-injection"] >= 1


def _workflows_after_patch(patched):
    repo = inspect_repo(patched.repo)
    return [github.inspect(read_source(patched.repo / relative, relative), repo) for relative in repo.workflow_files]


def _is_added_by_patch(step) -> bool:
    return step.step_id in OUR_STEP_IDS or "steps.go-cache-dirs." in str(step.inputs.get("path", ""))


@pytest.mark.parametrize("name", cases("github"))
def test_patched_jobs_restore_before_go_and_have_a_saver(name, tmp_path):
    """Cache flow over every golden fixture: in each patched job every restore comes before every
    step that runs Go after the checkout (no key before a checkout, so Go run before it cannot be
    helped), and a job that does not publish, in a workflow that runs on pushes to the default
    branch, restores only caches that some job saves on such a push."""
    patched = patch_case("github", name, tmp_path)
    workflows = _workflows_after_patch(patched)
    findings = github.flow(workflows)
    checked = 0
    for workflow in workflows:
        for job in workflow.jobs:
            added = [step for step in job.steps if _is_added_by_patch(step)]
            if not added or not job.steps:
                continue
            checked += 1
            restores = [flow for flow in findings if flow.restore.path == workflow.path and flow.restore.job == job.job_id]
            restore_lines = {flow.restore.step_line for flow in restores}
            restore_indices = [step.index for step in job.steps if step.line in restore_lines]
            assert restore_indices, f"{workflow.path}: job {job.job_id} has our steps but restores nothing"
            first_checkout = next(step.index for step in job.steps if step.checks_out)
            go_steps = [
                step.index for step in job.steps[first_checkout + 1 :] if step.needs_go and not _is_added_by_patch(step)
            ]
            if go_steps:
                assert max(restore_indices) < min(go_steps), f"{workflow.path}: job {job.job_id} restores after Go ran"
            assert not any(cache.kind == "setup-go" for cache in job.caches), f"{job.job_id}: setup-go still caches"
            if not job.publishing_reasons and triggers.push_reaches_default_branch(workflow.events):
                unsaved = [flow.message() for flow in restores if not flow.saved]
                assert not unsaved, f"{workflow.path}: {unsaved}"
    if patched.changed():
        assert checked, f"{name}: files changed but no patched job was found"


def test_cache_flow_check_finds_a_restore_nothing_saves(tmp_path):
    """The flow assertion above can fail: a restore-only job (tag workflow) is reported, with
    the same message in the text output of `patch`."""
    patched = patch_case("github", "release-tags", tmp_path)
    findings = github.flow(_workflows_after_patch(patched))
    assert findings and not any(flow.saved for flow in findings)
    assert "job 'goreleaser' restores a cache that nothing saves: Go build cache" in patched.stderr
