"""Property tests: generated workflows in many styles, trigger shapes and set-up forms (local
composite actions included). The patch changes nothing outside its insertions (and the setup-go
`cache:` value), a second run changes nothing, the caches come before the Go step, and save
steps are written exactly when the triggers let a push to the default branch run the job."""

from __future__ import annotations

import difflib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# (`on:` lines, can a push to the default branch run it?)
TRIGGER_SHAPES = [
    (["push:", "  branches: [main]", "pull_request:"], True),
    (["push:", "  branches: [main]", "  tags: ['v*']", "pull_request:"], True),
    (["push:", "  branches: [main, 'release-*']", "pull_request:"], True),
    (["push:", "  branches:", "    - main", "    - 'release/**'", "  tags:", "    - 'v*'"], True),
    (["schedule:", "  - cron: '17 3 * * *'", "push:", "  branches: [main]"], True),
    (["push:", "  tags: ['v*']"], False),
    (["push:", "  branches: ['release-*']", "release:", "  types: [published]"], False),
    (["schedule:", "  - cron: '17 3 * * *'", "workflow_dispatch:"], False),
    (["pull_request_target:", "  types: [labeled]"], False),
]
COMPOSITE_ACTION = """name: setup
description: Go for this repository
runs:
  using: composite
  steps:
    - uses: actions/setup-go@v5
      with:
        go-version-file: go.mod{cache}
"""

from ci_gocache.patching import Candidate, RepoCache, patch_file
from ci_gocache.targets import github
from ci_gocache.targets.base import PatchOptions


@st.composite
def workflows(draw: st.DrawFn) -> str:
    return draw(generated()).text


class Generated:
    def __init__(self, text: str, saves: bool, composite: str | None) -> None:
        self.text = text
        self.saves = saves
        self.composite = composite  # None, or the `cache:` line of the local action's setup-go


@st.composite
def generated(draw: st.DrawFn) -> Generated:
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
    setup_form = draw(st.sampled_from(["none", "no-with", "with", "with-cache", "flow", "composite"]))
    composite = None
    if setup_form == "composite":
        composite = draw(st.sampled_from(["", "\n        cache: false", "\n        cache: true"]))
        steps.append([f"{step_indent}- uses: ./.github/actions/setup"])
    elif setup_form == "no-with":
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
    on_lines, saves = draw(st.sampled_from(TRIGGER_SHAPES))
    lines = [
        "# generated workflow",
        f"name: {q('ci')}",
        "on:",
        *(pad + line.replace("  ", pad) for line in on_lines),
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
    return Generated(text, saves, composite)


def _patch(root: Path, text: str, composite: str | None = None) -> tuple[str, str]:
    workflow = root / ".github" / "workflows" / "ci.yml"
    workflow.parent.mkdir(parents=True, exist_ok=True)
    if composite is not None:
        action = root / ".github" / "actions" / "setup" / "action.yml"
        action.parent.mkdir(parents=True, exist_ok=True)
        action.write_text(COMPOSITE_ACTION.format(cache=composite))
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


def _normal(text: str) -> str:
    return text.lstrip("\ufeff").replace("\r\n", "\n")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=generated())
def test_saves_follow_the_triggers_and_caches_precede_go(tmp_path_factory, case: Generated) -> None:
    root = tmp_path_factory.mktemp("repo")
    before, after = (_normal(text) for text in _patch(root, case.text, case.composite))
    if case.composite is not None and "cache: false" not in case.composite:
        # setup-go's own cache inside the local action: reported, never doubled.
        assert after == before
        return
    assert "go-cache-dirs" in after
    go_step = next(line for line in after.splitlines() if "go test" in line or "go build" in line or "go vet" in line)
    assert after.index("name: Locate Go caches") < after.index(go_step)
    assert ("name: Save Go build cache" in after) == case.saves, "save steps do not follow the triggers"
    assert _normal(_patch(root, after)[1]) == after
