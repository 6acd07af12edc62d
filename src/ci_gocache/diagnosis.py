"""Name the root cause of Go dependency and cache failures in a CI or `docker build` log.

One table of rules, each recognising one fact in one cleaned log line, with a cause and a fix.
Lines are cleaned first: GitHub and GitLab timestamps, `##[error]`-style annotations, GitLab's
section markers and `\\r` redraws, ANSI colours and BuildKit's `#12 3.456` prefixes are removed,
so one pattern serves every CI. Continuation lines of a proxy's "server response:" belong to the
error above them and are not matched on their own (proxy.golang.org quotes git's errors there).

Details (host, module, version) come from the matched line itself, never from another line.
The first rule that matches a line wins, so specific rules come before general ones. A finding
may make another one redundant (a checksum mismatch explains its "SECURITY ERROR" banner):
`supersedes` drops those. A finding that an earlier one explains (a refused save after a failed
restore) names it in `caused_by`, and the root cause is the earliest unexplained finding of the
lowest rank.

The log is read as a stream, one line at a time, and each line is matched on its first
MAX_MATCH characters only. Every rule names literal `needles`, one of which must occur in the
(lower-cased) line before its expression runs, and no expression repeats an unbounded pattern
inside another, so the time per line is bounded and the whole run is linear in the log size.
"""

from __future__ import annotations

import bisect
import io
import operator
import re
from itertools import accumulate
from dataclasses import dataclass, field
from typing import IO, Any, Callable

from ci_gocache.logtext import GITHUB_TIMESTAMP, GITLAB_TIMESTAMP, strip_ansi

MAX_RAW = 16384  # bytes of a raw line kept (ANSI codes and prefixes included)
MAX_MATCH = 4096  # characters of a cleaned line the rules see
MAX_REPEATS = 100  # line numbers kept per finding for "again at lines"

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


FIX_SUMDB_MISMATCH = (
    "This is not a go.sum problem, and regenerating go.sum cannot fix it: the bits differ from what the checksum "
    "database ({db}) recorded for {module}@{version}. Either the version was retagged upstream after the database "
    "first saw it (ask the maintainer, then require another version), or a proxy serves altered files: check "
    "go env GOPROXY and GOFLAGS on the runner, and compare with GOPROXY=https://proxy.golang.org,direct. For a private "
    "module the public database cannot know, set GONOSUMDB={private} (or GOPRIVATE). Never set GOSUMDB=off or "
    "GOFLAGS=-insecure to get past it."
)


@dataclass(frozen=True)
class Rule:
    id: str
    category: str  # network, private-module, checksum, vendoring, machine, cache
    severity: str  # error, warning, info
    needles: tuple[str, ...]  # lower-case literals; the line must hold one before the pattern runs
    pattern: re.Pattern[str]
    cause: str
    fix: str
    rank: int  # lower is closer to the root cause
    supersedes: tuple[str, ...] = ()
    # Earlier findings that explain this one: it then points at them instead of being a root cause.
    follows: tuple[str, ...] = ()
    # Detail fields that make two matches separate findings; otherwise repeats are folded into one.
    distinct_by: tuple[str, ...] = ("module", "key", "host")
    # A check on the captured details that a plain pattern would make slow (a word that contains a part).
    accept: Callable[[dict[str, str]], bool] | None = None
    # A second set of literals, one of which must also occur: keeps the costlier patterns off most lines.
    also: tuple[str, ...] = ()


def _rule(rule_id: str, category: str, severity: str, rank: int, needles: tuple[str, ...], pattern: str, cause: str,
          fix: str, supersedes: tuple[str, ...] = (), follows: tuple[str, ...] = (),
          distinct_by: tuple[str, ...] = ("module", "key", "host"), flags: int = 0,
          accept: Callable[[dict[str, str]], bool] | None = None, also: tuple[str, ...] = ()) -> Rule:
    return Rule(rule_id, category, severity, needles, re.compile(pattern, flags), cause, fix, rank, supersedes, follows,
                distinct_by, accept, also)


_MODULE_VERSION_DIR = re.compile(r"@v\d")


def _in_module_cache(values: dict[str, str]) -> bool:
    path = values.get("path", "")
    return "/pkg/mod/" in path or _MODULE_VERSION_DIR.search(path) is not None


def _in_build_cache(values: dict[str, str]) -> bool:
    return "go-build" in values.get("path", "")


# A module path with its version, as go prints it: example.com/mod@v1.2.3. Bounded, no nesting.
# A module path with its version, as go prints it: example.com/mod@v1.2.3. It starts a word (the
# look-behind), so a search tries each word once instead of every position inside it.
MODULE = r"(?<![^\s'\"])(?P<module>[^\s:@'\"]{1,300})@(?P<version>[^\s:@/'\"]{1,128})"
NETWORK_NEEDLES = ("i/o timeout", "tls handshake timeout", "context deadline exceeded", "client.timeout exceeded",
                   "connection refused", "no such host", "network is unreachable", "connection reset by peer",
                   "server misbehaving")
