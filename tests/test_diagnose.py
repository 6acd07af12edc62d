"""`ci-gocache diagnose` on error text produced by the real go, git, tar and rm commands.

Every scenario builds a module that depends on example.com/dep, served from a module proxy
made in the test (a file:// proxy, or an http.server on 127.0.0.1), breaks one thing, runs the
real command, and checks that diagnose names that thing at the line the command printed it.
Hand-written logs for CI services (actions/cache, GitLab) are in test_diagnose_fixtures.py.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.cli import run_cli

DEP_GO_MOD = "module example.com/dep\n\ngo 1.21\n"
APP_GO_MOD = "module example.com/app\n\ngo 1.21\n\nrequire example.com/dep v1.0.0\n"
APP_MAIN = 'package main\n\nimport "example.com/dep"\n\nfunc main() { println(dep.Hello()) }\n'
CLEARED = ("GOPRIVATE", "GONOPROXY", "GONOSUMDB", "GOINSECURE", "GOFLAGS", "GOPROXY", "GOSUMDB", "GOWORK",
           "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy")


def write_file_proxy(root: Path) -> Path:
    """A GOPROXY=file:// tree serving example.com/dep v1.0.0."""
    versions = root / "example.com" / "dep" / "@v"
    versions.mkdir(parents=True)
    (versions / "list").write_text("v1.0.0\n")
    (versions / "v1.0.0.info").write_text('{"Version":"v1.0.0","Time":"2024-01-02T03:04:05Z"}')
    (versions / "v1.0.0.mod").write_text(DEP_GO_MOD)
    with zipfile.ZipFile(versions / "v1.0.0.zip", "w") as archive:
        archive.writestr("example.com/dep@v1.0.0/go.mod", DEP_GO_MOD)
        archive.writestr("example.com/dep@v1.0.0/dep.go", 'package dep\n\nfunc Hello() string { return "hi" }\n')
    return root


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    # Not pytest's tmp_path: the read-only cache scenario runs commands as another user.
    directory = Path(tempfile.mkdtemp(prefix="ci-gocache-diagnose-"))
    directory.chmod(0o755)
    yield directory
    subprocess.run(["chmod", "-R", "u+w", str(directory)], check=False)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def proxy_url(workdir: Path) -> str:
    proxy = write_file_proxy(workdir / "proxy")
    subprocess.run(["chmod", "-R", "a+rX", str(proxy)], check=True)
    return proxy.as_uri()


def go_env(home: Path, **overrides: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in CLEARED}
    env.update({
        "HOME": str(home), "GOPATH": str(home / "go"), "GOMODCACHE": str(home / "go" / "pkg" / "mod"),
        "GOCACHE": str(home / "go-build"), "GOENV": "off", "GOTOOLCHAIN": "local", "GOFLAGS": "-modcacherw",
        "GOSUMDB": "off",
    })
    env.update(overrides)
    return env


def make_app(directory: Path, proxy: str) -> Path:
    """example.com/app with a go.sum written by the real `go mod tidy`."""
    directory.mkdir(parents=True)
    (directory / "go.mod").write_text(APP_GO_MOD)
    (directory / "main.go").write_text(APP_MAIN)
    run_go(directory, ["mod", "tidy"], go_env(directory / "home", GOPROXY=proxy), expect_failure=False)
    shutil.rmtree(directory / "home", ignore_errors=True)
    return directory


