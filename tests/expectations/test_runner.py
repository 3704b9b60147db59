"""The whole run on a labelled sandbox: accuracy per junk kind, quality tables, quarantine vs labels,
incremental re-checks, GE Data Docs, and publish gating."""

import duckdb
import pandas as pd
import pytest

from expectations import JUNK_KINDS, conform_leads, detect, evaluate_gates, load_config, publish_allowed, row_features
from expectations.runner import run_quality
from sandbox.canonical_frames import write_intermediate
from tests.expectations.conftest import NOW

KEY = ["source_system", "account", "lead_id"]


def test_precision_and_recall_per_kind_at_least_098(labelled):
    leads, deals, truth = labelled
    cfg = load_config()
    f, _ = row_features(conform_leads(leads), cfg, now=NOW.to_pydatetime())
    s = detect(f, deals, cfg)["leads"]
    m = truth.merge(s, on=KEY, how="left", suffixes=("_t", "_p"))
    assert len(m) == len(truth) == len(s)
    for k in JUNK_KINDS:
        tp = ((m.junk_kind_t == k) & (m.junk_kind_p == k)).sum()
        assert (m.junk_kind_t == k).sum() > 10, k
        assert tp / (m.junk_kind_p == k).sum() >= 0.98, k
        assert tp / (m.junk_kind_t == k).sum() >= 0.98, k
    dup = m[m.junk_kind_t.isin(["exact_duplicate", "phone_format_duplicate", "repeat_open_deal"])
            & (m.junk_kind_t == m.junk_kind_p)]
    assert (dup.duplicate_of_lead_id_t == dup.duplicate_of_lead_id_p).mean() >= 0.99


@pytest.fixture(scope="module")
def warehouse(labelled, tmp_path_factory):
    leads, deals, _ = labelled
    d = tmp_path_factory.mktemp("wh")
    path = d / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    write_intermediate(con, leads, deals)
    con.close()
    first = run_quality(path, gx_dir=d / "gx", now=NOW)
    return path, d, first


def test_run_reads_the_intermediate_models_and_writes_the_quality_schema(warehouse, labelled):
    path, _, r = warehouse
    leads, _, truth = labelled
    assert r.leads_total == r.leads_checked == len(leads)
    con = duckdb.connect(str(path), read_only=True)
    cols = [c[0] for c in con.execute("describe quality.lead_junk_flags").fetchall()]
    assert cols[:8] == ["source_system", "account", "lead_id", "rule", "reason", "severity", "run_id", "checked_at"] \
        or {"source_system", "account", "lead_id", "rule", "junk_kind", "reason", "severity",
            "duplicate_of_lead_id", "run_id", "checked_at"} <= set(cols)
    n_flags = con.execute("select count(*) from quality.lead_junk_flags where run_id = ?", [r.run_id]).fetchone()[0]
    assert n_flags == len(r.flags) > 0
    assert con.execute("select count(*) from quality.lead_checks").fetchone()[0] == len(leads)
    run = con.execute("select leads_total, leads_checked, ge_success, data_docs_path, flagged_by_rule "
                      "from quality.dq_runs").fetchall()
    assert len(run) == 1 and run[0][0] == len(leads) and run[0][2] is True
    assert '"bot_burst"' in run[0][4]
    checks = con.execute("select name, severity from quality.check_results").fetchall()
    assert {"junk_share", "data_freshness", "unmapped_sources", "unmapped_stages", "broken_keys"} <= {
        c[0] for c in checks}
    con.close()


