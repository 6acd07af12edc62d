"""Property tests: generated .gitlab-ci.yml files in many styles and shapes. Patching never fails
on valid input, keeps the file's newline, BOM and final-newline style, only inserts unless it
rewrites a job's cache list, and a second run changes nothing."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from ci_gocache import schemas
from ci_gocache.patching import Candidate, RepoCache, patch_file
from ci_gocache.targets import gitlab
from ci_gocache.targets.base import PatchOptions


@st.composite
def pipelines(draw: st.DrawFn) -> str:
    unit = draw(st.sampled_from([2, 4]))
    flush_dashes = draw(st.booleans())
    pad = " " * unit

    def items(indent: str, values: list[str]) -> list[str]:
        dash = indent if flush_dashes else indent + pad
        return [f"{dash}- {value}" for value in values]

    lines = ["# generated pipeline"]
    if draw(st.booleans()):
        flags = draw(st.sampled_from(["-mod=mod", '"-mod=readonly"']))
        lines += ["variables:", f"{pad}GOFLAGS: {flags}"]
    if draw(st.booleans()):
        lines += ["default:", f"{pad}image: golang:1.23"]
        if draw(st.booleans()):
            lines += [f"{pad}cache:", f"{pad * 2}key: node", f"{pad * 2}paths:", *items(pad * 2, ["node_modules/"])]
    lines += [".go-base: &go-base", f"{pad}image: golang:1.22", f"{pad}before_script:", *items(pad, ["go version"])]
    for index in range(draw(st.integers(1, 4))):
        lines.append("")
        if draw(st.booleans()):
            lines.append(f"# job {index}")
        lines.append(f"job-{index}:")
        base = draw(st.sampled_from(["none", "extends", "merge"]))
        if base == "extends":
            lines.append(f"{pad}extends: .go-base")
        elif base == "merge":
            lines.append(f"{pad}<<: *go-base")
        if draw(st.booleans()):
            lines.append(f"{pad}image: {draw(st.sampled_from(['golang:1.23', 'alpine:3.20']))}")
        variables = draw(st.sampled_from(["none", "empty", "other", "goflags"]))
        if variables == "empty":
            lines.append(f"{pad}variables: {{}}")
        elif variables == "other":
            lines += [f"{pad}variables:", f'{pad * 2}CGO_ENABLED: "0"']
        elif variables == "goflags":
            flags = draw(st.sampled_from(["-trimpath", "'-race'"]))
            lines += [f"{pad}variables:", f"{pad * 2}GOFLAGS: {flags}"]
        cache = draw(st.sampled_from(["none", "opt-out", "mapping", "go-mapping", "list"]))
        if cache == "opt-out":
            lines.append(f"{pad}cache: []")
        elif cache == "mapping":
            lines += [f"{pad}cache:", f"{pad * 2}key: tools", f"{pad * 2}paths:", *items(pad * 2, ["tools/  # kept"])]
        elif cache == "go-mapping":
            lines += [f"{pad}cache:", f"{pad * 2}key: $CI_COMMIT_REF_SLUG", f"{pad * 2}paths:", *items(pad * 2, [".go/pkg/mod/"])]
        elif cache == "list":
            dash = pad if flush_dashes else pad * 2
            lines += [f"{pad}cache:", f"{dash}- key: a", f"{dash}  paths: [a/]", f"{dash}- key: gomod", f"{dash}  paths: [.go/pkg/mod/]"]
        if draw(st.booleans()):
            lines += [f"{pad}rules:", *items(pad, ["if: $CI_COMMIT_BRANCH"])]
        script = draw(st.sampled_from(["go test ./...", "go build ./...", "echo not go", "make test"]))
        if draw(st.booleans()):
            lines += [f"{pad}script:", *items(pad, [script])]
        else:
            lines += [f"{pad}script: |", f"{pad * 2}{script}", f"{pad * 2}# a shell comment at the end"]
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(lines)
    if draw(st.booleans()):
        text += newline
    if draw(st.booleans()):
        text = "\ufeff" + text
    return text


def _patch(root: Path, text: str) -> str:
    path = root / ".gitlab-ci.yml"
    path.write_bytes(text.encode("utf-8"))
    result = patch_file(Candidate(path, ".gitlab-ci.yml", gitlab), PatchOptions(), RepoCache(), write=True)
    assert result.error is None, str(result.error)
    return path.read_bytes().decode("utf-8")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=pipelines())
def test_patch_keeps_the_file_and_is_idempotent(tmp_path_factory, text: str) -> None:
    root = tmp_path_factory.mktemp("repo")
    (root / "go.mod").write_text("module example.com/x\n\ngo 1.22\n")
    (root / "go.sum").write_text("")
    after = _patch(root, text)
    assert after.startswith("\ufeff") == text.startswith("\ufeff")
    assert after.endswith("\n") == text.endswith("\n")
    if "\r\n" in text:
        assert after.count("\n") == after.count("\r\n"), "a line lost its CRLF"
    old_lines = text.splitlines()
    new_lines = after.splitlines()
    allowed = ("key:", "paths:", "- ", "cache:", "variables: {}", "GOFLAGS:", "tools/", "node_modules/")
    # Every line of the original is still there, in order, but for the ones the patch may replace:
    # hand-written Go caches, and `extends: X`, which becomes `extends: [X, .ci-gocache-go]`.
    for line in old_lines:
        stripped = line.strip()
        if stripped.startswith("extends:") and line not in new_lines:
            kept = stripped.split(":", 1)[1].strip()
            assert f"extends: [{kept}, .ci-gocache-go]" in after or f"- {kept}" in after, line
    required = [line for line in old_lines if not line.strip().startswith((*allowed, "extends:"))]
    remaining = iter(new_lines)
    for line in required:
        assert any(candidate == line for candidate in remaining), f"line lost or moved: {line!r}"
    (document,) = YAML(typ="safe", pure=True).load_all(after.lstrip("\ufeff"))
    assert schemas.schema_errors(document, schemas.GITLAB_CI) == []
    assert _patch(root, after) == after


def test_where_a_job_ends_is_the_same_found_by_bisection_as_by_a_pass_over_the_keys():
    """The planner finds where a job's text ends (the next top-level key) by bisecting the sorted
    key offsets: a pass over every key for every job made a 3,000-job pipeline quadratic. Both
    ways agree for every top-level key of every GitLab fixture, anchors and merge keys included."""
    from ruamel.yaml.nodes import MappingNode

    from ci_gocache.sourcefile import compose_graphs, read_source
    from ci_gocache.targets.gitlab.yaml_edits import following_key_start

    files = sorted(Path(__file__).parent.joinpath("fixtures", "gitlab").glob("*/repo/**/*.yml"))
    assert files
    checked = 0
    for path in files:
        source = read_source(path, path.name)
        for graph in compose_graphs(source):
            mapping = graph.root
            if not isinstance(mapping, MappingNode):
                continue
            starts = sorted(key.start_mark.index for key, _ in mapping.value)
            for key, _ in mapping.value:
                stop = len(source.text)
                assert following_key_start(source.text, mapping, key, stop, starts) == following_key_start(
                    source.text, mapping, key, stop
                ), f"{path}: {key.value}"
                checked += 1
    assert checked > 100
