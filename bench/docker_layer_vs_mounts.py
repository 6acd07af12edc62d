"""Where the modules live when CI builds an image on a fresh builder: in the download layer, or in
a cache mount. By hand, never by the tests:

    python bench/docker_layer_vs_mounts.py [--rounds 2] [--results bench/results]

It starts the registry and buildkitd from .tools/ (tests/support/buildkit.py, as the tests do;
`golang:1.22` is busybox with the host's Go), and writes a small Go program with a few real
dependencies (go.sum from `go mod tidy` against the Go module proxy). For each design it patches
the same Dockerfile with `ci-gocache patch`:

- layer: the repository has a GitLab job that builds the image, so the patch keeps the modules
  in the download layer and mounts only the build cache;
- mounts: no CI build, so both the module and the build cache are mounts (right on a builder
  that persists).

A round, for each design in turn (the order alternates between rounds): build with a registry
cache export (mode=max, as the patched CI writes it), prune the builder (a fresh CI runner),
change one source file, and build again importing that cache. The second build is what every CI
run after a source change pays. The modules its `go build` step downloads are counted from Go's
`go: downloading` lines in the build log.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

from support.buildkit import BuildKit  # noqa: E402

MAIN = """package main

import (
\t"fmt"

\t"github.com/google/uuid"
\t"github.com/spf13/cobra"
\t"golang.org/x/text/language"
\t"gopkg.in/yaml.v3"
)

func main() {{
\tcmd := &cobra.Command{{Use: "app", Run: func(*cobra.Command, []string) {{
\t\tout, _ := yaml.Marshal(map[string]string{{"id": uuid.NewString(), "lang": language.English.String(), "v": "{word}"}})
\t\tfmt.Print(string(out))
\t}}}}
\t_ = cmd.Execute()
}}
"""
DOCKERFILE = """FROM golang:1.22 AS build
WORKDIR /src
COPY . .
RUN CGO_ENABLED=0 go build -o /out/app .

FROM scratch
COPY --from=build /out/app /app
"""
GITLAB_JOB = """image:
  image: docker:27
  services:
    - docker:27-dind
  script:
    - docker build -t "$CI_REGISTRY_IMAGE" .
    - docker push "$CI_REGISTRY_IMAGE"
"""


def write_app(directory: Path, layer: bool, env: dict[str, str]) -> None:
    directory.mkdir(parents=True)
    (directory / ".git").mkdir()
    (directory / "go.mod").write_text("module example.com/app\n\ngo 1.22\n")
    (directory / "main.go").write_text(MAIN.format(word="first"))
    (directory / "Dockerfile").write_text(DOCKERFILE)
    if layer:
        (directory / ".gitlab-ci.yml").write_text(GITLAB_JOB)
    subprocess.run(["go", "mod", "tidy"], cwd=directory, check=True, env={**env, "GOFLAGS": "-mod=mod"}, timeout=600)
    patched = subprocess.run([sys.executable, "-m", "ci_gocache", "patch", "Dockerfile"], cwd=directory, capture_output=True, text=True, env=env)
    assert patched.returncode == 0, patched.stderr


def build(kit: BuildKit, app: Path, image: str, cache: str, export: bool) -> tuple[float, str]:
    options = ["--import-cache", f"type=registry,ref={cache},registry.insecure=true"]
    if export:
        options += ["--export-cache", f"type=registry,ref={cache},mode=max,image-manifest=true,oci-mediatypes=true,registry.insecure=true"]
    started = time.monotonic()
    result = kit.buildctl(
        "build", "--progress", "plain", "--frontend", "dockerfile.v0", "--local", f"context={app}", "--local", f"dockerfile={app}",
        *options, "--output", f"type=image,name={image},push=true,registry.insecure=true",
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-3000:]
    return elapsed, result.stderr


def go_build_downloads(log: str) -> int:
    """Modules the `go build` step fetched: Go prints `go: downloading <module> <version>`."""
    return sum(1 for line in log.splitlines() if "go: downloading" in line)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--results", type=Path, default=BENCH / "results")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    state = Path(tempfile.mkdtemp(prefix="cigc-bench-bk-", dir="/tmp"))
    kit = BuildKit(state)
    samples: dict[str, list[dict[str, float]]] = {"layer": [], "mounts": []}
    loads = []
    try:
        kit.start()
        kit.publish_base_images(state / "images")
        for round_number in range(args.rounds):
            order = ["layer", "mounts"] if round_number % 2 == 0 else ["mounts", "layer"]
            for design in order:
                app = state / f"app-{design}-{round_number}"
                write_app(app, design == "layer", env)
                cache = f"{kit.registry}/{design}{round_number}:buildcache"
                first, _ = build(kit, app, f"{kit.registry}/{design}{round_number}:1", cache, export=True)
                assert kit.buildctl("prune", "--all").returncode == 0
                (app / "main.go").write_text(MAIN.format(word="second"))
                second, log = build(kit, app, f"{kit.registry}/{design}{round_number}:2", cache, export=False)
                samples[design].append({"first_s": first, "second_s": second, "downloads": go_build_downloads(log)})
                loads.append(os.getloadavg()[0])
                assert kit.buildctl("prune", "--all").returncode == 0
                print(f"round {round_number + 1} {design}: first {first:.1f} s, second {second:.1f} s, "
                      f"modules downloaded by go build in the second: {samples[design][-1]['downloads']}", flush=True)
    finally:
        kit.stop()
        shutil.rmtree(state, ignore_errors=True)
    medians = {design: statistics.median(sample["second_s"] for sample in rows) for design, rows in samples.items()}
    ratio = medians["mounts"] / medians["layer"]
    record = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_average": [min(loads), max(loads)]},
        "rounds": args.rounds,
        "samples": samples,
        "median_second_build_s": medians,
        "mounts_over_layer": ratio,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "docker_layer_vs_mounts.json").write_text(json.dumps(record, indent=2) + "\n")
    rows = "\n".join(
        f"| {design} | {medians[design]:.1f} | "
        + ", ".join(f"{sample['second_s']:.1f}" for sample in samples[design])
        + " | "
        + ", ".join(f"{sample['first_s']:.1f}" for sample in samples[design])
        + " | "
        + ", ".join(str(sample["downloads"]) for sample in samples[design])
        + " |"
        for design in ("layer", "mounts")
    )
    (args.results / "docker_layer_vs_mounts.md").write_text(
        "# Docker: modules in the download layer or in a cache mount\n\n"
        f"`python bench/docker_layer_vs_mounts.py --rounds {args.rounds}`: the same patched Dockerfile, built, "
        "the builder pruned, one source file changed, built again importing the registry cache.\n\n"
        "| design | median second build s | second build s per round | first build s per round | modules `go build` downloaded (second build) |\n"
        "|---|---|---|---|---|\n"
        f"{rows}\n\n"
        f"Second build, mounts over layer: **{ratio:.2f}x**. {os.cpu_count()} CPUs shared with other work, "
        f"load average {min(loads):.1f} to {max(loads):.1f} during the rounds.\n"
    )
    print(f"median second build: layer {medians['layer']:.1f} s, mounts {medians['mounts']:.1f} s ({ratio:.2f}x)")


if __name__ == "__main__":
    main()
