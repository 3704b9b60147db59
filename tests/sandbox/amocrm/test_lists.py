"""Endpoints, envelopes, filters, orders, `with=`, paging and error bodies of the amoCRM emulator."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.sandbox.amocrm.conftest import (ACCOUNT_ID, CATALOG_FLATS, CATALOG_PAYMENTS, DELETED_EVERY, N_LEADS,
                                           PIPELINES, T0, lead_id, status_ids)

LIVE_LEADS = N_LEADS - N_LEADS // DELETED_EVERY


def test_leads_envelope_and_types(amo_ro):
    r = amo_ro.get("/api/v4/leads", {"limit": 5})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/hal+json")
    body = r.json()
    assert body["_page"] == 1 and "_total_items" not in body  # leads carry no total
    assert set(body["_links"]) >= {"self", "next"}
    leads = body["_embedded"]["leads"]
    assert [lead["id"] for lead in leads] == [lead_id(i) for i in range(1, 6)]
    lead = leads[0]
    assert isinstance(lead["price"], int) and isinstance(lead["created_at"], int)
    assert lead["account_id"] == ACCOUNT_ID and lead["is_deleted"] is False
    assert lead["custom_fields_values"][0]["field_id"] == 501
    assert "source_id" not in lead and "contacts" not in lead["_embedded"]  # only with `with=`
    assert lead["_links"]["self"]["href"] == f"{amo_ro.url}/api/v4/leads/{lead['id']}"


def test_paging_follows_next_href_to_every_live_lead(amo_ro):
    leads = amo_ro.all_pages("/api/v4/leads", {"limit": 50})
    ids = [lead["id"] for lead in leads]
    assert len(ids) == LIVE_LEADS == len(set(ids))
    r = amo_ro.get("/api/v4/leads", {"limit": 50, "page": 6})
    body = r.json()
    assert len(body["_embedded"]["leads"]) == LIVE_LEADS - 250 and "next" not in body["_links"]
    assert body["_links"]["prev"]["href"].endswith("page=5")
    # links are absolute, point at this server and keep the request's own parameters
    href = body["_links"]["self"]["href"]
    assert href.startswith(amo_ro.url) and "limit=50" in href and "page=6" in href


def test_past_last_page_is_204_with_empty_body(amo_ro):
    r = amo_ro.get("/api/v4/leads", {"limit": 250, "page": 3})
    assert r.status_code == 204 and r.content == b""


def test_past_last_page_empty_embedded_option(make_amo):
    amo = make_amo(options={"past_last_page": "empty"})
    r = amo.get("/api/v4/leads", {"limit": 250, "page": 3})
    assert r.status_code == 200
    body = r.json()
    assert body["_embedded"] == {"leads": []} and "next" not in body["_links"]
    # a first page that finds nothing is still 204
    assert amo.get("/api/v4/leads", {"filter[id]": 1}).status_code == 204


@pytest.mark.parametrize("path,limit", [("/api/v4/leads", 251), ("/api/v4/events", 101), ("/api/v4/contacts", 1000)])
def test_limit_over_maximum_is_validation_error(amo_ro, path, limit):
    r = amo_ro.get(path, {"limit": limit})
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["title"] == "Bad Request" and body["status"] == 400 and body["detail"] == "Request validation failed"
    assert body["validation-errors"][0]["errors"][0]["path"] == "limit"
    assert amo_ro.get(path, {"limit": limit - 1 if limit < 1000 else 250}).status_code == 200


def test_bad_page_and_unknown_path(amo_ro):
    assert amo_ro.get("/api/v4/leads", {"page": "x"}).status_code == 400
    assert amo_ro.get("/api/v4/leads", {"page": 0}).status_code == 400
    r = amo_ro.get("/api/v4/nothing_here")
    assert r.status_code == 404 and r.json()["status"] == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    r = amo_ro.session.post(amo_ro.url + "/api/v4/leads", json=[{"name": "x"}],
                            headers={"Authorization": f"Bearer {amo_ro.token}"})
    assert r.status_code == 405


def test_single_lead_and_missing_lead(amo_ro):
    r = amo_ro.get(f"/api/v4/leads/{lead_id(7)}", {"with": "contacts"})
    assert r.status_code == 200 and r.json()["id"] == lead_id(7)
    assert r.json()["_embedded"]["contacts"][0]["is_main"] is True
    r = amo_ro.get("/api/v4/leads/1")
    assert r.status_code == 204 and r.content == b""
    assert amo_ro.get(f"/api/v4/leads/{lead_id(DELETED_EVERY)}").status_code == 204  # in the trash


def test_with_embeds(amo_ro):
    lost = next(i for i in range(1, N_LEADS) if status_ids(PIPELINES[i % 2])[i % 6] == 143 and i % DELETED_EVERY)
    r = amo_ro.get(f"/api/v4/leads/{lead_id(lost)}",
                   {"with": "contacts,loss_reason,source_id,source,catalog_elements"})
    lead = r.json()
    assert lead["source_id"] in (801, 802)
    assert lead["_embedded"]["loss_reason"][0]["id"] == lead["loss_reason_id"]
    assert lead["_embedded"]["source"]["id"] == lead["source_id"]
    assert lead["_embedded"]["contacts"][0]["id"] == 40_000 + lost % 150
    paid = amo_ro.get(f"/api/v4/leads/{lead_id(2)}", {"with": "catalog_elements"}).json()
    assert paid["_embedded"]["catalog_elements"] == [{"id": 70_000, "metadata": {"quantity": 1,
                                                                                   "catalog_id": CATALOG_PAYMENTS}}]


def test_only_deleted(amo_ro):
    leads = amo_ro.all_pages("/api/v4/leads", {"with": "only_deleted", "limit": 250})
    assert sorted(lead["id"] for lead in leads) == [lead_id(i) for i in range(DELETED_EVERY, N_LEADS + 1, DELETED_EVERY)]
    assert all(lead["is_deleted"] for lead in leads)


def test_filter_updated_at_range_and_order(amo_ro):
    lo, hi = T0 + 30_000, T0 + 90_000
    leads = amo_ro.all_pages("/api/v4/leads", {"filter[updated_at][from]": lo, "filter[updated_at][to]": hi,
                                               "order[updated_at]": "asc", "limit": 20})
    assert leads and all(lo <= lead["updated_at"] <= hi for lead in leads)
    upd = [lead["updated_at"] for lead in leads]
    assert upd == sorted(upd)
    everything = amo_ro.all_pages("/api/v4/leads", {"limit": 250})
    assert len(leads) == sum(lo <= lead["updated_at"] <= hi for lead in everything)
    desc = amo_ro.get("/api/v4/leads", {"order[created_at]": "desc", "limit": 3}).json()["_embedded"]["leads"]
    assert [lead["id"] for lead in desc] == [lead_id(N_LEADS - 1), lead_id(N_LEADS - 2), lead_id(N_LEADS - 3)]
    by_id = amo_ro.get("/api/v4/leads", {"order[id]": "desc", "limit": 1}).json()["_embedded"]["leads"]
    assert by_id[0]["id"] == lead_id(N_LEADS - 1)


def test_single_timestamp_updated_at_is_equality(amo_ro):
    """amocrm-api-php#358: a single-value updated_at filter found nothing where from/to worked."""
    assert amo_ro.get("/api/v4/leads", {"filter[updated_at]": T0 + 30_000}).status_code == 204