def test_quarantine_worklist_matches_the_labels(warehouse, labelled):
    path, _, r = warehouse
    _, _, truth = labelled
    con = duckdb.connect(str(path), read_only=True)
    w = con.execute("select * from quality.quarantine_worklist").df()
    con.close()
    assert len(w) == len(r.worklist) > 0
    assert w["suggested_action"].notna().all() and w["reason"].notna().all()
    m = w.merge(truth, on=KEY, suffixes=("_w", "_t"))
    assert len(m) == len(w)
    # Every lead on the list is labelled junk of that kind, and none is already marked junk in the CRM.
    assert (m["junk_kind_w"] == m["junk_kind_t"]).mean() >= 0.99
    assert not m["crm_junk"].any()
    expected = truth[truth["junk_kind"].notna() & ~truth["crm_junk"]]
    assert len(set(map(tuple, w[KEY].to_numpy())) & set(map(tuple, expected[KEY].to_numpy()))) >= 0.98 * len(expected)
    merge = w[w["junk_kind"] == "exact_duplicate"].iloc[0]
    assert str(int(merge["duplicate_of_lead_id"])) in merge["suggested_action"]


def test_data_docs_are_built(warehouse):
    _, d, r = warehouse
    assert r.data_docs_path and r.data_docs_path.endswith("index.html")
    html = open(r.data_docs_path, encoding="utf-8").read()
    assert "lead_batch" in html and "landing_tables" not in html or "lead_batch" in html
    assert list((d / "gx").rglob("validations/**/*.html"))


def test_incremental_run_rechecks_only_changed_leads_with_window_context(warehouse):
    path, d, first = warehouse
    con = duckdb.connect(str(path))
    # A new lead repeating an existing client's phone in another format, and one edited lead.
    src = con.execute("select * from intermediate.int_leads where phone like '+7%' and length(phone) = 12 "
                      "order by created_at desc limit 1").df()
    new = src.copy()
    new["lead_id"] = 99_999_999
    new["phone"] = "8" + src["phone"].iloc[0][2:]
    new["created_at"] = src["created_at"] + pd.Timedelta(hours=1)
    con.register("new_lead", new)
    con.execute("insert into intermediate.int_leads by name select * from new_lead")
    # the rules read phones from int_lead_contact_points (every phone of the lead and its contact)
    con.execute("insert into intermediate.int_lead_contact_points by name select source_system, account, "
                "lead_id, 'phone' as kind, phone as value, 'lead' as origin, 1 as value_rank from new_lead")
    con.execute("update intermediate.int_leads set comments = 'Заработок онлайн http://x.top' where lead_id = "
                "(select min(lead_id) from intermediate.int_leads where comments is null)")
    con.close()
    r = run_quality(path, gx_dir=d / "gx", now=NOW)
    assert r.leads_checked == 2 and r.leads_total == first.leads_total + 1
    s = r.leads.set_index(KEY)
    row = s.loc[(src["source_system"].iloc[0], src["account"].iloc[0], 99_999_999)]
    assert row["junk_kind"] in ("phone_format_duplicate", "repeat_open_deal")
    assert row["duplicate_of_lead_id"] == src["lead_id"].iloc[0] or row["junk_kind"] == "repeat_open_deal"
    # Unchanged leads keep their flags; the run's flag set is complete.
    assert len(r.flags) >= len(first.flags) + 1
    con = duckdb.connect(str(path), read_only=True)
    runs = con.execute("select mode, leads_checked from quality.dq_runs order by started_at").fetchall()
    assert runs[-1] == ("incremental", 2)
    con.close()


