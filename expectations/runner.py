"""One data-quality run: read leads, re-check new/changed ones, detect junk, validate with Great
Expectations, evaluate the publish gates and write everything to the `quality` schema in one
transaction on one connection (DuckDB is single-writer).

Tables written (schema `quality`):
  lead_junk_flags     one row per (run, lead, rule): source_system, account, lead_id, rule,
                      junk_kind, reason, severity, duplicate_of_lead_id, run_id, checked_at,
                      is_primary (the lead's junk kind: its first rule by `precedence`).
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

import importlib
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from expectations import gating
from expectations.config import load_config
from expectations.contract import KEY, conform_deals, conform_leads
from expectations.rules import FEATURE_COLUMNS, RULES, _long_arrow, detect, row_features

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
    "alter table quality.lead_junk_flags add column if not exists is_primary boolean",
    """create table if not exists quality.quarantine_worklist (run_id varchar, source_system varchar,
        account varchar, lead_id bigint, responsible_id bigint, channel varchar, created_at timestamptz,
        junk_kind varchar, rules varchar, reason varchar, suggested_action varchar, duplicate_of_lead_id bigint)""",
    """create table if not exists quality.dq_runs (run_id varchar primary key, started_at timestamptz,
        finished_at timestamptz, mode varchar, leads_total bigint, leads_checked bigint, leads_flagged bigint,
        junk_share double, flagged_by_rule json, ge_success boolean, publish_allowed boolean,
        data_docs_path varchar)""",
    """create table if not exists quality.check_results (run_id varchar, name varchar, severity varchar,
        passed boolean, observed double, threshold double, description varchar)""",
    # raw is unique (insert only raw values not cached yet); no PRIMARY KEY: its index costs seconds
    # per million new numbers and nothing looks numbers up one by one
    """create table if not exists quality.phone_cache (raw varchar, e164 varchar, is_valid boolean)""",
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
    timings: dict = field(default_factory=dict)  # seconds per stage of the run (benchmarks)

    @property
    def publish_allowed(self) -> bool:
        return gating.publish_allowed(self.checks)

    @property
    def data_docs_path(self) -> str | None:
        return self.ge.get("docs_path")


def fingerprint(leads: pd.DataFrame) -> np.ndarray:
    """Row fingerprints of a leads frame (the frames path; warehouse runs hash inside DuckDB)."""
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


def _lead_batch_frame(summary: pd.DataFrame, rules: dict, mask: np.ndarray, max_rows: int) -> tuple[pd.DataFrame, int]:
    """The leads re-checked in this run, a handful of typed columns; above max_rows a uniform
    random sample (seeded) of them, so GE's row-wise checks stay cheap on a full million-lead run.
    Returns (frame, number of re-checked leads it was drawn from)."""
    pos = np.nonzero(mask)[0]
    total = len(pos)
    if max_rows and total > max_rows:
        pos = np.sort(np.random.default_rng(0).choice(pos, max_rows, replace=False))
    s = summary.iloc[pos][KEY + ["created_at", "phone_status", "phone_e164", "junk_kind"]].copy()
    s["is_junk"] = summary["is_junk"].to_numpy()[pos].astype(float)
    for r in ("invalid_phone", "missing_source", "missing_responsible"):
        s[f"is_{r}"] = rules[r][pos].astype(float)
    return s.reset_index(drop=True), total


def _worklist(summary, flags, leads, run_id, rules: dict) -> pd.DataFrame:
    crm = leads["crm_junk"].fillna(False).astype(bool).to_numpy() if "crm_junk" in leads else np.zeros(len(leads), bool)
    sel = summary["junk_kind"].notna().to_numpy() & ~crm
    w = summary.loc[sel, KEY + ["responsible_id", "channel", "created_at", "junk_kind", "duplicate_of_lead_id"]]
    if not len(w):
        return pd.DataFrame(columns=["run_id", *KEY, "responsible_id", "channel", "created_at", "junk_kind", "rules",
                                     "reason", "suggested_action", "duplicate_of_lead_id"])
    # comma-joined sorted names of the rules that fired, per lead: one bit per rule, one string per
    # distinct combination (a few dozen), no Python per lead
    names = sorted(rules)
    bits = np.zeros(len(summary), dtype=np.int64)
    for i, r in enumerate(names):
        bits |= rules[r].astype(np.int64) << i
    sb = bits[sel]
    ub, inv = np.unique(sb, return_inverse=True)
    combo = np.array([",".join(r for i, r in enumerate(names) if (b >> i) & 1) for b in ub], dtype=object)
    w = w.assign(rules=combo[inv] if len(sb) else pd.Series(dtype=object))
    main = flags.merge(w[KEY + ["junk_kind"]], left_on=KEY + ["rule"], right_on=KEY + ["junk_kind"])
    w = w.merge(main[KEY + ["reason"]], on=KEY, how="left")
    of = w["duplicate_of_lead_id"].astype("string").fillna("?")
    w["suggested_action"] = [ACTIONS[k].format(of=o) for k, o in zip(w["junk_kind"], of)]
    w.insert(0, "run_id", run_id)
    return w[["run_id", *KEY, "responsible_id", "channel", "created_at", "junk_kind", "rules", "reason",
              "suggested_action", "duplicate_of_lead_id"]].sort_values(["responsible_id", "created_at"])


def _conform_features(F: pd.DataFrame) -> pd.DataFrame:
    F["created_at"] = pd.to_datetime(F["created_at"], utc=True)
    for c in ("responsible_id", "contact_id"):
        F[c] = pd.array(F[c], dtype="Int64")
    return F


def run_quality(warehouse: str | Path | duckdb.DuckDBPyConnection, *, leads: pd.DataFrame | None = None,
                deals: pd.DataFrame | None = None, config: dict | str | Path | None = None,
                gx_dir: str | Path | None = None, now: datetime | None = None, full: bool = False,
                validate: bool = True) -> RunResult:
    """Run junk detection + GE + gates and write the `quality` schema.

    warehouse: a DuckDB path or an open connection (opened once here when a path).
    leads / deals: canonical frames (expectations.contract); default: read the dbt intermediate
    models (expectations.reader: fingerprints of every lead hashed inside DuckDB, full columns
    only of new or changed leads, through Arrow).
    full: re-check every lead (ignore fingerprints). validate: run GE and build Data Docs.
    """
    from expectations import reader

    cfg = config if isinstance(config, dict) else load_config(config)
    started = datetime.now(timezone.utc)
    now_ts = pd.Timestamp(now or started)
    now_ts = now_ts.tz_localize("UTC") if now_ts.tzinfo is None else now_ts.tz_convert("UTC")
    run_id = started.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    own = not isinstance(warehouse, duckdb.DuckDBPyConnection)
    ge_import = None
    if validate:  # importing Great Expectations takes seconds: overlap it with the DuckDB reads
        ge_import = threading.Thread(target=importlib.import_module, args=("expectations.gx_suites",),
                                     daemon=True)
        ge_import.start()
    con = duckdb.connect(str(warehouse)) if own else warehouse
    registered: list[str] = []
    timings: dict[str, float] = {}
    clock = [time.perf_counter()]

    def tick(stage: str) -> None:
        now_ = time.perf_counter()
        timings[stage] = round(timings.get(stage, 0.0) + now_ - clock[0], 3)
        clock[0] = now_
    try:
        con.execute("SET TimeZone='UTC'")
        try:
            con.execute("SET enable_progress_bar=false")
        except duckdb.Error:
            pass
        if own:  # DuckDB's buffers count in the run's RSS: keep them small, the big data lives in Arrow
            con.execute(f"SET memory_limit='{cfg.get('duckdb_memory_limit') or '512MB'}'")
        # ------------------------------------------------------------ which leads changed (in DuckDB)
        if leads is None:
            src_sql = reader.leads_sql(con)
            dsql = reader.deals_sql(con)
            D = conform_deals(reader.arrow_frame(con, dsql) if dsql else None)
        else:
            Lf = conform_leads(leads)
            if "crm_junk" not in Lf:
                Lf["crm_junk"] = None
            if "responsible_known" not in Lf:
                Lf["responsible_known"] = True
            Lf["_fp"] = fingerprint(Lf)
            con.register("_q_input", Lf)
            registered.append("_q_input")
            src_sql = "select * from _q_input"
            D = conform_deals(deals)
        has_state = not full and _exists(con, "quality", "lead_state")
        k = ", ".join(KEY)
        if has_state:
            con.execute(f"""create or replace temp table _q_keys as
                select c.source_system, c.account, c.lead_id, c._fp, c.crm_junk, c.responsible_known,
                       (s._fp is null or s._fp <> c._fp) as changed
                from (select {k}, _fp, crm_junk, responsible_known from ({src_sql})) c
                left join (select {k}, any_value(_fp) as _fp from quality.lead_state group by all) s
                using ({k})""")
        else:
            con.execute(f"""create or replace temp table _q_keys as select {k}, _fp, crm_junk, responsible_known,
                true as changed from ({src_sql})""")
        n_total, n_changed = con.execute("select count(*), count(*) filter (where changed) from _q_keys").fetchone()
        tick("fingerprints")
        # new or changed leads: full columns
        if leads is None and reader.has_points(con):
            # their phone / e-mail lists first, into a temp table (aggregating inline in the read
            # below needs far more memory at 1M leads)
            con.execute(f"create or replace temp view _q_changed as select {k} from _q_keys where changed")
            con.execute(f"create or replace temp table _q_points as "
                        f"{reader.points_lists_sql(only=None if n_changed == n_total else '_q_changed')}")
            src_sql = reader.leads_sql(con, lists_from="_q_points")
        if n_changed == n_total:
            Lc = reader.arrow_frame(con, f"select * from ({src_sql})")
        else:
            Lc = reader.arrow_frame(con, f"""select c.* from ({src_sql}) c
                semi join (select {k} from _q_keys where changed) q using ({k})""")
        L_changed = conform_leads(Lc)
        tick("read_changed")
        del Lc  # conform_leads copied it; keep one copy of the text columns alive, not two
        # phone cache: only the raw values these leads carry
        cache = None
        if _exists(con, "quality", "phone_cache") and len(L_changed):
            raw = pc.unique(_long_arrow(L_changed, "phones", "phone")[1])  # the values the rules will read
            con.register("_q_raw", pa.table({"raw": raw}))
            registered.append("_q_raw")
            cache = reader.arrow_frame(con, "select raw, e164, is_valid from quality.phone_cache "
                                            "semi join _q_raw using (raw)")
        new_f, fresh_phones = row_features(L_changed, cfg, cache, now=now_ts.to_pydatetime())
        tick("row_features")
        new_f["crm_junk"] = L_changed["crm_junk"].fillna(False).astype(bool).to_numpy()
        new_f["responsible_known"] = L_changed["responsible_known"].fillna(True).astype(bool).to_numpy()
        new_f["_changed"] = True
        fp_new = L_changed["_fp"].to_numpy(dtype=np.int64)
        del L_changed  # the raw text is no longer needed: features carry what the window rules read
        if n_changed < n_total:
            fc = ", ".join(f"s.{c}" for c in FEATURE_COLUMNS if c not in KEY)
            old = reader.arrow_frame(con, f"""select q.source_system, q.account, q.lead_id, {fc},
                    coalesce(q.crm_junk, false) as crm_junk, coalesce(q.responsible_known, true) as responsible_known,
                    false as _changed
                from _q_keys q join quality.lead_state s using ({k}) where not q.changed""")
            F = pd.concat([_conform_features(new_f), _conform_features(old)], ignore_index=True)
        else:
            F = _conform_features(new_f)
        changed = F.pop("_changed").to_numpy(dtype=bool)
        tick("read_unchanged_features")
        crm_junk = F.pop("crm_junk").to_numpy(dtype=bool)
        light = F[KEY].assign(responsible_known=F.pop("responsible_known").to_numpy(dtype=bool))
        res = detect(F, D, cfg)
        tick("window_rules")
        summary, flags = res["leads"], res["flags"]
        # ------------------------------------------------------------ GE + gates
        landing = landing_frame(con, now_ts)
        tick("landing")
        ge = {}
        if validate:
            ge_import.join()
            tick("ge_import_wait")
            from expectations.gx_suites import run_validations

            max_rows = int((cfg.get("ge") or {}).get("lead_batch_max_rows", 50_000) or 0)
            batch, drawn_from = _lead_batch_frame(summary, res["rules"], changed, max_rows)
            ge = run_validations(gx_dir or DEFAULT_GX_DIR, {"lead_batch": batch, "landing_tables": landing},
                                 cfg, now_ts, run_id)
            if "lead_batch" in ge.get("suites", {}):
                ge["suites"]["lead_batch"].update(rows=len(batch), rechecked=drawn_from)
            tick("ge_validate_docs")
        checks = gating.evaluate_gates(summary, cfg, now_ts, leads=light, deals=D, con=con, landing=landing, ge=ge)
        worklist = _worklist(summary, flags, pd.DataFrame({"crm_junk": crm_junk}), run_id, res["rules"])
        tick("gates_worklist")
        finished = datetime.now(timezone.utc)
        # ------------------------------------------------------------ write, one transaction
        checked_at = now_ts.tz_convert(None).to_pydatetime()
        fl = flags.assign(run_id=run_id, checked_at=checked_at)
        # the lead's junk kind (the first of its rules by the configured precedence) is its primary flag
        primary = summary.loc[summary["junk_kind"].notna(), KEY + ["junk_kind"]].rename(columns={"junk_kind": "_pk"})
        fl = fl.merge(primary, on=KEY, how="left")
        fl["is_primary"] = (fl["rule"] == fl["_pk"]).fillna(False).astype(bool)
        fl = fl.drop(columns="_pk")
        st = F.iloc[:len(fp_new)][FEATURE_COLUMNS].assign(_fp=fp_new)  # the changed leads come first in F
        by_rule = {r: int(v.sum()) for r, v in res["rules"].items()}
        run_row = pd.DataFrame([{
            "run_id": run_id, "started_at": started, "finished_at": finished,
            "mode": "full" if n_changed == n_total else "incremental", "leads_total": int(n_total),
            "leads_checked": int(n_changed), "leads_flagged": int(summary["junk_kind"].notna().sum()),
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
            for name, df in (("fl", fl), ("st", st), ("wl", worklist), ("rr", run_row), ("cr", cr),
                             ("ph", fresh_phones)):
                con.register(f"_q_{name}", _arrow(df))
                registered.append(f"_q_{name}")
            con.execute("insert into quality.lead_junk_flags by name select * from _q_fl")
            tick("write_flags")
            con.execute("insert into quality.lead_checks (source_system, account, lead_id, run_id, checked_at, "
                        f"is_rechecked) select {k}, ?, ?, changed from _q_keys", [run_id, checked_at])
            tick("write_lead_checks")
            state_sql = "select * from _q_st"
            if has_state and n_changed < n_total and _state_compatible(con):
                # only new / changed leads are rewritten; leads gone from the warehouse are dropped
                con.execute(f"""delete from quality.lead_state s where not exists (select 1 from _q_keys q
                    where not q.changed and q.source_system = s.source_system and q.account = s.account
                      and q.lead_id = s.lead_id)""")
                con.execute(f"insert into quality.lead_state by name {state_sql}")
            else:
                con.execute(f"create or replace table quality.lead_state as {state_sql}")
            con.execute("delete from quality.quarantine_worklist")
            con.execute("insert into quality.quarantine_worklist by name select * from _q_wl")
            con.execute("insert into quality.dq_runs by name select * from _q_rr")
            con.execute("insert into quality.check_results by name select run_id, name, severity, passed, "
                        "observed, threshold, description from _q_cr")
            tick("write_state_worklist")
            con.execute("insert into quality.phone_cache select raw, e164, is_valid from _q_ph "
                        "anti join quality.phone_cache using (raw)")
            tick("write_phone_cache")
            keep = int(cfg.get("retain_runs") or 0)
            if keep:
                old_runs = [r[0] for r in con.execute(
                    "select run_id from quality.dq_runs order by started_at desc offset ?", [keep]).fetchall()]
                if old_runs:
                    for t in ("lead_junk_flags", "lead_checks"):
                        con.execute(f"delete from quality.{t} where run_id in (select unnest(?))", [old_runs])
            con.execute("commit")
            tick("retention_commit")
        except Exception:
            con.execute("rollback")
            raise
        return RunResult(run_id, started, finished, int(n_total), int(n_changed), fl, summary, worklist, checks, ge,
                         timings)
    finally:
        for name in registered:
            try:
                con.unregister(name)
            except Exception:
                pass
        for stmt in ("drop view if exists _q_changed", "drop table if exists _q_points",
                     "drop table if exists _q_keys"):
            try:
                con.execute(stmt)
            except Exception:
                pass
        if own:
            con.close()


def _arrow(df: pd.DataFrame) -> pa.Table:
    """A frame as an Arrow table for DuckDB (Arrow-backed strings pass without copies; DuckDB
    scans Arrow natively instead of converting pandas columns)."""
    try:
        return pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return df


def _state_compatible(con) -> bool:
    cols = {r[0] for r in con.execute("select column_name from information_schema.columns where "
                                      "table_schema = 'quality' and table_name = 'lead_state'").fetchall()}
    return set(FEATURE_COLUMNS) | {"_fp"} <= cols
