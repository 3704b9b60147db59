"""Score junk detection against the generator's junk labels (benchmarks and tests only).

A lead's detected kind is its primary flag (`quality.lead_junk_flags.is_primary`: its first rule by
the configured precedence) — one kind per lead, like the labels; "any flag" counts a lead under
every rule that fired for it.
"""

from __future__ import annotations

import pandas as pd

KEY = ["source_system", "account", "lead_id"]


def latest_flags(con) -> tuple[str, pd.DataFrame]:
    """(run_id, flags) of the newest quality run in a warehouse connection."""
    run = con.execute("select run_id from quality.dq_runs order by started_at desc limit 1").fetchone()[0]
    flags = con.execute("select source_system, account, lead_id, junk_kind, is_primary "
                        "from quality.lead_junk_flags where run_id = ?", [run]).df()
    return run, flags


def score(flags: pd.DataFrame, truth: pd.DataFrame, primary_only: bool = True) -> pd.DataFrame:
    """Per labelled junk kind: labelled, detected, hits, precision, recall (live leads only)."""
    truth = truth[~truth["is_deleted"].astype(bool)]
    if primary_only:
        flags = flags[flags["is_primary"].fillna(False).astype(bool)]
    rows = []
    for kind in sorted(truth["junk_kind"].dropna().unique()):
        labelled = set(map(tuple, truth.loc[truth["junk_kind"] == kind, KEY].to_numpy()))
        detected = set(map(tuple, flags.loc[flags["junk_kind"] == kind, KEY].to_numpy()))
        hit = len(labelled & detected)
        rows.append({"junk_kind": kind, "labelled": len(labelled), "detected": len(detected), "hits": hit,
                     "precision": hit / len(detected) if detected else 1.0,
                     "recall": hit / len(labelled) if labelled else 1.0})
    return pd.DataFrame(rows)
