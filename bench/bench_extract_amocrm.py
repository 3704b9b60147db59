"""Benchmark: a full amoCRM extraction against the sandbox with real limits on.

Prints requests per 1,000 records per entity (and for all non-event entities together), the
wall time divided by the rate-limit floor (requests ÷ 7 per second), the server's 429 count and
the peak RSS of the extracting process. The emulator runs in a subprocess (its own interpreter),
as a real server would.

    .venv/bin/python bench/bench_extract_amocrm.py --leads 100000 [--work /tmp/bench_amo]
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

        acc = AccountConfig(name="amo-kzn", system="amocrm", auth="oauth", base_url=info["url"])
        for key, value in (("CLIENT_ID", cred["client_id"]), ("CLIENT_SECRET", cred["client_secret"]),
                           ("REDIRECT_URI", cred["redirect_uri"]), ("REFRESH_TOKEN", cred["refresh_token"])):
            os.environ[acc.env_name(key)] = value
        settings = Settings(warehouse_path=work / "wh" / "crm.duckdb", token_dir=work / "tokens")
        started = time.monotonic()
        with Warehouse(settings.warehouse_path) as wh:
            runs = extract_account(acc, wh, settings=settings)
        wall = time.monotonic() - started
        stats = requests.get(info["url"] + "/_sandbox/stats", timeout=10).json()
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
    ev = next(r for r in runs if r.entity == "events")
    floor = total / rate
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    summary = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "leads": args.leads, "requests_total": total, "server_requests": stats.get("requests"),
        "http_429": stats.get("http_429"), "blocked": stats.get("blocked"),
        "req_per_1k_non_events": round(1000 * sum(r.requests for r in non_events) / sum(r.rows for r in non_events), 3),
        "req_per_1k_leads_contacts_tasks": round(1000 * sum(r.requests for r in big) / sum(r.rows for r in big), 3),
        "req_per_1k_events": round(1000 * ev.requests / ev.rows, 3),
        "wall_seconds": round(wall, 1), "floor_seconds": round(floor, 1), "wall_over_floor": round(wall / floor, 3),
        "peak_rss_mb": round(rss_mb, 1),
        "failed": [r.entity for r in runs if r.status != "success"],
    }
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
