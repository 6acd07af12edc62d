"""`docker build` in GitLab CI jobs becomes `docker buildx build` with a registry layer cache.

The GitLab patcher (targets/gitlab/pipeline.py) owns the YAML; this module only rewrites script
entries, as shell text. Only jobs whose image has buildx (docker:23 or newer, see
`buildx_unavailable`) and that do not turn BuildKit off are rewritten. For a job's script (a list
of entries, each one or more lines):

- the first entry that builds gets `docker buildx create --use --driver docker-container` before
  it, because the default docker driver cannot export caches;
- `docker build` / `docker image build` become `docker buildx build` with
  `--cache-from type=registry,ref=$CI_REGISTRY_IMAGE/cache:<image>-$CI_COMMIT_REF_SLUG` and the
  default branch's ref as a second `--cache-from`. `<image>` is the Dockerfile path and
  `--target` (computed by the shell when they hold variables, as in a loop), so several images
  never overwrite each other's cache;
- in a job that pushes (`docker push`, `--push`, a registry output), `--cache-to ...,mode=max,
  image-manifest=true,ignore-error=true` is added for pipelines whose cache a later pipeline
  reads: a shell test leaves it out of merge request and tag pipelines, and a registry that
  refuses the write never fails the build;
- `--load` keeps the image in the local image store when the job does not build with `--push`,
  so a later `docker push`, `docker tag` or `docker run` finds it as before;
- tags, build args, `--push` and every other word stay as written.

Entries that already use buildx with a cache, or that do not build, come back unchanged.
"""

from __future__ import annotations

import re

from ruamel.yaml.nodes import Node, ScalarNode, SequenceNode

from ci_gocache.textedit import Edit, line_start

BUILD = re.compile(r"""(?P<prefix>(?:^|(?<=[\s;&|(`"']))docker)(?P<space>\s+)(?P<verb>image\s+build|buildx\s+build|build)\b""")
BUILDX_BUILD = re.compile(r"\bdocker\s+buildx\s+build\b")
BUILDER_CREATE = "docker buildx create --use --driver docker-container"
CACHE_REPOSITORY = "$CI_REGISTRY_IMAGE/cache"
CACHE_TO_VARIABLE = "CI_GOCACHE_CACHE_TO"
# Merge request pipelines cannot be trusted to write; tag pipelines would write a ref no
# pipeline reads (branch pipelines read their own branch's ref and the default branch's).
CACHE_TO_ASSIGNMENT = (
    f'{CACHE_TO_VARIABLE}=""; '
    'if [ "$CI_PIPELINE_SOURCE" != "merge_request_event" ] && [ "$CI_PIPELINE_SOURCE" != "external_pull_request_event" ] '
    '&& [ -z "${CI_COMMIT_TAG:-}" ]; '
    f"then {CACHE_TO_VARIABLE}=1; fi"
)
CACHE_TO_OPTIONS = "mode=max,image-manifest=true,ignore-error=true"
MAX_KEY_LENGTH = 60  # a tag has at most 128 characters; the ref slug takes up to 63
KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
WORKSPACE_PREFIXES = ("$CI_PROJECT_DIR/", "${CI_PROJECT_DIR}/", "./")
BUILDKIT_OFF = re.compile(r"""\bDOCKER_BUILDKIT\s*=\s*["']?(?:0|false)\b""", re.IGNORECASE)
CURRENT_DOCKER_TAGS = {"", "latest", "cli", "dind", "git", "dind-rootless", "windowsservercore"}
FIRST_ENGINE_WITH_BUILDX = 23


def buildx_unavailable(image: str | None, variables: dict[str, str], script: list[str]) -> str:
    """Why a job's `docker build` must stay as written, or "" when it can become buildx."""
    for name, value in variables.items():
        if name == "DOCKER_BUILDKIT" and str(value).strip().lower() in ("0", "false"):
            return "it sets DOCKER_BUILDKIT=0 (the legacy builder, which cannot use a registry cache)"
    if any(BUILDKIT_OFF.search(entry) for entry in script):
        return "its script sets DOCKER_BUILDKIT=0 (the legacy builder, which cannot use a registry cache)"
    if image is None:
        return (
            "its image is not set in this file, so whether it has docker buildx cannot be told; "
            "use image: docker:27 (any docker:23 or newer)"
        )
    name = image.strip().rsplit("/", 1)[-1]
    if "$" in name:
        name = _expand(name, variables)
    repository, _, tag = name.partition("@")[0].partition(":")
    if "$" in name or repository != "docker":
        return (
            f"its image {image} is not a docker image known to include buildx; "
            "use image: docker:27 (any docker:23 or newer), or add buildx caching yourself"
        )
    version = re.match(r"(\d+)", tag)
    if tag.lower() in CURRENT_DOCKER_TAGS or (version and int(version.group(1)) >= FIRST_ENGINE_WITH_BUILDX):
        return ""
    return (
        f"its image {image} predates Docker 23 and has no buildx (or its tag does not tell the version); "
        "use image: docker:27 (any docker:23 or newer)"
    )


