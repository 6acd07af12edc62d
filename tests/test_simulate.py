"""`ci-gocache simulate`: history replay on real git repositories built in the tests."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path

from support.cli import run_cli

from ci_gocache import keys
from ci_gocache.simulation import CacheService, read_history, simulate

REPO = Path(__file__).resolve().parents[1]
GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
}


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], env=GIT_ENV, capture_output=True, text=True, check=True).stdout


def go_sum(*modules: str) -> str:
    lines = []
    for module in modules:
        path, version = module.split("@")
        lines.append(f"{path} {version} h1:{'x' * 43}=\n{path} {version}/go.mod h1:{'y' * 43}=\n")
    return "".join(lines)


class Repo:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir()
        git(root, "init", "-q", "-b", "main")

    def commit(self, message: str, **files: str) -> str:
        for name, text in files.items():
            path = self.root / name.replace("__", "/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            git(self.root, "add", str(path))
        git(self.root, "commit", "-q", "--allow-empty", "-m", message)
        return git(self.root, "rev-parse", "HEAD").strip()


def strategies(root: Path, *args: str) -> dict[str, dict]:
    completed = run_cli("simulate", str(root), "--format", "json", *args)
    assert completed.returncode == 0, completed.stderr
    return {strategy["name"]: strategy for strategy in json.loads(completed.stdout)["strategies"]}


def test_go_sum_change_is_a_setup_go_miss_but_a_partial_hit_with_restore_keys(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("init", **{"go.mod": "module m\n", "go.sum": go_sum("a.example/x@v1.0.0")})
    repo.commit("code", **{"main.go": "package main\n"})
    repo.commit("bump", **{"go.sum": go_sum("a.example/x@v1.1.0")})
    result = strategies(repo.root)
    assert result["setup-go"]["mod"] == {"exact": 1, "partial": 0, "miss": 2}
    assert result["actions-cache-readme"]["mod"] == {"exact": 1, "partial": 1, "miss": 1}
    assert result["ci-gocache"]["mod"] == {"exact": 1, "partial": 1, "miss": 1}
    assert all(strategy["runs"] == 3 for strategy in result.values())


def test_json_has_the_documented_shape(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("init", **{"go.mod": "module m\n", "go.sum": go_sum("a.example/x@v1.0.0")})
    completed = run_cli("simulate", str(repo.root), "--format", "json")
    document = json.loads(completed.stdout)
    assert [strategy["name"] for strategy in document["strategies"]] == ["setup-go", "actions-cache-readme", "ci-gocache"]
    for strategy in document["strategies"]:
        assert {"name", "runs", "mod", "build", "saves", "module_downloads_avoided"} <= set(strategy)
        assert set(strategy["mod"]) == {"exact", "partial", "miss"}
        assert {"exact", "partial", "miss", "staleness"} == set(strategy["build"])


def test_table_lists_every_strategy_with_counts(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("init", **{"go.mod": "module m\n", "go.sum": go_sum("a.example/x@v1.0.0")})
    repo.commit("code", **{"main.go": "package main\n"})
    completed = run_cli("simulate", str(repo.root))
    assert completed.returncode == 0
    lines = completed.stdout.splitlines()
    assert lines[0].startswith("Replayed 2 commits (0 changed")
    setup_go_row = next(line for line in lines if line.startswith("setup-go "))
    assert setup_go_row.split()[1:3] == ["2", "1/0/1"]


def test_setup_go_build_cache_grows_stale_while_ci_gocache_restores_the_previous_commit(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("init", **{"go.mod": "module m\n", "go.sum": go_sum("a.example/x@v1.0.0")})
    for number in range(6):
        repo.commit(f"code {number}", **{"main.go": f"package main // {number}\n"})
    result = strategies(repo.root)
    # setup-go saved once, at the first commit: run k restores a build cache k commits old.
    assert result["setup-go"]["build"]["staleness"]["max"] == 6
    assert result["setup-go"]["build"]["exact"] == 6
    ci = result["ci-gocache"]["build"]
    assert (ci["exact"], ci["partial"], ci["miss"]) == (0, 6, 1)
    assert ci["staleness"]["max"] == 1 and ci["staleness"]["median"] == 1


def test_module_downloads_count_only_go_sum_lines_missing_from_the_restored_cache(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("init", **{"go.mod": "module m\n", "go.sum": go_sum("a.example/x@v1.0.0", "b.example/y@v1.0.0")})
    repo.commit("bump", **{"go.sum": go_sum("a.example/x@v1.1.0", "b.example/y@v1.0.0")})
    result = strategies(repo.root)
    # Every go.sum line (zip and go.mod) is one download; the bump adds two new lines.
    assert result["setup-go"]["module_downloads"] == 4 + 4
    assert result["ci-gocache"]["module_downloads"] == 4 + 2
    assert result["ci-gocache"]["module_downloads_avoided"] == 2


def test_pull_request_runs_save_for_setup_go_and_the_recipe_but_never_for_ci_gocache(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("init", **{"go.mod": "module m\n", "go.sum": go_sum("a.example/x@v1.0.0")})
    repo.commit("bump", **{"go.sum": go_sum("a.example/x@v1.1.0")})
    repo.commit("bump again", **{"go.sum": go_sum("a.example/x@v1.2.0")})
    result = strategies(repo.root, "--pull-requests")
    assert all(strategy["pull_request_runs"] == 2 and strategy["runs"] == 5 for strategy in result.values())
    assert result["setup-go"]["pull_request_saves"] == 2
    assert result["actions-cache-readme"]["pull_request_saves"] == 2
    assert result["ci-gocache"]["pull_request_saves"] == 0
    # A pull request saved under its own ref cannot help the push that follows: it misses again.
    assert result["setup-go"]["mod"]["miss"] == 5


def test_merge_commits_count_the_go_sum_changes_they_bring_in(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("init", **{"go.mod": "module m\n", "go.sum": go_sum("a.example/x@v1.0.0")})
    git(repo.root, "checkout", "-q", "-b", "topic")
    repo.commit("bump on topic", **{"go.sum": go_sum("a.example/x@v2.0.0")})
    git(repo.root, "checkout", "-q", "main")
    repo.commit("code", **{"main.go": "package main\n"})
    git(repo.root, "merge", "-q", "--no-ff", "topic", "-m", "merge topic")
    completed = run_cli("simulate", str(repo.root), "--format", "json")
    document = json.loads(completed.stdout)
    assert document["commits"] == 3  # init, code, merge: the topic commit is off the first-parent chain
    assert document["go_file_changes"] == 1
    result = {strategy["name"]: strategy for strategy in document["strategies"]}
    assert result["setup-go"]["mod"] == {"exact": 1, "partial": 0, "miss": 2}


def test_last_and_since_limit_the_replayed_commits(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("init", **{"go.mod": "module m\n", "go.sum": go_sum("a.example/x@v1.0.0")})
    second = repo.commit("code 1", **{"main.go": "1\n"})
    repo.commit("code 2", **{"main.go": "2\n"})
    repo.commit("code 3", **{"main.go": "3\n"})
    last_two = json.loads(run_cli("simulate", str(repo.root), "--last", "2", "--format", "json").stdout)
    since_second = json.loads(run_cli("simulate", str(repo.root), "--since", second, "--format", "json").stdout)
    assert last_two["commits"] == 2 and since_second["commits"] == 2
    # The replay starts from the go files as they were, not from an empty tree.
    first_run = {strategy["name"]: strategy for strategy in last_two["strategies"]}
    assert first_run["setup-go"]["mod"] == {"exact": 1, "partial": 0, "miss": 1}


def test_ci_gocache_keys_on_go_mod_of_a_module_without_go_sum_and_the_recipe_does_not(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("init", **{"go.mod": "module m\n\ngo 1.22\n"})
    repo.commit("require", **{"go.mod": "module m\n\ngo 1.23\n"})
    result = strategies(repo.root)
    assert result["ci-gocache"]["mod"]["partial"] == 1
    assert result["actions-cache-readme"]["mod"]["exact"] == 1
    # setup-go finds no ./go.sum and caches nothing at all.
    assert result["setup-go"]["mod"] == {"exact": 0, "partial": 0, "miss": 2} and result["setup-go"]["saves"] == 0


def test_ci_gocache_strategy_uses_the_key_layout_of_keys_py(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("init", **{"go.mod": "module m\n", "go.sum": go_sum("a.example/x@v1.0.0")})
    history = read_history(repo.root)
    from ci_gocache.simulation import STRATEGIES

    ci_gocache = next(strategy for strategy in STRATEGIES if strategy.name == "ci-gocache")
    module, build = ci_gocache.plan(history.runs[0], "push", 1)
    assert module.key.startswith(module.restore_keys[0]) and module.restore_keys[0].endswith(f"-{keys.MODULE_KIND}-")
    assert build is not None and build.key.endswith("-1-1") and len(build.restore_keys) == 2
    assert build.key.startswith(build.restore_keys[0]) and build.restore_keys[0].startswith(build.restore_keys[1])


def test_cache_service_matches_as_actions_cache_does() -> None:
    service = CacheService()
    main, pr = "refs/heads/main", "refs/pull/1/merge"
    assert service.save(main, "k-old-1", 0, 0)
    assert service.save(main, "k-old-2", 1, 0)
    assert service.save(main, "k-exact", 2, 0)
    assert not service.save(main, "k-exact", 3, 0), "entries are immutable"
    assert service.restore("k-exact", ["k-"], [main])[0] == "exact"
    # No exact key: the newest entry under the first matching restore prefix.
    kind, entry = service.restore("k-new", ["k-old-", "k-"], [main])
    assert (kind, entry.key if entry else None) == ("partial", "k-old-2")
    # The run's own ref wins over the base branch, even against an exact key there.
    assert service.save(pr, "k-pr", 4, 0)
    assert service.restore("k-exact", ["k-"], [pr, main])[1].key == "k-pr"
    assert service.restore("x", ["y-"], [pr, main]) == ("miss", None)
    # The key itself is also a prefix, as actions/cache documents.
    assert service.restore("k-old", [], [main])[1].key == "k-old-2"


def test_newest_prefix_match_stays_current_after_later_saves() -> None:
    service = CacheService()
    main = "refs/heads/main"
    service.save(main, "b-1-a", 0, 0)
    assert service.restore("b-1-z", ["b-1-"], [main])[1].key == "b-1-a"
    service.save(main, "b-1-0", 1, 0)  # sorts before b-1-a, but is newer
    assert service.restore("b-1-z", ["b-1-"], [main])[1].key == "b-1-0"


def test_not_a_git_repository_is_exit_2_with_a_clear_message(tmp_path: Path) -> None:
    completed = run_cli("simulate", str(tmp_path))
    assert completed.returncode == 2
    assert completed.stderr.startswith(f"{tmp_path}:1:1: not a git repository")
    assert "Traceback" not in completed.stderr and completed.stdout == ""


def test_unknown_since_revision_is_exit_2(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("init", **{"go.mod": "module m\n"})
    completed = run_cli("simulate", str(repo.root), "--since", "no-such-rev")
    assert completed.returncode == 2 and "Traceback" not in completed.stderr
    assert "no-such-rev" in completed.stderr


def test_bench_generator_builds_the_first_parent_chain_it_is_asked_for(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("simulate_speed", REPO / "bench" / "simulate_speed.py")
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.generate(tmp_path / "bench", 300)
    document = simulate(read_history(tmp_path / "bench"), pull_requests=True)
    assert document["commits"] == 300
    assert all(strategy["pull_request_runs"] == 299 for strategy in document["strategies"])