NETWORK_ERRORS = (r"(?:i/o timeout|TLS handshake timeout|context deadline exceeded|Client\.Timeout exceeded|"
                  r"connection refused|no such host|network is unreachable|connection reset by peer|server misbehaving)")
FAILED_RESTORES = ("actions-cache-tar-failed", "tar-file-exists", "disk-full", "actions-cache-service",
                   "gitlab-cache-extract-failed")

# Order matters: the first matching rule takes the line.
RULES: list[Rule] = [
    # ---- checksums and the checksum database (before network: their lines also say "dial tcp")
    _rule(
        "sumdb-mismatch", "checksum", "error", 9, ("checksum mismatch",),
        MODULE + r": verifying (?P<what>module|go\.mod): checksum mismatch",
        "The {what} of {module}@{version} that go downloaded differs from the checksum database's record of that "
        "version: the version was retagged upstream, or a proxy or mirror altered the download.",
        FIX_SUMDB_MISMATCH,
        supersedes=("security-error",),
    ),
    _rule(
        "checksum-mismatch", "checksum", "error", 10, ("checksum mismatch",),
        r"verifying " + MODULE + r"(?P<gomod>/go\.mod)?: checksum mismatch",
        "The downloaded {module}@{version} does not match go.sum: go.sum was edited or merged by hand, the module's "
        "tag was moved upstream, or a restored module cache holds a corrupted copy.",
        "Do not just delete the line. If go.sum changed in this branch, regenerate it with go mod tidy and review the diff; "
        "if the cache is suspect, go clean -modcache (or bump the cache key prefix) and download again; "
        "if the upstream tag moved, pin another version: the SECURITY ERROR is go refusing changed bits.",
        supersedes=("security-error",),
    ),
    _rule(
        "security-error", "checksum", "error", 11, ("security error",), r"^\s*SECURITY ERROR\s*$",
        "go refused a download whose checksum differs from go.sum or the checksum database.",
        "Find the 'checksum mismatch' line above it: it names the module, and says whether go.sum or the checksum "
        "database disagrees.",
    ),
    _rule(
        "sumdb-not-found", "checksum", "error", 12, ("verifying",),
        r"verifying (?:module: |go\.mod: )?" + MODULE + r"(?:/go\.mod)?: [^\n]{0,400}?reading (?P<url>https?://[^\s]{1,600}): "
        r"(?P<status>404 Not Found|410 Gone)",
        "The checksum database answered {status} while verifying {module}: a private module was sent to the public "
        "checksum database, which cannot see it.",
        "Set GOPRIVATE={private} (or GONOSUMDB={private}) so go skips the checksum database for it, and commit a "
        "complete go.sum so CI does not need to look anything up.",
        also=("404 not found", "410 gone"),
    ),
    _rule(
        "dns-failure", "network", "error", 8, ("lookup ",),
        r"dial tcp: lookup (?P<host>[^\s:\"']{1,253})(?: on (?P<resolver>[^\s:]{1,100}:\d{1,5}))?: (?P<error>[^\n]{1,200})",
        "DNS failed for {host}{resolver_text}: {error}. The runner (or the container it builds in) cannot resolve "
        "that name.",
        "Check the runner's DNS: /etc/resolv.conf, a container network or docker build --network, a VPN or firewall "
        "that drops DNS. 'server misbehaving' and 'i/o timeout' are often transient: re-run. If {host} is blocked "
        "on purpose, point Go at a host you can resolve: GOPROXY=https://<your mirror>,direct and "
        "GOSUMDB=\"sum.golang.org https://<your mirror>/sumdb/sum.golang.org\".",
        supersedes=("network-timeout", "proxy-unreachable", "sumdb-unreachable"),
        distinct_by=("host",),
    ),
    _rule(
        "sumdb-unreachable", "checksum", "error", 13, ("verifying",),
        r"verifying (?:module: |go\.mod: )?" + MODULE + r"(?:/go\.mod)?: [^\n]{0,600}?" + NETWORK_ERRORS,
        "go could not reach the checksum database (GOSUMDB) to verify {module}.",
        FIX_SUMDB,
        also=NETWORK_NEEDLES,
    ),
    _rule(
        "missing-go-sum-entry", "checksum", "error", 14, ("missing go.sum entry",),
        r"missing go\.sum entry(?: for module providing package (?P<package>[^\s;]{1,300})| for go\.mod file)?",
        "go.sum lacks entries the build needs: go.mod (or an import) changed without go mod tidy, or go.sum is not "
        "committed. CI builds with -mod=readonly, so go will not add them.",
        "Run go mod tidy locally and commit go.mod and go.sum. Do not set GOFLAGS=-mod=mod in CI to paper over it: "
        "that downloads unverified changes, needs the checksum database, and changes the cache key mid-run.",
    ),
    _rule(
        "go-mod-updates-needed", "checksum", "error", 15, ("updates to go.mod needed",), r"updates to go\.mod needed",
        "go.mod is not tidy: the build needs requirements that go.mod does not list.",
        "Run go mod tidy locally and commit go.mod and go.sum.",
    ),
    # ---- vendoring
    _rule(
        "inconsistent-vendoring", "vendoring", "error", 10, ("inconsistent vendoring",),
        r"inconsistent vendoring in (?P<dir>[^\s:]{1,500}):?\s*$",
        "vendor/modules.txt does not match go.mod in {dir}: go.mod changed without go mod vendor.",
        "Run go mod vendor and commit vendor/; if the vendor directory is not meant to be used, delete it or build "
        "with -mod=readonly. A vendored module needs no module cache: cache only the build cache.",
    ),
    _rule(
        "vendor-not-marked", "vendoring", "error", 11, ("marked as explicit",),
        r"is (?:explicitly required in go\.mod, but not marked as explicit|marked as explicit in vendor/modules\.txt, but not explicitly required)",
        "vendor/modules.txt and go.mod disagree about a requirement.",
        "Run go mod vendor and commit vendor/.",
    ),
    # ---- private modules
    _rule(
        "terminal-prompts-disabled", "private-module", "error", 5, ("terminal prompts disabled",),
        r"could not read (?:Username|Password) for '(?P<url>[^'\s]{1,500})': terminal prompts disabled|terminal prompts disabled",
        "git needed credentials for {url} and could not ask for them: the module is private and go fetched it "
        "directly (GOPRIVATE or GOPROXY=direct) without a token.",
        FIX_PRIVATE,
        supersedes=("proxy-denied",),
    ),
    _rule(
        "git-auth-failed", "private-module", "error", 6,
        ("permission denied (publickey)", "host key verification failed", "authentication failed for",
         "repository not found", "fatal: repository '"),
        r"(?:git@(?P<sshhost>[^:\s]{1,253}): )?Permission denied \(publickey\)|Host key verification failed|"
        r"fatal: Authentication failed for '(?P<url>[^'\s]{1,500})'|"
        r"remote: Repository not found|fatal: repository '(?P<url2>[^'\s]{1,500})' not found",
        "git could not authenticate to fetch a private module.",
        FIX_PRIVATE,
        supersedes=("proxy-denied",),
    ),
    _rule(
        "proxy-denied", "private-module", "error", 7, ("reading http",),
        r"(?:(?<!\S)(?:module )?(?P<module>[^\s@:'\"]{1,300})(?:@(?P<version>[^\s:@]{1,128}))?: )?"
        r"reading (?P<url>https?://[^\s]{1,600}?)/@(?:v|latest)[^\s]{0,200}: "
        r"(?P<status>401 Unauthorized|403 Forbidden|404 Not Found|410 Gone)",
        "The module proxy answered {status} for {module}: public proxies cannot fetch private repositories "
        "(proxy.golang.org answers 404 or 410), and a private proxy refused the credentials (401/403). "
        "If {module} is public, check that the version exists.",
        FIX_PRIVATE,
    ),
    # ---- network
    _rule(
        "http-proxy-unreachable", "network", "error", 8, ("proxyconnect tcp",), r"proxyconnect tcp: (?P<error>[^\n]{1,300})$",
        "The HTTP(S) proxy configured for the runner (HTTPS_PROXY/HTTP_PROXY) could not be reached: {error}.",
        "Fix HTTPS_PROXY/HTTP_PROXY (and NO_PROXY for internal hosts), or unset them if the runner has direct access. "
        + FIX_PROXY,
    ),
    _rule(
        "tls-error", "network", "error", 8, ("tls: ", "x509: "),
        r"Get \"(?P<url>https://[^\"\s]{1,600})\": (?P<error>(?:tls: |x509: )[^\n]{1,300})$|(?P<error2>x509: certificate [^\n]{1,300})$",
        "TLS failed talking to {host}: {error}. A TLS-intercepting proxy or firewall, a missing CA certificate, or an "
        "http-only server behind an https:// GOPROXY.",
        "Install the intercepting proxy's CA in the runner or image trust store (update-ca-certificates, or SSL_CERT_FILE), "
        "and make GOPROXY's scheme match the server. Avoid GOINSECURE for public modules.",
    ),
    _rule(
        "network-timeout", "network", "error", 9,
        ("i/o timeout", "tls handshake timeout", "context deadline exceeded", "client.timeout exceeded"),
        r"(?:i/o timeout|TLS handshake timeout|context deadline exceeded|Client\.Timeout exceeded)",
        "A request to {host} timed out: the network is slow or filtered.",
        FIX_PROXY,
    ),
    _rule(
        "proxy-unreachable", "network", "error", 9,
        ("connection refused", "no such host", "network is unreachable", "connection reset by peer", "server misbehaving"),
        r"(?:connection refused|no such host|network is unreachable|connection reset by peer|server misbehaving)",
        "{host} could not be reached from the runner.",
        FIX_PROXY,
    ),
    # ---- the machine
    _rule(
        "disk-full", "machine", "error", 3, ("no space left on device",), r"no space left on device",
        "The runner's disk is full.",
        "Free space before the build (remove unused toolchains and images, e.g. /usr/share/dotnet and docker image prune), "
        "keep the Go build cache small (ci-gocache trims entries the job did not use; go clean -cache as a last resort), "
        "or use a runner with a bigger disk.",
        distinct_by=(), flags=re.IGNORECASE,
    ),
    _rule(
        "tar-file-exists", "cache", "error", 17, ("cannot open: file exists",), r"(?<!\S)(?P<path>[^\s]{1,1000}): Cannot open: File exists",
        "Two caches restore the same files: tar cannot replace the read-only files Go writes in the module cache, "
        "so a second restore over an existing module cache fails. Typical: setup-go's built-in cache plus an "
        "actions/cache step for the same directories, or two cache steps with overlapping paths.",
        "Keep one cache per directory: set cache: false on actions/setup-go when you use actions/cache (or ci-gocache), "
        "and do not list ~/go/pkg/mod in two steps. GOFLAGS=-modcacherw keeps the module cache writable.",
        supersedes=("actions-cache-tar-failed",), distinct_by=(),
    ),
    _rule(
        "modcache-read-only", "machine", "error", 5, ("permission denied",),
        r"(?<![^\s'])(?P<path>[^\s':]{1,1000})'?: (?:[A-Za-z ]{1,60}: )?[Pp]ermission denied",
        "Go writes the module cache read-only, so deleting or overwriting it fails (workspace cleanup, tar extraction "
        "over it, or rm -rf).",
        "Set GOFLAGS=-modcacherw before the first download so the cache is writable; clean it with go clean -modcache, "
        "not rm -rf; for an existing cache chmod -R u+w it first.",
        distinct_by=(), accept=_in_module_cache,
    ),
    _rule(
        "build-cache-permission", "machine", "error", 6, ("permission denied",),
        r"(?<![^\s'])(?P<path>[^\s':]{1,1000})'?: (?:[A-Za-z ]{1,60}: )?[Pp]ermission denied",
        "The Go build cache belongs to another user (a cache restored by root, or a container mount).",
        "Point GOCACHE at a directory the build user owns, or chown the restored cache before building.",
        accept=_in_build_cache,
    ),
    # ---- caching services
    _rule(
        "actions-cache-tar-failed", "cache", "warning", 20, ("failed to restore",),
        r"Failed to restore: [^\n]{0,600}?tar\"? failed with error",
        "actions/cache could not extract the archive; the job continued without the cache.",
        "Look for tar's own messages above (\"Cannot open: File exists\" means overlapping caches).",
        follows=("disk-full",), also=("failed with error",),
    ),
    _rule(
        "actions-cache-reserve", "cache", "warning", 21, ("unable to reserve cache",),
        r"Unable to reserve cache with key (?P<key>[^,\s]{1,512}), another job may be creating this cache",
        "Several jobs saved the same key {key} (matrix jobs or concurrent runs sharing one key): only one upload is kept.",
        "Put the job and matrix values in the key (ci-gocache patch does) or save from one job only; "
        "an exact hit needs no save at all.",
        follows=FAILED_RESTORES,
    ),
    _rule(
        "actions-cache-too-big", "cache", "warning", 19, ("cache size of",),
        r"Cache size of ~?(?P<mb>\d{1,12}) MB \((?P<bytes>\d{1,20}) B\) is over the (?P<limit>[^\s]{1,20}) limit",
        "The cache archive ({mb} MB) is over the size limit, so it was not saved.",
        "Trim the Go build cache before saving (ci-gocache's action drops entries the job did not use), "
        "and keep the module and build caches in separate entries.",
    ),
    _rule(
        "actions-cache-service", "cache", "warning", 22,
        ("failed to restore", "failed to save", "getcacheentry failed", "reservecache failed", "cache service responded"),
        r"(?:Failed to (?P<action>restore|save)|getCacheEntry failed|reserveCache failed|Cache service responded with)"
        r"[^\n]{0,600}?(?:Cache service responded with (?P<status>\d{3})|(?P<other>ECONNRESET|ETIMEDOUT|socket hang up|"
        r"Our services aren't available right now|rate limit\w{0,10}))",
        "The GitHub cache service failed ({status}); the job ran without the cache (or did not save it). "
        "429 is rate limiting of cache uploads, 5xx an outage.",
        "Usually transient: re-run. Save less often (only on a miss, only from the default branch) to stay under the "
        "rate limit; a failed restore costs time but never correctness.",
        also=("cache service responded with", "econnreset", "etimedout", "socket hang up", "aren't available",
              "rate limit"),
    ),
    _rule(
        "actions-cache-path", "cache", "warning", 23, ("path validation error",),
        r"Path Validation Error: Path\(s\) specified in the action for caching do\(es\) not exist",
        "The cache step's path did not exist when saving: the job never downloaded modules there, or the path is not "
        "where Go keeps its cache (GOMODCACHE/GOCACHE differ on Windows, macOS and in containers).",
        "Take the paths from go env GOMODCACHE and go env GOCACHE instead of hard-coding ~/go/pkg/mod.",
    ),
    _rule(
        "setup-go-no-dependency-file", "cache", "warning", 24, ("dependencies file is not found",),
        r"Dependencies file is not found in (?P<dir>[^\s]{1,500}?)\.? Supported file pattern: (?P<pattern>[^\s]{1,100})",
        "setup-go's cache found no {pattern} at the repository root, so it cached nothing.",
        "Give setup-go cache-dependency-path with the dependency files (e.g. '**/go.sum'), or turn its cache off and "
        "use ci-gocache patch.",
    ),
    _rule(
        "gitlab-cache-extract-failed", "cache", "error", 18, ("failed to extract cache", "fatal: "),
        r"(?:ERROR: |FATAL: )?Failed to extract cache|FATAL: (?P<error>zip: not a valid zip file|unexpected EOF|[^\n]{0,200}?archive[^\n]{0,200})",
        "The GitLab runner could not extract the cache archive (corrupt or partial upload, or a full disk); the job ran "
        "without the cache.",
        "Clear the runner caches (CI/CD > Pipelines > Clear runner caches) or change cache:key; check disk space "
        "on the runner and the distributed cache bucket.",
        follows=("disk-full",),
    ),
    _rule(
        "gitlab-cache-local-only", "cache", "warning", 25, ("no url provided",),
        r"No URL provided, cache will not be downloaded from shared cache server",
        "The runner has no distributed cache, so each runner machine keeps its own: jobs on another runner miss.",
        "Configure [runners.cache] with S3, GCS or Azure and Shared = true in the runner's config.toml.",
    ),
    _rule(
        "gitlab-cache-no-files", "cache", "warning", 26, ("no matching files",),
        r"WARNING: (?P<path>[^\s]{1,1000}): no matching files",
        "A cache path matched nothing: GitLab only caches paths inside the project directory.",
        "Put the Go caches inside the project: GOMODCACHE=$CI_PROJECT_DIR/.go/pkg/mod and "
        "GOCACHE=$CI_PROJECT_DIR/.go/cache, and list those under cache:paths.",
        distinct_by=("path",),
    ),
    _rule(
        "gitlab-cache-upload-failed", "cache", "warning", 27, ("failed to create cache", "uploading cache.zip"),
        r"Failed to create cache|Uploading cache\.zip to [^\n]{0,600}?(?P<status>\d{3} [A-Z][A-Za-z ]{1,40})",
        "The GitLab runner could not upload the cache archive.",
        "Check the distributed cache credentials and bucket size limits in the runner's config.toml.",
        follows=("disk-full",),
    ),
    _rule(
        "gitlab-cache-not-found", "cache", "info", 40, ("file does not exist",),
        r"WARNING: (?:Cache file does not exist|file does not exist)",
        "The cache key had no archive yet (first run for the key, or expired/cleared).",
        "Nothing to fix if it happens once per go.sum change; if every job misses, check the key and the runner's "
        "cache configuration.",
    ),
]

