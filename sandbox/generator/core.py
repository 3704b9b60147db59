"""generate(): build a whole sandbox (both CRMs, ground truth, plans) into a directory.

Streaming: each account's window is cut into chunks of consecutive days (about CHUNK_LEADS leads
each); a chunk is simulated, rendered and appended to DuckDB and Parquet, then dropped. Each chunk
draws from numpy's generator seeded by (seed, account index, chunk index), and the cut depends
only on the daily counts, so output is a function of (seed, leads, as_of, accounts, months).
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Callable

import duckdb
import numpy as np
import pandas as pd

from sandbox import state
from sandbox.generator import render_amocrm, render_bitrix24, truth
from sandbox.generator import world as W
from sandbox.generator.simulate import simulate_chunk

CHUNK_LEADS = 20_000
PLAN_METRICS = ["units", "revenue", "payments_received", "leads", "meetings", "showings", "contracts"]


def parse_as_of(as_of) -> datetime:
    """None -> today 00:00 Moscow; a date/'YYYY-MM-DD'/datetime -> that day's 00:00 Moscow."""
    if as_of is None:
        return W.default_as_of()
    if isinstance(as_of, str):
        as_of = date.fromisoformat(as_of[:10])
    if isinstance(as_of, datetime):
        if as_of.tzinfo is None:
            return as_of.replace(tzinfo=W.MSK)
        return as_of
    return W.msk_midnight(as_of)


def _secret(seed: int, account: str, what: str, n: int = 32) -> str:
    return hashlib.sha256(f"sandbox:{seed}:{account}:{what}".encode()).hexdigest()[:n]


def _long_lived_jwt(seed: int, account: str, client_id: str) -> str:
    """A JWT-shaped long-lived token, as amoCRM issues them (clients may decode `exp` from it).

    The signature is a keyed digest, not RS256: only the sandbox ever checks it.
    """
    def b64(obj: dict) -> str:
        raw = json.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    issued = 1_700_000_000  # fixed, so the token is deterministic for a seed
    payload = {"aud": client_id, "jti": _secret(seed, account, "llt-jti", 40), "iat": issued,
               "nbf": issued, "exp": issued + 5 * 365 * 86_400, "sub": "sandbox", "api_domain": "sandbox"}
    signature = base64.urlsafe_b64encode(bytes.fromhex(_secret(seed, account, "llt-sig", 64))).rstrip(b"=").decode()
    return f"{b64({'typ': 'JWT', 'alg': 'RS256'})}.{b64(payload)}.{signature}"


def _account_manifest(seed: int, acc: W.Account) -> dict:
    if acc.system == "bitrix24":
        return {"system": "bitrix24", "account": acc.account, "file": f"bitrix24_{acc.account}.duckdb",
                "branches": acc.branches, "plan": acc.plan, "portal_offset": "+03:00",
                "credentials": {"webhook_user_id": acc.admin_id, "webhook_code": _secret(seed, acc.account, "wh", 16),
                                "oauth_client_id": f"local.{_secret(seed, acc.account, 'cid', 14)}.{seed}",
                                "oauth_client_secret": _secret(seed, acc.account, "cs", 40),
                                "oauth_refresh_token": _secret(seed, acc.account, "rt", 64)}}
    client_id = "%s-%s-%s-%s-%s" % tuple(
        _secret(seed, acc.account, "cid", 32)[a:b] for a, b in ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32)))
    return {"system": "amocrm", "account": acc.account, "file": f"amocrm_{acc.account}.duckdb",
            "branches": acc.branches, "subdomain": acc.account,
            "credentials": {"client_id": client_id,
                "client_secret": _secret(seed, acc.account, "cs", 64),
                "redirect_uri": "http://localhost:8080/oauth/callback",
                "auth_code": _secret(seed, acc.account, "code", 64),
                "refresh_token": _secret(seed, acc.account, "rt", 64),
                "long_lived_token": _long_lived_jwt(seed, acc.account, client_id)}}


