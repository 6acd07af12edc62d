"""Which hand-written cache paths are Go's module and build caches (shared by every target)."""

import pytest

from ci_gocache.gopaths import is_go_cache_path


@pytest.mark.parametrize(
    "path",
    ["~/go/pkg/mod", "~/.cache/go-build", "${{ env.GOMODCACHE }}", ".cache/gomod/", ".go/", "$CI_PROJECT_DIR/.go",
     "C:\\Users\\runneradmin\\AppData\\Local\\go-build", "${{ steps.go.outputs.gocache }}", "/go/pkg/mod"],
)
def test_go_cache_paths_are_recognised(path):
    assert is_go_cache_path(path)


@pytest.mark.parametrize("path", ["~/.npm", "node_modules/", "~/.cache/golangci-lint", "vendor/", "~/.m2/repository"])
def test_other_paths_are_not(path):
    assert not is_go_cache_path(path)
