"""Publish gating: which data-quality checks block publishing the marts to BI.

`evaluate_gates` returns one `CheckResult` per check; critical failures block publishing,
warnings are reported only. Dagster asset checks and the publish asset wrap this (issue 5).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import duckdb
import numpy as np
import pandas as pd


@dataclass
class CheckResult:
    name: str
    severity: str            # critical | warning
    passed: bool
    observed: float | None
    threshold: float | None
    description: str

    def to_dict(self) -> dict:
        return asdict(self)


def publish_allowed(checks: list[CheckResult]) -> bool:
    """True when no critical check failed."""
    return all(c.passed for c in checks if c.severity == "critical")


def _table_exists(con, schema: str, table: str) -> bool:
    return bool(con.execute("select 1 from information_schema.tables where table_schema = ? and table_name = ?",
                            [schema, table]).fetchall())


def evaluate_gates(summary: pd.DataFrame, cfg: dict, now: pd.Timestamp, *, leads: pd.DataFrame | None = None,
                   deals: pd.DataFrame | None = None, con: duckdb.DuckDBPyConnection | None = None,
                   landing: pd.DataFrame | None = None, ge: dict | None = None) -> list[CheckResult]:
    """Evaluate every gate.

    summary: per-lead result of expectations.rules.detect (junk_kind, is_junk, created_at, ...);
    leads / deals: the conformed input (for key checks); con: the warehouse (unmapped stages);
    landing: the landing-table summary (freshness); ge: result of gx_suites.run_validations.
    """
    g = cfg["gating"]
    out: list[CheckResult] = []
    # ------------------------------------------------------------------ junk share (critical)
    recent = summary
    days = int(g.get("junk_share_days") or 0)
    if days and len(summary):
        r = summary[summary["created_at"] >= now - pd.Timedelta(days=days)]
        recent = r if len(r) else summary
    share = float(recent["is_junk"].mean()) if len(recent) else 0.0
    out.append(CheckResult("junk_share", "critical", share <= g["max_junk_share"], round(share, 6),
                           g["max_junk_share"],
                           f"Detected junk among {len(recent)} leads" + (f" created in the last {days} days"
                                                                         if days else "")))
    # ------------------------------------------------------------------ freshness (critical)
    if landing is not None and len(landing):
        hours = float(landing["hours_since_extract"].min())
        what = "newest extraction into the landing tables"
    elif len(summary):
        hours = float((now - summary["created_at"].max()) / pd.Timedelta(hours=1))
        what = "newest lead creation (no landing tables found)"
    else:
        hours, what = float("inf"), "no data"
    out.append(CheckResult("data_freshness", "critical", hours <= g["max_hours_since_extract"], round(hours, 3),
                           g["max_hours_since_extract"], f"Hours since the {what}"))
    # ------------------------------------------------------------------ unmapped sources (critical)
    unmapped = int((summary["channel"] == "unmapped").sum()) if "channel" in summary else 0
    out.append(CheckResult("unmapped_sources", "critical", unmapped <= g["max_unmapped_sources"], unmapped,
                           g["max_unmapped_sources"],
                           "Leads whose source code has no channel in the source → channel mapping"))
    # ------------------------------------------------------------------ unmapped stages (critical)
    stages = None
    if con is not None and _table_exists(con, "intermediate", "int_stages"):
        cols = {r[0] for r in con.execute("select column_name from information_schema.columns where "
                                          "table_schema = 'intermediate' and table_name = 'int_stages'").fetchall()}
        if "is_mapped" in cols:
            stages = int(con.execute("select count(*) from intermediate.int_stages where not is_mapped").fetchone()[0])
    out.append(CheckResult("unmapped_stages", "critical",
                           stages is None or stages <= g["max_unmapped_stages"], stages, g["max_unmapped_stages"],
                           "CRM stages without a control point in the stage mapping"
                           + (" (intermediate.int_stages not built: not evaluated)" if stages is None else "")))
    # ------------------------------------------------------------------ broken keys (critical)
    broken, parts = 0, []
    if leads is not None and len(leads):
        dup = int(leads.duplicated(["source_system", "account", "lead_id"]).sum())
        broken += dup
        parts.append(f"{dup} duplicate lead keys")
        if "responsible_known" in leads.columns:
            unknown = int((~leads["responsible_known"].fillna(True).astype(bool)).sum())
            broken += unknown
            parts.append(f"{unknown} leads with an unknown manager")
        if deals is not None and len(deals) and "lead_id" in deals:
            d = deals[deals["lead_id"].notna()]
            # (system, account) pairs as small integer codes shared by both sides, then one int64
            # key per lead: no MultiIndex of a million tuples
            acc_l = leads["source_system"].astype(str) + "\x1f" + leads["account"].astype(str)
            acc_d = d["source_system"].astype(str) + "\x1f" + d["account"].astype(str)
            codes, _ = pd.factorize(pd.concat([acc_l, acc_d], ignore_index=True))
            cl, cd = codes[:len(acc_l)].astype(np.int64), codes[len(acc_l):].astype(np.int64)
            lid = leads["lead_id"].to_numpy(dtype=np.int64)
            did = d["lead_id"].to_numpy(dtype=np.int64)
            if len(lid) and len(did) and min(lid.min(), did.min()) >= 0 and max(lid.max(), did.max()) < 2 ** 40:
                orphan = int((~np.isin(cd << 40 | did, cl << 40 | lid)).sum())
            else:
                dk = pd.MultiIndex.from_arrays([cd, did])
                orphan = int((~dk.isin(pd.MultiIndex.from_arrays([cl, lid]))).sum()) if len(lid) else len(did)
            broken += orphan
            parts.append(f"{orphan} deals pointing at an unknown lead")
    if landing is not None and len(landing):
        lk = int(landing["null_keys"].sum() + landing["duplicate_keys"].sum())
        broken += lk
        parts.append(f"{lk} null/duplicate keys in landing tables")
    out.append(CheckResult("broken_keys", "critical", broken <= g["max_broken_keys"], broken, g["max_broken_keys"],
                           "; ".join(parts) or "no keys to check"))
    # ------------------------------------------------------------------ GE suites
    if ge is not None:
        for name, res in ge.get("suites", {}).items():
            sev = "critical" if name == "landing_tables" else "warning"
            out.append(CheckResult(f"ge_{name}", sev, bool(res["success"]), len(res["failed"]), 0,
                                   f"Great Expectations suite '{name}': {res['evaluated']} expectations, "
                                   f"{len(res['failed'])} failed"
                                   + (": " + ", ".join(f"{f['expectation']}({f['column'] or ''})"
                                                       for f in res["failed"]) if res["failed"] else "")))
    # ------------------------------------------------------------------ per-rule warnings
    n = max(len(summary), 1)
    for rule, thr in (g.get("warn_rule_share") or {}).items():
        s = float((summary["junk_kind"] == rule).sum()) / n
        out.append(CheckResult(f"share_{rule}", "warning", s <= thr, round(s, 6), thr,
                               f"Share of leads whose main junk kind is {rule}"))
    return out