def open_db(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    # Bounded so a million-lead run stays inside the memory budget; DuckDB spills beyond it.
    con.execute("SET memory_limit='160MB'")
    con.execute("SET preserve_insertion_order=false")
    return con


def append(con: duckdb.DuckDBPyConnection, table: str, df: pd.DataFrame) -> None:
    """Append a chunk with INSERT ... BY NAME from the registered frame (no row-by-row inserts)."""
    if df is None or not len(df):
        return
    con.register("_chunk_df", df)
    try:
        con.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM _chunk_df')
    finally:
        con.unregister("_chunk_df")


def initial_ids(acc: W.Account) -> dict:
    if acc.system == "bitrix24":
        return {"lead": 1, "deal": 1, "contact": 1, "activity": 1, "payment": 1, "apartment": 1,
                "stagehistory": 1, "multifield": 1, "event": 1}
    return {"lead": render_amocrm.LEAD_BASE + 1, "deal": 1, "contact": 1, "activity": render_amocrm.TASK_BASE + 1,
            "payment": 1_000_001, "apartment": 1, "stagehistory": 1, "multifield": 1, "event": 1}


def _plan_facts(ch) -> pd.DataFrame:
    """Per manager × month activity and result counts of a chunk (small), used to size the plans."""
    def month(t):
        return pd.DatetimeIndex(pd.to_datetime(np.asarray(t, dtype=float), unit="s", utc=True)).tz_convert(
            W.MSK).strftime("%Y-%m-01").to_numpy()

    L, D, P, A = ch.leads, ch.deals, ch.payments, ch.activities
    parts = []
    m = L["manager_id"] >= 0
    parts.append(pd.DataFrame({"manager_id": L.loc[m, "manager_id"], "month": month(L.loc[m, "created_at"]),
                               "metric": "leads", "value": 1.0}))
    for kind, metric in (("meeting", "meetings"), ("showing", "showings")):
        a = A[(A["kind"] == kind) & A["is_completed"]]
        parts.append(pd.DataFrame({"manager_id": a["manager_id"], "month": month(a["held_at"]), "metric": metric,
                                   "value": 1.0}))
    c = D[D["contract_at"].notna()]
    for metric, val in (("contracts", 1.0), ("units", 1.0), ("revenue", c["price"])):
        parts.append(pd.DataFrame({"manager_id": c["manager_id"], "month": month(c["contract_at"]),
                                   "metric": metric, "value": val}))
    if len(P):
        q = P[P["paid"]]
        mg = D.set_index("deal_id")["manager_id"].reindex(q["deal_id"]).to_numpy()
        parts.append(pd.DataFrame({"manager_id": mg, "month": month(q["paid_at"]), "metric": "payments_received",
                                   "value": q["amount"].to_numpy()}))
    f = pd.concat([p for p in parts if len(p)], ignore_index=True)
    f["project"] = -1
    pc = D[D["contract_at"].notna()]
    proj = pd.DataFrame({"manager_id": -1, "month": month(pc["contract_at"]), "metric": "units", "value": 1.0,
                         "project": pc["project"]})
    proj2 = proj.assign(metric="revenue", value=pc["price"].to_numpy())
    f = pd.concat([f, proj, proj2], ignore_index=True)
    return f.groupby(["manager_id", "project", "month", "metric"], as_index=False)["value"].sum()


def build_plans(seed: int, accounts: list[W.Account], facts: pd.DataFrame, as_of: datetime, months: int) -> pd.DataFrame:
    """Monthly plans a head of sales would set: last year's-style targets around the real pace.

    Targets are the simulated fact (extrapolated for the current month) times a per-manager ambition
    factor, rounded the way people round plans. Months a manager was not employed get no plan.
    """
    rng = np.random.default_rng([seed, 424242])
    start = (as_of - timedelta(days=round(months * 30.44))).date().replace(day=1)
    cur = as_of.date().replace(day=1) if as_of.day > 1 else (as_of.date() - timedelta(days=1)).replace(day=1)
    months_list = pd.date_range(start, cur, freq="MS").strftime("%Y-%m-01").tolist()
    elapsed = (as_of.date() - cur).days / pd.Period(cur, "M").days_in_month
    rows = []
    mg_all = pd.concat([a.managers.assign(system=a.system, account=a.account) for a in accounts], ignore_index=True)
    fact = facts.set_index(["manager_id", "project", "month", "metric"])["value"]
    fact_d = fact.to_dict()
    for _, m in mg_all.iterrows():
        ambition = rng.uniform(0.95, 1.3)
        for mo in months_list:
            ms = pd.Timestamp(mo, tz=W.MSK).timestamp()
            me = (pd.Timestamp(mo, tz=W.MSK) + pd.offsets.MonthBegin(1)).timestamp()
            fired = m["fired_at"]
            if m["hired_at"] >= me or (fired == fired and fired <= ms):
                continue
            scale = 1 / max(elapsed, 0.2) if mo == months_list[-1] else 1.0
            for metric in PLAN_METRICS:
                v = fact_d.get((m["manager_id"], -1, mo, metric), 0.0) * scale * ambition
                if metric in ("revenue", "payments_received"):
                    target = max(round(v, -6), 5_000_000.0)
                else:
                    target = float(max(int(round(v)), 1))
                rows.append((mo, "manager", f"{m['system']}:{m['account']}:{m['manager_id']}", m["name"], metric,
                             target, m["dept_id"], m["branch"], m["system"], m["account"], m["department"]))
    plans = pd.DataFrame(rows, columns=["period_start", "scope_type", "scope_id", "scope_name", "metric", "target",
                                        "dept_id", "branch", "system", "account", "department"])
    # Higher scopes are the sums of their managers' plans (a consistent plan tree).
    dep = plans.groupby(["period_start", "system", "account", "dept_id", "department", "metric"],
                        as_index=False)["target"].sum()
    dep = pd.DataFrame({"period_start": dep["period_start"], "scope_type": "department",
                        "scope_id": dep["system"] + ":" + dep["account"] + ":" + dep["dept_id"].astype(str),
                        "scope_name": dep["department"], "metric": dep["metric"], "target": dep["target"]})
    br = plans.groupby(["period_start", "branch", "metric"], as_index=False)["target"].sum()
    br = pd.DataFrame({"period_start": br["period_start"], "scope_type": "branch", "scope_id": br["branch"],
                       "scope_name": br["branch"], "metric": br["metric"], "target": br["target"]})
    co = plans.groupby(["period_start", "metric"], as_index=False)["target"].sum()
    co = pd.DataFrame({"period_start": co["period_start"], "scope_type": "company", "scope_id": "company",
                       "scope_name": "Компания «Новострой»", "metric": co["metric"], "target": co["target"]})
    pr_rows = []
    for pi, p in enumerate(W.PROJECTS):
        if not any(pi in a.projects for a in accounts):
            continue
        for mo in months_list:
            scale = 1 / max(elapsed, 0.2) if mo == months_list[-1] else 1.0
            amb = rng.uniform(1.0, 1.2)
            for metric in ("units", "revenue"):
                v = fact_d.get((-1, pi, mo, metric), 0.0) * scale * amb
                t = max(round(v, -6), 10_000_000.0) if metric == "revenue" else float(max(int(round(v)), 1))
                pr_rows.append((mo, "project", p[0], p[1], metric, t))
    pr = pd.DataFrame(pr_rows, columns=["period_start", "scope_type", "scope_id", "scope_name", "metric", "target"])
    out = pd.concat([co, br, dep, plans[dep.columns], pr], ignore_index=True)
    out["period_start"] = pd.to_datetime(out["period_start"]).dt.date
    return out.sort_values(["period_start", "scope_type", "scope_id", "metric"], kind="stable").reset_index(drop=True)


def generate(out_dir, seed: int = 42, leads: int = 10_000, as_of=None, accounts=None, months: int = 12,
             progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Generate the sandbox state into out_dir and return the manifest.

    accounts: list of account names from world.ACCOUNTS (default b24-msk and amo-kzn; add "b24-spb"
    for the second Bitrix24 portal). progress(account, leads_done, leads_total) is called per chunk.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    as_of_dt = parse_as_of(as_of)
    names = list(accounts or W.DEFAULT_ACCOUNTS)
    world = W.build_world(seed, as_of_dt, months, names)
    t_end = as_of_dt.timestamp()
    start_day = W.msk_midnight((as_of_dt - timedelta(days=round(months * 30.44))).date())
    t_start = start_day.timestamp()
    n_days = int(round((t_end - t_start) / W.DAY))
    per_acc = W.split_counts(int(leads), np.array([a.weight for a in world]))
    (out / "truth").mkdir(exist_ok=True)
    (out / "mutations").exists() and shutil.rmtree(out / "mutations")
    tw = truth.TruthWriter(out / "truth")
    facts = []
    manifest = {"seed": seed, "as_of": as_of_dt.isoformat(), "leads": int(leads), "months": months,
                "timezone": "Europe/Moscow", "generator_version": 1, "accounts": []}
    try:
        for acc, n_acc in zip(world, per_acc):
            acc.leads = int(n_acc)
            entry = _account_manifest(seed, acc)
            manifest["accounts"].append(entry)
            path = out / entry["file"]
            for p in (path, Path(str(path) + ".wal")):
                p.exists() and p.unlink()
            con = open_db(path)
            state.create_tables(con, acc.system)
            R = render_bitrix24 if acc.system == "bitrix24" else render_amocrm
            if acc.system == "bitrix24":
                render_bitrix24.add_userfield_columns(con)
            for table, df in R.static_tables(acc, t_end, t_start).items():
                append(con, table, df)
            tw.write("managers", truth.managers_rows(acc))
            rng0 = np.random.default_rng([seed, acc.index, 99])
            w = W.day_weights(t_start, n_days) * rng0.lognormal(0, 0.12, n_days)
            counts = W.split_counts(int(n_acc), w)
            ids = initial_ids(acc)
            done = 0
            d0, ci = 0, 0
            while d0 < n_days:
                d1, c = d0, 0
                while d1 < n_days and (c == 0 or c + counts[d1] <= CHUNK_LEADS):
                    c += counts[d1]
                    d1 += 1
                if c:
                    rng = np.random.default_rng([seed, acc.index, ci])
                    ch = simulate_chunk(acc, rng, t_start + d0 * W.DAY, counts[d0:d1], t_end, ids, ci)
                    rrng = np.random.default_rng([seed, acc.index, ci, 1])
                    for table, df in R.chunk_tables(ch, rrng, ids, t_end).items():
                        append(con, table, df)
                    for name, df in truth.chunk_rows(ch).items():
                        tw.write(name, df)
                    facts.append(_plan_facts(ch))
                    done += c
                    if progress:
                        progress(acc.account, done, int(n_acc))
                d0, ci = d1, ci + 1
            con.execute("CHECKPOINT")
            con.close()
    finally:
        tw.close()
    allf = pd.concat(facts, ignore_index=True).groupby(["manager_id", "project", "month", "metric"],
                                                       as_index=False)["value"].sum()
    plans = build_plans(seed, world, allf, as_of_dt, months)
    plans.to_csv(out / "truth" / "plans.csv", index=False)
    plans.to_excel(out / "truth" / "plans.xlsx", index=False, sheet_name="plans")
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return manifest
