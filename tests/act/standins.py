"""The thin local actions that act runs in place of actions/cache and actions/setup-go.

act fetches every `uses:` from github.com, which the tests cannot reach, and the real actions
cannot be committed here. `--local-repository OWNER/REPO@REF=DIR` makes act take a directory
instead; these functions write those directories at test time. What each one stands in for,
and what it leaves out, is listed in docs/development.md ("How it is tested: act").

- actions/cache (the combined action, restore/ and save/): node20 actions whose whole work is
  one call into the `@actions/cache` npm package (installed by .ci/install-tools into
  tests/act/npm), the library actions/cache itself is built on. It speaks act's built-in cache
  server protocol, makes the tarballs and matches keys exactly as the real action does. Around
  that call sit only the inputs, outputs and log lines the real action has: `cache-hit` (exact
  match of the primary key, compared case-insensitively as actions/cache does),
  `cache-primary-key`, `cache-matched-key`, "Cache restored from key: ...", "Cache saved with
  key: ...", and the combined action's post step that saves unless the primary key hit.
- actions/setup-go: a composite step that puts the Go already installed on this machine on PATH
  and logs `go version` and `go env` as setup-go does (setup-go's `go env` writes build-cache
  entries before any restore; the tests rely on that). It installs no Go: the go-version inputs
  are not honoured, GOTOOLCHAIN=local keeps the installed toolchain. Its own cache is not stood
  in: any `cache:` other than 'false' fails the step, so a test can never pass on a cache that
  setup-go would have restored.
- actions/checkout needs no stand-in: act skips a checkout of the repository under test and
  copies the work tree into the workspace itself.
"""

from __future__ import annotations

from pathlib import Path

NPM_ROOT = Path(__file__).resolve().parent / "npm" / "node_modules"

# The library's own entry points; an absolute import because act copies the action elsewhere.
_IMPORTS = """\
import * as cache from "{cache}";
import * as core from "{core}";
"""

_COMMON = """\
function paths() {
  return core.getInput("path", { required: true }).split("\\n").map((p) => p.trim()).filter((p) => p);
}
function lines(name) {
  return core.getInput(name).split("\\n").map((p) => p.trim()).filter((p) => p);
}
function crossOs() {
  return core.getInput("enableCrossOsArchive") === "true";
}
// actions/cache compares keys case-insensitively (a cache service may answer in another case).
function sameKey(a, b) {
  return !!a && !!b && a.localeCompare(b, undefined, { sensitivity: "accent" }) === 0;
}
async function restore(saveState) {
  const primaryKey = core.getInput("key", { required: true });
  if (saveState) core.saveState("CACHE_KEY", primaryKey);
  else core.setOutput("cache-primary-key", primaryKey);
  const matchedKey = await cache.restoreCache(paths(), primaryKey, lines("restore-keys"),
    { lookupOnly: core.getInput("lookup-only") === "true" }, crossOs());
  if (!matchedKey) {
    if (core.getInput("fail-on-cache-miss") === "true") {
      throw new Error(`Failed to restore cache entry. Exiting as fail-on-cache-miss is set. Input key: ${primaryKey}`);
    }
    core.info(`Cache not found for input keys: ${[primaryKey, ...lines("restore-keys")].join(", ")}`);
    return;
  }
  if (saveState) core.saveState("CACHE_RESULT", matchedKey);
  else core.setOutput("cache-matched-key", matchedKey);
  core.setOutput("cache-hit", sameKey(primaryKey, matchedKey).toString());
  core.info(`Cache restored from key: ${matchedKey}`);
}
async function save(primaryKey) {
  const cacheId = await cache.saveCache(paths(), primaryKey, {}, crossOs());
  if (cacheId != -1) core.info(`Cache saved with key: ${primaryKey}`);
}
async function main(work) {
  try { await work(); } catch (error) { core.setFailed(error.message); }
}
"""

_RESTORE_MAIN = "main(() => restore(false));\n"
_COMBINED_MAIN = "main(() => restore(true));\n"
_SAVE_MAIN = 'main(() => save(core.getInput("key", { required: true })));\n'
_COMBINED_POST = """\
main(async () => {
  const primaryKey = core.getState("CACHE_KEY");
  if (!primaryKey) { core.info("Key is not specified, not saving cache."); return; }
  if (sameKey(primaryKey, core.getState("CACHE_RESULT"))) {
    core.info(`Cache hit occurred on the primary key ${primaryKey}, not saving cache.`);
    return;
  }
  await save(primaryKey);
});
"""

_CACHE_INPUTS = """\
inputs:
  path: {required: true}
  key: {required: true}
  restore-keys: {required: false, default: ''}
  enableCrossOsArchive: {required: false, default: 'false'}
  fail-on-cache-miss: {required: false, default: 'false'}
  lookup-only: {required: false, default: 'false'}
  upload-chunk-size: {required: false}
"""


def _script(body: str) -> str:
    imports = _IMPORTS.format(
        cache=(NPM_ROOT / "@actions" / "cache" / "lib" / "cache.js").as_uri(),
        core=(NPM_ROOT / "@actions" / "core" / "lib" / "core.js").as_uri(),
    )
    return imports + _COMMON + body


def write_actions_cache(directory: Path) -> Path:
    """A stand-in for the actions/cache repository: the combined action, restore/ and save/."""
    if not (NPM_ROOT / "@actions" / "cache" / "package.json").is_file():
        raise RuntimeError(f"{NPM_ROOT}: @actions/cache is missing; run .ci/install-tools")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "action.yml").write_text(
        "name: Cache (stand-in)\n" + _CACHE_INPUTS
        + "runs:\n  using: node20\n  main: main.mjs\n  post: post.mjs\n  post-if: success()\n"
    )
    (directory / "main.mjs").write_text(_script(_COMBINED_MAIN))
    (directory / "post.mjs").write_text(_script(_COMBINED_POST))
    for name, body in (("restore", _RESTORE_MAIN), ("save", _SAVE_MAIN)):
        (directory / name).mkdir(exist_ok=True)
        (directory / name / "action.yml").write_text(
            f"name: Cache {name} (stand-in)\n" + _CACHE_INPUTS + "runs:\n  using: node20\n  main: main.mjs\n"
        )
        (directory / name / "main.mjs").write_text(_script(body))
    return directory


_SETUP_GO = """\
name: Setup Go (stand-in)
inputs:
  go-version: {required: false, default: ''}
  go-version-file: {required: false, default: ''}
  cache: {required: false, default: 'true'}
  cache-dependency-path: {required: false, default: ''}
  check-latest: {required: false, default: 'false'}
runs:
  using: composite
  steps:
    - shell: bash
      env:
        SETUP_GO_CACHE: ${{ inputs.cache }}
      run: |
        if [ "$SETUP_GO_CACHE" != false ]; then
          echo "::error::the setup-go stand-in does not restore setup-go's own cache; set cache: false"
          exit 1
        fi
        go_bin="$(dirname "$(command -v go)")"
        echo "$go_bin" >> "$GITHUB_PATH"
        echo "$(go env GOPATH)/bin" >> "$GITHUB_PATH"
        go version
        echo "::group::go env"
        go env
        echo "::endgroup::"
"""


def write_setup_go(directory: Path) -> Path:
    """A stand-in for actions/setup-go: the installed Go on PATH, setup-go's `go env` call."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "action.yml").write_text(_SETUP_GO)
    return directory
