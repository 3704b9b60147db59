"""Phone normalisation with `phonenumbers` (Google's libphonenumber metadata), fast enough for a
million leads.

`phonenumbers.parse` costs ~30-70 µs a number in pure Python, so parsing a million distinct
numbers alone would eat the whole 30 s budget. Two things keep it cheap without writing our own
number rules:

1. Every distinct raw value is handled once (callers pass unique values; a cache table keeps
   results between runs, so incremental runs only see new raw values).
2. *Template parsing*: raw values made of digits and the usual punctuation are grouped by shape
   (leading "+", digit count, first three digits). `phonenumbers.parse` runs on two members of
   each shape; when both agree on the country code and on how many leading digits are a prefix
   (trunk "8", country "7" ...), the rest of the shape gets the same split and every number is
   checked with `phonenumbers.is_valid_number` (the metadata's number patterns, ~10 µs).
   Anything that does not validate, any shape whose samples disagree and any value with letters
   goes through the full `phonenumbers.parse`, so results equal parsing each value directly
   (a test checks this on all the formats the sandbox and real CRMs produce).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat

_PLAIN = r"^\+?[\d\s().\-]+$"


def parse_one(raw: str, region: str = "RU") -> str | None:
    """E.164 of a valid number, else None (the reference path: phonenumbers end to end)."""
    try:
        n = phonenumbers.parse(raw, region)
    except NumberParseException:
        return None
    if not phonenumbers.is_valid_number(n):
        return None
    return phonenumbers.format_number(n, PhoneNumberFormat.E164)


def _split(raw: str, digits: str, region: str):
    """(country code, prefix digit count) that phonenumbers uses for this raw value, or None."""
    try:
        n = phonenumbers.parse(raw, region)
    except NumberParseException:
        return None
    nsn = phonenumbers.national_significant_number(n)
    if n.italian_leading_zero or not nsn or nsn[0] == "0" or not digits.endswith(nsn):
        return None
    return n.country_code, len(digits) - len(nsn)


def normalise_phones(raw_values, region: str = "RU") -> pd.DataFrame:
    """Normalise distinct raw phone strings.

    Returns a frame with one row per distinct non-empty input: raw, e164 (None if invalid),
    is_valid. Column work is done with pyarrow.compute (RE2), Python only runs per shape and for
    the values that need the full parse.
    """
    if isinstance(raw_values, (pa.Array, pa.ChunkedArray)):
        arr = raw_values
    else:
        vals = raw_values.to_numpy(dtype=object) if isinstance(raw_values, pd.Series) else np.asarray(
            list(raw_values), dtype=object)
        arr = pa.array(vals, type=pa.string(), from_pandas=True)
    arr = arr.cast(pa.string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = pc.unique(arr.drop_null())
    arr = arr.filter(pc.not_equal(pc.utf8_trim_whitespace(arr), ""))
    n = len(arr)
    out_e164 = np.full(n, None, dtype=object)
    if not n:
        return pd.DataFrame({"raw": pd.Series([], dtype=object), "e164": out_e164, "is_valid": np.zeros(0, bool)})
    plain = pc.fill_null(pc.match_substring_regex(arr, _PLAIN), False).to_numpy(zero_copy_only=False)
    full = ~plain  # values that go through the full parse
    idx = np.nonzero(plain)[0]
    if len(idx):
        s = arr.take(pa.array(idx))
        digits = pc.replace_substring_regex(s, r"\D", "")
        nd = pc.utf8_length(digits).to_numpy(zero_copy_only=False)
        keep = nd > 0
        full[idx[~keep]] = True
        idx, s, digits, nd = idx[keep], s.filter(pa.array(keep)), digits.filter(pa.array(keep)), nd[keep]
        plus = pc.starts_with(pc.utf8_ltrim_whitespace(s), "+").to_numpy(zero_copy_only=False)
        p3 = pc.utf8_slice_codeunits(digits, 0, 3)
        # shape = (leading "+", digit count, first three digits)
        p3code = pc.dictionary_encode(p3).indices.to_numpy(zero_copy_only=False).astype(np.int64)
        shape = (p3code * 64 + np.minimum(nd, 63)) * 2 + plus
        ushape, first, inv = np.unique(shape, return_index=True, return_inverse=True)
        last = len(shape) - 1 - np.unique(shape[::-1], return_index=True)[1]
        raw_py = s.to_pylist() if len(ushape) * 4 > len(s) else None

        def at(j):
            return raw_py[j] if raw_py is not None else s[int(j)].as_py()

        def dg(j):
            return digits[int(j)].as_py()

        sh_cc = np.zeros(len(ushape), dtype=np.int64)
        sh_strip = np.full(len(ushape), -1, dtype=np.int64)
        for k, (a, b) in enumerate(zip(first, last)):
            sa = _split(at(a), dg(a), region)
            sb = sa if a == b else _split(at(b), dg(b), region)
            if sa is not None and sa == sb:
                sh_cc[k], sh_strip[k] = sa
        cc, strip = sh_cc[inv], sh_strip[inv]
        t = np.nonzero(strip >= 0)[0]
        full[idx[strip < 0]] = True
        if len(t):
            # the national number: the digits after the shape's prefix (one slice per prefix length)
            parts, order = [], []
            for k in np.unique(strip[t]):
                w = t[strip[t] == k]
                parts.append(pc.utf8_slice_codeunits(digits.take(pa.array(w)), int(k), 10**6))
                order.append(w)
            order = np.concatenate(order)
            nsn = pa.concat_arrays(parts).take(pa.array(np.argsort(order, kind="stable")))  # aligned with t
            tcc = cc[t]
            # A national number starting with "0" was not what the shape's samples had: full parse.
            ok = ~pc.fill_null(pc.starts_with(nsn, "0"), True).to_numpy(zero_copy_only=False)
            good = np.zeros(len(t), dtype=bool)
            if ok.any():
                good[ok] = valid_numbers(tcc[ok], nsn.filter(pa.array(ok)))
            full[idx[t[~good]]] = True  # re-check the rest with the full parse
            e = pc.binary_join_element_wise(pa.array(tcc).cast(pa.string()), nsn, "")
            e = pc.binary_join_element_wise(pa.scalar("+"), e, "")
            pos = np.full(n, -1, dtype=np.int64)
            pos[idx[t[good]]] = np.nonzero(good)[0]
            e164 = e.take(pa.array(pos, mask=pos < 0))
        else:
            e164 = pa.nulls(n, pa.string())
    else:
        e164 = pa.nulls(n, pa.string())
    fi = np.nonzero(full)[0]
    if len(fi):
        vals = [parse_one(r, region) for r in arr.take(pa.array(fi)).to_pylist()]
        mask = np.zeros(n, dtype=bool)
        mask[fi] = True
        e164 = pc.replace_with_mask(e164, pa.array(mask), pa.array(vals, type=pa.string()))
    return pa.table({"raw": arr, "e164": e164, "is_valid": pc.is_valid(e164)}).to_pandas()


# ------------------------------------------------------------------------------ vectorised validity
_TYPE_DESCS = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail",
               "fixed_line", "mobile")


def _desc_match(nsn: pa.Array, lengths: np.ndarray, desc) -> np.ndarray:
    """phonenumberutil._is_number_matching_desc on a column: a possible length and a full match of
    the national number pattern (libphonenumber's patterns are RE2-compatible)."""
    if desc is None or not desc.national_number_pattern:
        return np.zeros(len(nsn), dtype=bool)
    ok = np.ones(len(nsn), dtype=bool)
    if desc.possible_length:
        ok = np.isin(lengths, np.asarray(desc.possible_length))
    if not ok.any():
        return ok
    m = pc.match_substring_regex(nsn, "^(?:" + desc.national_number_pattern + ")$")
    return ok & pc.fill_null(m, False).to_numpy(zero_copy_only=False)


def _typed(nsn: pa.Array, lengths: np.ndarray, md) -> np.ndarray:
    """_number_type_helper(nsn, md) != UNKNOWN on a column."""
    ok = _desc_match(nsn, lengths, md.general_desc)
    if not ok.any():
        return ok
    any_type = np.zeros(len(nsn), dtype=bool)
    for name in _TYPE_DESCS:
        any_type |= _desc_match(nsn, lengths, getattr(md, name, None))
    return ok & any_type


def valid_numbers(cc: np.ndarray, nsn: np.ndarray) -> np.ndarray:
    """phonenumbers.is_valid_number(PhoneNumber(country_code=cc, national_number=int(nsn))) for
    columns of country codes and national significant numbers (digit strings without leading
    zeros), evaluated with the same metadata and the same region choice
    (_region_code_for_number_from_list) but one regex pass per column instead of per number."""
    from phonenumbers import PhoneMetadata
    from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE, REGION_CODE_FOR_NON_GEO_ENTITY

    n = len(nsn)
    out = np.zeros(n, dtype=bool)
    cc = np.asarray(cc, dtype=np.int64)
    if not isinstance(nsn, (pa.Array, pa.ChunkedArray)):
        nsn = pa.array(np.asarray(nsn, dtype=object), type=pa.string())
    for c in np.unique(cc):
        sel = np.nonzero(cc == c)[0]
        regions = COUNTRY_CODE_TO_REGION_CODE.get(int(c), ())
        mds = [PhoneMetadata.metadata_for_region(r.upper(), None) for r in regions]
        if not regions or REGION_CODE_FOR_NON_GEO_ENTITY in regions or any(m is None for m in mds):
            valid = phonenumbers.is_valid_number  # rare: non-geographic codes, unknown codes
            out[sel] = [bool(s) and valid(PhoneNumber(country_code=int(c), national_number=int(s)))
                        for s in nsn.take(pa.array(sel)).to_pylist()]
            continue
        arr = nsn.take(pa.array(sel)) if len(sel) < len(cc) else nsn
        lengths = pc.utf8_length(arr).to_numpy(zero_copy_only=False)
        if len(mds) == 1:
            out[sel] = _typed(arr, lengths, mds[0])
            continue
        undecided = np.ones(len(sel), dtype=bool)
        res = np.zeros(len(sel), dtype=bool)
        for md in mds:
            if not undecided.any():
                break
            if md.leading_digits is not None:
                hit = undecided & pc.fill_null(pc.match_substring_regex(arr, "^(?:" + md.leading_digits + ")"),
                                               False).to_numpy(zero_copy_only=False)
                idx = np.nonzero(hit)[0]
                if len(idx):
                    sub = arr.take(pa.array(idx))
                    res[idx] = _typed(sub, lengths[idx], md)
                undecided &= ~hit
            else:
                idx = np.nonzero(undecided)[0]
                sub = arr.take(pa.array(idx))
                t = _typed(sub, lengths[idx], md)
                res[idx[t]] = True
                undecided[idx[t]] = False
        out[sel] = res
    return out
