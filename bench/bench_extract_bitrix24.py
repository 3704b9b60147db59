"""Bitrix24 extraction benchmark on the sandbox, rate limits ON: requests per 1,000 records, wall
time ÷ rate-limit floor, peak RSS, and a side-by-side with fast_bitrix24's `get_all`.

For each `--leads N` it generates a one-portal sandbox (b24-msk; reused if present), serves it in a
separate process with the real limits (leaky bucket and the 480 s/10 min operating budget), and:

1. ours, leads only: `Bitrix24Extractor.run(["leads"])` in a child process → requests, wall,
   floor = max(0, requests − burst) ÷ rate + the server's own processing time (sum of the request
   log's `ms`: from reading a request to having rendered its answer), wall ÷ floor, rate-limit
   violations (the server's counters), peak RSS. The extractor sends a keyset batch while the
   previous answer is still being parsed, but only after that answer has fully arrived, so the
   server never works on two of our requests at once; `server_overlap_s` (sum of `ms` minus the
   union of the request intervals) proves it — were it > 0, the sum would overstate the floor and
   `wall_over_busy` (wall ÷ that union) would be the figure to quote;
2. ours, every entity (`--all-entities`): requests per 1,000 records per entity;
3. fast_bitrix24 `get_all("crm.lead.list")` with the same select, after the server's limits are
   reset → wall, requests, refusals, whether it met OPERATION_TIME_LIMIT.

`--rss-leads 1000000` adds a peak-RSS run at that size (limits off there, in the server and in
the client's own pacing: the operating budget would only stretch a memory measurement to ~40 min;
memory does not depend on the pace), with the
RSS sampled every 0.25 s: `rss_by_progress` is the RSS when 10 %, 20 %, … of the rows had landed
(flat = independent of the data size).

    .venv/bin/python bench/bench_extract_bitrix24.py --leads 20000 100000 --all-entities --rss-leads 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import crmwh  # noqa: E402,F401  (usage statistics off)

SELECT = ["*", "UF_*", "PHONE", "EMAIL", "WEB", "IM"]


def ensure_sandbox(out: Path, leads: int) -> dict:
    from sandbox.generator import generate

    d = out / f"b24_{leads}"
    m = d / "manifest.json"
    if m.exists() and json.loads(m.read_text()).get("leads") == leads and not json.loads(m.read_text()).get("mutations"):
        return json.loads(m.read_text())
    t = time.time()
    generate(d, seed=42, leads=leads, accounts=["b24-msk"])
    print(f"  generated {leads} leads in {time.time() - t:.0f} s", flush=True)
    return json.loads(m.read_text())


class Server:
    """The sandbox in its own process, so that its CPU time is not ours."""

    def __init__(self, data_dir: Path, limits: bool) -> None:
        (data_dir / "servers.json").unlink(missing_ok=True)
        code = ("import sys, time; sys.path.insert(0, %r); import crmwh; from sandbox.serve import serve_all; "
                "serve_all(%r, limits=%r); print('up', flush=True); time.sleep(10**6)") % (
            str(ROOT), str(data_dir), limits)
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "up"
        info = json.loads((data_dir / "servers.json").read_text())["b24-msk"]
        self.url, self.creds = info["url"], info["credentials"]
        self.webhook = f"{self.url}/rest/{self.creds['webhook_user_id']}/{self.creds['webhook_code']}/"

    def reset(self) -> None:
        requests.post(self.url + "/_sandbox/reset-limits", timeout=10)
        requests.post(self.url + "/_sandbox/reset-stats", timeout=10)

    def stats(self) -> dict:
        return requests.get(self.url + "/_sandbox/stats", timeout=30).json()

    def server_seconds(self) -> tuple[float, float]:
        """(sum of the request log's processing times, seconds in which ≥ 1 request was processed)."""
        entries = requests.get(self.url + "/_sandbox/requests", timeout=60).json()["requests"]
        spans = sorted((e["ts"] - e["ms"] / 1000.0, e["ts"]) for e in entries)
        busy, end = 0.0, float("-inf")
        for a, b in spans:
            if b > end:
                busy += b - max(a, end)
                end = b
        return sum(e["ms"] for e in entries) / 1000.0, busy

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


# ------------------------------------------------------------------ workers (child processes)
def worker_ours(args) -> dict:
    from extract.bitrix24 import Bitrix24Extractor
    from extract.common.config import AccountConfig, Settings
    from warehouse.landing import Warehouse

    os.environ["BITRIX24_B24_MSK_WEBHOOK_URL"] = args.webhook
    acc = AccountConfig(name="b24-msk", system="bitrix24", auth="webhook", plan=args.plan)
    if args.no_client_limits:  # the server's limits are off too (RSS run): don't pace ourselves either
        acc = AccountConfig(name="b24-msk", system="bitrix24", auth="webhook", plan=args.plan,
                            rate_per_second=1000.0, burst=100000, operating_limit_seconds=1e9)
    wh_path = Path(args.warehouse)
    for p in (wh_path, Path(str(wh_path) + ".wal")):
        p.unlink(missing_ok=True)
    settings = Settings(warehouse_path=wh_path, token_dir=wh_path.parent / "tokens")
    samples: list[tuple[float, float, int]] = []  # (seconds, RSS MB, rows landed)
    landed = [0]
    merge = Warehouse.merge

    def counting_merge(self, *a, **kw):  # noqa: ANN001 - a thin probe around the real merge
        n = merge(self, *a, **kw)
        landed[0] += n
        return n

    Warehouse.merge = counting_merge
    stop = threading.Event()
    t = time.perf_counter()

    def sample() -> None:
        while not stop.wait(0.25):
            with open("/proc/self/statm") as fh:
                rss = int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
            samples.append((time.perf_counter() - t, rss, landed[0]))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    with Warehouse(wh_path) as wh:
        ex = Bitrix24Extractor(acc, wh, settings)
        runs = ex.run(args.entities or None, reconcile=False)
    wall = time.perf_counter() - t
    stop.set()
    sampler.join()
    total = max(1, landed[0])
    by_progress = {}
    for pct in range(10, 101, 10):
        at = [rss for _, rss, n in samples if n >= total * pct / 100]
        by_progress[f"{pct}%"] = round(at[0]) if at else round(samples[-1][1]) if samples else None
    return {"wall": wall, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_by_progress": by_progress, "pipelined_batches": ex.client.counters.pipelined,
            "speculation_dropped": ex.client.counters.speculation_dropped,
            "runs": [{k: getattr(r, k) for k in ("entity", "rows", "requests", "rate_limit_refusals",
                                                 "rate_limit_waits", "status", "error", "seconds")} for r in runs]}


def worker_fast(args) -> dict:
    import fast_bitrix24

    b = fast_bitrix24.Bitrix(args.webhook, verbose=False)
    t = time.perf_counter()
    error, n = "", 0
    try:
        n = len(b.get_all("crm.lead.list", {"select": SELECT}))
    except Exception as exc:  # noqa: BLE001 - reported
        error = f"{type(exc).__name__}: {str(exc)[:200]}"
    return {"wall": time.perf_counter() - t, "rows": n, "error": error}


def child(kind: str, **kw) -> dict:
    cmd = [sys.executable, __file__, "--worker", kind]
    for k, v in kw.items():
        if v is None:
            continue
        if v == "":
            cmd.append(f"--{k.replace('_', '-')}")
        elif isinstance(v, list):
            cmd += [f"--{k}", *map(str, v)]
        else:
            cmd += [f"--{k}", str(v)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=7200)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ the benchmark
def bench_size(out: Path, leads: int, all_entities: bool, fast: bool) -> dict:
    manifest = ensure_sandbox(out, leads)
    acc = manifest["accounts"][0]
    plan = acc.get("plan", "standard")
    rate, burst = (5.0, 250) if plan == "enterprise" else (2.0, 50)
    data_dir = out / f"b24_{leads}"
    res: dict = {"leads": leads, "plan": plan}
    srv = Server(data_dir, limits=True)
    try:
        srv.reset()
        r = child("ours", webhook=srv.webhook, plan=plan, warehouse=out / f"wh_{leads}.duckdb", entities=["leads"])
        st, (server_s, busy_s) = srv.stats(), srv.server_seconds()
        rows = r["runs"][0]["rows"]
        floor = max(0, st["requests"] - burst) / rate + server_s
        res["ours"] = {"rows": rows, "requests": st["requests"], "req_per_1000": 1000 * st["requests"] / rows,
                       "wall_s": r["wall"], "server_s": server_s, "server_overlap_s": server_s - busy_s,
                       "floor_s": floor, "wall_over_floor": r["wall"] / floor,
                       "wall_over_busy": r["wall"] / (max(0, st["requests"] - burst) / rate + busy_s),
                       "violations": st["rate_limit_violations"], "peak_rss_mb": r["peak_rss_mb"],
                       "rss_by_progress": r["rss_by_progress"], "pipelined_batches": r["pipelined_batches"],
                       "speculation_dropped": r["speculation_dropped"]}
        print(f"  ours leads: {res['ours']}", flush=True)
        if all_entities:
            srv.reset()
            r = child("ours", webhook=srv.webhook, plan=plan, warehouse=out / f"wh_{leads}_all.duckdb")
            st, (server_s, busy_s) = srv.stats(), srv.server_seconds()
            floor = max(0, st["requests"] - burst) / rate + server_s
            res["ours_all"] = {"wall_s": r["wall"], "requests": st["requests"], "server_s": server_s,
                               "server_overlap_s": server_s - busy_s,
                               "floor_s": floor, "wall_over_floor": r["wall"] / floor,
                               "violations": st["rate_limit_violations"], "peak_rss_mb": r["peak_rss_mb"],
                               "entities": {x["entity"]: {"rows": x["rows"], "requests": x["requests"],
                                                          "req_per_1000": 1000 * x["requests"] / max(1, x["rows"]),
                                                          "status": x["status"]} for x in r["runs"]}}
            print(f"  ours all entities: wall {r['wall']:.1f} s, {st['requests']} requests, "
                  f"wall/floor {res['ours_all']['wall_over_floor']:.2f}, violations {st['rate_limit_violations']}",
                  flush=True)
        if fast:
            srv.reset()
            r = child("fast", webhook=srv.webhook)
            st = srv.stats()
            limited = st.get("rate_limited", {})
            res["fast_bitrix24"] = {"rows": r["rows"], "wall_s": r["wall"], "requests": st["requests"],
                                    "refusals": st["rate_limit_violations"], "rate_limited": limited,
                                    "hit_operation_time_limit": any("operat" in k.lower() for k in limited)
                                    or "OPERATION_TIME_LIMIT" in r["error"], "error": r["error"]}
            print(f"  fast_bitrix24: {res['fast_bitrix24']}", flush=True)
    finally:
        srv.stop()
    return res


def bench_rss(out: Path, leads: int) -> dict:
    manifest = ensure_sandbox(out, leads)
    plan = manifest["accounts"][0].get("plan", "standard")
    srv = Server(out / f"b24_{leads}", limits=False)
    try:
        r = child("ours", webhook=srv.webhook, plan=plan, warehouse=out / f"wh_{leads}.duckdb", entities=["leads"],
                  no_client_limits="")
    finally:
        srv.stop()
    res = {"leads": leads, "rows": r["runs"][0]["rows"], "wall_s": r["wall"], "peak_rss_mb": r["peak_rss_mb"],
           "rss_by_progress": r["rss_by_progress"]}
    print(f"  rss run: {res}", flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--leads", type=int, nargs="*", default=[20000, 100000])
    ap.add_argument("--all-entities", action="store_true")
    ap.add_argument("--no-fast", action="store_true", help="skip the fast_bitrix24 comparison")
    ap.add_argument("--rss-leads", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    ap.add_argument("--rss-out", type=Path, help="where the --rss-leads sandbox lives (default: --out)")
    # worker mode
    ap.add_argument("--worker", choices=["ours", "fast"])
    ap.add_argument("--webhook")
    ap.add_argument("--plan", default="standard")
    ap.add_argument("--warehouse")
    ap.add_argument("--entities", nargs="*")
    ap.add_argument("--no-client-limits", action="store_true")
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker_ours(args) if args.worker == "ours" else worker_fast(args), default=str))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
              "load_average": os.getloadavg(),
              "machine": platform.platform(), "python": platform.python_version(), "sizes": []}
    for n in args.leads:
        print(f"{n} leads", flush=True)
        report["sizes"].append(bench_size(args.out, n, args.all_entities, not args.no_fast))
    if args.rss_leads:
        print(f"{args.rss_leads} leads (peak RSS)", flush=True)
        (args.rss_out or args.out).mkdir(parents=True, exist_ok=True)
        report["rss"] = bench_rss(args.rss_out or args.out, args.rss_leads)
    path = args.out / "bench_extract_bitrix24.json"
    path.write_text(json.dumps(report, indent=1, default=str))
    print(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()
