"""batch: shape, halt, references, limits."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import requests

from .conftest import N_LEADS


def test_batch_shape_and_references(portal):
    body = portal.ok("batch", {"halt": 0, "cmd": {
        "page": "crm.lead.list?order[ID]=ASC&select[]=ID&select[]=ASSIGNED_BY_ID",
        "last": "crm.lead.get?id=$result[page][49][ID]",
        "user": "user.get?ID=$result[last][ASSIGNED_BY_ID]",
        "dept": "department.get?ID=$result[user][0][UF_DEPARTMENT][0]",
    }})
    res = body["result"]
    assert set(res) == {"result", "result_error", "result_total", "result_next", "result_time"}
    assert res["result"]["last"]["ID"] == "50"
    assert res["result"]["user"][0]["ID"] == "1"  # lead 50 is assigned to user 1 + 50 % 10
    assert res["result"]["dept"][0]["ID"] == "2"  # user 1 is in department 1 + 1 % 4
    assert res["result_error"] == []  # empty sections are PHP empty arrays
    assert res["result_total"] == {"page": N_LEADS, "user": 1, "dept": 1}
    assert res["result_next"] == {"page": 50}
    assert set(res["result_time"]) == {"page", "last", "user", "dept"}
    assert body["time"]["operating"] == 0  # the outer batch is not charged


def test_batch_keyset_chain_like_b24pysdk(portal):
    cmd = {"1": "crm.lead.list?order[ID]=ASC&start=-1&filter[%3EID]=0"}
    for i in range(2, 9):
        cmd[str(i)] = f"crm.lead.list?order[ID]=ASC&start=-1&filter[%3EID]={quote(f'$result[{i - 1}][49][ID]')}"
    res = portal.ok("batch", {"halt": 1, "cmd": cmd})["result"]
    got = [int(r["ID"]) for k in map(str, range(1, 9)) for r in res["result"][k]]
    assert got == list(range(1, N_LEADS + 1))  # the chain past the end resolves to nothing
    assert res["result_total"] == {str(i): 0 for i in range(1, 9)}


def test_batch_list_cmd_gives_list_results(portal):
    res = portal.ok("batch", {"cmd": ["crm.deal.get?id=1", "crm.deal.get?id=2"]})["result"]
    assert isinstance(res["result"], list) and [d["ID"] for d in res["result"]] == ["1", "2"]


def test_batch_errors_and_halt(portal):
    cmd = {"a": "crm.deal.get?id=1", "b": "crm.deal.get?id=999999", "c": "nosuch.method", "d": "crm.deal.get?id=2"}
    res = portal.ok("batch", {"halt": 0, "cmd": cmd})["result"]
    assert set(res["result"]) == {"a", "d"}
    assert res["result_error"]["b"] == {"error": "", "error_description": "Not found"}
    assert res["result_error"]["c"]["error"] == "ERROR_METHOD_NOT_FOUND"
    halted = portal.ok("batch", {"halt": 1, "cmd": cmd})["result"]
    assert set(halted["result"]) == {"a"} and set(halted["result_error"]) == {"b"}


def test_batch_nested_batch_not_allowed(portal):
    res = portal.ok("batch", {"cmd": {"x": "batch?cmd[y]=crm.lead.list"}})["result"]
    assert res["result_error"]["x"]["error"] == "ERROR_BATCH_METHOD_NOT_ALLOWED"


def test_batch_length_exceeded_per_command(portal):
    cmd = {f"c{i}": f"crm.deal.get?id={i + 1}" for i in range(52)}
    res = portal.ok("batch", {"cmd": cmd})["result"]
    assert len(res["result"]) == 50
    assert res["result_error"] == {"c50": {"error": "ERROR_BATCH_LENGTH_EXCEEDED",
                                           "error_description": "Max batch length exceeded"},
                                   "c51": {"error": "ERROR_BATCH_LENGTH_EXCEEDED",
                                           "error_description": "Max batch length exceeded"}}


def test_batch_length_exceeded_reject_option(make_portal):
    portal = make_portal(options={"batch_overflow": "reject"})
    r = portal.call("batch", {"cmd": {f"c{i}": "server.time" for i in range(51)}})
    assert r.status_code == 400 and r.json()["error"] == "ERROR_BATCH_LENGTH_EXCEEDED"


def test_batch_in_url_double_encoded(portal):
    inner = "crm.lead.list?" + urlencode({"filter[>ID]": "318", "select[]": "ID"})
    r = requests.get(f"{portal.webhook}batch?" + urlencode({"halt": "0", "cmd[q]": inner}), timeout=10)
    assert [x["ID"] for x in r.json()["result"]["result"]["q"]] == ["319", "320"]
    form = requests.post(f"{portal.webhook}batch", data={"cmd[q]": inner}, timeout=10)
    assert form.json()["result"]["result"]["q"] == r.json()["result"]["result"]["q"]
