"""Shared fixtures. The tests run against the package in .. (not an installed copy) and
the library found by shale's usual lookup (SHALE_LIBRARY, next to the package, .build/).
A missing library is a failure with the reason, never a silent skip."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterator

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PACKAGE_ROOT))

try:
    import shale
except ImportError as e:  # pragma: no cover - depends on the machine
    pytest.exit(f"shale binding tests cannot run: {e}", returncode=3)


def pytest_report_header(config: pytest.Config) -> str:
    return f"shale {shale.__version__}, libshale {shale.version()} at {shale.library_path}"


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return os.fspath(tmp_path / "db")


@pytest.fixture
def db(db_path: str) -> Iterator["shale.DB"]:
    handle = shale.open(db_path)
    try:
        yield handle
    finally:
        handle.close()
