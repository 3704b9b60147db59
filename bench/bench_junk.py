"""Junk-detection benchmark: accuracy against the generator's labels and speed/RSS at scale.

    .venv/bin/python bench/bench_junk.py accuracy --leads 20000          # precision/recall per kind
    .venv/bin/python bench/bench_junk.py speed --leads 1000000           # one full + one incremental run

Accuracy reads the CRM state files (what the APIs return) of a generated sandbox (seed 42,
as_of 2026-11-01) and compares each lead's main junk kind with truth/leads.parquet (deleted leads
excluded: the CRM no longer shows them). Speed writes those leads as intermediate.int_leads /
int_deals into a DuckDB warehouse, then runs `run_quality(path)` in a fresh subprocess (reader,
phone normalisation with a cold cache, rules, GE with Data Docs, gates, writes), and reports its
wall time and peak RSS (the child's VmHWM: its ru_maxrss would include the parent's RSS at fork,
which Linux carries across exec).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import crmwh  # noqa: E402,F401


def sandbox(leads: int, out: Path) -> Path:
    from sandbox.generator import generate

    d = out / f"sandbox_{leads}"
    man = d / "manifest.json"
    if not man.exists() or json.loads(man.read_text())["leads"] != leads:
        t = time.perf_counter()
        generate(d, seed=42, leads=leads, as_of="2026-11-01")
        print(f"generated {leads} leads in {time.perf_counter() - t:.1f} s", flush=True)
    return d


def accuracy(leads: int, out: Path) -> dict:
    import pandas as pd

    from expectations import JUNK_KINDS, conform_leads, detect, load_config, row_features
    from sandbox.canonical_frames import sandbox_frames, truth_leads

    d = sandbox(leads, out)
    L, D = sandbox_frames(d)
    cfg = load_config()
    F, _ = row_features(conform_leads(L), cfg, now=pd.Timestamp("2026-11-01", tz="UTC").to_pydatetime())
    s = detect(F, D, cfg)["leads"]
    T = truth_leads(d)
    T = T[~T["is_deleted"]]
    m = T.merge(s[["source_system", "account", "lead_id", "junk_kind", "duplicate_of_lead_id"]],
                on=["source_system", "account", "lead_id"], how="left", suffixes=("_t", "_p"))
    rows = {}
    for k in JUNK_KINDS:
        tp = int(((m.junk_kind_t == k) & (m.junk_kind_p == k)).sum())
        p, r = int((m.junk_kind_p == k).sum()), int((m.junk_kind_t == k).sum())
        rows[k] = {"truth": r, "detected": p, "precision": tp / p if p else 1.0, "recall": tp / r if r else 1.0}
    clean_fp = int((m.junk_kind_t.isna() & m.junk_kind_p.notna()).sum())
    dups = m[m.junk_kind_t.isin(["exact_duplicate", "phone_format_duplicate", "repeat_open_deal"])
             & (m.junk_kind_t == m.junk_kind_p)]
    print(f"leads {len(m)}; clean leads flagged: {clean_fp}; duplicate_of agrees: "
          f"{(dups.duplicate_of_lead_id_t == dups.duplicate_of_lead_id_p).mean():.4f}")
    print("| junk kind | labelled | detected | precision | recall |")
    print("|---|---:|---:|---:|---:|")
    for k, v in rows.items():
        print(f"| {k} | {v['truth']} | {v['detected']} | {v['precision']:.4f} | {v['recall']:.4f} |")
    return rows


def speed(leads: int, out: Path) -> None:
    import duckdb

    from sandbox.canonical_frames import sandbox_frames, write_intermediate

    d = sandbox(leads, out)
    wh = out / f"warehouse_{leads}.duckdb"
    for p in (wh, Path(str(wh) + ".wal")):
        p.exists() and p.unlink()
    L, D = sandbox_frames(d)
    con = duckdb.connect(str(wh))
    write_intermediate(con, L, D)
    con.close()
    del L, D
    for label, mutate in (("full (cold phone cache)", 0), ("incremental (1% of leads changed)", 1)):
        code = f"""
import sys, time, resource, json; sys.path.insert(0, {str(ROOT)!r})
import crmwh, duckdb, pandas as pd
if {mutate}:
    con = duckdb.connect({str(wh)!r})
    con.execute("update intermediate.int_leads set comments = 'перезвонить' where lead_id % 100 = 7")
    con.close()
from expectations import run_quality
t = time.perf_counter()
r = run_quality({str(wh)!r}, gx_dir={str(out / 'gx')!r}, now=pd.Timestamp('2026-11-01', tz='UTC'))
wall = time.perf_counter() - t
print(json.dumps({{"wall_s": round(wall, 1), "checked": r.leads_checked, "total": r.leads_total,
                  "flags": len(r.flags), "publish_allowed": r.publish_allowed,
                  "rss_mb": round(int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1]) / 1024),
                  "load_1min": round(__import__("os").getloadavg()[0], 1), "stages_s": r.timings}}))
"""
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if p.returncode:
            print(p.stderr[-3000:])
            raise SystemExit(p.returncode)
        print(label, p.stdout.strip().splitlines()[-1], flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["accuracy", "speed"])
    ap.add_argument("--leads", type=int, default=20_000)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    (accuracy if a.what == "accuracy" else speed)(a.leads, a.out)


if __name__ == "__main__":
    main()