RULES_BY_ID = {rule.id: rule for rule in RULES}

# ---------------------------------------------------------------- cleaning lines

_BUILDKIT = re.compile(r"^#\d{1,6} (?:\d{1,6}\.\d{1,6} )?")
_GITLAB_SECTION = re.compile(r"section_(?:start|end):\d{1,20}:[\w.-]{1,200}(?:\[[^\]]{0,500}\])?\r?")
_ANNOTATION = re.compile(r"^##\[(warning|error|notice|debug)\]")
_DOCKER_MARKERS = re.compile(
    r"^#\d{1,6} \[[^\]]{0,300}\] (?:RUN|FROM|COPY)|^Step \d{1,4}/\d{1,4} : |failed to solve:|^#\d{1,6} (?:DONE|ERROR|CACHED)|docker build"
)
_URL_IN_LINE = re.compile(r"(?:Get|Post|Head|Put) \"(https?://[^\"\s]{1,600})\"|(https?://[^\s\"'<>]{1,600})")
_DIAL_TARGET = re.compile(r"dial tcp (\[?[\w.:-]{1,300}?\]?):(\d{1,5}): ")
# go's "module@version: ...:" error whose message goes on in the indented lines below it (git's output).
_MESSAGE_HEAD = re.compile(r"^(?:go: )?(?:module )?(?P<module>[^\s:@'\"]{1,300})@(?P<version>[^\s:@'\"]{1,128}): ")
_SERVER_DB_LINE = re.compile(r"^\s+(?P<db>[^\s:]{1,253}): {1,20}h1:")


