"""Junk detection on what dbt built from the extracted landing tables (not on canonical frames):
every phone and e-mail of a lead and of its contact reaches the rules, so each labelled junk kind
is found with precision and recall >= 0.98 (issue 5's bar, here on the 4,000-lead test sandbox)."""

from __future__ import annotations

import shutil

import duckdb
import pandas as pd

from sandbox.junk_scoring import latest_flags, score


def test_contact_points_carry_every_phone_and_email_of_lead_and_contact(built):
    points = built.query("select * from intermediate.int_lead_contact_points")
    leads = built.query("select source_system, account, lead_id, contact_id, phone, email "
                        "from intermediate.int_leads")
    # one row per (lead, kind, value), ranks 1..n without gaps
    assert not points.duplicated(["lead_key", "kind", "value"]).any()
    ranks = points.groupby(["lead_key", "kind"])["value_rank"].agg(["min", "max", "count"])
    assert (ranks["min"] == 1).all() and (ranks["max"] == ranks["count"]).all()
    # amoCRM leads carry no phone of their own: theirs come from the linked contact
    amo = leads[leads["source_system"] == "amocrm"]
    if len(amo):
        assert amo["contact_id"].notna().all()
        assert amo["phone"].notna().mean() > 0.95
        assert set(points.loc[points["source_system"] == "amocrm", "origin"]) == {"contact"}
    # the lead's phone / e-mail columns are the rank-1 values
    first = points[points["value_rank"] == 1].pivot_table(index=["source_system", "account", "lead_id"],
                                                          columns="kind", values="value", aggfunc="first")
    m = leads.set_index(["source_system", "account", "lead_id"]).join(first, rsuffix="_p")
    assert (m["phone"].fillna("") == m["phone_p"].fillna("")).all()
    assert (m["email"].fillna("") == m.get("email_p", pd.Series(index=m.index, dtype=object)).fillna("")).all()


def test_deals_carry_contact_and_close_time(built):
    deals = built.query("select source_system, contact_id, closed_at, is_won, is_lost from intermediate.int_deals")
    assert deals["contact_id"].notna().mean() > 0.95
    closed = deals["is_won"] | deals["is_lost"]
    assert deals.loc[closed, "closed_at"].notna().all()
    assert deals.loc[~closed, "closed_at"].isna().all()


def test_junk_detected_through_dbt_matches_the_labels(built, tmp_path):
    from expectations import run_quality

    wh = tmp_path / "wh.duckdb"
    shutil.copy(built.warehouse, wh)
    run_quality(str(wh), gx_dir=tmp_path / "gx", validate=False)
    with duckdb.connect(str(wh), read_only=True) as con:
        _, flags = latest_flags(con)
    scores = score(flags, built.truth("leads"))
    assert len(scores) >= 5, scores  # the generator labels several kinds
    bad = scores[(scores["precision"] < 0.98) | (scores["recall"] < 0.98)]
    assert bad.empty, f"\n{scores.to_string()}"