def run_go(cwd: Path, args: list[str], env: dict[str, str], expect_failure: bool = True) -> str:
    completed = subprocess.run(["go", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    output = completed.stdout + completed.stderr
    assert (completed.returncode != 0) == expect_failure, output
    return output


def as_github_log(step_output: str, command: str = "go mod download") -> str:
    """The output as it appears in a GitHub Actions job log: a step header, timestamps on every line."""
    lines = ["##[group]Run " + command, command, "shell: /usr/bin/bash -e {0}", "##[endgroup]"]
    lines += step_output.rstrip("\n").split("\n")
    lines.append("##[error]Process completed with exit code 1.")
    return "".join(f"2024-05-01T10:00:{index:02d}.1234567Z {line}\n" for index, line in enumerate(lines))


def diagnose_text(log: str, tmp_path: Path) -> dict:
    path = tmp_path / "job.log"
    path.write_text(log)
    completed = run_cli("diagnose", str(path), "--format", "json")
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def line_of(log: str, needle: str) -> int:
    return next(number for number, line in enumerate(log.split("\n"), start=1) if needle in line)


class Server:
    """An http.server on 127.0.0.1 answering every GET with one status, optionally over TLS."""

    def __init__(self, status: int, body: bytes = b"not found\n", context: ssl.SSLContext | None = None) -> None:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.paths.append(self.path)
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=UTF-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.paths: list[str] = []
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if context is not None:
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"{'https' if context else 'http'}://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "Server":
        self.thread.start()
        return self

    def __exit__(self, *args: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# ---------------------------------------------------------------- network


def test_unreachable_goproxy_is_named_with_the_proxy_host(workdir: Path, proxy_url: str, tmp_path: Path) -> None:
    app = make_app(workdir / "unreachable", proxy_url)
    output = run_go(app, ["mod", "download"], go_env(tmp_path / "home", GOPROXY="http://127.0.0.1:1"))
    log = as_github_log(output)
    result = diagnose_text(log, tmp_path)
    root = result["root_cause"]
    assert root["rule"] == "proxy-unreachable" and root["category"] == "network"
    assert root["line"] == line_of(log, "connection refused")
    assert "127.0.0.1:1" in root["cause"] and "GOPROXY=" in root["fix"] and "GOSUMDB" in root["fix"]


def test_unreachable_https_proxy_is_an_http_proxy_problem(workdir: Path, proxy_url: str, tmp_path: Path) -> None:
    app = make_app(workdir / "proxyconnect", proxy_url)
    env = go_env(tmp_path / "home", GOPROXY="https://proxy.golang.org", HTTPS_PROXY="http://127.0.0.1:1")
    output = run_go(app, ["mod", "download"], env)
    assert "proxyconnect tcp" in output
    root = diagnose_text(as_github_log(output), tmp_path)["root_cause"]
    assert root["rule"] == "http-proxy-unreachable" and "HTTPS_PROXY" in root["fix"]


def self_signed_context(directory: Path) -> ssl.SSLContext:
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(directory / "key.pem"), "-out", str(directory / "cert.pem")],
        check=True, capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    return context


def test_untrusted_certificate_is_a_tls_finding(workdir: Path, proxy_url: str, tmp_path: Path) -> None:
    app = make_app(workdir / "tls", proxy_url)
    with Server(200, context=self_signed_context(tmp_path / "certs")) as server:
        output = run_go(app, ["mod", "download"], go_env(tmp_path / "home", GOPROXY=server.url))
    assert "x509: certificate signed by unknown authority" in output
    root = diagnose_text(as_github_log(output), tmp_path)["root_cause"]
    assert root["rule"] == "tls-error" and "CA" in root["fix"]
    assert "certificate signed by unknown authority" in root["cause"]


def test_https_goproxy_pointing_at_a_plain_http_server_is_a_tls_finding(workdir: Path, proxy_url: str, tmp_path: Path) -> None:
    app = make_app(workdir / "tls-plain", proxy_url)
    with Server(200) as server:
        output = run_go(app, ["mod", "download"], go_env(tmp_path / "home", GOPROXY=server.url.replace("http:", "https:")))
    assert "first record does not look like a TLS handshake" in output
    assert diagnose_text(as_github_log(output), tmp_path)["root_cause"]["rule"] == "tls-error"


# ---------------------------------------------------------------- private modules


@pytest.mark.parametrize("status", [401, 403, 404, 410])
def test_proxy_refusing_a_module_suggests_goprivate_and_git_credentials(
    workdir: Path, proxy_url: str, tmp_path: Path, status: int
) -> None:
    app = make_app(workdir / f"refused-{status}", proxy_url)
    with Server(status) as server:
        output = run_go(app, ["mod", "download"], go_env(tmp_path / "home", GOPROXY=server.url))
    log = as_github_log(output)
    result = diagnose_text(log, tmp_path)
    root = result["root_cause"]
    assert root["rule"] == "proxy-denied" and root["category"] == "private-module"
    assert root["line"] == line_of(log, f": {status} ")
    assert root["details"]["module"] == "example.com/dep"
    assert "GOPRIVATE=example.com/*" in root["fix"] and "insteadOf" in root["fix"]
    assert "--mount=type=ssh" not in root["fix"], "no Docker advice for a plain CI log"


class GitHostOverHttpProxy:
    """private.example.com reached through HTTP_PROXY: go-get metadata, then git asks for a password."""

    def __init__(self) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if "go-get=1" in self.path:
                    body = (b'<html><head><meta name="go-import" content="private.example.com/lib git '
                            b'http://private.example.com/lib.git"></head></html>')
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def terminal_prompt_output(tmp_path: Path) -> str:
    app = tmp_path / "private-app"
    app.mkdir()
    (app / "go.mod").write_text("module example.com/app2\n\ngo 1.21\n\nrequire private.example.com/lib v1.0.0\n")
    host = GitHostOverHttpProxy()
    try:
        env = go_env(tmp_path / "home", GOPROXY="direct", GOPRIVATE="private.example.com",
                     GOINSECURE="private.example.com", HTTP_PROXY=host.url, http_proxy=host.url)
        return run_go(app, ["mod", "download", "private.example.com/lib"], env)
    finally:
        host.close()


def test_terminal_prompts_disabled_is_a_private_module_without_credentials(tmp_path: Path) -> None:
    output = terminal_prompt_output(tmp_path)
    assert "terminal prompts disabled" in output
    log = as_github_log(output)
    root = diagnose_text(log, tmp_path)["root_cause"]
    assert root["rule"] == "terminal-prompts-disabled"
    assert root["line"] == line_of(log, "terminal prompts disabled")
    assert 'url."https://x-access-token:${TOKEN}@private.example.com/".insteadOf' in root["fix"]


def test_private_module_in_a_docker_build_log_gets_the_build_secret_and_ssh_mount_fix(tmp_path: Path) -> None:
    output = terminal_prompt_output(tmp_path)
    # BuildKit's plain progress output: a step header, then "#<step> <seconds> <line>".
    lines = ["#1 [internal] load build definition from Dockerfile", "#1 DONE 0.0s",
             "#9 [build 4/6] RUN go mod download"]
    lines += [f"#9 {1.5 + index / 10:.3f} {line}" for index, line in enumerate(output.rstrip().split("\n"))]
    lines += ["#9 ERROR: process \"/bin/sh -c go mod download\" did not complete successfully: exit code: 1",
              "ERROR: failed to solve: process \"/bin/sh -c go mod download\" did not complete successfully: exit code: 1"]
    log = "\n".join(lines) + "\n"
    result = diagnose_text(log, tmp_path)
    assert result["docker"] is True
    root = result["root_cause"]
    assert root["rule"] == "terminal-prompts-disabled" and root["line"] == line_of(log, "terminal prompts disabled")
    assert "--mount=type=ssh" in root["fix"] and "--mount=type=secret" in root["fix"]


# ---------------------------------------------------------------- checksums


def test_tampered_go_sum_is_a_checksum_mismatch_and_the_security_banner_is_not_repeated(
    workdir: Path, proxy_url: str, tmp_path: Path
) -> None:
    app = make_app(workdir / "tampered", proxy_url)
    go_sum = app / "go.sum"
    lines = go_sum.read_text().splitlines()
    lines[0] = lines[0].rsplit(" ", 1)[0] + " h1:" + "A" * 43 + "="  # the zip hash, not the go.mod hash
    go_sum.write_text("\n".join(lines) + "\n")
    output = run_go(app, ["mod", "download"], go_env(tmp_path / "home", GOPROXY=proxy_url))
    assert "SECURITY ERROR" in output
    log = as_github_log(output)
    result = diagnose_text(log, tmp_path)
    assert [finding["rule"] for finding in result["findings"]] == ["checksum-mismatch"]
    root = result["root_cause"]
    assert root["line"] == line_of(log, "checksum mismatch") and root["details"]["module"] == "example.com/dep"
    assert "go clean -modcache" in root["fix"]


def test_missing_go_sum_entry(workdir: Path, proxy_url: str, tmp_path: Path) -> None:
    app = make_app(workdir / "missing-sum", proxy_url)
    (app / "go.sum").unlink()
    output = run_go(app, ["build", "./..."], go_env(tmp_path / "home", GOPROXY=proxy_url))
    log = as_github_log(output, "go build ./...")
    root = diagnose_text(log, tmp_path)["root_cause"]
    assert root["rule"] == "missing-go-sum-entry" and root["line"] == line_of(log, "missing go.sum entry")
    assert "go mod tidy" in root["fix"] and "-mod=mod" in root["fix"]


@pytest.mark.parametrize("status", [404, 410])
def test_private_module_sent_to_the_checksum_database_with_mod_mod_and_gonosumdb_fixes_it(
    workdir: Path, proxy_url: str, tmp_path: Path, status: int
) -> None:
    app = make_app(workdir / f"sumdb-{status}", proxy_url)
    (app / "go.sum").unlink()
    with Server(status) as sumdb:
        env = go_env(tmp_path / "home", GOPROXY=proxy_url, GOFLAGS="-mod=mod -modcacherw",
                     GOSUMDB=f"sum.golang.org {sumdb.url}")
        output = run_go(app, ["build", "./..."], env)
        log = as_github_log(output, "go build ./...")
        root = diagnose_text(log, tmp_path)["root_cause"]
        assert root["rule"] == "sumdb-not-found" and root["line"] == line_of(log, "verifying module")
        assert "GONOSUMDB=example.com/*" in root["fix"] or "GOPRIVATE=example.com/*" in root["fix"]
        # The suggested fix works: the same command with GONOSUMDB set builds.
        (app / "go.sum").unlink(missing_ok=True)
        run_go(app, ["build", "./..."], {**env, "GONOSUMDB": "example.com/*"}, expect_failure=False)


def test_unreachable_checksum_database_is_not_mistaken_for_the_module_proxy(
    workdir: Path, proxy_url: str, tmp_path: Path
) -> None:
    app = make_app(workdir / "sumdb-down", proxy_url)
    (app / "go.sum").unlink()
    env = go_env(tmp_path / "home", GOPROXY=proxy_url, GOFLAGS="-mod=mod -modcacherw",
                 GOSUMDB="sum.golang.org http://127.0.0.1:1")
    output = run_go(app, ["build", "./..."], env)
    root = diagnose_text(as_github_log(output, "go build ./..."), tmp_path)["root_cause"]
    assert root["rule"] == "sumdb-unreachable" and root["category"] == "checksum"
    assert "GOSUMDB" in root["fix"]


# ---------------------------------------------------------------- vendoring


def test_vendor_directory_out_of_step_with_go_mod(workdir: Path, proxy_url: str, tmp_path: Path) -> None:
    app = make_app(workdir / "vendor", proxy_url)
    env = go_env(tmp_path / "home", GOPROXY=proxy_url)
    run_go(app, ["mod", "vendor"], env, expect_failure=False)
    (app / "go.mod").write_text(APP_GO_MOD.replace("v1.0.0", "v1.0.1"))
    output = run_go(app, ["build", "./..."], env)
    log = as_github_log(output, "go build ./...")
    result = diagnose_text(log, tmp_path)
    root = result["root_cause"]
    assert root["rule"] == "inconsistent-vendoring" and root["line"] == line_of(log, "inconsistent vendoring")
    assert "go mod vendor" in root["fix"]


# ---------------------------------------------------------------- the machine


def test_disk_full_from_go_build(workdir: Path, proxy_url: str, tmp_path: Path) -> None:
    app = make_app(workdir / "disk-full", proxy_url)
    output = run_go(app, ["build", "-o", "/dev/full", "."], go_env(tmp_path / "home", GOPROXY=proxy_url))
    log = as_github_log(output, "go build -o /dev/full .")
    root = diagnose_text(log, tmp_path)["root_cause"]
    assert root["rule"] == "disk-full" and root["line"] == line_of(log, "no space left on device")


def as_unprivileged(command: list[str]) -> list[str]:
    # Root ignores file modes; run as nobody so the read-only module cache bites as it does on a runner.
    if os.geteuid() == 0:
        return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    return command


def read_only_cache_output(workdir: Path, proxy_url: str, name: str, goflags: str) -> tuple[str, Path]:
    home = workdir / name
    app = make_app(home / "app", proxy_url)
    subprocess.run(["chmod", "-R", "a+rwX", str(home)], check=True)
    env = go_env(home, GOPROXY=proxy_url, GOFLAGS=goflags)
    completed = subprocess.run(as_unprivileged(["go", "mod", "download"]), cwd=app, env=env, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    subprocess.run(as_unprivileged(["tar", "-C", str(home), "-cf", str(home / "cache.tar"), "go"]), check=True)
    # Restoring the cache a second time over itself, as two overlapping cache steps do.
    script = f"tar -C {home} -xf {home / 'cache.tar'}; rm -rf {home / 'go'}"
    completed = subprocess.run(as_unprivileged(["bash", "-c", script]), env=env, capture_output=True, text=True)
    return completed.stdout + completed.stderr, home


def test_read_only_module_cache_shows_tar_file_exists_and_rm_permission_denied(workdir: Path, proxy_url: str, tmp_path: Path) -> None:
    output, _ = read_only_cache_output(workdir, proxy_url, "readonly", "")
    assert "Cannot open: File exists" in output and "Permission denied" in output
    log = as_github_log(output, "restore and clean the cache")
    result = diagnose_text(log, tmp_path)
    rules = {finding["rule"]: finding for finding in result["findings"]}
    assert set(rules) == {"tar-file-exists", "modcache-read-only"}
    assert rules["tar-file-exists"]["line"] == line_of(log, "Cannot open: File exists")
    assert rules["tar-file-exists"]["repeated_at"], "one finding for many files"
    assert "cache: false" in rules["tar-file-exists"]["fix"]
    assert rules["modcache-read-only"]["line"] == line_of(log, "cannot remove")
    assert "-modcacherw" in rules["modcache-read-only"]["fix"]


def test_modcacherw_fix_makes_the_same_restore_and_cleanup_succeed(workdir: Path, proxy_url: str, tmp_path: Path) -> None:
    output, home = read_only_cache_output(workdir, proxy_url, "writable", "-modcacherw")
    assert "Permission denied" not in output and "Cannot open" not in output, output
    assert not (home / "go").exists()
    assert diagnose_text(as_github_log(output), tmp_path)["findings"] == []


# ---------------------------------------------------------------- the command


def test_stdin_and_text_output_show_line_cause_and_fix(workdir: Path, proxy_url: str, tmp_path: Path) -> None:
    app = make_app(workdir / "stdin", proxy_url)
    output = run_go(app, ["mod", "download"], go_env(tmp_path / "home", GOPROXY="http://127.0.0.1:1"))
    completed = run_cli("diagnose", "-", stdin=output)
    assert completed.returncode == 0
    first = completed.stdout.splitlines()[0]
    assert first.startswith(f"<stdin>:{line_of(output, 'connection refused')}: error [network/proxy-unreachable] (root cause)")
    assert "  cause: " in completed.stdout and "  fix:   " in completed.stdout
    assert completed.stdout.rstrip().endswith(f"root cause at line {line_of(output, 'connection refused')}: proxy-unreachable")


def test_clean_log_has_no_findings(tmp_path: Path) -> None:
    log = as_github_log("go: downloading example.com/dep v1.0.0\nok  \texample.com/app\t0.01s\n")
    path = tmp_path / "ok.log"
    path.write_text(log)
    completed = run_cli("diagnose", str(path))
    assert completed.returncode == 0
    assert completed.stdout.strip() == f"{path}: no known Go dependency or cache failure found."


def test_unreadable_log_is_exit_2_without_traceback(tmp_path: Path) -> None:
    completed = run_cli("diagnose", str(tmp_path / "missing.log"))
    assert completed.returncode == 2 and completed.stdout == ""
    assert completed.stderr.startswith(f"{tmp_path / 'missing.log'}:1:1: cannot read the log")
    assert "Traceback" not in completed.stderr