def clean_line(raw: str) -> str:
    """The line as a person reads it on screen, without what the CI service added around it."""
    line = raw[:MAX_RAW].rstrip("\r\n")
    if "\r" in line:
        # A terminal shows only what follows the last carriage return.
        line = line.rsplit("\r", 1)[-1] or line.replace("\r", "")
    line = strip_ansi(line)
    if "section_" in line:
        line = _GITLAB_SECTION.sub("", line)
    # GitLab's stamp first: GitHub's pattern would take its time and leave the stream marker.
    line = GITLAB_TIMESTAMP.sub("", line, count=1)
    line = GITHUB_TIMESTAMP.sub("", line, count=1)
    line = _BUILDKIT.sub("", line, count=1)
    annotation = _ANNOTATION.match(line)
    if annotation:
        line = annotation.group(1).capitalize() + ": " + line[annotation.end():]
    return line[:MAX_MATCH]


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
    repeats: int = 0
    caused_by: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule, "category": self.category, "severity": self.severity, "line": self.line,
            "text": self.text, "cause": self.cause, "fix": self.fix, "details": self.details,
            "repeated_at": self.repeated_at, "repeats": self.repeats, "caused_by": self.caused_by,
        }


def _host_of(url: str) -> str:
    match = re.match(r"https?://([^/\s\"']{1,300})", url or "")
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


