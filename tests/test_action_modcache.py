"""The module cache the action saves: complete for the keyed go.sum files and nothing more
(issue 10 point 6, issue 17 point 8). Real `go`, the Go module proxy, the action's own steps."""

from __future__ import annotations

from pathlib import Path

from ci_gocache.action import modcache
from support.cachestore import CacheStore
from support.composite import main_action
from support.actionrunner import Runner, remove_tree

OLD_TEXT = "v0.20.0"  # an older golang.org/x/text than the fixture's go.sum lists (v0.21.0)


def _versions(module_cache: Path, module: str) -> set[str]:
    directory = module_cache / "cache" / "download" / module / "@v"
    return {path.name.removesuffix(".zip") for path in directory.glob("*.zip")} if directory.is_dir() else set()


def test_a_job_that_builds_one_package_saves_every_module_the_go_sum_needs(tmp_path):
    """The first job to save the shared module key built only ./ids; the next job builds all
    of the module with the proxy off and finds every module in the restored cache."""
    runner = Runner(tmp_path / "runner", CacheStore(tmp_path / "store"))
    partial = runner.ci_run(build="go build ./ids")
    assert partial.records["mod"]["saved"], partial.save.log
    assert "module cache: go mod download in 1 module(s)" in partial.save.log

    job = runner.fresh_job()
    restored = job.use_action(main_action())
    assert restored.outputs["module-hit"] == "exact"
    offline = job.run_shell("GOPROXY=off GOFLAGS=-mod=mod go build ./...")
    assert offline.outcome == "success", offline.stderr[-2000:]
    remove_tree(tmp_path / "runner")


def test_module_versions_no_go_sum_lists_are_not_saved(tmp_path):
    """An older module set brought by `...-gomod-` (here: downloaded during the job) is pruned
    before the save; what the go.sum lists stays and still builds offline."""
    runner = Runner(tmp_path / "runner", CacheStore(tmp_path / "store"))
    run = runner.ci_run(build=f"go mod download golang.org/x/text@{OLD_TEXT} && go build ./...")
    assert run.records["mod"]["saved"], run.save.log
    job = runner.fresh_job()
    job.use_action(main_action())
    module_cache = Path(job.env["GOMODCACHE"])
    assert _versions(module_cache, "golang.org/x/text") == {"v0.21.0"}
    assert not (module_cache / "golang.org" / "x" / f"text@{OLD_TEXT}").exists()
    offline = job.run_shell("GOPROXY=off GOFLAGS=-mod=mod go build ./... && GOPROXY=off go test ./...")
    assert offline.outcome == "success", offline.stderr[-2000:]
    remove_tree(tmp_path / "runner")


def test_prune_keeps_listed_versions_the_toolchain_and_escaped_paths(tmp_path):
    cache = tmp_path / "mod"
    files = {
        "cache/download/github.com/!burnt!sushi/toml/@v/v1.3.2.zip": "listed, with capitals escaped",
        "cache/download/github.com/!burnt!sushi/toml/@v/v1.2.0.zip": "not listed",
        "cache/download/github.com/!burnt!sushi/toml/@v/list": "kept: not a version",
        "cache/download/golang.org/toolchain/@v/v0.0.1-go1.26.8.linux-amd64.zip": "the Go toolchain",
        "cache/download/sumdb/sum.golang.org/lookup/x": "checksum database",
        "github.com/!burnt!sushi/toml@v1.3.2/decode.go": "listed",
        "github.com/!burnt!sushi/toml@v1.2.0/decode.go": "not listed",
    }
    for relative, text in files.items():
        (cache / relative).parent.mkdir(parents=True, exist_ok=True)
        (cache / relative).write_text(text)
    (cache / "github.com/!burnt!sushi/toml@v1.2.0").chmod(0o555)
    (tmp_path / "go.sum").write_text("github.com/BurntSushi/toml v1.3.2 h1:x=\ngithub.com/BurntSushi/toml v1.3.2/go.mod h1:y=\n")
    result = modcache.prune(str(cache), modcache.listed_versions(tmp_path, ["go.sum"]))
    left = {path.relative_to(cache).as_posix() for path in cache.rglob("*") if path.is_file()}
    assert left == set(files) - {"cache/download/github.com/!burnt!sushi/toml/@v/v1.2.0.zip", "github.com/!burnt!sushi/toml@v1.2.0/decode.go"}
    assert result.dropped == ["github.com/!burnt!sushi/toml@v1.2.0"]
