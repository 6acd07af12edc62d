"""`ci-gocache report`: cache hit rates across CI runs, read back from GitHub and GitLab.

client.py talks HTTP; logs.py turns job logs into observations; github.py and gitlab.py walk
each service's API into a Collection; summary.py aggregates it; render.py prints it.
"""
