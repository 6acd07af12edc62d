"""What counts as running Go in a shell script: shared by every CI target that reads scripts."""

from __future__ import annotations

import re

GO_SUBCOMMANDS = (
    "build|test|run|install|mod|generate|vet|get|list|tool|work|fmt|fix|clean|env|doc|version"
)
GO_COMMAND = re.compile(rf"(?:^|[\s;&|(`]|\$\()go\s+(?:-C\s+\S+\s+)?(?:{GO_SUBCOMMANDS})\b", re.MULTILINE)
MAKE_COMMAND = re.compile(r"(?:^|[\s;&|(`])(?:make|make\.exe|gmake|mage|task|just)(?:\s|$)", re.MULTILINE)
# Go tools that compile or load packages, and so use the module and build caches.
GO_TOOL_COMMAND = re.compile(
    r"(?:^|[\s;&|(`])(?:golangci-lint\s+run|goreleaser\s|gotestsum|govulncheck|staticcheck|ko\s+(?:build|publish|resolve|apply))",
    re.MULTILINE,
)
