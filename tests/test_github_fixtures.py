"""GitHub workflow golden fixtures (tests/fixtures/github/, walked by test_golden.py), checked
with the real tools: every patched workflow passes check-jsonschema's github-workflows schema,
has no actionlint (with shellcheck) or zizmor finding the original did not have, and never a
cache-poisoning finding."""

from __future__ import annotations

import subprocess

import pytest

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
