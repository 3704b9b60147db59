"""Ground-truth rows (sandbox/state.py TRUTH_FILES) from simulated chunks, streamed to Parquet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sandbox.generator import world as W
from sandbox.generator.render_bitrix24 import ts
from sandbox.generator.simulate import SimChunk

TS = pa.timestamp("us", tz="UTC")
SCHEMAS = {
    "leads": pa.schema([
        ("source_system", pa.string()), ("account", pa.string()), ("lead_id", pa.int64()),
        ("deal_id", pa.int64()), ("channel", pa.string()), ("source_code", pa.string()),
        ("manager_id", pa.int64()), ("department", pa.string()), ("branch", pa.string()),
        ("project", pa.string()), ("created_at", TS), ("recorded_at", TS), ("taken_at", TS),
        ("classified_at", TS), ("rejected_at", TS), ("shown_at", TS), ("booked_at", TS),
        ("contract_at", TS), ("paid_at", TS), ("is_target", pa.bool_()), ("crm_junk", pa.bool_()),
        ("junk_kind", pa.string()), ("duplicate_of_lead_id", pa.int64()), ("phone_e164", pa.string()),
        ("is_deleted", pa.bool_())]),
    "deals": pa.schema([
        ("source_system", pa.string()), ("account", pa.string()), ("deal_id", pa.int64()),
        ("lead_id", pa.int64()), ("manager_id", pa.int64()), ("project", pa.string()),
        ("apartment_id", pa.int64()), ("units", pa.int64()), ("area_m2", pa.float64()),
        ("price", pa.float64()), ("payment_form", pa.string()), ("booked_at", TS), ("contract_at", TS),
        ("won_at", TS), ("lost_at", TS), ("is_won", pa.bool_())]),
    "payments": pa.schema([
        ("source_system", pa.string()), ("account", pa.string()), ("payment_id", pa.int64()),
        ("deal_id", pa.int64()), ("paid_at", TS), ("amount", pa.float64()), ("payment_form", pa.string())]),
    "activities": pa.schema([
        ("source_system", pa.string()), ("account", pa.string()), ("activity_id", pa.int64()),
        ("kind", pa.string()), ("lead_id", pa.int64()), ("deal_id", pa.int64()), ("manager_id", pa.int64()),
        ("planned_at", TS), ("held_at", TS), ("is_completed", pa.bool_())]),
    "managers": pa.schema([
        ("source_system", pa.string()), ("account", pa.string()), ("manager_id", pa.int64()),
        ("name", pa.string()), ("department", pa.string()), ("branch", pa.string()), ("hired_at", TS),
        ("fired_at", TS), ("skill", pa.float64())]),
}
PROJECT_NAMES = np.array([p[1] for p in W.PROJECTS], dtype=object)
FORMS = np.array(W.PAYMENT_FORMS + [None], dtype=object)  # index -1 -> None


def _nid(a) -> pd.array:
    a = np.asarray(a, dtype=np.int64)
    out = pd.array(a, dtype="Int64")
    out[a < 0] = pd.NA
    return out


class TruthWriter:
    """One ParquetWriter per truth file, appended chunk by chunk (constant memory)."""

    def __init__(self, truth_dir: Path):
        truth_dir.mkdir(parents=True, exist_ok=True)
        self.writers = {k: pq.ParquetWriter(truth_dir / f"{k}.parquet", s, compression="zstd")
                        for k, s in SCHEMAS.items()}

    def write(self, name: str, df: pd.DataFrame) -> None:
        if len(df):
            self.writers[name].write_table(pa.Table.from_pandas(df, schema=SCHEMAS[name], preserve_index=False))

    def close(self) -> None:
        for w in self.writers.values():
            w.close()


def managers_rows(acc: W.Account) -> pd.DataFrame:
    m = acc.managers
    return pd.DataFrame({"source_system": acc.system, "account": acc.account, "manager_id": m["manager_id"],
                         "name": m["name"], "department": m["department"], "branch": m["branch"],
                         "hired_at": ts(m["hired_at"]), "fired_at": ts(m["fired_at"]), "skill": m["skill"]})


def chunk_rows(ch: SimChunk) -> dict[str, pd.DataFrame]:
    acc = ch.account
    L, D, P, A = ch.leads, ch.deals, ch.payments, ch.activities
    sysn = acc.system
    if sysn == "bitrix24":
        src = np.where(L["missing_source"], None, W.CH_B24[L["channel"]])
    else:
        src = np.where(L["missing_source"], None, (20_000 + 100 * acc.index + L["channel"]).astype(str))
    deal_of = D.set_index("lead_id")["deal_id"] if len(D) else pd.Series(dtype=np.int64)
    dd = D.set_index("lead_id").reindex(L["lead_id"])
    kind = np.array(W.JUNK_KINDS, dtype=object)[L["kind"].to_numpy()]
    kind[kind == ""] = None
    has_project = ~L["kind"].isin([W.J_SPAM, W.J_BOT, W.J_TEST, W.J_INVALID]).to_numpy()
    leads = pd.DataFrame({
        "source_system": sysn, "account": acc.account, "lead_id": L["lead_id"],
        "deal_id": _nid(L["lead_id"].map(deal_of).fillna(-1).astype(np.int64)),
        "channel": W.CH_KEY[L["channel"]], "source_code": src, "manager_id": _nid(L["manager_id"]),
        "department": L["department"], "branch": L["branch"],
        "project": np.where(has_project, PROJECT_NAMES[L["project"]], None),
        "created_at": ts(L["created_at"]), "recorded_at": ts(L["created_at"]), "taken_at": ts(L["taken_at"]),
        "classified_at": ts(L["classified_at"]), "rejected_at": ts(L["rejected_at"]),
        "shown_at": ts(dd["shown_at"]), "booked_at": ts(dd["booked_at"]), "contract_at": ts(dd["contract_at"]),
        "paid_at": ts(L["paid_at"]), "is_target": L["is_target"], "crm_junk": L["rejected_at"].notna(),
        "junk_kind": kind, "duplicate_of_lead_id": _nid(L["dup_of_lead_id"]), "phone_e164": L["phone_e164"],
        "is_deleted": L["is_deleted"],
    })
    out = {"leads": leads}
    if len(D):
        won = D["won_at"].notna()
        out["deals"] = pd.DataFrame({
            "source_system": sysn, "account": acc.account, "deal_id": D["deal_id"], "lead_id": D["lead_id"],
            "manager_id": D["manager_id"], "project": PROJECT_NAMES[D["project"]],
            "apartment_id": _nid(D["apartment_id"]), "units": D["booked_at"].notna().astype(np.int64),
            "area_m2": D["area_m2"], "price": D["price"], "payment_form": FORMS[D["payment_form"]],
            "booked_at": ts(D["booked_at"]), "contract_at": ts(D["contract_at"]), "won_at": ts(D["won_at"]),
            "lost_at": ts(np.where(won, np.nan, D["lost_at"])), "is_won": won})
    if len(P):
        Q = P[P["paid"]]
        out["payments"] = pd.DataFrame({
            "source_system": sysn, "account": acc.account, "payment_id": Q["payment_id"], "deal_id": Q["deal_id"],
            "paid_at": ts(Q["paid_at"]), "amount": Q["amount"], "payment_form": FORMS[Q["payment_form"]]})
    is_deal = A["deal_id"].to_numpy() >= 0
    out["activities"] = pd.DataFrame({
        "source_system": sysn, "account": acc.account, "activity_id": A["activity_id"], "kind": A["kind"],
        "lead_id": A["lead_id"], "deal_id": _nid(np.where(is_deal, A["deal_id"], -1)),
        "manager_id": A["manager_id"], "planned_at": ts(A["planned_at"]), "held_at": ts(A["held_at"]),
        "is_completed": A["is_completed"]})
    return out
