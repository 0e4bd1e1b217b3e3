"""The tiled-Helsinki study builder, shared with the tests (it lives in tests/tiling.py, so
the tests never import the benchmarks)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.tiling import BENCH_CATEGORIES, tile, tiled_study

__all__ = ["BENCH_CATEGORIES", "tile", "tiled_study"]