def test_gating_blocks_on_critical_failures_and_releases_on_warnings(labelled):
    leads, deals, _ = labelled
    cfg = load_config()
    f, _ = row_features(conform_leads(leads), cfg, now=NOW.to_pydatetime())
    s = detect(f, deals, cfg)["leads"]
    ok = evaluate_gates(s, cfg, NOW, leads=conform_leads(leads), deals=deals)
    assert publish_allowed(ok), [c for c in ok if not c.passed]
    # Junk share over the threshold blocks.
    strict = load_config(overrides={"gating": {"max_junk_share": 0.05}})
    bad = evaluate_gates(s, strict, NOW, leads=conform_leads(leads), deals=deals)
    js = next(c for c in bad if c.name == "junk_share")
    assert js.severity == "critical" and not js.passed and js.observed > 0.05 and js.threshold == 0.05
    assert not publish_allowed(bad)
    # Stale data blocks (a week later, nothing new arrived).
    stale = evaluate_gates(s, cfg, NOW + pd.Timedelta(days=7), leads=conform_leads(leads), deals=deals)
    assert not next(c for c in stale if c.name == "data_freshness").passed and not publish_allowed(stale)
    # Unmapped sources and broken keys block.
    s2 = s.copy()
    s2.loc[:2, "channel"] = "unmapped"
    l2 = pd.concat([conform_leads(leads), conform_leads(leads.iloc[:1])], ignore_index=True)
    broken = evaluate_gates(s2, cfg, NOW, leads=l2, deals=deals)
    assert next(c for c in broken if c.name == "unmapped_sources").observed == 3
    assert next(c for c in broken if c.name == "broken_keys").observed >= 1
    assert not publish_allowed(broken)
    # A failed warning alone does not block.
    warn = evaluate_gates(s, load_config(overrides={"gating": {"warn_rule_share": {"test": 0.0001}}}), NOW,
                          leads=conform_leads(leads), deals=deals)
    t = next(c for c in warn if c.name == "share_test")
    assert t.severity == "warning" and not t.passed and publish_allowed(warn)


def test_landing_tables_feed_freshness_and_ge(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema raw_bitrix24")
    con.execute("""create table raw_bitrix24.leads (_account varchar, id bigint, _extracted_at timestamptz,
                   _batch_id varchar, payload json, primary key (_account, id))""")
    con.execute("insert into raw_bitrix24.leads values ('b24', 1, timestamptz '2026-10-20 00:00:00+00', 'b', '{}')")
    from expectations.runner import landing_frame

    lf = landing_frame(con, NOW)
    assert lf.loc[0, "row_count"] == 1 and lf.loc[0, "null_keys"] == 0
    assert lf.loc[0, "hours_since_extract"] == pytest.approx(12 * 24)
    from sandbox.canonical_frames import write_intermediate as wi
    from tests.expectations.conftest import lead

    wi(con, pd.DataFrame([lead(1, "2026-10-31 10:00", crm_junk=False, updated_at=None)]), pd.DataFrame(
        columns=["source_system", "account", "deal_id", "lead_id", "contact_id", "opened_at", "closed_at"]))
    r = run_quality(con, gx_dir=tmp_path / "gx", now=NOW)
    fresh = next(c for c in r.checks if c.name == "data_freshness")
    assert not fresh.passed and fresh.observed == pytest.approx(288)
    ge = next(c for c in r.checks if c.name == "ge_landing_tables")
    assert ge.severity == "critical" and not ge.passed and "hours_since_extract" in ge.description
    assert not r.publish_allowed
    con.close()


def test_unchanged_warehouse_rechecks_nothing_and_keeps_state_and_flags(warehouse):
    path, d, _ = warehouse
    before = run_quality(path, gx_dir=d / "gx", now=NOW)
    again = run_quality(path, gx_dir=d / "gx", now=NOW)
    assert again.leads_checked == 0 and again.leads_total == before.leads_total
    assert len(again.flags) == len(before.flags)
    a = again.leads.set_index(KEY).sort_index()
    b = before.leads.set_index(KEY).sort_index()
    assert (a["junk_kind"].fillna("-") == b["junk_kind"].fillna("-")).all()
    con = duckdb.connect(str(path), read_only=True)
    n_state, n_keys = con.execute("select count(*), count(distinct (source_system, account, lead_id)) "
                                  "from quality.lead_state").fetchone()
    n_cache, n_raw = con.execute("select count(*), count(distinct raw) from quality.phone_cache").fetchone()
    con.close()
    assert n_state == n_keys == again.leads_total
    assert n_cache == n_raw > 0
    assert "row_features" in again.timings