def _details(match: re.Match[str], line: str) -> dict[str, str]:
    """What the matched line itself says: never another line's module or host."""
    values = {name: value for name, value in match.groupdict().items() if value}
    for base in ("url", "error"):
        alternative = values.pop(f"{base}2", None)
        if alternative and base not in values:
            values[base] = alternative
    if "sshhost" in values:
        values["host"] = values.pop("sshhost")
    if "url" not in values and "host" not in values:
        url = _URL_IN_LINE.search(line)
        if url:
            values["url"] = url.group(1) or url.group(2)
    if "url" in values and "host" not in values:
        values["host"] = _host_of(values["url"])
    if "host" not in values:
        target = _DIAL_TARGET.search(line)
        if target:
            values["host"] = f"{target.group(1)}:{target.group(2)}"
    if "module" not in values and "url" in values and "/@v/" not in values["url"]:
        proxy_path = re.match(r"https?://[^/\s]{1,300}/([^\s]{1,600})$", values["url"])
        if proxy_path and "." in proxy_path.group(1).split("/")[0]:
            values["module"] = proxy_path.group(1)
    return values


def _fill(template: str, values: dict[str, str]) -> str:
    module = values.get("module", "")
    host = values.get("host", "")
    first = module.split("/")[0] if module else ""
    # The repository host (for git credentials) comes from the module path, not from the proxy URL.
    repo_host = first if "." in first and not re.match(r"^[\d.]+(:\d+)?$", first) else (host or "<your git host>")
    resolver = values.get("resolver", "")
    filled = {
        "module": module or "the module",
        "version": values.get("version", "").removesuffix("/go.mod") or "this version",
        "host": host or "the server (the line names no host)",
        "repo_host": repo_host,
        "private": private_pattern(module) if module else (f"{host}/*" if host else "example.com/yourorg/*"),
        "url": values.get("url", "the repository"),
        "status": values.get("status", "an error"),
        "error": values.get("error", "").strip().rstrip("."),
        "key": values.get("key", ""),
        "mb": values.get("mb", ""),
        "dir": values.get("dir", "the module"),
        "path": values.get("path", ""),
        "pattern": values.get("pattern", "go.sum"),
        "what": "go.mod file" if values.get("what") == "go.mod" or values.get("gomod") else "module zip",
        "db": values.get("db", "sum.golang.org"),
        "resolver_text": f" (resolver {resolver})" if resolver else "",
    }
    if filled["status"] == "an error" and values.get("other"):
        filled["status"] = values["other"]
    return template.format(**filled)


