"""publish_postgres against a real PostgreSQL server: the marts arrive whole, the reader role can
read the marts and nothing else, and a publish swaps in atomically (a failure changes nothing)."""

from __future__ import annotations

import threading

import duckdb
import psycopg2
import pytest

from tests.publish.fixture_warehouse import next_run
from warehouse import postgres
from warehouse.postgres import publish_postgres, reader_can_see
from warehouse.publish import publish_duckdb

READER, READER_PW = "bi_reader", "read-only-secret"


def _duck_tables(path) -> dict[str, int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [r[0] for r in con.execute("select table_name from information_schema.tables "
                                           "where table_schema = 'marts'").fetchall()]
        return {t: con.execute(f"select count(*) from marts.{t}").fetchone()[0] for t in names}
    finally:
        con.close()


@pytest.fixture(scope="module")
def published(pg_server, bi_file):
    owner = pg_server.connect()
    owner.cursor().execute("create database crm")
    owner.close()
    db = pg_server.connect("crm")
    cur = db.cursor()
    # the rest of a warehouse that lives on the same server (dbt's PostgreSQL target): off limits
    for stmt in ("create schema raw_bitrix24", "create table raw_bitrix24.crm_lead (id bigint, payload jsonb)",
                 "insert into raw_bitrix24.crm_lead values (1, '{\"PHONE\": \"+79001234567\"}')",
                 "create schema staging", "create view staging.stg_leads as select id from raw_bitrix24.crm_lead",
                 "create schema quality", "create table quality.lead_junk_flags (lead_id bigint, rule text)",
                 "create schema intermediate", "create table intermediate.int_leads (lead_id bigint)",
                 "create table public.secrets (v text)"):
        cur.execute(stmt)
    db.close()
    res = publish_postgres(bi_file, pg_server.dsn("crm"), reader_password=READER_PW)
    return res


def reader_con(pg_server):
    return pg_server.connect("crm", user=READER, password=READER_PW)


def test_every_mart_arrives_whole_with_types_and_comments(pg_server, bi_file, published):
    expected = _duck_tables(bi_file)
    assert published.tables == expected
    con = reader_con(pg_server)
    cur = con.cursor()
    for t, n in expected.items():
        cur.execute(f"select count(*) from marts.{t}")
        assert cur.fetchone()[0] == n, t
    duck = duckdb.connect(str(bi_file), read_only=True)
    try:
        want = duck.execute("select sum(leads_recorded), sum(leads_contract), round(sum(lead_to_contract_rate), 6), "
                            "count(*) filter (where contract_rate is null) from marts.fct_funnel").fetchone()
        want_lcp = duck.execute("select count(*) filter (where is_junk), count(taken_at), min(created_date), "
                                "count(*) filter (where crm_junk_reason = '') from marts.fct_lead_control_points"
                                ).fetchone()
    finally:
        duck.close()
    cur.execute("select sum(leads_recorded), sum(leads_contract), round(sum(lead_to_contract_rate)::numeric, 6), "
                "count(*) filter (where contract_rate is null) from marts.fct_funnel")
    got = cur.fetchone()
    assert (got[0], got[1], float(got[2]), got[3]) == (want[0], want[1], float(want[2]), want[3])
    cur.execute("select count(*) filter (where is_junk), count(taken_at), min(created_date), "
                "count(*) filter (where crm_junk_reason = '') from marts.fct_lead_control_points")
    assert cur.fetchone() == want_lcp
    cur.execute("""select data_type from information_schema.columns where table_schema = 'marts'
                   and table_name = 'fct_lead_control_points' and column_name in ('created_date', 'taken_at',
                   'is_junk', 'lead_id', 'minutes_to_taken') order by column_name""")
    assert [r[0] for r in cur.fetchall()] == ["date", "boolean", "bigint", "double precision",
                                              "timestamp without time zone"]
    # Metabase shows these as field descriptions
    cur.execute("select col_description('marts.fct_funnel'::regclass, attnum) from pg_attribute "
                "where attrelid = 'marts.fct_funnel'::regclass and attname = 'funnel_basis'")
    assert "cohort" in cur.fetchone()[0]
    cur.execute("select obj_description('marts.fct_plan_vs_fact'::regclass, 'pg_class')")
    assert "выполнение плана" in cur.fetchone()[0]
    con.close()


@pytest.mark.parametrize("stmt", [
    "select * from raw_bitrix24.crm_lead",
    "select * from staging.stg_leads",
    "select * from quality.lead_junk_flags",
    "select * from intermediate.int_leads",
    "select * from public.secrets",
    "insert into marts.dim_channels (channel) values ('x')",
    "update marts.fct_funnel set leads_recorded = 0",
    "delete from marts.fct_funnel",
    "truncate marts.fct_funnel",
    "drop table marts.fct_funnel",
    "alter table marts.fct_funnel add column x int",
    "create table marts.mine (x int)",
    "create table public.mine (x int)",
    "create schema mine",
    "create role another",
])
def test_reader_role_cannot(pg_server, published, stmt):
    con = reader_con(pg_server)
    try:
        with pytest.raises(psycopg2.Error) as err:
            con.cursor().execute(stmt)
        assert err.value.pgcode in ("42501", "25006"), err.value  # insufficient privilege / read-only transaction
    finally:
        con.close()


def test_reader_sees_exactly_the_marts(pg_server, bi_file, published):
    visible = reader_can_see(pg_server.dsn("crm", user=READER, password=READER_PW))
    assert {s for s, _ in visible} == {"marts"}
    assert {t for _, t in visible} == set(_duck_tables(bi_file))
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        pg_server.connect("crm", user=READER, password="wrong")
    owner = pg_server.connect("crm")
    cur = owner.cursor()
    cur.execute("select rolsuper, rolcreatedb, rolcreaterole, rolcanlogin from pg_roles where rolname = %s",
                [READER])
    assert cur.fetchone() == (False, False, False, True)
    owner.close()


def test_republish_swaps_atomically_and_failure_changes_nothing(pg_server, published, fixture_wh, tmp_path,
                                                               monkeypatch):
    dsn = pg_server.dsn("crm")
    second = publish_duckdb(next_run(fixture_wh, tmp_path / "wh2.duckdb"), tmp_path / "bi2.duckdb")
    first_counts = dict(published.tables)
    expected_pairs = {(first_counts["fct_lead_control_points"], first_counts["fct_funnel"]),
                      (second.tables["fct_lead_control_points"], second.tables["fct_funnel"])}
    seen, errors, stop = set(), [], threading.Event()

    def read_loop():
        con = reader_con(pg_server)
        cur = con.cursor()
        while not stop.is_set():
            try:  # one statement = one snapshot: both counts from the same publication
                cur.execute("select (select count(*) from marts.fct_lead_control_points), "
                            "(select count(*) from marts.fct_funnel)")
                seen.add(cur.fetchone())
            except psycopg2.Error as exc:
                errors.append(exc)
        con.close()

    th = threading.Thread(target=read_loop)
    th.start()
    try:
        res = publish_postgres(second.path, dsn)   # the reader role keeps its password
    finally:
        stop.set()
        th.join()
    assert not errors, errors[:3]
    assert seen <= expected_pairs and seen         # never a mix of two publications
    assert res.tables["fct_funnel"] == second.tables["fct_funnel"]
    con = reader_con(pg_server)
    cur = con.cursor()
    cur.execute("select count(*) from marts.fct_funnel")
    assert cur.fetchone()[0] == second.tables["fct_funnel"]
    # a publish that fails half-way (here: on the second table) rolls back entirely
    real = postgres._csv_expr
    calls = {"n": 0}

    def failing(col, typ):
        calls["n"] += 1
        if calls["n"] > 30:
            raise RuntimeError("disk full")
        return real(col, typ)

    monkeypatch.setattr(postgres, "_csv_expr", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        publish_postgres(published_bi(fixture_wh, tmp_path), dsn)
    cur.execute("select count(*) from marts.fct_funnel")
    assert cur.fetchone()[0] == second.tables["fct_funnel"]
    cur.execute("select nspname from pg_namespace where nspname like 'marts%'")
    assert [r[0] for r in cur.fetchall()] == ["marts"]
    con.close()


def published_bi(fixture_wh, tmp_path):
    return publish_duckdb(next_run(fixture_wh, tmp_path / "wh3.duckdb", 4), tmp_path / "bi3.duckdb").path


def test_republish_while_a_bi_query_holds_the_old_tables(pg_server, published, fixture_wh, tmp_path):
    """A BI session still inside a transaction over the old tables neither blocks the publish nor
    deadlocks with it: the swap takes no lock on them, the old schema is hidden from the reader
    at once and dropped when free — here by the next publish, which refuses to start while it is not."""
    dsn = pg_server.dsn("crm")
    bi = published_bi(fixture_wh, tmp_path)
    holder = reader_con(pg_server)
    holder.autocommit = False  # a transaction left open, as a BI tool's session may
    hold = holder.cursor()
    hold.execute("select count(*) from marts.fct_funnel")  # its transaction keeps the table's lock
    res = publish_postgres(bi, dsn)
    other = reader_con(pg_server)
    cur = other.cursor()
    cur.execute("select count(*) from marts.fct_funnel")
    assert cur.fetchone()[0] == res.tables["fct_funnel"]
    cur.execute("select nspname from pg_namespace where nspname like 'marts%' "
                "and has_schema_privilege(nspname, 'USAGE') order by 1")
    assert [r[0] for r in cur.fetchall()] == ["marts"]
    # while that session still holds the old publication, the next publish stops before changing
    # anything, and says why
    with pytest.raises(RuntimeError, match="marts__old.*still locked by a BI session"):
        publish_postgres(bi, dsn)
    cur.execute("select count(*) from marts.fct_funnel")
    assert cur.fetchone()[0] == res.tables["fct_funnel"]
    holder.rollback()
    holder.close()
    publish_postgres(bi, dsn)
    other.rollback()
    cur.execute("select nspname from pg_namespace where nspname like 'marts%'")
    assert [r[0] for r in cur.fetchall()] == ["marts"]
    other.close()
