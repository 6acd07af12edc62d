"""Name the root cause of Go dependency and cache failures in a CI or `docker build` log.

One table of rules, each a pattern over one cleaned log line with a cause and a fix. Lines
are cleaned first: GitHub timestamps, `##[warning]` annotations, GitLab's `\\r` redraws and
ANSI colours, and BuildKit's `#12 3.456` prefixes are removed, so one pattern serves every CI.
Continuation lines of a proxy's "server response:" belong to the error above them and are not
matched on their own (proxy.golang.org quotes git's errors there).

The first rule that matches a line wins, so specific rules come before general ones. A finding
may make another one redundant (a checksum mismatch explains its "SECURITY ERROR" banner):
`supersedes` drops those. The root cause is the finding with the lowest rank, then the earliest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ci_gocache.logtext import GITHUB_TIMESTAMP, strip_ansi

# ---------------------------------------------------------------- fixes shared by several rules

FIX_PRIVATE = (
    "Tell Go the module is private so it skips the public proxy and checksum database: "
    "GOPRIVATE={private} (implies GONOPROXY and GONOSUMDB). Give git a token for the host: "
    "git config --global url.\"https://x-access-token:${{TOKEN}}@{repo_host}/\".insteadOf \"https://{repo_host}/\" "
    "(on GitHub Actions a token with read access to that repository, not the default GITHUB_TOKEN of another repo)."
)
FIX_PRIVATE_DOCKER = (
    " In a Dockerfile, mount the credentials for the download step only: "
    "RUN --mount=type=secret,id=netrc,target=/root/.netrc go mod download (docker build --secret id=netrc,src=$HOME/.netrc), "
    "or RUN --mount=type=ssh go mod download with url.\"ssh://git@{repo_host}/\".insteadOf \"https://{repo_host}/\" "
    "and docker build --ssh default; pass GOPRIVATE as an ARG/ENV."
)
FIX_PROXY = (
    "Make a module proxy reachable from the runner: GOPROXY=https://proxy.golang.org,direct, or your mirror first "
    "(GOPROXY=https://goproxy.example.internal,https://proxy.golang.org,direct). Behind a firewall point GOSUMDB at a "
    "mirror too (GOSUMDB=\"sum.golang.org https://<mirror>/sumdb/sum.golang.org\"). A restored module cache "
    "avoids most downloads: check the module cache was restored before this step."
)
FIX_SUMDB = (
    "Let go verify checksums: allow access to sum.golang.org or set GOSUMDB=\"sum.golang.org https://<mirror>/sumdb/sum.golang.org\"; "
    "for private modules set GOPRIVATE (or GONOSUMDB) so they are never sent to the public checksum database. "
    "Committing a complete go.sum (go mod tidy) means CI never needs the database."
)


@dataclass(frozen=True)
class Rule:
    id: str
    category: str  # network, private-module, checksum, vendoring, machine, cache
    severity: str  # error, warning, info
    pattern: re.Pattern[str]
    cause: str
    fix: str
    rank: int  # lower is closer to the root cause
    supersedes: tuple[str, ...] = ()
    # Detail fields that make two matches separate findings; otherwise repeats are folded into one.
    distinct_by: tuple[str, ...] = ("module", "key", "host")


def _rule(rule_id: str, category: str, severity: str, rank: int, pattern: str, cause: str, fix: str,
          supersedes: tuple[str, ...] = (), distinct_by: tuple[str, ...] = ("module", "key", "host")) -> Rule:
    return Rule(rule_id, category, severity, re.compile(pattern), cause, fix, rank, supersedes, distinct_by)


# A module path with its version, as go prints it: example.com/mod@v1.2.3 or .../go.mod.
MODULE = r"(?P<module>[^\s:@]+)@(?P<version>[^\s:/]+)(?:/go\.mod)?"

# Order matters: the first matching rule takes the line.
RULES: list[Rule] = [
    # ---- checksums and the checksum database (before network: their lines also say "dial tcp")
    _rule(
        "checksum-mismatch", "checksum", "error", 10,
        r"verifying " + MODULE + r": checksum mismatch",
        "The downloaded {module} does not match go.sum: go.sum was edited or merged by hand, the module's "
        "tag was moved upstream, or a restored module cache holds a corrupted copy.",
        "Do not just delete the line. If go.sum changed in this branch, regenerate it with go mod tidy and review the diff; "
        "if the cache is suspect, go clean -modcache (or bump the cache key prefix) and download again; "
        "if the upstream tag moved, pin another version: the SECURITY ERROR is go refusing changed bits.",
        supersedes=("security-error",),
    ),
    _rule(
        "security-error", "checksum", "error", 11, r"^\s*SECURITY ERROR\s*$",
        "go refused a download whose checksum differs from go.sum or the checksum database.",
        "Find the 'verifying ...: checksum mismatch' line above it; regenerate go.sum with go mod tidy or clear a corrupted module cache.",
    ),
    _rule(
        "sumdb-not-found", "checksum", "error", 12,
        r"verifying (?:module: |go\.mod: )?" + MODULE + r": .*reading (?P<url>https?://\S+): (?P<status>404 Not Found|410 Gone)",
        "The checksum database answered {status} while verifying {module}: a private module was sent to the public "
        "checksum database, which cannot see it.",
        "Set GOPRIVATE={private} (or GONOSUMDB={private}) so go skips the checksum database for it, and commit a "
        "complete go.sum so CI does not need to look anything up.",
    ),
    _rule(
        "sumdb-unreachable", "checksum", "error", 13,
        r"verifying (?:module: |go\.mod: )?" + MODULE + r": .*(?:dial tcp|i/o timeout|no such host|"
        r"connection refused|TLS handshake timeout|context deadline exceeded|network is unreachable)",
        "go could not reach the checksum database (GOSUMDB) to verify {module}.",
        FIX_SUMDB,
    ),
    _rule(
        "missing-go-sum-entry", "checksum", "error", 14,
        r"missing go\.sum entry(?: for module providing package (?P<package>\S+)| for go\.mod file)?",
        "go.sum lacks entries the build needs: go.mod (or an import) changed without go mod tidy, or go.sum is not "
        "committed. CI builds with -mod=readonly, so go will not add them.",
        "Run go mod tidy locally and commit go.mod and go.sum. Do not set GOFLAGS=-mod=mod in CI to paper over it: "
        "that downloads unverified changes, needs the checksum database, and changes the cache key mid-run.",
    ),
    _rule(
        "go-mod-updates-needed", "checksum", "error", 15, r"updates to go\.mod needed",
        "go.mod is not tidy: the build needs requirements that go.mod does not list.",
        "Run go mod tidy locally and commit go.mod and go.sum.",
    ),
    # ---- vendoring
    _rule(
        "inconsistent-vendoring", "vendoring", "error", 10, r"inconsistent vendoring in (?P<dir>\S+?):?$",
        "vendor/modules.txt does not match go.mod in {dir}: go.mod changed without go mod vendor.",
        "Run go mod vendor and commit vendor/; if the vendor directory is not meant to be used, delete it or build "
        "with -mod=readonly. A vendored module needs no module cache: cache only the build cache.",
    ),
    _rule(
        "vendor-not-marked", "vendoring", "error", 11,
        r"is (?:explicitly required in go\.mod, but not marked as explicit|marked as explicit in vendor/modules\.txt, but not explicitly required)",
        "vendor/modules.txt and go.mod disagree about a requirement.",
        "Run go mod vendor and commit vendor/.",
    ),
    # ---- private modules
    _rule(
        "terminal-prompts-disabled", "private-module", "error", 5,
        r"could not read (?:Username|Password) for '(?P<url>[^']+)': terminal prompts disabled|terminal prompts disabled",
        "git needed credentials for {url} and could not ask for them: the module is private and go fetched it "
        "directly (GOPRIVATE or GOPROXY=direct) without a token.",
        FIX_PRIVATE,
        supersedes=("proxy-denied",),
    ),
    _rule(
        "git-auth-failed", "private-module", "error", 6,
        r"(?:git@(?P<sshhost>[^:\s]+): )?Permission denied \(publickey\)|Host key verification failed|fatal: Authentication failed for '(?P<url>[^']+)'|"
        r"remote: Repository not found|fatal: repository '(?P<url2>[^']+)' not found",
        "git could not authenticate to fetch a private module.",
        FIX_PRIVATE,
        supersedes=("proxy-denied",),
    ),
    _rule(
        "proxy-denied", "private-module", "error", 7,
        r"(?:go: )?(?:(?:module )?(?P<module>[^\s@:]*[./][^\s@:]*)(?:@(?P<version>[^\s:]+))?: )?"
        r"reading (?P<url>https?://\S+?)/@(?:v|latest)\S*: "
        r"(?P<status>401 Unauthorized|403 Forbidden|404 Not Found|410 Gone)",
        "The module proxy answered {status} for {module}: public proxies cannot fetch private repositories "
        "(proxy.golang.org answers 404 or 410), and a private proxy refused the credentials (401/403). "
        "If {module} is public, check that the version exists.",
        FIX_PRIVATE,
    ),
    # ---- network
    _rule(
        "http-proxy-unreachable", "network", "error", 8, r"proxyconnect tcp: (?P<error>.+)$",
        "The HTTP(S) proxy configured for the runner (HTTPS_PROXY/HTTP_PROXY) could not be reached: {error}.",
        "Fix HTTPS_PROXY/HTTP_PROXY (and NO_PROXY for internal hosts), or unset them if the runner has direct access. "
        + FIX_PROXY,
    ),
    _rule(
        "tls-error", "network", "error", 8,
        r"Get \"(?P<url>https://[^\"]+)\": (?P<error>(?:tls: |x509: ).+)$|(?P<error2>x509: certificate .+)$",
        "TLS failed talking to {host}: {error}. A TLS-intercepting proxy or firewall, a missing CA certificate, or an "
        "http-only server behind an https:// GOPROXY.",
        "Install the intercepting proxy's CA in the runner or image trust store (update-ca-certificates, or SSL_CERT_FILE), "
        "and make GOPROXY's scheme match the server. Avoid GOINSECURE for public modules.",
    ),
    _rule(
        "network-timeout", "network", "error", 9,
        r"(?:Get \"(?P<url>https?://[^\"]+)\": )?.*(?:i/o timeout|TLS handshake timeout|context deadline exceeded|"
        r"Client\.Timeout exceeded)",
        "A request to {host} timed out: the network is slow or filtered.",
        FIX_PROXY,
    ),
    _rule(
        "proxy-unreachable", "network", "error", 9,
        r"Get \"(?P<url>https?://[^\"]+)\": (?:dial tcp|lookup) .*(?:connection refused|no such host|network is unreachable|"
        r"connection reset by peer|server misbehaving)",
        "The module proxy {host} could not be reached from the runner.",
        FIX_PROXY,
    ),
    # ---- the machine
    _rule(
        "disk-full", "machine", "error", 3, r"no space left on device",
        "The runner's disk is full.",
        "Free space before the build (remove unused toolchains and images, e.g. /usr/share/dotnet and docker image prune), "
        "keep the Go build cache small (ci-gocache trims entries the job did not use; go clean -cache as a last resort), "
        "or use a runner with a bigger disk.",
    ),
    _rule(
        "tar-file-exists", "cache", "error", 17, r"(?P<path>\S+): Cannot open: File exists",
        "Two caches restore the same files: tar cannot replace the read-only files Go writes in the module cache, "
        "so a second restore over an existing module cache fails. Typical: setup-go's built-in cache plus an "
        "actions/cache step for the same directories, or two cache steps with overlapping paths.",
        "Keep one cache per directory: set cache: false on actions/setup-go when you use actions/cache (or ci-gocache), "
        "and do not list ~/go/pkg/mod in two steps. GOFLAGS=-modcacherw keeps the module cache writable.",
        supersedes=("actions-cache-tar-failed",), distinct_by=(),
    ),
    _rule(
        "modcache-read-only", "machine", "error", 5,
        r"(?P<path>[^\s']*(?:/pkg/mod/|@v\d)[^\s':]*)'?:? .*[Pp]ermission denied",
        "Go writes the module cache read-only, so deleting or overwriting it fails (workspace cleanup, tar extraction "
        "over it, or rm -rf).",
        "Set GOFLAGS=-modcacherw before the first download so the cache is writable; clean it with go clean -modcache, "
        "not rm -rf; for an existing cache chmod -R u+w it first.",
        distinct_by=(),
    ),
    _rule(
        "build-cache-permission", "machine", "error", 6, r"(?P<path>\S*go-build\S*): .*permission denied",
        "The Go build cache belongs to another user (a cache restored by root, or a container mount).",
        "Point GOCACHE at a directory the build user owns, or chown the restored cache before building.",
    ),
    # ---- caching services
    _rule(
        "actions-cache-tar-failed", "cache", "warning", 20,
        r"Failed to restore: .*tar\"? failed with error",
        "actions/cache could not extract the archive; the job continued without the cache.",
        "Look for tar's own messages above (\"Cannot open: File exists\" means overlapping caches).",
    ),
    _rule(
        "actions-cache-reserve", "cache", "warning", 21,
        r"Unable to reserve cache with key (?P<key>[^,\s]+), another job may be creating this cache",
        "Several jobs saved the same key {key} (matrix jobs or concurrent runs sharing one key): only one upload is kept.",
        "Put the job and matrix values in the key (ci-gocache patch does) or save from one job only; "
        "an exact hit needs no save at all.",
    ),
    _rule(
        "actions-cache-too-big", "cache", "warning", 19,
        r"Cache size of ~?(?P<mb>\d+) MB \((?P<bytes>\d+) B\) is over the (?P<limit>\S+) limit",
        "The cache archive ({mb} MB) is over the size limit, so it was not saved.",
        "Trim the Go build cache before saving (ci-gocache's action drops entries the job did not use), "
        "and keep the module and build caches in separate entries.",
    ),
    _rule(
        "actions-cache-service", "cache", "warning", 22,
        r"(?:Failed to (?P<action>restore|save)|getCacheEntry failed|reserveCache failed|Cache service responded with)"
        r".*?(?:Cache service responded with (?P<status>\d{3})|(?P<other>ECONNRESET|ETIMEDOUT|socket hang up|"
        r"Our services aren't available right now|rate limit\w*))",
        "The GitHub cache service failed ({status}); the job ran without the cache (or did not save it). "
        "429 is rate limiting of cache uploads, 5xx an outage.",
        "Usually transient: re-run. Save less often (only on a miss, only from the default branch) to stay under the "
        "rate limit; a failed restore costs time but never correctness.",
    ),
    _rule(
        "actions-cache-path", "cache", "warning", 23,
        r"Path Validation Error: Path\(s\) specified in the action for caching do\(es\) not exist",
        "The cache step's path did not exist when saving: the job never downloaded modules there, or the path is not "
        "where Go keeps its cache (GOMODCACHE/GOCACHE differ on Windows, macOS and in containers).",
        "Take the paths from go env GOMODCACHE and go env GOCACHE instead of hard-coding ~/go/pkg/mod.",
    ),
    _rule(
        "setup-go-no-dependency-file", "cache", "warning", 24,
        r"Dependencies file is not found in (?P<dir>\S+?)\.? Supported file pattern: go\.sum",
        "setup-go's cache found no go.sum at the repository root, so it cached nothing.",
        "Give setup-go cache-dependency-path with the go.sum files (e.g. '**/go.sum'), or turn its cache off and use "
        "ci-gocache patch.",
    ),
    _rule(
        "gitlab-cache-extract-failed", "cache", "error", 18,
        r"(?:ERROR: |FATAL: )?Failed to extract cache|FATAL: (?P<error>zip: not a valid zip file|unexpected EOF|.*archive.*)",
        "The GitLab runner could not extract the cache archive (corrupt or partial upload, or a full disk); the job ran "
        "without the cache.",
        "Clear the runner caches (CI/CD > Pipelines > Clear runner caches) or change cache:key; check disk space "
        "on the runner and the distributed cache bucket.",
    ),
    _rule(
        "gitlab-cache-local-only", "cache", "warning", 25,
        r"No URL provided, cache will not be downloaded from shared cache server",
        "The runner has no distributed cache, so each runner machine keeps its own: jobs on another runner miss.",
        "Configure [runners.cache] with S3, GCS or Azure and Shared = true in the runner's config.toml.",
    ),
    _rule(
        "gitlab-cache-no-files", "cache", "warning", 26,
        r"WARNING: (?P<path>\S+): no matching files",
        "A cache path matched nothing: GitLab only caches paths inside the project directory.",
        "Put the Go caches inside the project: GOMODCACHE=$CI_PROJECT_DIR/.go/pkg/mod and "
        "GOCACHE=$CI_PROJECT_DIR/.go/cache, and list those under cache:paths.",
        distinct_by=("path",),
    ),
    _rule(
        "gitlab-cache-upload-failed", "cache", "warning", 27,
        r"Failed to create cache|Uploading cache\.zip to .*(?P<status>\d{3} [A-Z][A-Za-z ]+)",
        "The GitLab runner could not upload the cache archive.",
        "Check the distributed cache credentials and bucket size limits in the runner's config.toml.",
    ),
    _rule(
        "gitlab-cache-not-found", "cache", "info", 40,
        r"WARNING: (?:Cache file does not exist|file does not exist)",
        "The cache key had no archive yet (first run for the key, or expired/cleared).",
        "Nothing to fix if it happens once per go.sum change; if every job misses, check the key and the runner's "
        "cache configuration.",
    ),
]

RULES_BY_ID = {rule.id: rule for rule in RULES}


# ---------------------------------------------------------------- cleaning lines

_MODULE_MENTION = re.compile(r"(?:^|\s)(?:go: )?([^\s@:'\"]*\.[^\s@:'\"]*/[^\s@:'\"]+)@v[^\s:]+:")
_BUILDKIT = re.compile(r"^#\d+ (?:\d+\.\d+ )?")
_GITLAB_SECTION = re.compile(r"section_(?:start|end):\d+:[\w.-]+(?:\[[^\]]*\])?")
_ANNOTATION = re.compile(r"^##\[(warning|error|notice|debug)\]")
_DOCKER_MARKERS = re.compile(
    r"^#\d+ \[[^\]]*\] (?:RUN|FROM|COPY)|^Step \d+/\d+ : |failed to solve:|^#\d+ (?:DONE|ERROR|CACHED)|docker build"
)


def clean_line(raw: str) -> str:
    line = raw.rstrip("\r")
    if "\r" in line:
        # A terminal shows only what follows the last carriage return.
        line = line.rsplit("\r", 1)[-1] or line.replace("\r", "")
    line = strip_ansi(line)
    line = _GITLAB_SECTION.sub("", line)
    line = GITHUB_TIMESTAMP.sub("", line)
    line = _BUILDKIT.sub("", line)
    annotation = _ANNOTATION.match(line)
    if annotation:
        line = annotation.group(1).capitalize() + ": " + line[annotation.end():]
    return line


# ---------------------------------------------------------------- findings


@dataclass
class Finding:
    rule: str
    category: str
    severity: str
    line: int
    text: str
    cause: str
    fix: str
    rank: int
    details: dict[str, str] = field(default_factory=dict)
    repeated_at: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule, "category": self.category, "severity": self.severity, "line": self.line,
            "text": self.text, "cause": self.cause, "fix": self.fix, "details": self.details,
            "repeated_at": self.repeated_at,
        }


def _host_of(url: str) -> str:
    match = re.match(r"https?://([^/]+)", url or "")
    return match.group(1) if match else ""


def private_pattern(module: str) -> str:
    """The GOPRIVATE pattern to suggest: the organisation on code hosts, the whole host elsewhere."""
    parts = [part for part in module.split("/") if part]
    if not parts:
        return "example.com/yourorg/*"
    if parts[0] in ("github.com", "gitlab.com", "bitbucket.org") and len(parts) > 1:
        return f"{parts[0]}/{parts[1]}/*"
    if "." not in parts[0]:
        return "example.com/yourorg/*"
    return f"{parts[0]}/*"


def _details(match: re.Match[str]) -> dict[str, str]:
    values = {name: value for name, value in match.groupdict().items() if value}
    for base in ("url", "error"):
        alternative = values.pop(f"{base}2", None)
        if alternative and base not in values:
            values[base] = alternative
    if "url" in values:
        values["host"] = _host_of(values["url"])
    if "sshhost" in values:
        values["host"] = values.pop("sshhost")
    if "module" not in values and "url" in values and "/@v/" not in values["url"]:
        proxy_path = re.match(r"https?://[^/]+/(.+)$", values["url"])
        if proxy_path and "." in proxy_path.group(1).split("/")[0]:
            values["module"] = proxy_path.group(1)
    return values


def _fill(template: str, values: dict[str, str]) -> str:
    module = values.get("module", "")
    host = values.get("host", "")
    if not host and module:
        host = module.split("/")[0] if "." in module.split("/")[0] else "github.com"
    # The repository host (for git credentials) comes from the module path, not from the proxy URL.
    first = module.split("/")[0] if module else ""
    repo_host = first if "." in first and not re.match(r"^[\d.]+(:\d+)?$", first) else (host or "github.com")
    filled = {
        "module": module or "the module",
        "host": host or "github.com",
        "repo_host": repo_host,
        "private": private_pattern(module) if module else (f"{host}/*" if host else "example.com/yourorg/*"),
        "url": values.get("url", "the repository"),
        "status": values.get("status", "an error"),
        "error": values.get("error", "").rstrip("."),
        "key": values.get("key", ""),
        "mb": values.get("mb", ""),
        "dir": values.get("dir", "the module"),
        "path": values.get("path", ""),
    }
    if filled["status"] == "an error" and values.get("other"):
        filled["status"] = values["other"]
    return template.format(**filled)


def diagnose(log_text: str) -> dict[str, Any]:
    """Findings for a whole log: {"findings": [...], "root_cause": {...} or None, "docker": bool}."""
    lines = log_text.split("\n")
    cleaned = [clean_line(line) for line in lines]
    docker = any(_DOCKER_MARKERS.search(line) for line in cleaned)
    findings: dict[tuple[str, str], Finding] = {}
    in_server_response = False
    recent_module = ("", 0)
    for number, line in enumerate(cleaned, start=1):
        mentioned = _MODULE_MENTION.search(line)
        if mentioned:
            recent_module = (mentioned.group(1), number)
        if in_server_response:
            if line[:1] in ("\t", " ") or not line.strip():
                continue
            in_server_response = False
        # go indents what follows "server response:" (and its own hints) under the error line.
        if "server response:" in line:
            in_server_response = True
        for rule in RULES:
            match = rule.pattern.search(line)
            if match is None:
                continue
            values = _details(match)
            # git's errors follow the "go: module@version: ..." line that names the module.
            if (rule.category == "private-module" and "module" not in values and recent_module[0]
                    and number - recent_module[1] <= 5):
                values["module"] = recent_module[0]
            subject = next((values[name] for name in rule.distinct_by if values.get(name)), "")
            identity = (rule.id, subject)
            if identity in findings:
                findings[identity].repeated_at.append(number)
                break
            fix = _fill(rule.fix, values)
            if docker and rule.category == "private-module":
                fix += _fill(FIX_PRIVATE_DOCKER, values)
            findings[identity] = Finding(
                rule.id, rule.category, rule.severity, number, lines[number - 1].rstrip("\r\n"),
                _fill(rule.cause, values), fix, rule.rank, values,
            )
            break
    present = {finding.rule for finding in findings.values()}
    superseded = {dropped for rule_id in present for dropped in RULES_BY_ID[rule_id].supersedes}
    kept = sorted((f for f in findings.values() if f.rule not in superseded), key=lambda f: f.line)
    problems = [f for f in kept if f.severity != "info"] or kept
    root = min(problems, key=lambda f: (f.rank, f.line)) if problems else None
    return {
        "docker": docker,
        "findings": [finding.to_json() for finding in kept],
        "root_cause": root.to_json() if root else None,
    }


def render_text(result: dict[str, Any], source: str) -> str:
    if not result["findings"]:
        return f"{source}: no known Go dependency or cache failure found."
    blocks: list[str] = []
    root = result["root_cause"]
    for finding in result["findings"]:
        marker = " (root cause)" if root and finding["line"] == root["line"] and finding["rule"] == root["rule"] else ""
        repeats = f" (again at lines {', '.join(map(str, finding['repeated_at'][:10]))})" if finding["repeated_at"] else ""
        blocks.append(
            f"{source}:{finding['line']}: {finding['severity']} [{finding['category']}/{finding['rule']}]{marker}{repeats}\n"
            f"  > {finding['text'].strip()}\n"
            f"  cause: {finding['cause']}\n"
            f"  fix:   {finding['fix']}"
        )
    count = len(result["findings"])
    summary = f"{count} finding{'s' if count != 1 else ''}"
    if root:
        summary += f"; root cause at line {root['line']}: {root['rule']}"
    return "\n\n".join(blocks) + "\n\n" + summary
