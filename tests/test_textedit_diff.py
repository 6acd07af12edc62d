"""The `--dry-run` diff is computed from the edits; GNU patch, applying it to the original, must
produce exactly what `apply_edits` makes, for any text and any non-overlapping edits."""

from __future__ import annotations

import subprocess
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ci_gocache.textedit import Edit, apply_edits, unified_diff_of_edits

LINE = st.text(alphabet="ab \t:-", max_size=6).map(lambda line: line)
ENDING = st.sampled_from(["\n", "\r\n"])


@st.composite
def text_and_edits(draw: st.DrawFn) -> tuple[str, list[Edit]]:
    lines = draw(st.lists(st.tuples(LINE, ENDING), max_size=12))
    text = "".join(line + ending for line, ending in lines)
    if draw(st.booleans()) and text:
        text = text.rstrip("\r\n")  # a last line without newline
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=8)))
    edits = []
    for start, end in zip(cuts[::2], cuts[1::2]):
        replacement = draw(st.text(alphabet="xy\n", max_size=8))
        edits.append(Edit(start, end, replacement))
    return text, edits


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=text_and_edits())
def test_diff_from_edits_applies_with_gnu_patch(tmp_path_factory, case: tuple[str, list[Edit]]) -> None:
    text, edits = case
    new_text = apply_edits(text, edits)
    diff = unified_diff_of_edits(text, edits, "a/f.yml", "b/f.yml")
    if new_text == text:
        assert diff == ""
        return
    work: Path = tmp_path_factory.mktemp("diff")
    (work / "f.yml").write_bytes(text.encode())
    applied = subprocess.run(
        ["patch", "-p1", "--binary", "--no-backup-if-mismatch", "-s", "-F0"],
        input=diff.encode(), cwd=work, capture_output=True, timeout=30,
    )
    assert applied.returncode == 0, (applied.stdout + applied.stderr).decode() + diff
    assert (work / "f.yml").read_bytes() == new_text.encode()