def _explained(rule: Rule, finding: Finding) -> str:
    """The cause of a finding that an earlier one explains."""
    if rule.id == "actions-cache-reserve":
        return (f"The save was refused because the key {finding.details.get('key', '')} already exists: the restore "
                f"at line {finding.caused_by} found this entry but could not use it, and entries are immutable. "
                "Not a concurrent job: fix the failed restore.")
    return f"A consequence of the failure at line {finding.caused_by}; fix that one first."


CHUNK_BYTES = 1 << 20  # read at a time
CONTEXT_LINES = 64  # lines looked back at, for the message an indented line continues
LOOKAHEAD_LINES = 4  # lines looked ahead at, for the database line under a checksum mismatch
DOCKER_NEEDLES = (b"failed to solve", b"docker build", b"] run ", b"] from ", b"] copy ", b"#1 done", b"step 1/")


def _shortest_needles(needles: set[bytes]) -> tuple[bytes, ...]:
    """The needles to search for: one that contains another is found through the other."""
    return tuple(sorted(n for n in needles if not any(other != n and other in n for other in needles)))


_NEEDLES = _shortest_needles({needle.encode() for rule in RULES for needle in rule.needles} | set(DOCKER_NEEDLES))


def _is_indented(line: str) -> bool:
    return line[:1] in ("\t", " ")


