"""Bad input through the real HTTP path: the emulators splice a corpus of malformed records
(tests/reliability/corpus/records.py, FaultConfig.corrupt_records) into real list pages. Every
corpus record is either landed or quarantined with a reason; the run goes on; every genuine
record lands exactly; custom-field names with quotes or SQL inject nothing. Plus property-based
tests (hypothesis) of the per-record parsers and the landing merge."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from extract.amocrm import AmoCRMExtractor
from extract.amocrm.entities import BY_NAME as AMO_BY_NAME
from extract.bitrix24 import Bitrix24Extractor
from extract.bitrix24.entities import BY_NAME as B24_BY_NAME
from extract.common.records import parse_int, parse_time
from tests.reliability.corpus import records as corpus
from tests.reliability.helpers import AMO, B24, failed, landed
from warehouse.landing import Warehouse


def _tables(con) -> set[tuple[str, str]]:
    return {(r[0], r[1]) for r in con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()}


def _tag_of(rec) -> str | None:
    if isinstance(rec, dict):
        if "__raw__" in rec:
            return rec["__raw__"].split('"corpus_tag":"')[-1].split('"')[0] if "corpus_tag" in rec["__raw__"] \
                else rec["__raw__"].split('"CORPUS_TAG":"')[-1].split('"')[0]
        return rec.get("CORPUS_TAG") or rec.get("corpus_tag")
    if isinstance(rec, str):
        return rec.split()[0]
    return None


def _account_for_every_record(wh, system: str, entity: str, account: str, records: list, tag_key: str):
    loaded = {r[0]: r[1] for r in wh.con.execute(
        f"SELECT json_extract_string(payload, '$.{tag_key}') AS tag, id FROM raw_{system}.\"{entity}\" "
        f"WHERE _account = ? AND tag IS NOT NULL", [account]).fetchall()}
    quarantined = wh.con.execute("SELECT reason, raw_text FROM quality.quarantine_records WHERE system = ? "
                                 "AND entity = ?", [system, entity]).fetchall()
    assert all(reason for reason, _ in quarantined), "every quarantined record has a reason"
    untagged = 0
    for rec in records:
        tag = _tag_of(rec)
        if tag is None:
            untagged += 1
            continue
        exact = re.compile(re.escape(tag) + r"(?![0-9])")  # corpus-a1 is not corpus-a10
        in_q = [reason for reason, raw in quarantined if exact.search(raw or "")]
        assert (tag in loaded) != bool(in_q), f"{tag}: loaded={tag in loaded} quarantined={in_q}: {str(rec)[:200]}"
    not_objects = sum(1 for reason, _ in quarantined if "record is a" in reason)  # amoCRM prefixes the type
    assert not_objects >= untagged
    return loaded, quarantined


def test_bitrix24_corpus_is_loaded_or_quarantined_and_nothing_else_is_affected(sandbox, settings):
    records = corpus.bitrix24_leads()
    assert len(records) + len(corpus.amocrm_leads()) >= 50
    sandbox.start()
    sandbox.set_faults(B24, corrupt_records={"crm.lead.list": records})
    acc = sandbox.b24_account()
    with Warehouse(settings.warehouse_path) as wh:
        runs = Bitrix24Extractor(acc, wh, settings).run(["statuses", "leads", "deals"], reconcile=False)
        assert not failed(runs), failed(runs)
        loaded, quarantined = _account_for_every_record(wh, "bitrix24", "leads", B24, records, "CORPUS_TAG")
        assert len(quarantined) >= 20 and len(loaded) >= 20
        # genuine records: exactly the portal's, none overwritten by a corpus record
        truth = sandbox.b24_truth("leads")
        live, dead, n, distinct = landed(wh.con, "bitrix24", "leads", B24)
        assert n == distinct
        genuine = {i: t for i, t in live.items() if i not in set(loaded.values())}
        assert genuine == truth
        assert {i: t for i, t in landed(wh.con, "bitrix24", "deals", B24)[0].items()} == sandbox.b24_truth("deals")
        # loaded corpus records keep their payload as served: SQL-looking names are only JSON keys
        for name in corpus.SQL_NAMES:
            hits = wh.con.execute("SELECT count(*) FROM raw_bitrix24.leads WHERE json_exists(payload, ?)",
                                  ["$." + json.dumps(name)]).fetchone()[0]
            assert hits == 1, name
        assert ("raw_bitrix24", "leads") in _tables(wh.con)
        assert wh.con.execute("SELECT count(*) FROM meta.extract_cursors WHERE account = ?", [B24]).fetchone()[0] >= 1
        # and the next (incremental) run is unaffected
        assert not failed(Bitrix24Extractor(acc, wh, settings).run(["leads"], reconcile=True))


def test_amocrm_corpus_is_loaded_or_quarantined_and_nothing_else_is_affected(sandbox, settings):
    records = corpus.amocrm_leads()
    fields = corpus.amocrm_custom_fields()
    sandbox.start()
    sandbox.set_faults(AMO, corrupt_records={"leads": records, "custom_fields": fields})
    acc = sandbox.amo_account()
    with Warehouse(settings.warehouse_path) as wh:
        before = None
        runs = AmoCRMExtractor(acc, wh, settings).run(["pipelines", "custom_fields", "leads", "events"], full=True)
        assert not failed(runs), failed(runs)
        loaded, quarantined = _account_for_every_record(wh, "amocrm", "leads", AMO, records, "corpus_tag")
        assert len(quarantined) >= 8 and len(loaded) >= 8
        truth = sandbox.amo_truth("leads")
        live, dead, n, distinct = landed(wh.con, "amocrm", "leads", AMO)
        assert n == distinct
        genuine = {i: t for i, t in live.items() if i not in set(loaded.values())}
        assert genuine == truth
        assert wh.con.execute("SELECT count(*) FROM raw_amocrm.custom_fields WHERE payload->>'corpus_tag' = "
                              "'corpus-a90'").fetchone()[0] == 1
        assert {("raw_amocrm", "leads"), ("raw_amocrm", "custom_fields")} <= _tables(wh.con)
        assert wh.con.execute("SELECT count(*) FROM meta.extract_cursors WHERE account = ?", [AMO]).fetchone()[0] >= 1
        assert before is None
        assert not failed(AmoCRMExtractor(acc, wh, settings).run(["leads", "events"]))


# ---------------------------------------------------------------------- properties
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2 ** 80), max_value=2 ** 80),
                         st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)), max_leaves=12)
id_values = st.one_of(json_values, st.integers().map(str), st.from_regex(r"\s*-?[0-9]{1,25}\s*", fullmatch=True))
time_values = st.one_of(json_values, st.datetimes(timezones=st.just(__import__("datetime").timezone.utc)).map(
    lambda d: d.isoformat()), st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{2}:?[0-9]{2}",
                                            fullmatch=True), st.integers(min_value=-(2 ** 40), max_value=2 ** 40))


def _record(id_key: str, time_key: str):
    return st.one_of(json_values, st.fixed_dictionaries({id_key: id_values, time_key: time_values},
                                                        optional={"TITLE": json_values, "name": json_values}))


@given(st.one_of(json_values, id_values))
@hsettings(max_examples=300, deadline=None)
def test_parse_int_returns_an_int_or_raises_value_error(value):
    try:
        assert isinstance(parse_int(value), int)
    except ValueError:
        pass


@given(time_values)
@hsettings(max_examples=300, deadline=None)
def test_parse_time_returns_utc_or_none_or_raises_a_parse_error(value):
    try:
        t = parse_time(value)
    except (ValueError, TypeError, OverflowError, OSError):
        return
    assert t is None or t.utcoffset().total_seconds() == 0


@pytest.fixture(scope="module")
def memory_wh():
    with Warehouse(":memory:") as wh:
        yield wh


@given(st.lists(_record("ID", "DATE_MODIFY"), max_size=6))
@hsettings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_bitrix24_records_land_or_are_quarantined(memory_wh, records):
    entity = B24_BY_NAME["leads"]
    rows, bad = Bitrix24Extractor._to_rows(None, entity, records)
    assert len(rows) + len(bad) == len(records)
    assert all(q.reason for q in bad)
    memory_wh.merge(entity.spec, "prop", "b1", rows, quarantine=bad)  # what parsed must also land


@given(st.lists(_record("id", "updated_at"), max_size=6))
@hsettings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_amocrm_records_land_or_are_quarantined(memory_wh, records):
    entity = AMO_BY_NAME["leads"]
    rows, bad = AmoCRMExtractor._to_rows(None, entity, records)
    assert len(rows) + len(bad) == len(records)
    assert all(q.reason for q in bad)
    memory_wh.merge(entity.spec, "prop", "b1", rows, quarantine=bad)