def test_filter_created_at_id_pipeline_statuses_responsible(amo_ro):
    r = amo_ro.get("/api/v4/leads", {"filter[created_at][from]": T0 + 600 * 10, "filter[created_at][to]": T0 + 600 * 12})
    assert [x["id"] for x in r.json()["_embedded"]["leads"]] == [lead_id(10), lead_id(11), lead_id(12)]
    r = amo_ro.get("/api/v4/leads", [("filter[id][]", lead_id(3)), ("filter[id][]", lead_id(4))])
    assert {x["id"] for x in r.json()["_embedded"]["leads"]} == {lead_id(3), lead_id(4)}
    assert amo_ro.get("/api/v4/leads", {"filter[id]": lead_id(5)}).json()["_embedded"]["leads"][0]["id"] == lead_id(5)
    p = PIPELINES[0]
    leads = amo_ro.all_pages("/api/v4/leads", {"filter[pipeline_id][0]": p, "limit": 250})
    assert len(leads) == N_LEADS // 2 - N_LEADS // DELETED_EVERY and {x["pipeline_id"] for x in leads} == {p}
    won = amo_ro.all_pages("/api/v4/leads", {"filter[statuses][0][pipeline_id]": p, "filter[statuses][0][status_id]": 142,
                                             "filter[statuses][1][pipeline_id]": PIPELINES[1],
                                             "filter[statuses][1][status_id]": 143, "limit": 250})
    assert won and {(x["pipeline_id"], x["status_id"]) for x in won} == {(p, 142), (PIPELINES[1], 143)}
    mine = amo_ro.all_pages("/api/v4/leads", {"filter[responsible_user_id]": 103, "limit": 250})
    assert mine and {x["responsible_user_id"] for x in mine} == {103}