class Diagnosis:
    """Findings for one log, read as a stream of bytes.

    Most lines of a CI log hold none of the rules' needles. Each chunk is searched for the needles
    with bytes.find (lower-cased, as the rules match), and only the lines that hold one are cleaned
    and matched, with up to CONTEXT_LINES lines before them and LOOKAHEAD_LINES after them at hand.
    """

    def __init__(self) -> None:
        self.findings: dict[tuple[str, str], Finding] = {}
        self.docker = False
        self.lines = 0

    # ---- reading

    def read(self, handle: IO[bytes]) -> None:
        history: list[bytes] = []  # the last CONTEXT_LINES lines already scanned
        pending: list[bytes] = []  # lines read, not yet scanned (the tail waits for its lookahead)
        base = 0  # 0-based number of pending[0]
        leftover = b""
        while True:
            chunk = handle.read(CHUNK_BYTES)
            if chunk:
                parts = (leftover + chunk).split(b"\n")
                # An over-long line keeps its first MAX_RAW bytes; the rest is dropped as it arrives.
                leftover = parts.pop()[:MAX_RAW]
                if parts and max(map(len, parts)) > MAX_RAW:
                    parts = [part[:MAX_RAW] for part in parts]
                pending.extend(parts)
            elif leftover:
                pending.append(leftover)
                leftover = b""
            upto = len(pending) if not chunk else max(0, len(pending) - LOOKAHEAD_LINES)
            self._scan(history, pending, upto, base)
            history = (history + pending[:upto])[-CONTEXT_LINES:]
            base += upto
            del pending[:upto]
            if not chunk:
                break
        self.lines = base

    def _scan(self, history: list[bytes], lines: list[bytes], upto: int, base: int) -> None:
        if upto == 0:
            return
        block = b"\n".join(lines[:upto]).lower()
        # Where each line starts in the block: the lengths before it, plus one newline per line.
        starts = [0, *map(operator.add, accumulate(map(len, lines[:upto])), range(1, upto + 1))]
        hits: set[int] = set()
        for needle in _NEEDLES:
            position = block.find(needle)
            while position >= 0:
                index = bisect.bisect_right(starts, position) - 1
                hits.add(index)
                position = block.find(needle, starts[index + 1]) if index + 1 < len(starts) else -1
        for index in sorted(hits):
            self._feed(history, lines, index, base + index + 1)

    @staticmethod
    def _text(raw: bytes) -> str:
        return raw.decode("utf-8", errors="replace")

    def _around(self, history: list[bytes], lines: list[bytes], index: int, offset: int) -> str | None:
        at = index + offset
        if at >= 0:
            return self._text(lines[at]) if at < len(lines) else None
        return self._text(history[at]) if -at <= len(history) else None

    # ---- one line

    def _feed(self, history: list[bytes], lines: list[bytes], index: int, number: int) -> None:
        raw = self._text(lines[index])
        line = clean_line(raw)
        if not self.docker and _DOCKER_MARKERS.search(line):
            self.docker = True
        inherited: dict[str, str] = {}
        if _is_indented(line) or not line.strip():
            # go indents what follows "server response:" (the proxy quoting git) and git's own output under
            # the error line: skip the former; the latter continues a message that names the module.
            for back in range(1, CONTEXT_LINES + 1):
                previous_raw = self._around(history, lines, index, -back)
                if previous_raw is None:
                    break
                previous = clean_line(previous_raw)
                if "server response:" in previous:
                    return
                if previous.strip() and not _is_indented(previous):
                    head = _MESSAGE_HEAD.match(previous) if previous.rstrip().endswith(":") else None
                    if head:
                        inherited = {"module": head.group("module"), "version": head.group("version")}
                    break
        lowered = line.lower()
        for rule in RULES:
            if not any(needle in lowered for needle in rule.needles):
                continue
            if rule.also and not any(needle in lowered for needle in rule.also):
                continue
            match = rule.pattern.search(line)
            if match is None:
                continue
            values = _details(match, line)
            if rule.accept is not None and not rule.accept(values):
                continue
            if "module" not in values and inherited:
                values.update(inherited)
            finding = self._record(rule, values, number, raw)
            if finding is not None and rule.id == "checksum-mismatch":
                following = [self._around(history, lines, index, ahead) for ahead in range(1, LOOKAHEAD_LINES + 1)]
                self._check_database_lines(finding, [clean_line(text) for text in following if text is not None])
            return

    def _record(self, rule: Rule, values: dict[str, str], number: int, raw: str) -> Finding | None:
        subject = next((values[name] for name in rule.distinct_by if values.get(name)), "")
        identity = (rule.id, subject)
        existing = self.findings.get(identity)
        if existing is not None:
            existing.repeats += 1
            if len(existing.repeated_at) < MAX_REPEATS:
                existing.repeated_at.append(number)
            return None
        finding = Finding(
            rule.id, rule.category, rule.severity, number, raw[:MAX_MATCH].rstrip("\r\n"),
            _fill(rule.cause, values), _fill(rule.fix, values), rule.rank, values,
        )
        cause = next((f for f in self.findings.values() if f.rule in rule.follows and f.caused_by is None), None)
        if cause is not None:
            finding.caused_by = cause.line
            finding.cause = _explained(rule, finding)
        self.findings[identity] = finding
        return finding

    def _check_database_lines(self, finding: Finding, following: list[str]) -> None:
        """go.sum's mismatch names go.sum under it; the checksum database's names the database."""
        for line in following:
            database = _SERVER_DB_LINE.match(line)
            if database is None or database.group("db") == "downloaded":
                continue
            if database.group("db") == "go.sum":
                return
            rule = RULES_BY_ID["sumdb-mismatch"]
            values = {**finding.details, "db": database.group("db")}
            finding.rule, finding.rank = rule.id, rule.rank
            finding.cause = _fill(rule.cause, values)
            finding.fix = _fill(rule.fix, values)
            finding.details = values
            return

    def result(self) -> dict[str, Any]:
        findings = list(self.findings.values())
        present = {finding.rule for finding in findings}
        superseded = {dropped for rule_id in present for dropped in RULES_BY_ID[rule_id].supersedes}
        kept = sorted((f for f in findings if f.rule not in superseded), key=lambda f: f.line)
        if self.docker:
            for finding in kept:
                if finding.category == "private-module":
                    finding.fix += _fill(FIX_PRIVATE_DOCKER, finding.details)
        roots = [f for f in kept if f.caused_by is None]
        problems = [f for f in roots if f.severity != "info"] or roots
        root = min(problems, key=lambda f: (f.rank, f.line)) if problems else None
        return {
            "docker": self.docker,
            "lines": self.lines,
            "findings": [finding.to_json() for finding in kept],
            "root_cause": root.to_json() if root else None,
        }


def diagnose_stream(handle: IO[bytes]) -> dict[str, Any]:
    """Findings for a log read from a binary stream: {"findings", "root_cause", "docker", "lines"}."""
    diagnosis = Diagnosis()
    diagnosis.read(handle)
    return diagnosis.result()


def diagnose(log_text: str) -> dict[str, Any]:
    """Findings for a log held in memory."""
    return diagnose_stream(io.BytesIO(log_text.encode("utf-8", errors="surrogateescape")))


def render_text(result: dict[str, Any], source: str) -> str:
    if not result["findings"]:
        return f"{source}: no known Go dependency or cache failure found."
    blocks: list[str] = []
    root = result["root_cause"]
    for finding in result["findings"]:
        marker = " (root cause)" if root and finding["line"] == root["line"] and finding["rule"] == root["rule"] else ""
        if finding["caused_by"]:
            marker = f" (follows line {finding['caused_by']})"
        repeats = ""
        if finding["repeated_at"]:
            shown = ", ".join(map(str, finding["repeated_at"][:10]))
            more = finding["repeats"] - min(10, len(finding["repeated_at"]))
            repeats = f" (again at lines {shown}{f' and {more} more' if more > 0 else ''})"
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
