"""How fast the sandbox serves, with rate limits off — it must never be what bounds extraction.

Generates a sandbox (or reuses one), serves it with limits off, and reads every lead the way an
efficient extractor would:
- Bitrix24: `batch` calls of 50 chained ID-keyset `crm.lead.list` pages (`start=-1`), i.e. up to
  2,500 leads per HTTP request;
- amoCRM: `GET /api/v4/leads?limit=250&page=N`.
It prints records/s and requests/s next to the ceiling the real services' limits allow (Bitrix24
Enterprise: 5 requests/s × 2,500 records; amoCRM: 7 requests/s × 250 records). Two rates:
- wall: records ÷ elapsed time of the reading client (includes the client's own JSON parsing and
  whatever else the machine is doing);
- per server core: records ÷ the CPU seconds the server's handler threads spent (from the request
  log), i.e. what one core of this machine serves when it is not shared — the figure that says
  whether the sandbox could ever be what bounds an extraction.
Headroom is rate ÷ ceiling: above 1 the rate limit, not the sandbox, bounds extraction.

    .venv/bin/python bench/bench_sandbox.py --leads 100000
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from urllib.parse import quote

import requests

import crmwh  # noqa: F401  (usage statistics off)

CEILING = {"bitrix24": 5 * 2500, "amocrm": 7 * 250}  # records/s the real limits allow at best


def bitrix_read_all(url: str, creds: dict) -> tuple[int, int, float]:
    base = f"{url}/rest/{creds['webhook_user_id']}/{creds['webhook_code']}"
    session = requests.Session()
    last_id, records, calls = 0, 0, 0
    started = time.perf_counter()
    while True:
        cmd = {}
        for i in range(50):
            ref = str(last_id) if i == 0 else f"$result[p{i - 1}][49][ID]"
            cmd[f"p{i}"] = ("crm.lead.list?start=-1&order[ID]=ASC&select[]=*&select[]=PHONE"
                            f"&filter[>ID]={quote(ref)}")
        r = session.post(f"{base}/batch.json", json={"halt": 1, "cmd": cmd}, timeout=60)
        calls += 1
        r.raise_for_status()
        results = r.json()["result"]["result"]
        pages = [results[f"p{i}"] for i in range(50) if f"p{i}" in results]
        for page in pages:
            records += len(page)
        full_pages = [p for p in pages if len(p) == 50]
        if len(full_pages) < 50:
            break
        last_id = int(full_pages[-1][-1]["ID"])
    return records, calls, time.perf_counter() - started


def amo_read_all(url: str, creds: dict) -> tuple[int, int, float]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {creds['long_lived_token']}"
    next_url = f"{url}/api/v4/leads?limit=250&page=1"
    records, calls = 0, 0
    started = time.perf_counter()
    while next_url:
        r = session.get(next_url, timeout=60)
        calls += 1
        if r.status_code == 204:
            break
        r.raise_for_status()
        body = r.json()
        records += len(body["_embedded"]["leads"])
        next_url = body.get("_links", {}).get("next", {}).get("href")
    return records, calls, time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--leads", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--data", type=Path, default=None, help="reuse a generated sandbox directory")
    args = ap.parse_args()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}, cores: {os.cpu_count()}")

    from sandbox.generator import generate
    from sandbox.serve import serve_all

    data = args.data or Path("bench/out") / f"sandbox-{args.leads}"
    if not (data / "manifest.json").exists():
        t = time.perf_counter()
        generate(data, seed=args.seed, leads=args.leads, as_of="2026-11-01")
        print(f"generated {args.leads:,} leads in {time.perf_counter() - t:.1f} s")
    manifest = json.loads((data / "manifest.json").read_text(encoding="utf-8"))
    servers = serve_all(data, limits=False)
    try:
        print(f"{'account':<10} {'system':<9} {'records':>9} {'requests':>8} {'seconds':>8} "
              f"{'wall rec/s':>10} {'srv CPU s':>9} {'rec/s/core':>10} {'ceiling':>8} {'headroom wall':>13} "
              f"{'headroom core':>13}")
        for acc in manifest["accounts"]:
            url, creds = servers[acc["account"]].url, acc["credentials"]
            reader = bitrix_read_all if acc["system"] == "bitrix24" else amo_read_all
            requests.post(f"{url}/_sandbox/reset-stats", timeout=10)
            records, calls, secs = reader(url, creds)
            cpu = requests.get(f"{url}/_sandbox/stats", timeout=10).json()["server_cpu_seconds"]
            rate, per_core, ceiling = records / secs, records / max(cpu, 1e-9), CEILING[acc["system"]]
            print(f"{acc['account']:<10} {acc['system']:<9} {records:>9,} {calls:>8} {secs:>8.2f} "
                  f"{rate:>10,.0f} {cpu:>9.2f} {per_core:>10,.0f} {ceiling:>8,} {rate / ceiling:>13.1f} "
                  f"{per_core / ceiling:>13.1f}")
    finally:
        for s in servers.values():
            s.stop()


if __name__ == "__main__":
    main()