def test_query_search(amo_ro):
    r = amo_ro.get("/api/v4/leads", {"query": "Сделка 123"})
    assert [x["name"] for x in r.json()["_embedded"]["leads"]] == ["Сделка 123"]
    r = amo_ro.get("/api/v4/contacts", {"query": "+79000000042"})
    assert [x["id"] for x in r.json()["_embedded"]["contacts"]] == [40_042]


def test_filters_disabled_are_ignored(make_amo):
    """⚠ The filtering add-on: without it the filter is ignored and the full list comes back."""
    amo = make_amo(options={"filters_enabled": False})
    r = amo.get("/api/v4/leads", {"filter[id]": lead_id(5), "limit": 250})
    assert r.status_code == 200 and len(r.json()["_embedded"]["leads"]) == 250


def test_pipelines_statuses_and_system_statuses(amo_ro):
    body = amo_ro.get("/api/v4/leads/pipelines").json()
    assert body["_total_items"] == 2 and "_page" not in body
    pipes = body["_embedded"]["pipelines"]
    assert [p["id"] for p in pipes] == list(PIPELINES) and pipes[0]["is_main"] is True
    for p in pipes:
        ids = [s["id"] for s in p["_embedded"]["statuses"]]
        assert {142, 143} <= set(ids) and ids[-2:] == [142, 143]
        assert p["_embedded"]["statuses"][0]["type"] == 1  # unsorted
    one = amo_ro.get(f"/api/v4/leads/pipelines/{PIPELINES[1]}").json()
    assert one["id"] == PIPELINES[1]
    sts = amo_ro.get(f"/api/v4/leads/pipelines/{PIPELINES[1]}/statuses").json()
    assert sts["_total_items"] == 6 and sts["_embedded"]["statuses"][0]["pipeline_id"] == PIPELINES[1]
    st = amo_ro.get(f"/api/v4/leads/pipelines/{PIPELINES[1]}/statuses/142").json()
    assert st["name"] == "Успешно реализовано"
    assert amo_ro.get("/api/v4/leads/pipelines/999").status_code == 204


def test_loss_reasons_custom_fields_sources(amo_ro):
    lr = amo_ro.get("/api/v4/leads/loss_reasons").json()["_embedded"]["loss_reasons"]
    assert [x["name"] for x in lr] == ["Дорого", "Спам", "Дубль"]
    cf = amo_ro.get("/api/v4/leads/custom_fields").json()
    assert cf["_total_items"] == 3 and cf["_embedded"]["custom_fields"][0]["enums"][0]["value"] == "Avito"
    ccf = amo_ro.get("/api/v4/contacts/custom_fields").json()["_embedded"]["custom_fields"]
    assert [x["code"] for x in ccf] == ["PHONE"]
    assert amo_ro.get("/api/v4/companies/custom_fields").status_code == 204
    assert amo_ro.get("/api/v4/leads/custom_fields/503").json()["type"] == "numeric"
    src = amo_ro.get("/api/v4/sources").json()
    assert src["_total_items"] == 2 and src["_embedded"]["sources"][0]["default"] is True


def test_contacts_companies_users(amo_ro):
    contacts = amo_ro.all_pages("/api/v4/contacts", {"limit": 100, "with": "leads"})
    assert len(contacts) == 150 and contacts[1]["_embedded"]["leads"] == [
        {"id": lead_id(1), "_links": {"self": {"href": f"{amo_ro.url}/api/v4/leads/{lead_id(1)}"}}}]
    assert contacts[0]["custom_fields_values"][0]["values"][0]["enum"] == "WORK"
    assert len(amo_ro.all_pages("/api/v4/companies", {"limit": 7})) == 20
    users = amo_ro.get("/api/v4/users", {"with": "group,role"}).json()
    assert users["_total_items"] == 6
    u = users["_embedded"]["users"][0]
    assert u["rights"]["group_id"] == u["_embedded"]["groups"][0]["id"] == 2


