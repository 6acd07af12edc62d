"""ci-gocache: inspect Go repositories and write or patch CI caching."""

__version__ = "0.1.0"
