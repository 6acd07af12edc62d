"""Property tests: generated workflows in many styles. The patch changes nothing outside its
insertions (and the setup-go `cache:` value), and a second run changes nothing."""

from __future__ import annotations

import difflib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ci_gocache.patching import Candidate, RepoCache, patch_file
from ci_gocache.targets import github
from ci_gocache.targets.base import PatchOptions


@st.composite
def workflows(draw: st.DrawFn) -> str:
    unit = draw(st.sampled_from([2, 4]))
    flush_dashes = draw(st.booleans())
    blank_between = draw(st.booleans())
    quote = draw(st.sampled_from(["", "'", '"']))
    pad = " " * unit

    def q(value: str) -> str:
        return f"{quote}{value}{quote}"

    step_indent = pad * 2 if flush_dashes else pad * 3
    inner = step_indent + "  "
    steps: list[list[str]] = []
    steps.append([f"{step_indent}- uses: actions/checkout@v4", f"{inner}with:", f"{inner}{pad}persist-credentials: false"])
    setup_form = draw(st.sampled_from(["none", "no-with", "with", "with-cache", "flow"]))
    if setup_form == "no-with":
        steps.append([f"{step_indent}- uses: actions/setup-go@v5"])
    elif setup_form == "with":
        steps.append([f"{step_indent}- uses: actions/setup-go@v5", f"{inner}with:", f"{inner}{pad}go-version: {q('1.23')}"])
    elif setup_form == "with-cache":
        cache_value = draw(st.sampled_from(["true", "'true'", "false"]))
        steps.append(
            [f"{step_indent}- uses: actions/setup-go@v5", f"{inner}with:", f"{inner}{pad}cache: {cache_value}",
             f"{inner}{pad}go-version: stable"]
        )
    elif setup_form == "flow":
        steps.append([f"{step_indent}- uses: actions/setup-go@v5", f"{inner}with: {{ go-version: {q('1.22')} }}"])
    for index in range(draw(st.integers(0, 2))):
        steps.append([f"{step_indent}- name: {q(f'prepare {index}')}", f"{inner}run: echo prepare"])
    go_command = draw(st.sampled_from(["go test ./...", "go build ./...", "go vet ./..."]))
    if draw(st.booleans()):
        steps.append([f"{step_indent}- name: {q('test')}", f"{inner}run: |", f"{inner}{pad}{go_command}", f"{inner}{pad}echo done"])
    else:
        steps.append([f"{step_indent}- run: {go_command}"])
    for index in range(draw(st.integers(0, 2))):
        steps.append([f"{step_indent}- run: echo after {index}"])
    lines = [
        "# generated workflow",
        f"name: {q('ci')}",
        "on:",
        f"{pad}push:",
        f"{pad}{pad}branches: [main]",
        f"{pad}pull_request:",
        "permissions:",
        f"{pad}contents: read",
        "jobs:",
        f"{pad}test:",
        f"{pad}{pad}runs-on: ubuntu-latest",
        f"{pad}{pad}steps:",
    ]
    for index, step in enumerate(steps):
        if index and blank_between:
            lines.append("")
        if draw(st.booleans()):
            lines.append(f"{step_indent}# step {index}")
        lines.extend(step)
    if draw(st.booleans()):
        lines += ["", f"{pad}other:", f"{pad}{pad}runs-on: ubuntu-latest", f"{pad}{pad}steps:", f"{step_indent}- run: echo other"]
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(lines)
    if draw(st.booleans()):
        text += newline
    if draw(st.booleans()):
        text = "\ufeff" + text
    return text


def _patch(root: Path, text: str) -> tuple[str, str]:
    workflow = root / ".github" / "workflows" / "ci.yml"
    workflow.parent.mkdir(parents=True, exist_ok=True)
    workflow.write_bytes(text.encode("utf-8"))
    (root / "go.mod").write_text("module example.com/x\n\ngo 1.22\n")
    (root / "go.sum").write_text("")
    result = patch_file(Candidate(workflow, str(workflow), github), PatchOptions(), RepoCache(), write=True)
    assert result.error is None, str(result.error)
    return text, workflow.read_bytes().decode("utf-8")


def _is_cache_input_line(line: str) -> bool:
    return line.strip().startswith(("cache:", "with: {")) or line.strip() == "with:"


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=workflows())
def test_patch_only_inserts_and_is_idempotent(tmp_path_factory, text: str) -> None:
    root = tmp_path_factory.mktemp("repo")
    before, after = _patch(root, text)
    assert after.startswith("\ufeff") == before.startswith("\ufeff")
    assert after.endswith("\n") == before.endswith("\n")
    if "\r\n" in before:
        assert after.count("\n") == after.count("\r\n"), "a line lost its CRLF"
    old_lines = before.splitlines(keepends=True)
    new_lines = after.splitlines(keepends=True)
    for tag, i1, i2, _, _ in difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False).get_opcodes():
        if tag in ("replace", "delete"):
            removed = old_lines[i1:i2]
            assert all(_is_cache_input_line(line) or line.rstrip("\r\n") == old_lines[-1].rstrip("\r\n") for line in removed), (
                f"changed outside the insertion: {removed!r}"
            )
    assert "go-cache-dirs" in after
    again = _patch(root, after)[1]
    assert again == after
