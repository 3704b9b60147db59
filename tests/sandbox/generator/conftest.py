"""One small generated sandbox shared by the generator tests (generation takes a few seconds)."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from sandbox.generator import generate

AS_OF = "2026-11-27"


class Sandbox:
    def __init__(self, path, manifest):
        self.path = path
        self.manifest = manifest

    def con(self, system: str) -> duckdb.DuckDBPyConnection:
        entry = next(a for a in self.manifest["accounts"] if a["system"] == system)
        return duckdb.connect(str(self.path / entry["file"]), read_only=True)

    def truth(self, name: str) -> pd.DataFrame:
        return pd.read_parquet(self.path / "truth" / f"{name}.parquet")


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory) -> Sandbox:
    path = tmp_path_factory.mktemp("gen")
    manifest = generate(path, seed=7, leads=4000, as_of=AS_OF)
    return Sandbox(path, manifest)
