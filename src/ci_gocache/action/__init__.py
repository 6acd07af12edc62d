"""The action's runtime: a standard-library-only program that action.yml and save/action.yml run."""
