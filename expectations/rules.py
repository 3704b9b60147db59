"""Junk rules over canonical leads (see expectations.contract), vectorised for millions of rows.

Two stages, so incremental runs can re-use the costly part:

* `row_features(leads, cfg)`: per lead, from that lead alone — normalised phones (phonenumbers),
  e-mail and name keys, test / spam / machine-looking text (RE2 regexes through pyarrow), missing
  source or responsible, impossible dates and amounts.
* `detect(features, deals, cfg)`: the rules that need other leads — duplicates by phone and
  e-mail within a window, repeat inquiries while the client's deal is open, bot bursts per
  account, channel and hour — and the per-lead flags with human reasons.

Every rule reads only what the CRM records (text, phones, e-mails, times, links the CRM made
between a lead and a client contact), never anything a generator knows.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from expectations.contract import KEY, conform_deals
from expectations.phones import normalise_phones

JUNK_KINDS = ["exact_duplicate", "phone_format_duplicate", "repeat_open_deal", "test", "spam", "invalid_phone",
              "missing_source", "missing_responsible", "bot_burst"]
EXTRA_KINDS = ["email_duplicate", "impossible_date", "impossible_amount"]
RULES = JUNK_KINDS + EXTRA_KINDS

FEATURE_COLUMNS = KEY + ["created_at", "channel", "responsible_id", "contact_id", "phone_key", "phone_raw",
                         "phone_status", "bad_phone", "email_key", "name_key", "test_phone", "test_word", "spam",
                         "machine", "missing_source", "missing_responsible", "impossible_date",
                         "impossible_amount"]
_NOT_WORD = r"[^\p{L}\p{N}_]"


def _words_regex(words) -> str:
    alts = "|".join(re.escape(w.lower()) for w in words)
    return rf"(^|{_NOT_WORD})({alts})({_NOT_WORD}|$)"


def _arrow_str(s: pd.Series) -> pa.Array:
    if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow":
        a = pa.array(s.array)
        return (a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a).cast(pa.large_string())
    return pa.array(s.to_numpy(dtype=object), type=pa.large_string(), from_pandas=True)


def _match(arr: pa.Array, pattern: str, ignore_case: bool = True) -> np.ndarray:
    return pc.fill_null(pc.match_substring_regex(arr, pattern, ignore_case=ignore_case), False).to_numpy(
        zero_copy_only=False)


def _long(leads: pd.DataFrame, many: str, one: str) -> pd.Series:
    """Raw values as a Series indexed by the lead's row position (one row per value)."""
    if many in leads.columns:
        s = leads[many].explode()
    else:
        s = leads[one]
    s = s.dropna()
    s = s[s.astype(str).str.strip() != ""].astype(str)
    return s


def _long_arrow(leads: pd.DataFrame, many: str, one: str) -> tuple[np.ndarray, pa.Array]:
    """Non-blank raw values as (lead row positions, Arrow strings), one entry per value."""
    if many in leads.columns and isinstance(leads[many].dtype, pd.ArrowDtype):  # Arrow lists (the reader)
        lists = pa.array(leads[many].array)
        lists = lists.combine_chunks() if isinstance(lists, pa.ChunkedArray) else lists
        pos = leads.index.to_numpy(dtype=np.int64)[pc.list_parent_indices(lists).to_numpy()]
        arr = pc.list_flatten(lists).cast(pa.string())
    elif many in leads.columns:
        s = leads[many].explode().dropna()
        pos = np.asarray(s.index, dtype=np.int64)
        arr = pa.array(s.astype(str).to_numpy(dtype=object), type=pa.string())
    else:
        col = leads[one]
        if col.dtype == object:
            col = col.where(col.isna(), col.astype(str))
        arr = _arrow_str(col).cast(pa.string())
        pos = np.arange(len(leads), dtype=np.int64)
    keep = pc.and_(pc.is_valid(arr), pc.not_equal(pc.utf8_trim_whitespace(arr), "")).to_numpy(zero_copy_only=False)
    keep = np.asarray(keep, dtype=bool)
    return pos[keep], arr.filter(pa.array(keep))


