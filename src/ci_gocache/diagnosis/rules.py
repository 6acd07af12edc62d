"""The one table of diagnosis rules: each recognises one fact in one cleaned log line, with its
category, severity, rank, cause and fix. The first rule that matches a line wins, so specific
rules come before general ones."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable


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
