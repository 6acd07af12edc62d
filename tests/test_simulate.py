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
    assert result["setup-go-go.sum"]["mod"] == {"exact": 1, "partial": 0, "miss": 2, "uncached": 0}
    assert result["actions-cache-readme"]["mod"] == {"exact": 1, "partial": 1, "miss": 1, "uncached": 0}
    assert result["ci-gocache"]["mod"] == {"exact": 1, "partial": 1, "miss": 1, "uncached": 0}
    # setup-go v6.3+ keys on go.mod, which the bump left alone: an exact hit on stale modules.
    assert result["setup-go"]["mod"] == {"exact": 2, "partial": 0, "miss": 1, "uncached": 0}
    assert all(strategy["runs"] == 3 for strategy in result.values())


def test_json_has_the_documented_shape(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("init", **{"go.mod": "module m\n", "go.sum": go_sum("a.example/x@v1.0.0")})
    completed = run_cli("simulate", str(repo.root), "--format", "json")
    document = json.loads(completed.stdout)
    assert [strategy["name"] for strategy in document["strategies"]] == [
        "setup-go", "setup-go-go.sum", "actions-cache-readme", "ci-gocache"]
    assert {"commits", "first", "last", "first_date", "last_date", "runs_skipped", "warm_start", "go_file_changes",
            "pull_requests", "events", "timeline_dates", "strategies"} == set(document)
    assert set(document["events"]) == {"source_only_push", "dependency_bump", "new_dependency", "go_version_change",
                                       "pull_request"}
    for strategy in document["strategies"]:
        assert {"name", "runs", "mod", "build", "saves", "module_downloads_avoided", "cold_runs", "cold_share",
                "cold_timeline"} <= set(strategy)
        assert set(strategy["mod"]) == {"exact", "partial", "miss", "uncached"}
        assert {"exact", "partial", "miss", "uncached", "staleness"} == set(strategy["build"])


def test_table_lists_every_strategy_with_counts(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("init", **{"go.mod": "module m\n", "go.sum": go_sum("a.example/x@v1.0.0")})
    repo.commit("code", **{"main.go": "package main\n"})
    completed = run_cli("simulate", str(repo.root))
    assert completed.returncode == 0
    lines = completed.stdout.splitlines()
    assert lines[0].startswith("Window: ") and ", 2 commits (" in lines[0]
    setup_go_row = next(line for line in lines if line.startswith("setup-go "))
    # runs, cold share, then module exact/partial/cold as shares of the runs
    assert setup_go_row.split()[1:4] == ["2", "50%", "50%/0%/50%"]


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
    assert (ci["exact"], ci["partial"], ci["miss"], ci["uncached"]) == (0, 6, 1, 0)
    assert ci["staleness"]["max"] == 1 and ci["staleness"]["median"] == 1


def test_module_downloads_count_only_go_sum_lines_missing_from_the_restored_cache(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("init", **{"go.mod": "module m\n", "go.sum": go_sum("a.example/x@v1.0.0", "b.example/y@v1.0.0")})
    repo.commit("bump", **{"go.sum": go_sum("a.example/x@v1.1.0", "b.example/y@v1.0.0")})
    result = strategies(repo.root)
    # Every go.sum line (zip and go.mod) is one download; the bump adds two new lines.
    assert result["setup-go-go.sum"]["module_downloads"] == 4 + 4
    assert result["ci-gocache"]["module_downloads"] == 4 + 2
    assert result["ci-gocache"]["module_downloads_avoided"] == 2


def test_pull_request_runs_save_for_setup_go_and_the_recipe_but_never_for_ci_gocache(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("init", **{"go.mod": "module m\n", "go.sum": go_sum("a.example/x@v1.0.0")})
    repo.commit("bump", **{"go.sum": go_sum("a.example/x@v1.1.0")})
    repo.commit("bump again", **{"go.sum": go_sum("a.example/x@v1.2.0")})
    result = strategies(repo.root, "--pull-requests")
    assert all(strategy["pull_request_runs"] == 2 and strategy["runs"] == 5 for strategy in result.values())
    assert result["setup-go-go.sum"]["pull_request_saves"] == 2
    assert result["actions-cache-readme"]["pull_request_saves"] == 2
    assert result["ci-gocache"]["pull_request_saves"] == 0
    # A pull request saved under its own ref cannot help the push that follows: it misses again.
    assert result["setup-go-go.sum"]["mod"]["miss"] == 5


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
    assert result["setup-go-go.sum"]["mod"] == {"exact": 1, "partial": 0, "miss": 2, "uncached": 0}


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
    assert first_run["setup-go"]["mod"] == {"exact": 1, "partial": 0, "miss": 1, "uncached": 0}


def test_ci_gocache_keys_on_go_mod_of_a_module_without_go_sum_and_the_recipe_does_not(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("init", **{"go.mod": "module m\n\ngo 1.22\n"})
    repo.commit("require", **{"go.mod": "module m\n\ngo 1.23\n"})
    result = strategies(repo.root)
    assert result["ci-gocache"]["mod"]["partial"] == 1
    assert result["actions-cache-readme"]["mod"]["exact"] == 1
    # setup-go before v6.3 finds no ./go.sum and caches nothing at all: uncached, not a miss of a cache.
    old = result["setup-go-go.sum"]
    assert old["mod"] == {"exact": 0, "partial": 0, "miss": 0, "uncached": 2} and old["saves"] == 0
    assert old["cold_runs"] == 2
    # setup-go v6.3+ keys on go.mod: the go line changed, so a miss.
    assert result["setup-go"]["mod"] == {"exact": 0, "partial": 0, "miss": 2, "uncached": 0}


def test_ci_gocache_strategy_uses_the_key_layout_of_keys_py(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("init", **{"go.mod": "module m\n", "go.sum": go_sum("a.example/x@v1.0.0")})
    history = read_history(repo.root)
    from ci_gocache.simulation import STRATEGIES, iter_runs

    ci_gocache = next(strategy for strategy in STRATEGIES if strategy.name == "ci-gocache")
    module, build = ci_gocache.plan(next(iter_runs(history)), "push", 1)
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
    assert "no-such-rev" in completed.stderr and "neither a revision nor a date" in completed.stderr


def test_bench_generator_builds_the_first_parent_chain_it_is_asked_for(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("simulate_speed", REPO / "bench" / "simulate_speed.py")
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.generate(tmp_path / "bench", 300)
    document = simulate(read_history(tmp_path / "bench"), pull_requests=True)
    assert document["commits"] == 300
    assert all(strategy["pull_request_runs"] == 299 for strategy in document["strategies"])


# ---------------------------------------------------------------- setup-go as it is today, and our own keys


def test_setup_go_row_matches_an_independent_replay_of_go_mod_keying(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("init", **{"go.mod": "module m\n\ngo 1.22\n", "go.sum": go_sum("a.example/x@v1.0.0")})
    repo.commit("code", **{"main.go": "1\n"})
    repo.commit("go version", **{"go.mod": "module m\n\ngo 1.23\n"})
    repo.commit("require", **{"go.mod": "module m\n\ngo 1.23\n\nrequire a.example/x v1.0.0\n"})
    repo.commit("code", **{"main.go": "2\n"})
    repo.commit("revert", **{"go.mod": "module m\n\ngo 1.22\n"})
    repo.commit("bump go.sum only", **{"go.sum": go_sum("a.example/x@v1.1.0")})
    # Independently: one key per distinct ./go.mod content; the first run of each key misses.
    commits = git(repo.root, "rev-list", "--first-parent", "--reverse", "HEAD").split()
    blobs = [git(repo.root, "rev-parse", f"{commit}:go.mod").strip() for commit in commits]
    expected_misses = len(set(blobs))
    result = strategies(repo.root)["setup-go"]
    assert result["mod"] == {"exact": len(commits) - expected_misses, "partial": 0, "miss": expected_misses,
                             "uncached": 0}
    assert result["saves"] == expected_misses


def test_ci_gocache_keys_on_the_files_the_action_finds_in_each_checkout(tmp_path: Path) -> None:
    from ci_gocache.simulation import iter_runs

    repo = Repo(tmp_path / "r")
    repo.commit("init", **{"a__go.mod": "module a\n", "a__go.sum": go_sum("x.example/a@v1.0.0"),
                            "b__go.mod": "module b\n", "b__go.sum": go_sum("x.example/b@v1.0.0")})
    repo.commit("testdata", **{"a__testdata__mod__go.mod": "module t\n",
                               "a__testdata__mod__go.sum": go_sum("x.example/t@v1.0.0")})
    repo.commit("vendor", **{"b__vendor__x__go.sum": go_sum("x.example/v@v1.0.0")})
    repo.commit("workspace", **{"go.work": "go 1.22\n\nuse (\n\t./a\n)\n", "go.work.sum": go_sum("x.example/w@v1.0.0")})
    repo.commit("root module", **{"go.mod": "module r\n", "go.sum": go_sum("x.example/r@v1.0.0")})
    runs = list(iter_runs(read_history(repo.root)))
    for run in runs:
        checkout = tmp_path / f"checkout-{run.position}"
        git(repo.root, "worktree", "add", "-q", "--detach", str(checkout), run.commit)
        expected = keys.resolve_sum_files(checkout, [])
        blobs = tuple(git(checkout, "rev-parse", f"HEAD:{path}").strip() for path in expected)
        assert run.snapshot.action_sums == blobs, (run.position, expected)


def test_testdata_go_sum_changes_neither_the_action_key_nor_a_hit(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("init", **{"a__go.mod": "module a\n", "a__go.sum": go_sum("x.example/a@v1.0.0")})
    repo.commit("fixture", **{"a__testdata__go.sum": go_sum("x.example/t@v1.0.0")})
    result = strategies(repo.root)
    assert result["ci-gocache"]["mod"]["exact"] == 1
    assert result["actions-cache-readme"]["mod"]["exact"] == 0  # hashFiles('**/go.sum') sees testdata


def test_skip_ci_commits_start_no_run_but_their_changes_count_later(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("init", **{"go.mod": "module m\n", "go.sum": go_sum("a.example/x@v1.0.0")})
    repo.commit("bump [skip ci]", **{"go.sum": go_sum("a.example/x@v1.1.0")})
    repo.commit("docs\n\nbody says [ci skip]", **{"README": "x\n"})
    repo.commit("code", **{"main.go": "1\n"})
    completed = run_cli("simulate", str(repo.root), "--format", "json")
    document = json.loads(completed.stdout)
    assert document["commits"] == 4 and document["runs_skipped"] == 2
    result = {strategy["name"]: strategy for strategy in document["strategies"]}
    assert all(strategy["runs"] == 2 for strategy in result.values())
    # The last run sees the bump that the skipped commit brought: setup-go's go.sum key misses.
    assert result["setup-go-go.sum"]["mod"] == {"exact": 0, "partial": 0, "miss": 2, "uncached": 0}


def _dated_repo(root: Path) -> Repo:
    repo = Repo(root)
    for day, message in ((1, "init"), (10, "one"), (20, "two"), (28, "three")):
        when = f"2025-08-{day:02d}T12:00:00+00:00"
        files = {"go.mod": "module m\n", "go.sum": go_sum("a.example/x@v1.0.0")} if day == 1 else {"main.go": f"{day}\n"}
        for name, text in files.items():
            (root / name).write_text(text)
            git(root, "add", name)
        subprocess.run(["git", "-C", str(root), "commit", "-q", "-m", message], check=True,
                       env={**GIT_ENV, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when})
    return repo


def test_since_and_until_take_dates(tmp_path: Path) -> None:
    repo = _dated_repo(tmp_path / "r")
    document = json.loads(run_cli("simulate", str(repo.root), "--since", "2025-08-05", "--until", "2025-08-25",
                                  "--format", "json").stdout)
    assert document["commits"] == 2
    assert (document["first_date"], document["last_date"]) == ("2025-08-10", "2025-08-20")


def test_a_window_that_selects_nothing_is_an_error_with_a_hint(tmp_path: Path) -> None:
    repo = _dated_repo(tmp_path / "r")
    for args in (("--since", "HEAD"), ("--since", "2030-01-01")):
        completed = run_cli("simulate", str(repo.root), *args)
        assert completed.returncode == 2 and completed.stdout == ""
        assert "selects no first-parent commit" in completed.stderr and "git log --first-parent" in completed.stderr
        assert "Traceback" not in completed.stderr


def test_warm_start_fills_the_caches_from_the_commit_before_the_window(tmp_path: Path) -> None:
    repo = _dated_repo(tmp_path / "r")
    cold = strategies(repo.root, "--last", "2")
    warm = strategies(repo.root, "--last", "2", "--warm-start")
    assert all(strategy["cold_runs"] == 1 for strategy in cold.values())
    assert all(strategy["cold_runs"] == 0 and strategy["runs"] == 2 for strategy in warm.values())
    text = run_cli("simulate", str(repo.root), "--last", "2", "--warm-start").stdout
    assert "Caches start warm" in text


def test_text_output_shows_the_window_shares_and_advice(tmp_path: Path) -> None:
    repo = _dated_repo(tmp_path / "r")
    repo.commit("bump", **{"go.sum": go_sum("a.example/x@v1.1.0")})
    text = run_cli("simulate", str(repo.root)).stdout
    assert "Window: 2025-08-01 to " in text and "5 commits" in text
    assert "Caches start empty, so the first run counts as cold" in text
    assert "1 dependency bump" in text and "4 source-only pushes" in text
    assert next(line for line in text.splitlines() if line.startswith("ci-gocache ")).split()[2] == "20%"
    assert text.splitlines()[-1].startswith("Advice: ")
    assert "Cold runs over the window" in text


def _write_costs(path: Path, **overrides: float) -> Path:
    per_event = {"source_only_push": 60, "dependency_bump": 120, "new_dependency": 180, "go_version_change": 240,
                 "pull_request": 30, **overrides}
    path.write_text(json.dumps({"format": "ci-gocache-costs/1", "source": "test figures",
                                "strategies": {"setup-go": per_event, "ci-gocache": {**per_event, "dependency_bump": 60}}}))
    return path


def test_costs_project_minutes_from_the_event_counts(tmp_path: Path) -> None:
    repo = _dated_repo(tmp_path / "r")
    repo.commit("bump", **{"go.sum": go_sum("a.example/x@v1.1.0")})
    costs = _write_costs(tmp_path / "costs.json")
    document = json.loads(run_cli("simulate", str(repo.root), "--costs", str(costs), "--format", "json").stdout)
    assert document["events"]["source_only_push"] == 4 and document["events"]["dependency_bump"] == 1
    assert document["costs"]["minutes"] == {"setup-go": (4 * 60 + 120) / 60, "ci-gocache": (4 * 60 + 60) / 60}
    assert document["costs"]["ratio_to_baseline"]["ci-gocache"] == round(300 / 360, 3)
    text = run_cli("simulate", str(repo.root), "--costs", str(costs)).stdout
    assert "Projected CI time from per-event costs (test figures)" in text and "ci-gocache: 5.0 min (0.83x setup-go)" in text


def test_the_shipped_example_costs_file_loads(tmp_path: Path) -> None:
    repo = _dated_repo(tmp_path / "r")
    completed = run_cli("simulate", str(repo.root), "--costs", str(REPO / "bench" / "results" / "event_costs.json"))
    assert completed.returncode == 0, completed.stderr
    assert "Projected CI time" in completed.stdout


def test_a_bad_costs_file_is_exit_2_and_names_what_is_missing(tmp_path: Path) -> None:
    repo = _dated_repo(tmp_path / "r")
    costs = tmp_path / "costs.json"
    costs.write_text(json.dumps({"format": "ci-gocache-costs/1", "strategies": {"setup-go": {"source_only_push": 1}}}))
    completed = run_cli("simulate", str(repo.root), "--costs", str(costs))
    assert completed.returncode == 2 and completed.stdout == ""
    assert completed.stderr.startswith(f"{costs}:1:1: strategy 'setup-go' needs 'dependency_bump'")
    costs.write_text("{not json")
    completed = run_cli("simulate", str(repo.root), "--costs", str(costs))
    assert completed.returncode == 2 and completed.stderr.startswith(f"{costs}:1:2: not JSON")


def test_sparklines_fall_back_to_ascii_marks_on_a_terminal_that_is_not_utf8(tmp_path: Path) -> None:
    import sys

    from ci_gocache.simulation import SPARKS

    repo = _dated_repo(tmp_path / "r")
    repo.commit("bump", **{"go.sum": go_sum("a.example/x@v1.1.0")})
    completed = subprocess.run([sys.executable, "-m", "ci_gocache", "simulate", str(repo.root)], capture_output=True,
                               text=True, env={**os.environ, "PYTHONIOENCODING": "ascii"}, timeout=120)
    assert completed.returncode == 0, completed.stderr
    chart = completed.stdout.split("Cold runs over the window", 1)[1].split("\n\n", 1)[0]
    assert "setup-go" in chart and "#" in chart and not any(mark in chart for mark in SPARKS)


def test_until_a_revision_includes_it(tmp_path: Path) -> None:
    repo = _dated_repo(tmp_path / "r")
    second = git(repo.root, "rev-parse", "HEAD~2").strip()
    document = json.loads(run_cli("simulate", str(repo.root), "--until", second, "--format", "json").stdout)
    assert document["commits"] == 2 and document["last"] == second


def test_warm_start_from_a_skip_ci_commit_warms_nothing(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("init", **{"go.mod": "module m\n", "go.sum": go_sum("a.example/x@v1.0.0")})
    skipped = repo.commit("docs [skip ci]", **{"README": "x\n"})
    repo.commit("code", **{"main.go": "1\n"})
    warm = strategies(repo.root, "--since", "HEAD~2", "--warm-start")
    from_skipped = strategies(repo.root, "--since", skipped, "--warm-start")
    assert warm["setup-go"]["cold_runs"] == 0  # init ran before the window and filled the cache
    assert from_skipped["setup-go"]["cold_runs"] == 1  # the commit before the window started no run