def test_account_with(amo_ro):
    acc = amo_ro.get("/api/v4/account", {"with": "users_groups,task_types"}).json()
    assert acc["id"] == ACCOUNT_ID and acc["subdomain"] == "amo-test" and acc["currency"] == "RUB"
    assert [g["id"] for g in acc["_embedded"]["users_groups"]] == [0, 1, 2]
    assert [t["id"] for t in acc["_embedded"]["task_types"]] == [1, 2, 3]
    assert "_embedded" not in amo_ro.get("/api/v4/account").json()


def test_tasks_filters(amo_ro):
    done = amo_ro.all_pages("/api/v4/tasks", {"filter[is_completed]": 1, "limit": 250})
    assert len(done) == 40 and all(t["is_completed"] and t["result"]["text"] for t in done)
    assert len(amo_ro.all_pages("/api/v4/tasks", {"filter[is_completed]": 0, "limit": 250})) == 80
    contacts = amo_ro.all_pages("/api/v4/tasks", {"filter[entity_type]": "contacts", "limit": 250})
    assert len(contacts) == 12
    meetings = amo_ro.all_pages("/api/v4/tasks", {"filter[task_type][]": 2, "limit": 250})
    assert len(meetings) == 40 and {t["task_type_id"] for t in meetings} == {2}
    upd = amo_ro.all_pages("/api/v4/tasks", {"filter[updated_at][from]": T0 + 60 + 300 * 100, "limit": 250})
    assert len(upd) == 20


def test_events_shapes_order_and_filters(amo_ro):
    body = amo_ro.get("/api/v4/events", {"limit": 100}).json()
    assert "_total_items" not in body
    events = body["_embedded"]["events"]
    created = [e["created_at"] for e in events]
    assert created == sorted(created, reverse=True)  # newest first
    by_type = {e["type"]: e for e in amo_ro.all_pages("/api/v4/events", {"limit": 100})}
    assert set(by_type) == {"lead_added", "lead_status_changed", "entity_responsible_changed"}
    assert isinstance(by_type["lead_added"]["id"], str)
    assert set(by_type["lead_added"]["value_after"][0]) == {"note"}
    assert set(by_type["lead_status_changed"]["value_after"][0]["lead_status"]) == {"id", "pipeline_id"}
    assert by_type["entity_responsible_changed"]["value_after"] == [{"responsible_user": {"id": 102}}]
    # filter[type] as a comma list and as an array give the same
    a = amo_ro.all_pages("/api/v4/events", {"filter[type]": "lead_status_changed,entity_responsible_changed", "limit": 100})
    b = amo_ro.all_pages("/api/v4/events", [("filter[type][]", "lead_status_changed"),
                                            ("filter[type][]", "entity_responsible_changed"), ("limit", 100)])
    assert len(a) == len(b) == N_LEADS // 2 + N_LEADS // 5
    # entity + entity_id
    r = amo_ro.get("/api/v4/events", {"filter[entity]": "lead", "filter[entity_id]": f"{lead_id(10)},{lead_id(11)}"})
    assert {e["entity_id"] for e in r.json()["_embedded"]["events"]} == {lead_id(10), lead_id(11)}
    too_many = ",".join(str(lead_id(i)) for i in range(1, 12))
    r = amo_ro.get("/api/v4/events", {"filter[entity]": "lead", "filter[entity_id]": too_many})
    assert r.status_code == 400 and r.json()["validation-errors"][0]["errors"][0]["path"] == "filter.entity_id"
    assert amo_ro.get("/api/v4/events", {"filter[entity_id]": lead_id(10)}).status_code == 400
    # created_at: single value = since; from/to
    since = amo_ro.all_pages("/api/v4/events", {"filter[created_at]": T0 + 600 * 290, "limit": 100})
    assert since and min(e["created_at"] for e in since) >= T0 + 600 * 290
    window = amo_ro.all_pages("/api/v4/events", {"filter[created_at][from]": T0 + 600 * 10,
                                                 "filter[created_at][to]": T0 + 600 * 10 + 120, "limit": 100})
    assert [e["type"] for e in window] == ["entity_responsible_changed", "lead_status_changed", "lead_added"]
    # value_after status filter
    p = PIPELINES[0]
    moved = amo_ro.all_pages("/api/v4/events", {"filter[type]": "lead_status_changed",
                                                "filter[value_after][leads_statuses][0][pipeline_id]": p,
                                                "filter[value_after][leads_statuses][0][status_id]": 142, "limit": 100})
    assert moved and all(e["value_after"][0]["lead_status"] == {"id": 142, "pipeline_id": p} for e in moved)
    assert amo_ro.get("/api/v4/events", {"filter[type]": "no_such_type"}).status_code == 204


