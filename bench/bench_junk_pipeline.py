"""Junk detection accuracy THROUGH THE PIPELINE: the flags the pipeline wrote (extraction → dbt
intermediate → junk detection) against the generator's junk labels, per junk kind.

`bench/bench_junk.py accuracy` measures the rules on canonical frames read straight from the
sandbox's CRM state; this script measures what a user of the product gets, from a warehouse built
by `make demo` (or `crmwh demo`):

    .venv/bin/python bench/bench_junk_pipeline.py --warehouse warehouse/crm.duckdb --sandbox sandbox_data/demo
"""

from __future__ import annotations

import argparse

import duckdb
import pandas as pd

KEY = ["source_system", "account", "lead_id"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--warehouse", default="warehouse/crm.duckdb")
    ap.add_argument("--sandbox", default="sandbox_data/demo")
    args = ap.parse_args()
    with duckdb.connect(args.warehouse, read_only=True) as con:
        run = con.execute("select run_id from quality.dq_runs order by started_at desc limit 1").fetchone()[0]
        flags = con.execute("select source_system, account, lead_id, junk_kind from quality.lead_junk_flags "
                            "where run_id = ?", [run]).df()
    truth = pd.read_parquet(f"{args.sandbox}/truth/leads.parquet")
    truth = truth[~truth["is_deleted"].astype(bool)]
    print(f"quality run {run}: {len(truth):,} live leads, {len(flags):,} flags")
    print(f"{'junk kind':<24} {'labelled':>8} {'flagged':>8} {'precision':>9} {'recall':>7}")
    for kind in sorted(truth["junk_kind"].dropna().unique()):
        labelled = set(map(tuple, truth.loc[truth["junk_kind"] == kind, KEY].to_numpy()))
        flagged = set(map(tuple, flags.loc[flags["junk_kind"] == kind, KEY].to_numpy()))
        hit = len(labelled & flagged)
        print(f"{kind:<24} {len(labelled):>8} {len(flagged):>8} {hit / max(len(flagged), 1):>9.3f} "
              f"{hit / max(len(labelled), 1):>7.3f}")


if __name__ == "__main__":
    main()
