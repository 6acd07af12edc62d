//go:build tools

// Package tools pins docker buildx, which runs the GitLab build lines ci-gocache writes
// against the test's BuildKit daemon. .ci/install-tools builds it to .tools/docker-buildx.
package tools

import _ "github.com/docker/buildx/cmd/buildx"
