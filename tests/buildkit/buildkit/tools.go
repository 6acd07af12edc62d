//go:build tools

// Package tools pins the BuildKit commands tests/test_docker_buildkit.py runs: the daemon,
// its client and the Dockerfile front end served as docker/dockerfile:1 from a local registry.
// .ci/install-tools builds them to .tools/.
package tools

import (
	_ "github.com/moby/buildkit/cmd/buildctl"
	_ "github.com/moby/buildkit/cmd/buildkitd"
	_ "github.com/moby/buildkit/frontend/dockerfile/cmd/dockerfile-frontend"
)
