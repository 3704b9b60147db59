"""The whole asset graph against the sandbox, as `crmwh run` executes it: both CRMs extracted with
real rate limits on, dbt core, junk detection, marts; then an incremental run after a day of CRM
work. Definitions load from orchestration/definitions.py exactly as `dagster dev` loads them."""

from __future__ import annotations

import duckdb
import pytest
import requests

from crmwh.privacy import ensure_dagster_home
from crmwh.sandbox_link import link_sandbox


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory):
    from sandbox.generator import generate
    from sandbox.serve import serve_all

    base = tmp_path_factory.mktemp("pipeline")
    data = base / "crm"
    generate(data, seed=21, leads=2500, as_of=None)  # as of today: the freshness gate must pass
    servers = serve_all(data, limits=True)
    mp = pytest.MonkeyPatch()
    accounts_file, env = link_sandbox(data, apply=False)
    for k, v in {**env, "CRMWH_ACCOUNTS_FILE": str(accounts_file), "CRMWH_WAREHOUSE_PATH": str(base / "wh.duckdb"),
                 "CRMWH_TOKEN_DIR": str(base / "tokens"), "CRMWH_PLANS_FILE": str(data / "truth" / "plans.xlsx")}.items():
        mp.setenv(k, v)
    mp.setenv("DAGSTER_HOME", str(base / "dagster_home"))
    ensure_dagster_home()
    yield base, data, servers
    mp.undo()
    for s in servers.values():
        s.stop()


def test_whole_graph_full_then_incremental(demo_env):
    from crmwh.pipeline import run_pipeline
    from orchestration.definitions import defs

    base, data, servers = demo_env
    every_asset = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}

    full = run_pipeline(full=True)
    assert full.success, (full.failures, full.checks_failed, {k: v for k, v in full.metadata.items() if k.startswith("quality")})
    assert set(full.materialized) == every_asset
    assert not [c for c in full.checks_failed if c[2].upper() == "ERROR"], full.checks_failed
    assert full.rows["raw_bitrix24/leads"] > 0 and full.rows["raw_amocrm/leads"] > 0
    for srv in servers.values():  # the default run never trips a rate limit
        assert requests.get(srv.url + "/_sandbox/stats", timeout=5).json()["rate_limit_violations"] == 0

    with duckdb.connect(str(base / "wh.duckdb"), read_only=True) as con:
        marts = {r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'").fetchall()}
        assert {"fct_lead_control_points", "fct_funnel", "fct_plan_vs_fact", "fct_manager_daily_activity",
                "fct_daily_targets", "fct_payment_forms", "fct_sales_channels", "fct_data_quality"} <= marts
        leads_in_mart = con.execute("select count(*) from marts.fct_lead_control_points").fetchone()[0]
        # the plans file reached plan vs fact through plans/sales_plans → int_sales_plans
        planned = con.execute("select count(*) from marts.fct_plan_vs_fact where plan_value is not null").fetchone()[0]
        assert planned > 0
        landed = con.execute("select (select count(*) from raw_bitrix24.leads where not _is_deleted)"
                             " + (select count(*) from raw_amocrm.leads where not _is_deleted)").fetchone()[0]
    assert 0 < leads_in_mart <= landed

    published = base / "bi.duckdb"
    assert published.exists() and (base / "reports" / "report_ru.html").exists()
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.execute("select count(*) from marts.fct_lead_control_points").fetchone()[0] == leads_in_mart

    # A day of CRM work, then the hourly incremental job: it reads only what changed.
    for srv in servers.values():
        r = requests.post(srv.url + "/_sandbox/work-day", json={"seed": 3, "changes": 40}, timeout=60)
        assert r.status_code == 200, r.text
    incremental = run_pipeline(full=False)
    assert incremental.success, incremental.failures
    assert sum(incremental.requests.values()) < sum(full.requests.values())
    # The full run rebuilt every view and seed and recorded them; the incremental run left those
    # alone (warehouse/dbt_unchanged.py: reported as current, so the steps below still run) and
    # rebuilt the tables and marts.
    with duckdb.connect(str(base / "wh.duckdb"), read_only=True) as con:
        recorded = {r[0] for r in con.execute("select relation from meta.dbt_unchanged_nodes").fetchall()}
    assert {"staging.stg_bitrix24__activities", "config.stage_control_points", "intermediate.int_stage_transitions",
            "staging.stg_bitrix24__leads"} <= recorded  # views, seeds and incremental models
    assert "staging/stg_bitrix24__activities" in full.materialized
    for key in ("staging/stg_bitrix24__activities", "config/stage_control_points"):
        assert incremental.metadata[key].get("dbt") == "unchanged since it was built: left alone", key
    assert {"intermediate/int_leads", "marts/fct_funnel"} <= set(incremental.materialized), sorted(incremental.materialized)


def _fingerprint(path):
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_critical_failure_blocks_publishing_and_release_publishes(demo_env, tmp_path, monkeypatch):
    """A critical data-quality failure stops publishing — through the whole job and when the
    publish asset runs alone — while the previously published marts stay readable; fixing the
    cause releases it."""
    import dagster as dg

    from crmwh.pipeline import run_pipeline, summarize
    from orchestration.definitions import defs

    base, data, servers = demo_env
    published = base / "bi.duckdb"
    if not published.exists():
        assert run_pipeline(full=True).success
    before = _fingerprint(published)

    strict = tmp_path / "strict.yaml"
    strict.write_text("gating:\n  max_junk_share: 0.0001\n", encoding="utf-8")  # any junk at all is critical
    monkeypatch.setenv("CRMWH_QUALITY_CONFIG", str(strict))
    blocked = run_pipeline(full=False)
    assert not blocked.success
    assert ("quality/lead_junk_flags", "junk_share", "ERROR") in blocked.checks_failed
    assert "publish/bi" not in blocked.materialized
    assert _fingerprint(published) == before
    with duckdb.connect(str(published), read_only=True) as con:  # still readable by BI
        assert con.execute("select count(*) from marts.fct_funnel").fetchone()[0] > 0

    # The publish asset alone (Dagster's blocking does not apply here): it checks the gate itself.
    job = defs.resolve_implicit_global_asset_job_def()
    alone = summarize(job.execute_in_process(asset_selection=[dg.AssetKey(["publish", "bi"])],
                                             instance=dg.DagsterInstance.get(), raise_on_error=False))
    assert not alone.success
    assert any("Publishing blocked" in msg and "junk_share" in msg for _, msg in alone.failures), alone.failures
    assert _fingerprint(published) == before

    monkeypatch.delenv("CRMWH_QUALITY_CONFIG")
    released = run_pipeline(full=False)
    assert released.success, (released.failures, released.checks_failed)
    assert "publish/bi" in released.materialized
    assert _fingerprint(published) != before
