"""Junk detection accuracy THROUGH THE PIPELINE: the flags the pipeline wrote (extraction → dbt
intermediate → junk detection) against the generator's junk labels, per junk kind.

`bench/bench_junk.py accuracy` measures the rules on canonical frames read straight from the
sandbox's CRM state; this script measures what a user of the product gets, from a warehouse built
by `make demo` (or `crmwh demo`):

    .venv/bin/python bench/bench_junk_pipeline.py --warehouse warehouse/crm.duckdb --sandbox sandbox_data/demo
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox.junk_scoring import latest_flags, score  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--warehouse", default="warehouse/crm.duckdb")
    ap.add_argument("--sandbox", default="sandbox_data/demo")
    args = ap.parse_args()
    with duckdb.connect(args.warehouse, read_only=True) as con:
        run, flags = latest_flags(con)
    truth = pd.read_parquet(f"{args.sandbox}/truth/leads.parquet")
    live = int((~truth["is_deleted"].astype(bool)).sum())
    print(f"quality run {run}: {live:,} live leads, {len(flags):,} flags, "
          f"{int(flags['is_primary'].fillna(False).sum()):,} leads with a junk kind")
    # the lead's junk kind (primary flag) is what is scored; "any flag" is shown for reference
    kind, anyf = score(flags, truth), score(flags, truth, primary_only=False)
    print(f"{'junk kind':<24} {'labelled':>8} {'detected':>8} {'precision':>9} {'recall':>7}"
          f" | {'any flag':>8} {'precision':>9} {'recall':>7}")
    for k, a in zip(kind.itertuples(), anyf.itertuples()):
        print(f"{k.junk_kind:<24} {k.labelled:>8} {k.detected:>8} {k.precision:>9.3f} {k.recall:>7.3f}"
              f" | {a.detected:>8} {a.precision:>9.3f} {a.recall:>7.3f}")


if __name__ == "__main__":
    main()
