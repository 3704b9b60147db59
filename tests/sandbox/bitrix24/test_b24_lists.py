"""List semantics: paging, filters, order, select, value rendering, every served method."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
import requests

from sandbox.bitrix24.params import parse_php_query, split_php_key

from .conftest import N_DEALS, N_LEADS


def ids(body) -> list[int]:
    res = body["result"]
    items = res["items"] if isinstance(res, dict) else res
    return [int(r.get("ID", r.get("id"))) for r in items]


# ------------------------------------------------------------------ request encodings

def test_php_bracket_parsing():
    assert split_php_key("filter[>DATE_MODIFY]") == ["filter", ">DATE_MODIFY"]
    assert split_php_key("select[]") == ["select", ""]
    parsed = parse_php_query("select[]=ID&select[]=TITLE&order[ID]=DESC&fields[PHONE][0][VALUE]=%2B7900"
                             "&filter%5B%3E%3DID%5D=5&cmd[a]=crm.lead.list%3Fstart%3D50")
    assert parsed == {"select": ["ID", "TITLE"], "order": {"ID": "DESC"},
                      "fields": {"PHONE": [{"VALUE": "+7900"}]}, "filter": {">=ID": "5"},
                      "cmd": {"a": "crm.lead.list?start=50"}}


@pytest.mark.parametrize("how", ["json", "get", "form"])
def test_encodings_give_the_same_answer(portal, how):
    if how == "json":
        params = {"filter": {">ID": 100, "<=ID": 110}, "order": {"ID": "DESC"}, "select": ["ID", "TITLE"]}
    else:
        params = {"filter[>ID]": "100", "filter[<=ID]": "110", "order[ID]": "DESC", "select[]": ["ID", "TITLE"]}
    body = portal.ok("crm.lead.list", params, how=how)
    assert ids(body) == list(range(110, 100, -1))
    assert set(body["result"][0]) == {"ID", "TITLE"}


def test_url_encoded_gt_filter_key_in_query_string(portal):
    r = requests.get(f"{portal.webhook}crm.lead.list?filter%5B%3EDATE_MODIFY%5D="
                     f"{quote('2026-01-23T00:00:00+03:00')}&select%5B%5D=ID", timeout=10)
    body = r.json()
    assert body["total"] > 0
    full = portal.ok("crm.lead.list", {"filter": {">DATE_MODIFY": "2026-01-23T00:00:00+03:00"}})
    assert body["total"] == full["total"]


# ------------------------------------------------------------------ paging

def test_paging_next_total_and_last_page(portal):
    first = portal.ok("crm.lead.list", {"order": {"ID": "ASC"}})
    assert first["total"] == N_LEADS and first["next"] == 50 and len(first["result"]) == 50
    seen = ids(first)
    start = first["next"]
    while True:
        page = portal.ok("crm.lead.list", {"order": {"ID": "ASC"}, "start": start})
        seen += ids(page)
        if "next" not in page:
            break
        assert page["next"] == start + 50
        start = page["next"]
    assert seen == list(range(1, N_LEADS + 1))
    assert len(page["result"]) == N_LEADS % 50


def test_fast_path_start_minus_one(portal):
    page = portal.ok("crm.lead.list", {"order": {"ID": "ASC"}, "filter": {">ID": 300}, "start": -1})
    assert page["total"] == 0 and "next" not in page
    assert ids(page) == list(range(301, 321))
    counted = portal.ok("crm.lead.list", {"order": {"ID": "ASC"}, "filter": {">ID": 300}})
    assert counted["time"]["operating"] > page["time"]["operating"]


def test_time_block_on_every_answer(portal):
    t = portal.ok("crm.deal.get", {"id": 1})["time"]
    assert set(t) == {"start", "finish", "duration", "processing", "date_start", "date_finish",
                      "operating_reset_at", "operating"}
    assert t["finish"] >= t["start"] and isinstance(t["operating_reset_at"], int)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+03:00", t["date_start"])


# ------------------------------------------------------------------ filters

@pytest.mark.parametrize("filt,expected", [
    ({"ID": 5}, [5]),
    ({"=ID": "5"}, [5]),
    ({">ID": 317}, [318, 319, 320]),
    ({">=ID": 318}, [318, 319, 320]),
    ({"<ID": 3}, [1, 2]),
    ({"<=ID": 2}, [1, 2]),
    ({"@ID": [7, 9, 11]}, [7, 9, 11]),
    ({"@ID": "7,9"}, [7, 9]),
    ({"ID": [4, 6]}, [4, 6]),
    ({"!@ID": list(range(3, 321))}, [1, 2]),
    ({"!ID": 1, "<ID": 4}, [2, 3]),
    ({"!=ID": 1, "<ID": 4}, [2, 3]),
    ({"%TITLE": "TEST"}, [50, 100, 150, 200, 250, 300]),
    ({"=%TITLE": "Lead 31%"}, [31] + list(range(310, 320))),
    ({"%=TITLE": "Lead 3_"}, list(range(30, 40))),
    ({"!%TITLE": "lead"}, []),
    ({"!=%TITLE": "Lead %", "<ID": 3}, []),
    ({"!%=TITLE": "Lead 1%", "<ID": 12}, list(range(2, 10))),
    ({"STATUS_ID": "JUNK", "<ID": 20}, [3, 8, 13, 18]),
    ({"OPENED": "Y", "<ID": 7}, [2, 4, 6]),
    ({"OPENED": "N", "<ID": 7}, [1, 3, 5]),
    ({"UF_CRM_CHANNEL": "cian", "<ID": 8}, [1, 4, 7]),
    ({"UF_CRM_1700000000": "", "<ID": 6}, [1, 3, 5]),
    ({"!UF_CRM_1700000000": "", "<ID": 6}, [2, 4]),
    ({"PHONE": "+79000000007"}, [7]),
    ({"%EMAIL": "lead9@"}, [9]),
    ({">=OPPORTUNITY": 319000, "<OPPORTUNITY": 320000.6}, [319, 320]),
    ({">DATE_CREATE": "2026-01-23T14:00:00+03:00", "<=DATE_CREATE": "2026-01-23T16:00:00+03:00"}, [315, 316]),
    ({">DATE_CREATE": "2026-01-23T11:00:00Z", "<=DATE_CREATE": "2026-01-23 16:00:00"}, [315, 316]),
    ({"NOSUCHFIELD": 1, "<ID": 3}, [1, 2]),
])
def test_filter_prefixes(portal, filt, expected):
    body = portal.ok("crm.lead.list", {"filter": filt, "order": {"ID": "ASC"}})
    assert ids(body) == expected[:50]
    assert body["total"] == len(expected)


def test_logic_or_in_item_list(portal):
    body = portal.ok("crm.item.list", {"entityTypeId": 1, "filter": {
        "logic": "OR", "0": {"=id": 3}, "1": {">id": 318}}, "select": ["id"]})
    assert ids(body) == [3, 319, 320]


# ------------------------------------------------------------------ order and select

def test_order_on_any_column_with_id_tiebreak(portal):
    body = portal.ok("crm.deal.list", {"order": {"UF_CRM_AREA": "DESC"}, "select": ["ID", "UF_CRM_AREA"]})
    assert ids(body)[:3] == [130, 129, 128]
    body = portal.ok("crm.lead.list", {"order": {"STATUS_ID": "ASC"}, "select": ["ID", "STATUS_ID"],
                                       "filter": {"<ID": 11}})
    assert [r["STATUS_ID"] for r in body["result"]] == sorted(r["STATUS_ID"] for r in body["result"])
    assert ids(body)[:2] == [4, 9]  # CONVERTED rows in ID order


def test_select_rules(portal):
    default = portal.ok("crm.lead.get" if False else "crm.lead.list", {"filter": {"ID": 3}})["result"][0]
    assert "TITLE" in default and "PHONE" not in default and "UF_CRM_CHANNEL" not in default
    star = portal.ok("crm.lead.list", {"filter": {"ID": 3}, "select": ["*", "UF_*"]})["result"][0]
    assert "UF_CRM_CHANNEL" in star and "PHONE" not in star and "EMAIL" not in star
    explicit = portal.ok("crm.lead.list", {"filter": {"ID": 3}, "select": ["TITLE", "PHONE", "EMAIL"]})["result"][0]
    assert set(explicit) == {"ID", "TITLE", "PHONE", "EMAIL"}
    assert explicit["PHONE"][0] == {"ID": "10003", "VALUE_TYPE": "WORK", "VALUE": "+79000000003", "TYPE_ID": "PHONE"}
    # a lead without phones has no PHONE key even when it is selected
    assert "PHONE" not in portal.ok("crm.lead.list", {"filter": {"ID": 5}, "select": ["PHONE"]})["result"][0]


def test_old_style_values_are_strings(portal):
    lead = portal.ok("crm.lead.get", {"id": 2})["result"]
    assert lead["ID"] == "2" and lead["ASSIGNED_BY_ID"] == "3" and lead["OPPORTUNITY"] == "2000.50"
    assert lead["OPENED"] == "Y" and lead["IS_RETURN_CUSTOMER"] == "N"
    assert lead["DATE_CREATE"] == "2026-01-10T14:00:00+03:00"
    assert lead["UF_CRM_1700000000"] == "code-2" and lead["PHONE"][0]["VALUE"] == "+79000000002"
    deal = portal.ok("crm.deal.get", {"ID": "10"})["result"]
    assert deal["CATEGORY_ID"] == "0" and deal["STAGE_ID"] == "NEW" and deal["IS_NEW"] == "Y"


def test_get_errors_and_unknown_method(portal):
    r = portal.call("crm.lead.get", {"id": 99999})
    assert (r.status_code, r.json()) == (400, {"error": "", "error_description": "Not found"})
    r = portal.call("crm.lead.get", {})
    assert r.status_code == 400 and r.json()["error_description"] == "ID is not defined or invalid."
    r = portal.call("crm.lead.nosuch", {})
    assert (r.status_code, r.json()) == (404, {"error": "ERROR_METHOD_NOT_FOUND",
                                               "error_description": "Method not found!"})


# ------------------------------------------------------------------ crm.item.*

def test_item_list_camel_case_typed(portal):
    body = portal.ok("crm.item.list", {"entityTypeId": 2, "filter": {"@stageId": ["WON", "C1:WON"]},
                                       "order": {"id": "ASC"}})
    item = body["result"]["items"][0]
    assert body["total"] == len([i for i in range(1, N_DEALS + 1)
                                 if (i % 2 == 0 and i % 5 == 3) or (i % 2 == 1 and i % 3 == 1)])
    assert item["id"] == 1 and item["categoryId"] == 1 and item["opportunity"] == 5_001_000
    assert item["createdTime"] == "2026-01-10T14:00:00+03:00" and item["assignedById"] == 2
    assert item["ufCrmPaymentForm"] == "installment" and item["ufCrmArea"] == 31
    orig = portal.ok("crm.item.list", {"entityTypeId": 2, "useOriginalUfNames": "Y", "select": ["id", "UF_CRM_AREA"],
                                       "filter": {"id": 1}})["result"]["items"][0]
    assert orig == {"id": 1, "UF_CRM_AREA": 31}


def test_item_list_lead_fm_and_uf_digits(portal):
    item = portal.ok("crm.item.list", {"entityTypeId": 1, "filter": {"id": 2}})["result"]["items"][0]
    assert item["ufCrm_1700000000"] == "code-2"
    assert item["fm"] == [{"id": 10002, "typeId": "PHONE", "valueType": "WORK", "value": "+79000000002"}]
    slim = portal.ok("crm.item.list", {"entityTypeId": 1, "filter": {"id": 2}, "select": ["id", "title"]})
    assert slim["result"]["items"][0] == {"id": 2, "title": "Lead 2"}


@pytest.mark.parametrize("etid,total", [(1, 320), (2, 130), (3, 60), (4, 10), (31, 40)])
def test_item_list_entity_types(portal, etid, total):
    body = portal.ok("crm.item.list", {"entityTypeId": etid, "select": ["id"]})
    assert body["total"] == total and len(body["result"]["items"]) == min(50, total)
    one = portal.ok("crm.item.get", {"entityTypeId": etid, "id": 1})["result"]["item"]
    assert one["id"] == 1


def test_item_list_requires_entity_type(portal):
    r = portal.call("crm.item.list", {})
    assert r.status_code == 400 and "entityTypeId" in r.json()["error_description"]


# ------------------------------------------------------------------ other methods

def test_contact_company_activity(portal):
    assert portal.ok("crm.contact.list")["total"] == 60
    assert portal.ok("crm.company.list")["total"] == 10
    assert portal.ok("crm.contact.get", {"id": 4})["result"]["PHONE"][0]["VALUE_TYPE"] == "MOBILE"
    acts = portal.ok("crm.activity.list", {"filter": {"TYPE_ID": 2}})
    assert acts["total"] == 70 and acts["result"][0]["PROVIDER_ID"] == "VOXIMPLANT_CALL"
    starts = [a["START_TIME"] for a in acts["result"]]
    assert starts == sorted(starts)  # default order START_TIME


def test_stagehistory_ints(portal):
    deals = portal.ok("crm.stagehistory.list", {"entityTypeId": 2, "order": {"ID": "ASC"}})
    assert deals["total"] == N_DEALS
    first = deals["result"]["items"][0]
    assert first == {"ID": 321, "TYPE_ID": 1, "OWNER_ID": 1, "CREATED_TIME": "2026-01-10T14:00:00+03:00",
                     "CATEGORY_ID": 1, "STAGE_ID": "C1:NEW", "STAGE_SEMANTIC_ID": "P"}
    leads = portal.ok("crm.stagehistory.list", {"entityTypeId": 1, "filter": {">=OWNER_ID": 319}})
    assert [i["OWNER_ID"] for i in leads["result"]["items"]] == [319, 320]
    assert set(leads["result"]["items"][0]) == {"ID", "TYPE_ID", "OWNER_ID", "CREATED_TIME", "STATUS_ID",
                                                 "STATUS_SEMANTIC_ID"}


def test_status_category_user_department(portal):
    st = portal.ok("crm.status.list", {"filter": {"ENTITY_ID": "DEAL_STAGE"}})
    assert [s["STATUS_ID"] for s in st["result"]] == ["NEW", "PREPARATION", "EXECUTING", "WON", "LOSE"]
    won = st["result"][3]
    assert won["SORT"] == "40" and won["SYSTEM"] == "Y" and won["SEMANTICS"] == "S"
    assert won["EXTRA"]["SEMANTICS"] == "success"
    cats = portal.ok("crm.category.list", {"entityTypeId": 2})["result"]["categories"]
    assert cats == [{"id": 0, "entityTypeId": 2, "name": "General", "sort": 100, "isDefault": "Y"},
                    {"id": 1, "entityTypeId": 2, "name": "Resale", "sort": 200, "isDefault": "N"}]
    users = portal.ok("user.get")
    assert users["total"] == 11  # the bot is not listed
    u = users["result"][0]
    assert u["ID"] == "1" and u["ACTIVE"] is True and u["UF_DEPARTMENT"] == [2]
    assert portal.ok("user.get", {"FILTER": {"ACTIVE": "N"}})["total"] == 1
    assert portal.ok("user.get", {"ID": 3})["result"][0]["NAME"] == "Name3"
    deps = portal.ok("department.get")["result"]
    assert deps[1] == {"ID": "2", "NAME": "Sales Moscow", "SORT": 500, "PARENT": "1", "UF_HEAD": "2"}
    assert [d["ID"] for d in portal.ok("department.get", {"PARENT": 1})["result"]] == ["2", "3", "4"]


def test_userfields_and_fields(portal):
    uf = portal.ok("crm.deal.userfield.list")
    assert [u["FIELD_NAME"] for u in uf["result"]] == ["UF_CRM_PAYMENT_FORM", "UF_CRM_AREA"]
    assert uf["result"][0]["MANDATORY"] == "Y" and uf["result"][0]["LIST"][0]["VALUE"] == "mortgage"
    lead_uf = portal.ok("crm.lead.userfield.list", {"filter": {"LANG": "en"}})
    assert lead_uf["result"][0]["EDIT_FORM_LABEL"] == "Channel"
    fields = portal.ok("crm.lead.fields")["result"]
    assert fields["STATUS_ID"]["type"] == "crm_status" and fields["STATUS_ID"]["statusType"] == "STATUS"
    assert fields["PHONE"]["isMultiple"] is True and fields["UF_CRM_CHANNEL"]["isDynamic"] is True
    assert fields["ID"]["isReadOnly"] is True
    assert portal.ok("crm.deal.fields")["result"]["UF_CRM_PAYMENT_FORM"]["type"] == "enumeration"


def test_contact_company_userfields_and_activity_fields(portal):
    # Real portals have these methods even when nothing is defined: an empty list, not an error.
    for method in ("crm.contact.userfield.list", "crm.company.userfield.list"):
        body = portal.ok(method)
        assert body["result"] == [] and body["total"] == 0
    fields = portal.ok("crm.activity.fields")["result"]
    assert fields["ID"]["isReadOnly"] is True and fields["RESPONSIBLE_ID"]["type"] == "user"
    assert fields["START_TIME"]["type"] == "datetime" and fields["COMPLETED"]["type"] == "char"


def test_products_and_product_rows(portal):
    assert portal.ok("crm.product.list")["total"] == 20
    rows = portal.ok("crm.deal.productrows.get", {"id": 3})["result"]
    assert [r["PRODUCT_NAME"] for r in rows] == ["Apartment 4", "Apartment 5"]
    assert rows[0]["PRICE"] == 5_003_000 and rows[0]["OWNER_ID"] == "3"
    assert portal.ok("crm.deal.productrows.get", {"id": 100})["result"] == []
    pr = portal.ok("crm.item.productrow.list", {"filter": {"=ownerType": "D", "=ownerId": 3}})
    assert pr["total"] == 2 and pr["result"]["productRows"][0]["productName"] == "Apartment 4"
    r = portal.call("crm.item.productrow.list", {"filter": {"=ownerId": 3}})
    assert r.status_code == 400


def test_payments(portal):
    pays = portal.ok("crm.item.payment.list", {"entityId": 2, "entityTypeId": 2})["result"]
    assert [p["id"] for p in pays] == [1, 21, 41, 61]
    assert pays[0]["paid"] == "Y" and pays[0]["sum"] == 250010 and pays[0]["accountNumber"] == "1001/1"
    r = portal.call("crm.item.payment.list", {"entityTypeId": 2})
    assert r.status_code == 400 and "entityId" in r.json()["error_description"]
    sale = portal.ok("sale.payment.list", {"filter": {"paid": "Y"}, "order": {"id": "DESC"}})
    assert sale["total"] == 54 and sale["result"]["payments"][0]["id"] == 80


def test_sale_payment_list_is_admin_only(make_portal):
    acc = {"system": "bitrix24", "account": "b24-test", "file": "bitrix24_b24-test.duckdb",
           "credentials": {"webhook_user_id": 5, "webhook_code": "abc"}}
    portal = make_portal(account=acc)
    r = portal.call("sale.payment.list")
    assert r.status_code == 403 and r.json()["error"] == "ACCESS_DENIED"
    assert portal.call("crm.deal.list").status_code == 200
