"""Benchmark: a full amoCRM extraction against the sandbox with real limits on.

Prints requests per 1,000 records per entity (and for all non-event entities together), the
wall time divided by the rate-limit floor, the server's 429 count and the peak RSS of the
extracting process. The emulator runs in a subprocess (its own interpreter), as a real server
would. Floor = max(0, requests − 7) ÷ 7 per second (the first 7 fit in the first window) + the
server's median time per request (the last answer cannot come sooner); `floor_plain` is
requests ÷ 7. Server figures come from the sandbox's request log (`/_sandbox/requests`).

    .venv/bin/python bench/bench_extract_amocrm.py --leads 100000 [--work /tmp/bench_amo]
        [--reuse] [--entities leads,events] [--concurrency N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--leads", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--work", default="/tmp/bench_amocrm")
    ap.add_argument("--reuse", action="store_true", help="reuse a generated sandbox in --work")
    ap.add_argument("--entities", default=None, help="comma list (default: every entity)")
    ap.add_argument("--concurrency", type=int, default=None, help="options.concurrency (default: the extractor's)")
    args = ap.parse_args()
    work = Path(args.work)
    data = work / "sandbox"
    if not args.reuse or not (data / "manifest.json").exists():
        shutil.rmtree(work, ignore_errors=True)
        from sandbox.generator import generate

        t = time.time()
        generate(data, seed=args.seed, leads=args.leads, accounts=["amo-kzn"])
        print(f"generated {args.leads} leads in {time.time() - t:.0f} s", flush=True)
    for p in (work / "wh", work / "tokens"):
        shutil.rmtree(p, ignore_errors=True)
    server = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; sys.path.insert(0, %r)\n"
        "from sandbox.serve import serve_all\n"
        "serve_all(%r, limits=True)\n"
        "print('ready', flush=True)\n"
        "time.sleep(10**9)") % (str(ROOT), str(data))], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready"
        info = json.loads((data / "servers.json").read_text())["amo-kzn"]
        cred = info["credentials"]

        from extract.amocrm import extract_account
        from extract.common.config import AccountConfig, Settings
        from warehouse.landing import Warehouse

        opts = {"concurrency": args.concurrency} if args.concurrency else {}
        acc = AccountConfig(name="amo-kzn", system="amocrm", auth="oauth", base_url=info["url"], options=opts)
        # A fresh auth code each run: the manifest's refresh token is single-use, so a --reuse run
        # would otherwise present a revoked one.
        code = requests.get(info["url"] + "/_sandbox/auth-code", timeout=10).json()["code"]
        os.environ.pop(acc.env_name("REFRESH_TOKEN"), None)
        for key, value in (("CLIENT_ID", cred["client_id"]), ("CLIENT_SECRET", cred["client_secret"]),
                           ("REDIRECT_URI", cred["redirect_uri"]), ("AUTH_CODE", code)):
            os.environ[acc.env_name(key)] = value
        settings = Settings(warehouse_path=work / "wh" / "crm.duckdb", token_dir=work / "tokens")
        started = time.monotonic()
        with Warehouse(settings.warehouse_path) as wh:
            runs = extract_account(acc, wh, settings=settings,
                                   entities=args.entities.split(",") if args.entities else None)
        wall = time.monotonic() - started
        stats = requests.get(info["url"] + "/_sandbox/stats", timeout=10).json()
        log = requests.get(info["url"] + "/_sandbox/requests", timeout=60).json()["requests"]
    finally:
        server.terminate()
        server.wait(10)
    rate = 7.0
    total = sum(r.requests for r in runs)  # the token exchange is counted in the first entity
    print(f"\n{'entity':18} {'records':>9} {'requests':>9} {'req/1k':>7} {'seconds':>8}  status")
    for r in runs:
        per = 1000 * r.requests / r.rows if r.rows else float("nan")
        print(f"{r.entity:18} {r.rows:9d} {r.requests:9d} {per:7.2f} {r.seconds:8.1f}  {r.status} {r.mode}")
    non_events = [r for r in runs if r.entity != "events"]
    big = [r for r in runs if r.entity in ("leads", "contacts", "tasks")]
    ev = next((r for r in runs if r.entity == "events"), None)
    ms = sorted(e["ms"] for e in log if not e["path"].startswith("/_sandbox"))
    by_kind: dict[str, list[float]] = {}
    for e in log:
        by_kind.setdefault(e.get("api_method") or e["path"], []).append(e["ms"])
    server = {k: {"n": len(v), "p50_ms": round(sorted(v)[len(v) // 2], 1), "p90_ms": round(sorted(v)[int(len(v) * .9)], 1)}
              for k, v in sorted(by_kind.items()) if len(v) >= 10}
    median_s = ms[len(ms) // 2] / 1000 if ms else 0.0
    floor = max(0, total - 7) / rate + median_s
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    summary = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "leads": args.leads, "requests_total": total, "server_requests": stats.get("requests"),
        "http_429": stats.get("http_429"), "blocked": stats.get("blocked"),
        "req_per_1k_non_events": round(1000 * sum(r.requests for r in non_events) / max(1, sum(r.rows for r in non_events)), 3),
        "req_per_1k_leads_contacts_tasks": round(1000 * sum(r.requests for r in big) / max(1, sum(r.rows for r in big)), 3),
        "req_per_1k_events": round(1000 * ev.requests / ev.rows, 3) if ev and ev.rows else None,
        "wall_seconds": round(wall, 1), "floor_seconds": round(floor, 1), "wall_over_floor": round(wall / floor, 3),
        "floor_plain_seconds": round(total / rate, 1), "wall_over_floor_plain": round(wall / (total / rate), 3),
        "server_ms_p50_by_method": server,
        "load_avg": os.getloadavg(),
        "peak_rss_mb": round(rss_mb, 1),
        "failed": [r.entity for r in runs if r.status != "success"],
    }
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
