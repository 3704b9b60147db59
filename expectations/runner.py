"""One data-quality run: read leads, re-check new/changed ones, detect junk, validate with Great
Expectations, evaluate the publish gates and write everything to the `quality` schema in one
transaction on one connection (DuckDB is single-writer).

Tables written (schema `quality`):
  lead_junk_flags     one row per (run, lead, rule): source_system, account, lead_id, rule,
                      junk_kind, reason, severity, duplicate_of_lead_id, run_id, checked_at.
                      Each run writes the complete current flag set (flags of unchanged leads
                      are carried forward), so the latest run alone describes the warehouse.
  lead_checks         one row per (run, lead): ..., run_id, checked_at, is_rechecked
  quarantine_worklist the current worklist: detected junk the CRM does not mark, per manager,
                      with reason and suggested action (replaced each run)
  dq_runs             run history
  check_results       per run per gate: name, severity, passed, observed, threshold, description
  lead_state          per lead fingerprint and row features (incremental runs)
  phone_cache         raw phone value → E.164 / validity (each raw value is parsed once, ever)
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from expectations import gating
from expectations.config import load_config
from expectations.contract import KEY, conform_deals, conform_leads
from expectations.rules import FEATURE_COLUMNS, RULES, detect, row_features

DEFAULT_GX_DIR = Path(__file__).resolve().parent.parent / "warehouse" / "gx"
FINGERPRINT_COLUMNS = ["title", "name", "comments", "phone", "phones", "email", "emails", "source_code", "channel",
                       "responsible_id", "contact_id", "amount", "created_at", "updated_at"]
ACTIONS = {
    "exact_duplicate": "Объединить с лидом {of} / merge into lead {of}",
    "phone_format_duplicate": "Объединить с лидом {of} / merge into lead {of}",
    "email_duplicate": "Проверить и объединить с лидом {of} / check and merge into lead {of}",
    "repeat_open_deal": "Привязать к открытой сделке (лид {of}) и закрыть / attach to the open deal (lead {of})",
    "test": "Удалить или перевести в «Некачественный» / delete or mark junk",
    "spam": "Перевести в «Некачественный» (спам) / mark junk: spam",
    "bot_burst": "Перевести в «Некачественный» (бот) / mark junk: bot",
    "invalid_phone": "Уточнить телефон или забраковать / fix the phone or mark junk",
    "missing_source": "Указать источник / set the source",
    "missing_responsible": "Назначить ответственного / assign a manager",
    "impossible_date": "Исправить дату / fix the date",
    "impossible_amount": "Исправить сумму / fix the amount",
}

DDL = [
    "create schema if not exists quality",
    """create table if not exists quality.lead_junk_flags (source_system varchar, account varchar, lead_id bigint,
        rule varchar, junk_kind varchar, reason varchar, severity varchar, duplicate_of_lead_id bigint,
        run_id varchar, checked_at timestamp)""",
    """create table if not exists quality.lead_checks (source_system varchar, account varchar, lead_id bigint,
        run_id varchar, checked_at timestamp)""",
    "alter table quality.lead_checks add column if not exists is_rechecked boolean",
    "alter table quality.lead_junk_flags add column if not exists junk_kind varchar",
    "alter table quality.lead_junk_flags add column if not exists duplicate_of_lead_id bigint",
    """create table if not exists quality.quarantine_worklist (run_id varchar, source_system varchar,
        account varchar, lead_id bigint, responsible_id bigint, channel varchar, created_at timestamptz,
        junk_kind varchar, rules varchar, reason varchar, suggested_action varchar, duplicate_of_lead_id bigint)""",
    """create table if not exists quality.dq_runs (run_id varchar primary key, started_at timestamptz,
        finished_at timestamptz, mode varchar, leads_total bigint, leads_checked bigint, leads_flagged bigint,
        junk_share double, flagged_by_rule json, ge_success boolean, publish_allowed boolean,
        data_docs_path varchar)""",
    """create table if not exists quality.check_results (run_id varchar, name varchar, severity varchar,
        passed boolean, observed double, threshold double, description varchar)""",
    """create table if not exists quality.phone_cache (raw varchar primary key, e164 varchar, is_valid boolean)""",
]


@dataclass
class RunResult:
    run_id: str
    started_at: datetime
    finished_at: datetime | None
    leads_total: int
    leads_checked: int
    flags: pd.DataFrame
    leads: pd.DataFrame
    worklist: pd.DataFrame
    checks: list[gating.CheckResult]
    ge: dict = field(default_factory=dict)

    @property
    def publish_allowed(self) -> bool:
        return gating.publish_allowed(self.checks)

    @property
    def data_docs_path(self) -> str | None:
        return self.ge.get("docs_path")


def fingerprint(leads: pd.DataFrame) -> np.ndarray:
    cols = [c for c in FINGERPRINT_COLUMNS if c in leads.columns]
    frame = leads[cols].copy()
    for c in ("phones", "emails"):
        if c in frame:
            frame[c] = frame[c].map(lambda v: None if v is None else "\x1f".join(map(str, v)))
    return pd.util.hash_pandas_object(frame, index=False).to_numpy().astype(np.int64)


def _exists(con, schema, table) -> bool:
    return bool(con.execute("select 1 from information_schema.tables where table_schema=? and table_name=?",
                            [schema, table]).fetchall())


def landing_frame(con: duckdb.DuckDBPyConnection, now: pd.Timestamp) -> pd.DataFrame:
    """One row per landing table (raw_bitrix24.*, raw_amocrm.*): row count, null and duplicate
    primary keys, null payloads, hours since the newest extraction."""
    tables = con.execute("""select table_schema, table_name from information_schema.tables
        where table_schema in ('raw_bitrix24', 'raw_amocrm') order by 1, 2""").fetchall()
    if not tables:
        return pd.DataFrame()
    pks = {(r[0], r[1]): r[2] for r in con.execute("""select schema_name, table_name, constraint_column_names
        from duckdb_constraints() where constraint_type = 'PRIMARY KEY'""").fetchall()}
    if _exists(con, "meta", "landing_tables"):  # landing tables have no PRIMARY KEY: the writer registers keys
        pks.update({(r[0], r[1]): list(r[2]) for r in con.execute(
            "select table_schema, table_name, key_columns from meta.landing_tables").fetchall()})
    parts = []
    for schema, table in tables:
        keys = pks.get((schema, table))
        if keys:
            kl = ", ".join(f'"{k}"' for k in keys)
            null_k = " or ".join(f'"{k}" is null' for k in keys)
            key_sql = f"count(*) filter (where {null_k}) as null_keys, count(*) - count(distinct ({kl})) as duplicate_keys"
        else:  # a table nobody registered a key for: its keys cannot be judged, so none are counted
            key_sql = "0 as null_keys, 0 as duplicate_keys"
        parts.append(f"""select '{schema}.{table}' as table_name, count(*) as row_count, {key_sql},
            count(*) filter (where payload is null) as null_payloads,
            max(_extracted_at) as last_extracted_at from {schema}."{table}" """)
    df = con.execute(" union all ".join(parts)).df()
    last = pd.to_datetime(df["last_extracted_at"], utc=True)
    df["hours_since_extract"] = ((now - last) / pd.Timedelta(hours=1)).fillna(float("inf"))
    return df


def _lead_batch_frame(summary: pd.DataFrame, rules: dict, mask: np.ndarray) -> pd.DataFrame:
    s = summary.loc[mask, KEY + ["created_at", "phone_status", "phone_e164", "junk_kind"]].copy()
    s["is_junk"] = summary.loc[mask, "is_junk"].astype(float)
    for r in ("invalid_phone", "missing_source", "missing_responsible"):
        s[f"is_{r}"] = rules[r][mask].astype(float)
    return s.reset_index(drop=True)


def _worklist(summary, flags, leads, run_id) -> pd.DataFrame:
    crm = leads["crm_junk"].fillna(False).astype(bool).to_numpy() if "crm_junk" in leads else np.zeros(len(leads), bool)
    sel = summary["junk_kind"].notna().to_numpy() & ~crm
    w = summary.loc[sel, KEY + ["responsible_id", "channel", "created_at", "junk_kind", "duplicate_of_lead_id"]]
    if not len(w):
        return pd.DataFrame(columns=["run_id", *KEY, "responsible_id", "channel", "created_at", "junk_kind", "rules",
                                     "reason", "suggested_action", "duplicate_of_lead_id"])
    agg = flags.groupby(KEY, sort=False).agg(rules=("rule", lambda x: ",".join(sorted(x))))
    main = flags.merge(w[KEY + ["junk_kind"]], left_on=KEY + ["rule"], right_on=KEY + ["junk_kind"])
    w = w.merge(agg, left_on=KEY, right_index=True, how="left").merge(
        main[KEY + ["reason"]], on=KEY, how="left")
    of = w["duplicate_of_lead_id"].astype("string").fillna("?")
    w["suggested_action"] = [ACTIONS[k].format(of=o) for k, o in zip(w["junk_kind"], of)]
    w.insert(0, "run_id", run_id)
    return w[["run_id", *KEY, "responsible_id", "channel", "created_at", "junk_kind", "rules", "reason",
              "suggested_action", "duplicate_of_lead_id"]].sort_values(["responsible_id", "created_at"])


def run_quality(warehouse: str | Path | duckdb.DuckDBPyConnection, *, leads: pd.DataFrame | None = None,
                deals: pd.DataFrame | None = None, config: dict | str | Path | None = None,
                gx_dir: str | Path | None = None, now: datetime | None = None, full: bool = False,
                validate: bool = True) -> RunResult:
    """Run junk detection + GE + gates and write the `quality` schema.

    warehouse: a DuckDB path or an open connection (opened once here when a path).
    leads / deals: canonical frames (expectations.contract); default: read the dbt intermediate
    models with expectations.reader.read_leads.
    full: re-check every lead (ignore fingerprints). validate: run GE and build Data Docs.
    """
    cfg = config if isinstance(config, dict) else load_config(config)
    started = datetime.now(timezone.utc)
    now_ts = pd.Timestamp(now or started)
    now_ts = now_ts.tz_localize("UTC") if now_ts.tzinfo is None else now_ts.tz_convert("UTC")
    run_id = started.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    own = not isinstance(warehouse, duckdb.DuckDBPyConnection)
    con = duckdb.connect(str(warehouse)) if own else warehouse
    try:
        con.execute("SET TimeZone='UTC'")
        if leads is None:
            from expectations.reader import read_leads

            leads, deals = read_leads(con)
        L = conform_leads(leads)
        D = conform_deals(deals)
        fp = fingerprint(L)
        # ------------------------------------------------------------ incremental state
        state = None
        if not full and _exists(con, "quality", "lead_state"):
            state = con.execute("select * from quality.lead_state").df()
        if state is not None and len(state):
            keyed = L[KEY].assign(_fp=fp, _pos=np.arange(len(L)))
            old_fp = state[KEY + ["_fp"]].rename(columns={"_fp": "_old"})
            old_fp["_old"] = pd.array(old_fp["_old"], dtype="Int64")  # exact; float would round hashes
            m = keyed.merge(old_fp, on=KEY, how="left").sort_values("_pos")
            changed = (m["_old"].isna() | (m["_old"] != m["_fp"])).fillna(True).to_numpy(dtype=bool)
        else:
            changed = np.ones(len(L), dtype=bool)
        cache = con.execute("select raw, e164, is_valid from quality.phone_cache").df() if _exists(
            con, "quality", "phone_cache") else None
        new_f, fresh_phones = row_features(L[changed].reset_index(drop=True), cfg, cache, now=now_ts.to_pydatetime())
        if changed.all():
            F = new_f
        else:
            old = L.loc[~changed, KEY].merge(state, on=KEY, how="left")[FEATURE_COLUMNS]
            old["created_at"] = pd.to_datetime(old["created_at"], utc=True)
            for c in ("responsible_id", "contact_id"):
                old[c] = pd.array(old[c], dtype="Int64")
            F = pd.concat([new_f, old], ignore_index=True)
            order = np.concatenate([np.nonzero(changed)[0], np.nonzero(~changed)[0]])
            F = F.iloc[np.argsort(order, kind="stable")].reset_index(drop=True)
            F["created_at"] = L["created_at"].to_numpy()
        res = detect(F, D, cfg)
        summary, flags = res["leads"], res["flags"]
        # ------------------------------------------------------------ GE + gates
        landing = landing_frame(con, now_ts)
        ge = {}
        if validate:
            from expectations.gx_suites import run_validations

            ge = run_validations(gx_dir or DEFAULT_GX_DIR,
                                 {"lead_batch": _lead_batch_frame(summary, res["rules"], changed),
                                  "landing_tables": landing}, cfg, now_ts, run_id)
        checks = gating.evaluate_gates(summary, cfg, now_ts, leads=L, deals=D, con=con, landing=landing, ge=ge)
        worklist = _worklist(summary, flags, L, run_id)
        finished = datetime.now(timezone.utc)
        # ------------------------------------------------------------ write, one transaction
        checked_at = now_ts.tz_convert(None).to_pydatetime()
        fl = flags.assign(run_id=run_id, checked_at=checked_at)
        lc = L[KEY].assign(run_id=run_id, checked_at=checked_at, is_rechecked=changed)
        st = F.assign(_fp=fp)
        by_rule = {r: int(v.sum()) for r, v in res["rules"].items()}
        run_row = pd.DataFrame([{
            "run_id": run_id, "started_at": started, "finished_at": finished,
            "mode": "full" if changed.all() else "incremental", "leads_total": len(L),
            "leads_checked": int(changed.sum()), "leads_flagged": int(summary["junk_kind"].notna().sum()),
            "junk_share": float(summary["is_junk"].mean()) if len(summary) else 0.0,
            "flagged_by_rule": json.dumps(by_rule), "ge_success": ge.get("success"),
            "publish_allowed": gating.publish_allowed(checks), "data_docs_path": ge.get("docs_path")}])
        cr = pd.DataFrame([c.to_dict() for c in checks]).assign(run_id=run_id)
        cr["observed"] = pd.to_numeric(cr["observed"], errors="coerce")
        cr["threshold"] = pd.to_numeric(cr["threshold"], errors="coerce")
        con.execute("begin transaction")
        try:
            for ddl in DDL:
                con.execute(ddl)
            for name, df in (("fl", fl), ("lc", lc), ("st", st), ("wl", worklist), ("rr", run_row), ("cr", cr),
                             ("ph", fresh_phones)):
                con.register(f"_q_{name}", df)
            con.execute("insert into quality.lead_junk_flags by name select * from _q_fl")
            con.execute("insert into quality.lead_checks by name select * from _q_lc")
            con.execute("create or replace table quality.lead_state as select * from _q_st")
            con.execute("delete from quality.quarantine_worklist")
            con.execute("insert into quality.quarantine_worklist by name select * from _q_wl")
            con.execute("insert into quality.dq_runs by name select * from _q_rr")
            con.execute("insert into quality.check_results by name select run_id, name, severity, passed, "
                        "observed, threshold, description from _q_cr")
            con.execute("insert or ignore into quality.phone_cache select raw, e164, is_valid from _q_ph")
            keep = int(cfg.get("retain_runs") or 0)
            if keep:
                old_runs = [r[0] for r in con.execute(
                    "select run_id from quality.dq_runs order by started_at desc offset ?", [keep]).fetchall()]
                if old_runs:
                    for t in ("lead_junk_flags", "lead_checks"):
                        con.execute(f"delete from quality.{t} where run_id in (select unnest(?))", [old_runs])
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
        finally:
            for name in ("fl", "lc", "st", "wl", "rr", "cr", "ph"):
                try:
                    con.unregister(f"_q_{name}")
                except Exception:
                    pass
        return RunResult(run_id, started, finished, len(L), int(changed.sum()), fl, summary, worklist, checks, ge)
    finally:
        if own:
            con.close()
