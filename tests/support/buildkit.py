"""BuildKit's own Dockerfile front end for the tests (tests/go/dockerfile-check)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

from support.tools import tool

MOUNT_TYPES = {"bind", "cache", "tmpfs", "secret", "ssh"}
GO_BUILD = re.compile(r"\bgo\s+(build|test|generate|install|vet|run)\b")
GO_DOWNLOAD = re.compile(r"\bgo\s+mod\s+download\b")


def dockerfile_check(*paths: Path) -> list[dict[str, Any]]:
    """What BuildKit's parser, instructions and linter packages make of each file."""
    completed = subprocess.run(
        [tool("dockerfile-check"), *map(str, paths)], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def lint_warnings(report: dict[str, Any]) -> Counter[tuple[str, str]]:
    return Counter((warning["rule"], warning["message"]) for warning in report["warnings"])


def runs(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [run for stage in report["stages"] for run in stage["runs"]]


def script_of(run: dict[str, Any]) -> str:
    return run["command"] + "\n" + "".join(run["heredocs"])


def assert_front_end_accepts(original: Path, patched: Path) -> dict[str, Any]:
    """No parse error, every RUN mount recognised with its type and target, no new lint warning."""
    before, after = dockerfile_check(original, patched)
    assert after["parse_errors"] == [], after["parse_errors"]
    for run in runs(after):
        assert len(run["mounts"]) == len(run["mount_flags"]), run
        for mount in run["mounts"]:
            assert mount["type"] in MOUNT_TYPES, run
            if mount["type"] in ("cache", "bind", "tmpfs"):
                assert mount["target"].startswith("/") or mount["type"] == "bind", run
    new = lint_warnings(after) - lint_warnings(before)
    assert not new, f"{patched}: new lint warnings {dict(new)}"
    return after


# ---------------------------------------------------------------- a real daemon and registry


class BuildKit:
    """A registry on 127.0.0.1 and a BuildKit daemon (runc worker) using it, from .tools/.

    docker.io is mirrored to the local registry, so `FROM golang:1.22` and
    `# syntax=docker/dockerfile:1` resolve to images this class builds and pushes there:
    a Go toolchain image (busybox + the host's Go) and BuildKit's own Dockerfile front end.
    """

    def __init__(self, state: Path) -> None:
        import shutil
        import socket

        self.state = state
        self.tools = Path(tool("buildkitd")).parent
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.registry = f"127.0.0.1:{self.port}"
        self.socket = f"unix://{state}/buildkitd.sock"
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []
        (state / "registry.yml").write_text(
            f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {state}/registry\n"
            f"http:\n  addr: {self.registry}\n"
        )
        (state / "buildkitd.toml").write_text(
            f'[registry."docker.io"]\n  mirrors = ["{self.registry}"]\n'
            f'[registry."{self.registry}"]\n  http = true\n  insecure = true\n'
        )
        self.env = {**os.environ, "PATH": f"{self.tools}{os.pathsep}{os.environ['PATH']}"}
        self.busybox = shutil.which("busybox")

    def start(self) -> None:
        import time
        import urllib.request

        self._spawn("registry", [tool("registry"), "serve", str(self.state / "registry.yml")])
        self._spawn(
            "buildkitd",
            [
                tool("buildkitd"), "--config", str(self.state / "buildkitd.toml"), "--root", str(self.state / "root"),
                "--addr", self.socket, "--oci-worker-net=host", "--containerd-worker=false",
            ],
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://{self.registry}/v2/", timeout=2).read()
                workers = subprocess.run([tool("buildctl"), "--addr", self.socket, "debug", "workers"], capture_output=True, text=True, env=self.env)
                if workers.returncode == 0 and "linux/amd64" in workers.stdout:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline or any(process.poll() is not None for process in self.processes):
                raise AssertionError("BuildKit or the registry did not start:\n" + self.log_tail())
            time.sleep(0.2)

    def _spawn(self, name: str, command: list[str]) -> None:
        log = self.state / f"{name}.log"
        self.logs.append(log)
        handle = open(log, "wb")
        self.processes.append(subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=self.env))

    def log_tail(self) -> str:
        return "\n".join(f"--- {log.name}\n" + log.read_text(errors="replace")[-3000:] for log in self.logs if log.exists())

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()

    def buildctl(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [tool("buildctl"), "--addr", self.socket, *args], capture_output=True, text=True, env=self.env, timeout=timeout
        )

    def push_image(self, context: Path, name: str) -> None:
        result = self.buildctl(
            "build", "--frontend", "dockerfile.v0", "--local", f"context={context}", "--local", f"dockerfile={context}",
            "--output", f"type=image,name={self.registry}/{name},push=true,registry.insecure=true",
        )
        assert result.returncode == 0, result.stderr[-3000:] + self.log_tail()

    def publish_base_images(self, work: Path) -> None:
        """golang:1.22 (busybox and the host's Go toolchain) and docker/dockerfile:1, via the mirror."""
        import shutil

        goroot = Path(subprocess.run(["go", "env", "GOROOT"], capture_output=True, text=True, check=True).stdout.strip())
        golang = work / "golang"
        rootfs = golang / "rootfs"
        (rootfs / "bin").mkdir(parents=True)
        assert self.busybox, "busybox-static is installed by .ci/install-tools"
        shutil.copy(self.busybox, rootfs / "bin" / "busybox")
        for applet in ("sh", "ls", "cp", "mkdir", "rm", "cat", "echo", "env", "true"):
            (rootfs / "bin" / applet).symlink_to("busybox")
        (rootfs / "etc" / "ssl" / "certs").mkdir(parents=True)
        shutil.copy("/etc/ssl/certs/ca-certificates.crt", rootfs / "etc" / "ssl" / "certs")
        (rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
        (rootfs / "tmp").mkdir()
        (rootfs / "root").mkdir()
        shutil.copytree(goroot, rootfs / "usr" / "local" / "go", symlinks=True, ignore=shutil.ignore_patterns("test", "doc", "api"))
        (golang / "Dockerfile").write_text(
            "FROM scratch\nCOPY rootfs/ /\n"
            "ENV PATH=/usr/local/go/bin:/go/bin:/bin GOPATH=/go GOTOOLCHAIN=local GOFLAGS=-modcacherw\nWORKDIR /go\n"
        )
        self.push_image(golang, "library/golang:1.22")
        frontend = work / "frontend"
        frontend.mkdir()
        shutil.copy(tool("dockerfile-frontend"), frontend / "dockerfile-frontend")
        (frontend / "Dockerfile").write_text(
            "FROM scratch\nCOPY dockerfile-frontend /bin/dockerfile-frontend\n"
            'LABEL moby.buildkit.frontend.network.none="true"\n'
            'LABEL moby.buildkit.frontend.caps="moby.buildkit.frontend.inputs,moby.buildkit.frontend.subrequests,moby.buildkit.frontend.contexts"\n'
            'ENTRYPOINT ["/bin/dockerfile-frontend"]\n'
        )
        self.push_image(frontend, "docker/dockerfile:1")

    def tags(self, repository: str) -> list[str]:
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(f"http://{self.registry}/v2/{repository}/tags/list", timeout=10) as response:
                return json.loads(response.read()).get("tags") or []
        except urllib.error.HTTPError:
            return []


def vertex_cache_states(rawjson: str) -> dict[str, set[bool]]:
    """For each build step (vertex name), the `cached` values BuildKit reported for it."""
    states: dict[str, set[bool]] = {}
    for line in rawjson.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        for vertex in json.loads(line).get("vertexes") or []:
            if vertex.get("completed"):
                states.setdefault(vertex.get("name", ""), set()).add(bool(vertex.get("cached")))
    return states
