"""The cache-flow check's indexed matching finds exactly the savers that comparing every
restore with every save finds (the quadratic definition), on random keys and on the workflows
of every golden fixture."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ci_gocache.patching import RepoCache
from ci_gocache.sourcefile import read_source
from ci_gocache.targets import github
from ci_gocache.targets.github.facts import WorkflowFacts
from ci_gocache.targets.github.cacheflow import CacheRestore, CacheSave, SaverIndex, _same_runner, analyse, job_flows

FIXTURES = Path(__file__).parent / "fixtures"
SYSTEMS = st.frozensets(st.sampled_from(["Linux", "Windows", "macOS", "?"]), min_size=1, max_size=2)
# A small alphabet, so that keys often equal each other and restore keys often are prefixes.
KEYS = st.text(alphabet="ab-", max_size=4)


def savers_by_comparing_all(restore: CacheRestore, saves: list[CacheSave]) -> tuple[str, ...]:
    """The definition: every save compared with the restore, labels in save order, once each."""
    savers: list[str] = []
    for candidate in saves:
        if not candidate.on_default_branch or not _same_runner(restore.systems, candidate.systems):
            continue
        if candidate.key == restore.key or any(prefix and candidate.key.startswith(prefix) for prefix in restore.prefixes):
            label = f"{candidate.path}: {candidate.job}"
            if label not in savers:
                savers.append(label)
    return tuple(savers)


@st.composite
def restores_and_saves(draw: st.DrawFn) -> tuple[list[CacheRestore], list[CacheSave]]:
    jobs = st.sampled_from(["build", "test", "lint"])
    paths = st.sampled_from(["ci.yml", "release.yml"])
    restores = draw(st.lists(
        st.builds(
            CacheRestore, path=paths, job=jobs, line=st.just(1), col=st.just(1), step_line=st.just(1),
            cache=st.just("Go build cache"), key=KEYS, prefixes=st.lists(KEYS, max_size=3).map(tuple), systems=SYSTEMS,
        ),
        max_size=8,
    ))
    saves = draw(st.lists(
        st.builds(
            CacheSave, path=paths, job=jobs, step_line=st.integers(1, 50), cache=st.just("Go build cache"),
            key=KEYS, systems=SYSTEMS, on_default_branch=st.booleans(),
        ),
        max_size=12,
    ))
    return restores, saves


@settings(max_examples=150, deadline=None)
@given(restores_and_saves())
def test_indexed_savers_equal_comparing_every_restore_with_every_save(flows):
    restores, saves = flows
    index = SaverIndex(saves)
    for restore in restores:
        assert index.of(restore) == savers_by_comparing_all(restore, saves)


def _fixture_workflows() -> list[list[WorkflowFacts]]:
    repos = RepoCache()
    found = []
    for workflows_dir in sorted(FIXTURES.glob("*/*/*/.github/workflows")):
        facts = []
        for path in sorted(workflows_dir.iterdir()):
            if path.suffix in (".yml", ".yaml"):
                relative = path.relative_to(workflows_dir.parents[1]).as_posix()
                facts.append(github.inspect(read_source(path, relative), repos.for_file(path)))
        found.append(facts)
    return found


def test_analyse_equals_comparing_every_restore_with_every_save_on_every_fixture():
    checked = 0
    for workflows in _fixture_workflows():
        restores: list[CacheRestore] = []
        saves: list[CacheSave] = []
        for workflow in workflows:
            for job in workflow.jobs:
                if not job.reusable:
                    job_restores, job_saves = job_flows(workflow, job)
                    restores += job_restores
                    saves += job_saves
        findings = analyse(workflows)
        assert [finding.restore for finding in findings] == restores
        assert [finding.saved_by for finding in findings] == [savers_by_comparing_all(r, saves) for r in restores]
        checked += len(findings)
    assert checked > 100, "the fixtures should hold many Go cache restores"