def _expand(text: str, variables: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        value = variables.get(match.group(1) or match.group(2))
        return value if value is not None and "$" not in value else match.group(0)

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", replace, text)
PUSHES = re.compile(r"\bdocker\s+(?:image\s+)?push\b|--push\b|type=registry\b(?![^\s]*cache)|push=true")


def builds_image(entry: str) -> bool:
    """Does this script entry build an image without a layer cache (so we rewrite it)?"""
    return bool(BUILD.search(entry)) and "--cache-to" not in entry and "--cache-from" not in entry


def job_pushes(entries: list[str]) -> bool:
    """Does the job push an image (so it has registry credentials and may write the cache)?"""
    return any(PUSHES.search(_without_cache_flags(entry)) for entry in entries)


def _without_cache_flags(entry: str) -> str:
    return re.sub(r"--cache-(?:from|to)[= ]\S+", "", entry)


def cache_key(command: str) -> str:
    """The part of the cache tag that names the image: the Dockerfile path and `--target`, as
    shell text (a command substitution when they hold variables)."""
    words = _words(command)
    dockerfile = target = None
    positional: list[str] = []
    skip = False
    for position, word in enumerate(words):
        if skip:
            skip = False
            continue
        name, sep, value = word.partition("=")
        if name in ("-f", "--file", "--target"):
            if not sep:
                value = words[position + 1] if position + 1 < len(words) else ""
                skip = True
            if name == "--target":
                target = value
            else:
                dockerfile = value
            continue
        if word.startswith("-"):
            if not sep and word in VALUE_FLAGS:
                skip = True
            continue
        positional.append(word)
    if dockerfile is None:
        context = _strip_workspace(positional[-1]) if positional else "."
        dockerfile = "Dockerfile" if context in ("", ".") else f"{context.rstrip('/')}/Dockerfile"
    name = _strip_workspace(dockerfile) + (f"-{target}" if target else "")
    if "$" in name or "`" in name:
        escaped = name.replace("\\", "\\\\").replace('"', '\\"')
        return f"$(printf '%s' \"{escaped}\" | tr -c 'A-Za-z0-9_.-' '-' | cut -c1-{MAX_KEY_LENGTH})"
    return KEY_UNSAFE.sub("-", name).strip("-.")[:MAX_KEY_LENGTH] or "Dockerfile"


VALUE_FLAGS = {
    "-t", "--tag", "--build-arg", "--platform", "--label", "--cache-from", "--cache-to", "--secret", "--ssh",
    "--builder", "-o", "--output", "--build-context", "--network", "--iidfile", "--metadata-file", "--progress",
    "--add-host", "--shm-size", "--ulimit", "--attest", "--annotation", "--provenance", "--sbom", "--allow",
}


def _strip_workspace(path: str) -> str:
    changed = True
    while changed:
        changed = False
        for prefix in WORKSPACE_PREFIXES:
            if path.startswith(prefix) and len(path) > len(prefix):
                path = path[len(prefix) :]
                changed = True
    return path


def _words(command: str) -> list[str]:
    import shlex

    try:
        return shlex.split(command.replace("\\\n", " "))
    except ValueError:
        return command.split()


def rewrite_build_commands(line: str, *, pushes: bool) -> str:
    """The entry with each `docker build` turned into `docker buildx build` with cache flags."""

    def replace(match: re.Match[str]) -> str:
        command_end = _command_end(line, match.end())
        command = line[match.end() : command_end]
        key = cache_key(command)
        # The ref name comes first: a tag must start with a letter, digit or `_`.
        extra = [
            f"--cache-from type=registry,ref={CACHE_REPOSITORY}:$CI_COMMIT_REF_SLUG-{key}",
            f"--cache-from type=registry,ref={CACHE_REPOSITORY}:$CI_DEFAULT_BRANCH-{key}",
        ]
        if pushes:
            extra.append(
                f"${{{CACHE_TO_VARIABLE}:+--cache-to type=registry,ref={CACHE_REPOSITORY}:$CI_COMMIT_REF_SLUG-{key},{CACHE_TO_OPTIONS}}}"
            )
        if not re.search(r"(^|\s)--push\b|(^|\s)--load\b|(^|\s)(-o|--output)[=\s]", command):
            extra.append("--load")
        return f"{match.group('prefix')}{match.group('space')}buildx build " + " ".join(extra)

    return BUILD.sub(replace, line)


def rewrite_script_line(line: str, *, first_build: bool, pushes: bool) -> list[str]:
    """The entries that replace one script entry: the entry itself when nothing changes."""
    if not builds_image(line):
        return [line]
    rewritten = rewrite_build_commands(line, pushes=pushes)
    entries: list[str] = []
    if first_build and BUILDER_CREATE not in line:
        entries.append(BUILDER_CREATE)
    if pushes:
        entries.append(CACHE_TO_ASSIGNMENT)
    entries.append(rewritten)
    return entries


def _command_end(text: str, start: int) -> int:
    """Where the shell command starting at `start` ends (a separator outside quotes), joining
    backslash-continued lines."""
    quote = ""
    position = start
    while position < len(text):
        char = text[position]
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "\\" and position + 1 < len(text):
            position += 2
            continue
        elif char in ";&|\n":
            return position
        position += 1
    return len(text)


def rewrite_script(entries: list[str]) -> list[str]:
    """A job's whole script with every classic `docker build` rewritten."""
    if any(BUILDX_BUILD.search(entry) and "--cache-to" in entry for entry in entries):
        return list(entries)
    pushes = job_pushes(entries)
    result: list[str] = []
    first = not any(BUILDER_CREATE in entry or "docker buildx create" in entry for entry in entries)
    for entry in entries:
        if builds_image(entry):
            result.extend(rewrite_script_line(entry, first_build=first, pushes=pushes))
            first = False
        else:
            result.append(entry)
    return result


# ---------------------------------------------------------------- YAML edits for the GitLab patcher


def job_script_edits(text: str, newline: str, script_nodes: list[Node], effective_script: list[str]) -> list[Edit] | None:
    """Edits that rewrite the image builds in a job's own `before_script`/`script` nodes.

    `script_nodes` are the job's own script values in file order (block sequences of scalars,
    or a single scalar); `effective_script` is the job's whole script after `extends` and
    `!reference` (it tells whether the job pushes and already creates a builder). Returns []
    when nothing builds, None when a build sits where it cannot be edited safely (a flow
    sequence, a nested list, an alias): the caller leaves the job alone and says so.
    """
    if any(BUILDX_BUILD.search(entry) and "--cache-to" in entry for entry in effective_script):
        return []
    pushes = job_pushes(effective_script)
    first = not any("docker buildx create" in entry for entry in effective_script)
    edits: list[Edit] = []
    for node in script_nodes:
        items = node.value if isinstance(node, SequenceNode) else [node]
        if isinstance(node, SequenceNode) and node.flow_style and any(isinstance(item, ScalarNode) and builds_image(item.value) for item in items):
            return None
        for item in items:
            if not isinstance(item, ScalarNode):
                if _mentions_build(item):
                    return None
                continue
            if not builds_image(item.value):
                continue
            item_edits = _item_edits(text, newline, node, item, first, pushes)
            if item_edits is None:
                return None
            edits.extend(item_edits)
            first = False
    return edits


def _mentions_build(node: Node) -> bool:
    if isinstance(node, ScalarNode):
        return builds_image(node.value)
    if isinstance(node, SequenceNode):
        return any(_mentions_build(item) for item in node.value)
    return False


def _item_edits(text: str, newline: str, container: Node, item: ScalarNode, first: bool, pushes: bool) -> list[Edit] | None:
    start, end = item.start_mark.index, item.end_mark.index
    raw = text[start:end]
    style = item.style
    edits: list[Edit] = []
    for match in BUILD.finditer(raw):
        if style not in (None, "", "'", '"', "|", ">"):
            return None
        command_text = item.value
        replacement = rewrite_build_commands(match.group(0) + _command_tail(command_text, match.group(0)), pushes=pushes)
        inserted = replacement[: len(replacement) - len(_command_tail(command_text, match.group(0)))]
        if style == '"':
            inserted = inserted.replace("\\", "\\\\").replace('"', '\\"')
        elif style == "'":
            inserted = inserted.replace("'", "''")
        edits.append(Edit(start + match.start(), start + match.end(), inserted, "docker buildx build with a registry cache"))
    extra: list[str] = []
    if first:
        extra.append(BUILDER_CREATE)
    if pushes:
        extra.append(CACHE_TO_ASSIGNMENT)
    if extra:
        if not isinstance(container, SequenceNode):
            return None
        item_line = line_start(text, start)
        dash = text.rfind("-", item_line, start)
        if dash < 0 or text[item_line:dash].strip():
            return None
        column = dash - item_line
        gap = text[dash + 1 : start]
        lines = "".join(" " * column + "-" + gap + _yaml_scalar(entry) + newline for entry in extra)
        edits.append(Edit(item_line, item_line, lines, "docker buildx builder and cache-to"))
    return edits


def _command_tail(value: str, head: str) -> str:
    """The rest of the build command after `head` in the entry's value (to decide on --load)."""
    position = value.find(head)
    if position < 0:
        return ""
    end = _command_end(value, position + len(head))
    return value[position + len(head) : end]


_PLAIN_UNSAFE_START = tuple("-?:,[]{}#&*!|>'\"%@`")


def _yaml_scalar(value: str) -> str:
    """A single-line YAML scalar for a shell command: plain when that is safe, else single-quoted."""
    plain_ok = (
        value
        and not value.startswith(_PLAIN_UNSAFE_START)
        and ": " not in value
        and " #" not in value
        and not value.endswith((":", " "))
        and value == value.strip()
    )
    return value if plain_ok else "'" + value.replace("'", "''") + "'"