def _arrow_col(df: pd.DataFrame, col: str) -> pa.Array:
    s = df[col]
    if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow":
        a = pa.array(s.array)
    else:
        a = pa.array(s.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    a = a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a
    return a.cast(pa.string())


def _first_per_lead(n: int, pos: np.ndarray, values: pa.Array, mask: np.ndarray, index) -> pd.Series:
    """Per lead (0..n-1), the first of its values where mask holds, else null; an Arrow-backed
    string column."""
    j = np.nonzero(mask)[0]
    idx = np.full(n, -1, dtype=np.int64)
    if len(j):
        u, first = np.unique(pos[j], return_index=True)  # stable: the first occurrence per lead
        idx[u] = j[first]
    out = values.take(pa.array(idx, mask=idx < 0)) if len(values) else pa.nulls(n, pa.string())
    return pd.Series(out.cast(pa.string()).to_pandas(), dtype="str").set_axis(index)


def _str(s: pd.Series) -> pd.Series:
    return s.astype("string").fillna("")


def _clean_name(s: pd.Series) -> pd.Series:
    a = pc.fill_null(_arrow_str(s), "")
    a = pc.utf8_trim_whitespace(pc.replace_substring_regex(pc.replace_substring(pc.utf8_lower(a), "ё", "е"),
                                                           r"\s+", " "))
    return pd.Series(pd.arrays.ArrowStringArray(a.cast(pa.large_string()).cast(pa.string())), index=s.index)


def _codes(s) -> np.ndarray:
    """Integer codes of a column's values (Arrow dictionary encoding), -1 for null."""
    a = s if isinstance(s, (pa.Array, pa.ChunkedArray)) else _arrow_str(s) if s.dtype == object else pa.array(
        s.array if hasattr(s, "array") else s)
    if isinstance(a, pa.ChunkedArray):  # one dictionary for the whole column, not one per chunk
        a = a.combine_chunks() if a.num_chunks != 1 else a.chunk(0)
    d = pc.dictionary_encode(a)
    return pc.fill_null(d.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def row_features(leads: pd.DataFrame, cfg: dict, phone_cache: pd.DataFrame | None = None,
                 now: datetime | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-lead features of conformed leads. Returns (features, new_phone_cache_rows).

    phone_cache: frame raw, e164, is_valid of values normalised before (only the rest is parsed).
    """
    now = now or datetime.now(timezone.utc)
    n = len(leads)
    f = leads[KEY + ["created_at", "channel", "responsible_id", "contact_id"]].copy()
    # The regex text rules run in a second thread while phones are normalised (both are mostly
    # Arrow kernels, which release the GIL); small batches stay on one thread.
    _text_rules = None
    if n >= 50_000:
        _pool = ThreadPoolExecutor(max_workers=1)
        _text_rules = _pool.submit(_text_flags, leads, cfg)
        _pool.shutdown(wait=False)

    # ---------------------------------------------------------------- phones (Arrow, no Python strings)
    pos, raw = _long_arrow(leads, "phones", "phone")
    known_raw = _arrow_col(phone_cache, "raw") if phone_cache is not None and len(phone_cache) else pa.array(
        [], pa.string())
    known_e164 = _arrow_col(phone_cache, "e164") if len(known_raw) else pa.array([], pa.string())
    uniq = pc.unique(raw)
    todo = uniq.filter(pc.invert(pc.is_in(uniq, value_set=known_raw))) if len(known_raw) else uniq
    fresh = normalise_phones(todo, cfg.get("phone_region", "RU"))
    table_raw = pa.concat_arrays([known_raw, _arrow_col(fresh, "raw")])
    table_e164 = pa.concat_arrays([known_e164, _arrow_col(fresh, "e164")])
    e164 = table_e164.take(pc.index_in(raw, value_set=table_raw))
    is_test_phone = pc.fill_null(pc.is_in(e164, value_set=pa.array(list(cfg["test"]["phones"]), pa.string())),
                                 False).to_numpy(zero_copy_only=False)
    valid = pc.is_valid(e164).to_numpy(zero_copy_only=False)
    has_phone = np.zeros(n, dtype=bool)
    has_phone[pos] = True
    has_valid = np.zeros(n, dtype=bool)
    has_valid[pos[valid]] = True
    f["phone_status"] = np.where(has_valid, "valid", np.where(has_phone, "invalid", "missing")).astype(object)
    key_ok = valid & ~is_test_phone
    f["phone_key"] = _first_per_lead(n, pos, e164, key_ok, f.index)
    f["phone_raw"] = _first_per_lead(n, pos, pc.utf8_trim_whitespace(raw), key_ok, f.index)
    f["bad_phone"] = _first_per_lead(n, pos, raw, ~valid, f.index)
    tp = np.zeros(n, dtype=bool)
    tp[pos[is_test_phone]] = True
    f["test_phone"] = tp

    # ---------------------------------------------------------------- e-mail and name
    epos, em = _long_arrow(leads, "emails", "email")
    em = pc.utf8_lower(pc.utf8_trim_whitespace(em))
    has_at = pc.fill_null(pc.match_substring(em, "@"), False).to_numpy(zero_copy_only=False)
    f["email_key"] = _first_per_lead(n, epos, em, has_at, f.index)
    f["name_key"] = _clean_name(leads["name"])

    # ---------------------------------------------------------------- text rules (RE2 via Arrow)
    text = _text_rules.result() if _text_rules is not None else _text_flags(leads, cfg)
    for c, v in text.items():
        f[c] = v

    # ---------------------------------------------------------------- missing / impossible values
    src = leads["source_code"].astype("string").str.strip()
    ch = leads["channel"].astype("string")
    # Missing = neither a source code nor a mapped channel ('unknown' is the models' "no source").
    no_src = ((src.isna() | (src == "")) & (ch.isna() | (ch.str.strip() == "") | (ch == "unknown"))).to_numpy(
        dtype=bool)
    f["missing_source"] = no_src & bool(cfg["missing"]["source"])
    resp = leads["responsible_id"]
    f["missing_responsible"] = (resp.isna() | (resp.fillna(0) <= 0)).to_numpy(dtype=bool) & bool(
        cfg["missing"]["responsible"])
    imp = cfg["impossible"]
    lo = pd.Timestamp(imp["min_created_at"], tz="UTC")
    hi = pd.Timestamp(now) + pd.Timedelta(hours=float(imp["future_tolerance_hours"]))
    ca, ua = leads["created_at"], leads["updated_at"]
    f["impossible_date"] = (ca.isna() | (ca < lo) | (ca > hi) | (ua.notna() & ((ua > hi) | (
        ua < ca - pd.Timedelta(minutes=1))))).to_numpy(dtype=bool)
    amt = leads["amount"]
    f["impossible_amount"] = (amt.notna() & ((amt < imp["min_amount"]) | (amt > imp["max_amount"]))).to_numpy(
        dtype=bool)
    return f[FEATURE_COLUMNS], fresh


def _text_flags(leads: pd.DataFrame, cfg: dict) -> dict[str, np.ndarray]:
    """test_word, spam and machine flags of each lead from its title, name and comments."""
    n = len(leads)
    text = pc.binary_join_element_wise(*(pc.fill_null(_arrow_str(leads[c]), "") for c in ("title", "name", "comments")),
                                       pa.scalar("\n", pa.large_string()))
    test_word = _match(text, _words_regex(cfg["test"]["words"]))
    sp = cfg["spam"]
    spam = np.zeros(n, dtype=bool)
    if sp.get("flag_links", True):
        spam |= _match(text, sp["url_pattern"])
    if sp.get("keywords"):
        spam |= _match(text, "|".join(re.escape(k.lower()) for k in sp["keywords"]))
    name_arr = pc.utf8_trim_whitespace(pc.fill_null(_arrow_str(leads["name"]), ""))
    machine = spam | _match(name_arr, cfg["bot_burst"]["machine_name_pattern"], ignore_case=False)
    return {"test_word": test_word, "spam": spam, "machine": machine}


# ------------------------------------------------------------------------------ window rules
def _seconds(ts: pd.Series) -> np.ndarray:
    if not len(ts):
        return np.zeros(0, dtype=np.int64)
    return pd.to_datetime(ts, utc=True).dt.as_unit("s").astype("int64").to_numpy()


def _scope_codes(f: pd.DataFrame, scope: str) -> np.ndarray:
    if scope == "company":
        return np.zeros(len(f), dtype=np.int64)
    a, b = _codes(f["source_system"]), _codes(f["account"])
    return np.unique(a * (int(b.max(initial=0)) + 2) + b, return_inverse=True)[1].astype(np.int64)  # dense


def _chain_duplicates(codes, keys, t, lead_id, window_s):
    """Within (code, key), leads sorted by time; a lead within window_s of the previous one with
    the same key is a duplicate of the chain's first lead. Returns (is_dup, first_position)."""
    n = len(keys)
    keys = np.asarray(keys, dtype=np.int64)  # integer codes of the key values (see _codes)
    order = np.lexsort((lead_id, t, keys, codes))
    ks, cs, ts = keys[order], codes[order], t[order]
    new = np.ones(n, dtype=bool)
    if n > 1:
        new[1:] = (ks[1:] != ks[:-1]) | (cs[1:] != cs[:-1]) | ((ts[1:] - ts[:-1]) > window_s)
    start = np.maximum.accumulate(np.where(new, np.arange(n), 0))
    is_dup = np.empty(n, dtype=bool)
    first = np.empty(n, dtype=np.int64)
    is_dup[order] = ~new
    first[order] = order[start]
    return is_dup, first


def _hour_median(codes, hours, n_codes, day0, n_days, extra=None, n_extra=1):
    """Median over days of counts per (code, extra, hour of day), zero days included."""
    day = (hours // 24 - day0).astype(np.int64)
    hod = (hours % 24).astype(np.int64)
    ex = np.zeros(len(codes), dtype=np.int64) if extra is None else extra
    cube = np.zeros((n_codes, n_extra, n_days, 24), dtype=np.int32)
    np.add.at(cube, (codes, ex, day, hod), 1)
    return cube, np.median(cube, axis=2)


def detect(features: pd.DataFrame, deals: pd.DataFrame | None, cfg: dict) -> dict:
    """Window rules and flags over the features of *all* leads in scope.

    Returns {"rules": per-lead booleans and details (aligned with features), "flags": long frame
    source_system, account, lead_id, rule, junk_kind, reason, severity, duplicate_of_lead_id,
    "leads": per-lead summary (primary junk_kind, is_junk, rules, duplicate_of_lead_id, ...)}.
    """
    f = features.reset_index(drop=True)
    n = len(f)
    t = _seconds(f["created_at"])
    lead_id = f["lead_id"].to_numpy(dtype=np.int64)
    out: dict[str, np.ndarray] = {}

    # ---------------------------------------------------------------- duplicates (phone, e-mail)
    dcfg = cfg["duplicates"]
    window_s = float(dcfg["window_days"]) * 86400
    acc_codes = _scope_codes(f, "account")  # (source_system, account) codes, reused by the bot rule
    scope = acc_codes if dcfg.get("scope", "account") == "account" else _scope_codes(f, dcfg["scope"])
    dup_kind = np.full(n, None, dtype=object)
    dup_of = np.full(n, -1, dtype=np.int64)
    dup_note = np.full(n, None, dtype=object)
    pkey = _codes(f["phone_key"])
    idx = np.nonzero(pkey >= 0)[0]
    if len(idx):
        is_dup, first = _chain_duplicates(scope[idx], pkey[idx], t[idx], lead_id[idx], window_s)
        d, fi = idx[is_dup], idx[first[is_dup]]
        raw = _codes(f["phone_raw"])
        same = raw[d] == raw[fi]
        dup_kind[d] = np.where(same, "exact_duplicate", "phone_format_duplicate")
        dup_of[d] = lead_id[fi]
        dup_note[d] = f["phone_key"].iloc[d].to_numpy(dtype=object)
    if dcfg.get("match_email", True):
        ekey = _arrow_str(f["email_key"])
        if dcfg.get("email_requires_same_name", True):
            ekey = pc.binary_join_element_wise(ekey, pc.fill_null(_arrow_str(f["name_key"]), ""),
                                               pa.scalar("|", pa.large_string()))
        ecode = _codes(ekey)
        idx = np.nonzero(ecode >= 0)[0]
        if len(idx):
            is_dup, first = _chain_duplicates(scope[idx], ecode[idx], t[idx], lead_id[idx], window_s)
            d, fi = idx[is_dup], idx[first[is_dup]]
            fresh = dup_of[d] < 0
            d, fi = d[fresh], fi[fresh]
            dup_kind[d] = "email_duplicate"
            dup_of[d] = lead_id[fi]
            dup_note[d] = f["email_key"].iloc[d].to_numpy(dtype=object)
    for k in ("exact_duplicate", "phone_format_duplicate", "email_duplicate"):
        out[k] = dup_kind == k

    # ---------------------------------------------------------------- repeat while a deal is open
    repeat = np.zeros(n, dtype=bool)
    repeat_of = np.full(n, -1, dtype=np.int64)
    deals = conform_deals(deals)
    if cfg["repeat_open_deal"].get("enabled", True) and len(deals) and f["contact_id"].notna().any():
        L = pd.DataFrame({"source_system": f["source_system"], "account": f["account"],
                          "contact_id": f["contact_id"], "pos": np.arange(n), "t": t, "lead_id": lead_id})
        L = L[L["contact_id"].notna()]
        D = deals[deals["contact_id"].notna() & deals["opened_at"].notna()].copy()
        D["open_t"] = _seconds(D["opened_at"])
        D["close_t"] = np.where(D["closed_at"].isna(), np.iinfo(np.int64).max,
                                _seconds(D["closed_at"].fillna(pd.Timestamp(0, tz="UTC"))))
        D["orig"] = D["lead_id"].fillna(-1).astype(np.int64)
        m = L.merge(D[["source_system", "account", "contact_id", "orig", "open_t", "close_t"]],
                    on=["source_system", "account", "contact_id"])
        m = m[(m["orig"] != m["lead_id"]) & (m["open_t"] <= m["t"]) & (m["t"] < m["close_t"])]
        m = m.sort_values(["pos", "open_t"]).drop_duplicates("pos")
        repeat[m["pos"].to_numpy()] = True
        repeat_of[m["pos"].to_numpy()] = m["orig"].to_numpy()
    out["repeat_open_deal"] = repeat

    # ---------------------------------------------------------------- bot bursts
    bcfg = cfg["bot_burst"]
    bot = np.zeros(n, dtype=bool)
    bot_note = np.full(n, None, dtype=object)
    machine = f["machine"].to_numpy(dtype=bool)
    if machine.any():
        acc = acc_codes
        n_acc = int(acc.max()) + 1
        hours = t // 3600
        day0, n_days = int(hours.min() // 24), int(hours.max() // 24 - hours.min() // 24) + 1
        w = float(bcfg["window_minutes"]) * 60
        mi = np.nonzero(machine)[0]
        v = acc[mi] * 10_000_000_000 + t[mi]
        vs = np.sort(v)
        cnt = np.searchsorted(vs, v + w / 2, side="right") - np.searchsorted(vs, v - w / 2, side="left")
        _, med = _hour_median(acc[mi], hours[mi], n_acc, day0, n_days)
        expected = med[acc[mi], 0, hours[mi] % 24] * (w / 3600)
        a = cnt >= np.maximum(bcfg["min_suspicious"], bcfg["factor_over_usual"] * expected)
        # per channel and clock hour
        chan = f["channel"].fillna("(none)").to_numpy()
        ccode, cuniq = pd.factorize(chan)
        cube, cmed = _hour_median(acc, hours, n_acc, day0, n_days, ccode, len(cuniq))
        hod, day = hours % 24, hours // 24 - day0
        bucket = cube[acc, ccode, day, hod]
        anomalous = bucket >= np.maximum(bcfg["channel_hour_min_leads"],
                                         bcfg["channel_hour_factor"] * cmed[acc, ccode, hod])
        b = anomalous[mi]
        hit = a | b
        bot[mi[hit]] = True
        when = pd.to_datetime(t[mi[hit]] // 3600 * 3600, unit="s", utc=True).strftime("%Y-%m-%d %H:00 UTC")
        bot_note[mi[hit]] = [f"{c} machine-like leads within {bcfg['window_minutes']} min; channel {ch}: "
                             f"{bk} leads in the hour {h} (usual {u:g})"
                             for c, ch, bk, h, u in zip(cnt[hit], chan[mi[hit]], bucket[mi[hit]], when,
                                                        cmed[acc[mi[hit]], ccode[mi[hit]], hod[mi[hit]]])]
    out["bot_burst"] = bot

    # ---------------------------------------------------------------- row rules
    out["test"] = f["test_word"].to_numpy(dtype=bool) | f["test_phone"].to_numpy(dtype=bool)
    out["spam"] = f["spam"].to_numpy(dtype=bool)
    out["invalid_phone"] = (f["phone_status"] == "invalid").to_numpy()
    for k in ("missing_source", "missing_responsible", "impossible_date", "impossible_amount"):
        out[k] = f[k].to_numpy(dtype=bool)

    flags = _flags(f, out, cfg, dup_of, dup_note, repeat_of, bot_note)
    leads = _summary(f, out, cfg, dup_of, repeat_of)
    return {"rules": out, "flags": flags, "leads": leads}


_REASONS = {
    "exact_duplicate": ("Дубль: тот же телефон {note} в том же виде, что и в лиде {of}",
                        "Duplicate of lead {of}: same phone {note}, same format"),
    "phone_format_duplicate": ("Дубль: тот же телефон {note} в другой записи, что и в лиде {of}",
                               "Duplicate of lead {of}: same phone {note} written in another format"),
    "email_duplicate": ("Дубль: тот же e-mail {note} и имя, что и в лиде {of}",
                        "Duplicate of lead {of}: same e-mail {note} and name"),
    "repeat_open_deal": ("Повторное обращение клиента с открытой сделкой (лид {of})",
                         "Repeat inquiry from a client whose deal (lead {of}) is still open"),
    "test": ("Тестовый лид: {note}", "Test lead: {note}"),
    "spam": ("Спам: ссылка или рекламный текст «{note}»", "Spam: link or advertising text '{note}'"),
    "invalid_phone": ("Неверный телефон «{note}»", "Invalid phone '{note}'"),
    "missing_source": ("Не указан источник", "No source / channel"),
    "missing_responsible": ("Не назначен ответственный", "No responsible manager"),
    "bot_burst": ("Всплеск заявок ботов: {note}", "Bot burst: {note}"),
    "impossible_date": ("Невозможная дата: создан {note}", "Impossible date: created {note}"),
    "impossible_amount": ("Невозможная сумма {note}", "Impossible amount {note}"),
}


def _nullable(a: np.ndarray) -> pd.arrays.IntegerArray:
    return pd.arrays.IntegerArray(np.where(a >= 0, a, 0).astype(np.int64), a < 0)


def _snippet(texts: pd.Series, pattern: str, flags=re.IGNORECASE) -> list[str]:
    rx = re.compile(pattern.replace(r"\p{L}\p{N}", r"\w"), flags)
    out = []
    for s in texts:
        m = rx.search(s or "")
        out.append(m.group(0).strip(" \n\t.,;:!?()") if m else (s or "")[:40])
    return out


def _flags(f, out, cfg, dup_of, dup_note, repeat_of, bot_note) -> pd.DataFrame:
    sev = cfg.get("severity", {})
    parts = []
    for rule in RULES:
        sel = np.nonzero(out[rule])[0]
        if not len(sel):
            continue
        of = np.full(len(sel), -1, dtype=np.int64)
        if rule in ("exact_duplicate", "phone_format_duplicate", "email_duplicate"):
            of, note = dup_of[sel], dup_note[sel]
        elif rule == "repeat_open_deal":
            of, note = repeat_of[sel], np.full(len(sel), "", dtype=object)
        elif rule == "bot_burst":
            note = bot_note[sel]
        elif rule == "invalid_phone":
            note = f["bad_phone"].iloc[sel].to_numpy(dtype=object)
        elif rule == "test":
            tp = f["test_phone"].to_numpy()[sel]
            note = np.where(tp, "тестовый номер / test number", "«тест» / 'test' in the text")
        elif rule == "spam":
            note = f["name_key"].iloc[sel].to_numpy(dtype=object)
        elif rule == "impossible_date":
            note = f["created_at"].iloc[sel].astype(str).to_numpy()
        else:
            note = np.full(len(sel), "", dtype=object)
        ru, en = _REASONS[rule]
        reason = [ru.format(note=x, of=o) + " / " + en.format(note=x, of=o) for x, o in zip(note, of)]
        parts.append(pd.DataFrame({
            "source_system": f["source_system"].iloc[sel].to_numpy(), "account": f["account"].iloc[sel].to_numpy(),
            "lead_id": f["lead_id"].to_numpy()[sel], "rule": rule, "junk_kind": rule, "reason": reason,
            "severity": sev.get(rule, "error"),
            "duplicate_of_lead_id": _nullable(of)}))
    cols = ["source_system", "account", "lead_id", "rule", "junk_kind", "reason", "severity", "duplicate_of_lead_id"]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    return pd.concat(parts, ignore_index=True)[cols]


def _summary(f, out, cfg, dup_of, repeat_of) -> pd.DataFrame:
    n = len(f)
    sev = cfg.get("severity", {})
    prec = [r for r in cfg["precedence"] if r in out] + [r for r in RULES if r not in cfg["precedence"]]
    kind = np.full(n, None, dtype=object)
    for r in reversed(prec):
        kind = np.where(out[r], r, kind)
    is_junk = np.zeros(n, dtype=bool)
    for r in RULES:
        if sev.get(r, "error") == "error":
            is_junk |= out[r]
    of = np.where(np.isin(kind, ["exact_duplicate", "phone_format_duplicate", "email_duplicate"]), dup_of,
                  np.where(kind == "repeat_open_deal", repeat_of, -1))
    s = f[KEY + ["created_at", "channel", "responsible_id", "phone_key", "phone_status"]].copy()
    s = s.rename(columns={"phone_key": "phone_e164"})
    s["junk_kind"] = pd.Series(kind, dtype=object)
    s["is_junk"] = is_junk
    s["duplicate_of_lead_id"] = _nullable(of)
    s["n_rules"] = sum(out[r].astype(np.int8) for r in RULES)
    return s
