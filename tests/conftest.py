import os
from pathlib import Path

import pytest

os.environ.setdefault("GOFLAGS", "-modcacherw")
os.environ["PATH"] = f"{Path.home() / 'go' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo_root() -> Path:
    return REPO