def test_catalogs_elements_and_links(amo_ro):
    cats = amo_ro.get("/api/v4/catalogs").json()
    assert {c["type"] for c in cats["_embedded"]["catalogs"]} == {"invoices", "regular"}
    els = amo_ro.all_pages(f"/api/v4/catalogs/{CATALOG_PAYMENTS}/elements", {"limit": 25}, key="elements")
    assert len(els) == 60 and els[0]["custom_fields_values"][0]["field_code"] == "PRICE"
    assert amo_ro.get(f"/api/v4/catalogs/{CATALOG_FLATS}/elements").status_code == 204
    assert amo_ro.get(f"/api/v4/catalogs/{CATALOG_PAYMENTS}/elements/70001").json()["name"] == "Платёж 1"
    cf = amo_ro.get(f"/api/v4/catalogs/{CATALOG_PAYMENTS}/custom_fields").json()["_embedded"]["custom_fields"]
    assert [f["id"] for f in cf] == [701, 702] and cf[0]["catalog_id"] == CATALOG_PAYMENTS
    assert amo_ro.get("/api/v4/catalogs/1/elements").status_code == 404
    links = amo_ro.get(f"/api/v4/leads/{lead_id(4)}/links").json()["_embedded"]["links"]
    assert {(x["to_entity_type"], x["to_entity_id"]) for x in links} == {
        ("contacts", 40_004), ("companies", 60_004), ("catalog_elements", 70_001)}


def test_mass_lead_links_and_with_catalog_elements_agree(amo_ro):
    """GET /api/v4/leads/links?filter[entity_id][]=.. (entity-links-api.md) and leads
    `with=catalog_elements` expose the same element→lead links; filter[entity_id] is required."""
    ids = [lead_id(i) for i in range(1, 40)]
    body = amo_ro.get("/api/v4/leads/links", [("filter[entity_id][]", i) for i in ids] + [("limit", 250)]).json()
    links = body["_embedded"]["links"]
    assert body["_total_items"] == len(links) and "next" not in body["_links"]
    assert {x["entity_type"] for x in links} == {"leads"} and {x["entity_id"] for x in links} <= set(ids)
    assert {(x["entity_id"], x["to_entity_type"], x["to_entity_id"]) for x in links} >= {
        (lead_id(4), "contacts", 40_004), (lead_id(4), "companies", 60_004), (lead_id(4), "catalog_elements", 70_001)}
    by_links = {(x["entity_id"], x["to_entity_id"], x["metadata"]["catalog_id"]) for x in links
                if x["to_entity_type"] == "catalog_elements"}
    leads = amo_ro.get("/api/v4/leads", [("filter[id][]", i) for i in ids] + [
        ("with", "catalog_elements"), ("limit", 250)]).json()["_embedded"]["leads"]
    by_with = {(lead["id"], e["id"], e["metadata"]["catalog_id"]) for lead in leads
               for e in lead["_embedded"]["catalog_elements"]}
    assert by_links == by_with and by_links
    only = amo_ro.get("/api/v4/leads/links", [("filter[entity_id][]", i) for i in ids] + [
        ("filter[to_entity_type]", "catalog_elements")]).json()["_embedded"]["links"]
    assert {x["to_entity_type"] for x in only} == {"catalog_elements"}
    page1 = amo_ro.get("/api/v4/leads/links", [("filter[entity_id][]", i) for i in ids] + [("limit", 5)]).json()
    assert len(page1["_embedded"]["links"]) == 5 and "next" in page1["_links"]
    bad = amo_ro.get("/api/v4/leads/links")
    assert bad.status_code == 400 and bad.json()["validation-errors"][0]["errors"][0]["path"] == "filter.entity_id"
    assert amo_ro.get("/api/v4/leads/links", {"filter[entity_id][]": 999}).status_code == 204


def test_links_honour_base_url_option(make_amo):
    amo = make_amo(options={"base_url": "https://amo-test.amocrm.ru"})
    nxt = amo.get("/api/v4/leads", {"limit": 10}).json()["_links"]["next"]["href"]
    parts = urlsplit(nxt)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "amo-test.amocrm.ru", "/api/v4/leads")
