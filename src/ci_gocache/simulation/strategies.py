"""The caching strategies a simulation compares: each turns a run into the keys, restore keys and save
decision of its cache steps."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable

from ci_gocache import keys
from ci_gocache.simulation.runs import RunInput


SIMULATED_OS = "Linux"
SIMULATED_ARCH = "X64"
SIMULATED_JOB = "build"


@dataclass(frozen=True)
class CacheSpec:
    """One actions/cache step: its key, restore keys and when it saves. An empty key caches nothing."""

    key: str
    restore_keys: list[str]
    save: bool


@dataclass(frozen=True)
class Strategy:
    name: str
    description: str
    # (run, event, run number) -> module cache spec, and build cache spec or None when the build
    # cache lives in the same entry as the modules.
    plan: Callable[[RunInput, str, int], tuple[CacheSpec, CacheSpec | None]]


def _digest(blobs: tuple[str, ...]) -> str:
    if not blobs:
        return ""
    return hashlib.sha256("".join(blobs).encode()).hexdigest()


def _setup_go_key(dependency_blob: str, go_version: str) -> str:
    # setup-go's primary key: setup-go-<os>-<arch>-go-<version>-<hashFiles(dependency file)>.
    return f"setup-go-{SIMULATED_OS}-x64-go-{go_version.removeprefix('go')}-{_digest((dependency_blob,))}"


def _setup_go_plan(run: RunInput, event: str, number: int) -> tuple[CacheSpec, CacheSpec | None]:
    # setup-go v6.3+ with `cache: true`: ./go.mod is the dependency file; without one it caches nothing.
    if not run.snapshot.root_go_mod:
        return CacheSpec("", [], False), None
    return CacheSpec(_setup_go_key(run.snapshot.root_go_mod, run.snapshot.go_version), [], True), None


def _setup_go_sum_plan(run: RunInput, event: str, number: int) -> tuple[CacheSpec, CacheSpec | None]:
    # setup-go before v6.3 (and any version with cache-dependency-path: go.sum): ./go.sum.
    if not run.snapshot.root_go_sum:
        return CacheSpec("", [], False), None
    return CacheSpec(_setup_go_key(run.snapshot.root_go_sum, run.snapshot.go_version), [], True), None


def _readme_plan(run: RunInput, event: str, number: int) -> tuple[CacheSpec, CacheSpec | None]:
    # actions/cache README, Go: key ${{ runner.os }}-go-${{ hashFiles('**/go.sum') }}, restore-keys ${{ runner.os }}-go-
    base = f"{SIMULATED_OS}-go-"
    return CacheSpec(base + _digest(run.snapshot.go_sums), [base], True), None


def _ci_gocache_plan(run: RunInput, event: str, number: int) -> tuple[CacheSpec, CacheSpec | None]:
    parts = keys.KeyParts(
        prefix=keys.DEFAULT_PREFIX, os_name=SIMULATED_OS, arch=SIMULATED_ARCH,
        sums_digest=_digest(run.snapshot.action_sums), go_version=keys.key_safe(run.snapshot.go_version),
        job=SIMULATED_JOB, run=f"{number}-1",
    )
    saves = event == "push"  # the action's save: auto saves on pushes to the default branch only
    module = CacheSpec(keys.module_cache_key(parts), keys.module_restore_keys(parts), saves)
    build = CacheSpec(keys.build_cache_key(parts), keys.build_restore_keys(parts), saves)
    return module, build


STRATEGIES = [
    Strategy(
        "setup-go",
        "actions/setup-go v6.3+ default (cache: true): one entry for modules and build cache, key on ./go.mod and the"
        " Go version, no restore-keys, saved (also from pull requests) only on a miss; no ./go.mod, no cache",
        _setup_go_plan,
    ),
    Strategy(
        "setup-go-go.sum",
        "actions/setup-go before v6.3 (or cache-dependency-path: go.sum): the same, keyed on ./go.sum;"
        " no ./go.sum, no cache",
        _setup_go_sum_plan,
    ),
    Strategy(
        "actions-cache-readme",
        "actions/cache README recipe for Go: one entry for ~/go/pkg/mod and ~/.cache/go-build,"
        " key <os>-go-hashFiles('**/go.sum'), restore-keys <os>-go-, saved by the post step unless the key hit exactly",
        _readme_plan,
    ),
    Strategy(
        "ci-gocache",
        "the ci-gocache action: module cache keyed on the files the action finds (the root module or go.work, else"
        " every go.sum outside testdata/ and vendor/), restore key by prefix, saved on a miss; build cache keyed per"
        " run with two restore keys, saved on every push to the default branch; pull requests restore only",
        _ci_gocache_plan,
    ),
]
STRATEGY_NAMES = [strategy.name for strategy in STRATEGIES]
