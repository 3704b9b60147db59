"""The bad-input corpus: malformed records the emulators splice into real list pages
(FaultConfig.corrupt_records). Each record carries a tag (`CORPUS_TAG` / `corpus_tag`, or the tag
inside a string) so a test can find it afterwards: landed, or in quality.quarantine_records.
`{"__raw__": text}` records are written into the HTTP body verbatim."""

from __future__ import annotations

B = 9_000_000  # Bitrix24 corpus ids: far above the generated ones, so nothing real is overwritten
A = 8_000_000  # amoCRM corpus ids

SQL_NAMES = ["UF_CRM_X'; DROP TABLE raw_bitrix24.leads; --", 'UF_CRM_"quoted"', "UF_CRM_a\"b'c`d",
             "UF_CRM_Robert'); DELETE FROM meta.extract_cursors; --", "UF_CRM_$1 ? %s {0}"]


def _nested(depth: int) -> list:
    v: list = [1]
    for _ in range(depth):
        v = [v]
    return v


def _b(n: int, **fields) -> dict:
    return {"ID": str(B + n), "TITLE": f"corpus lead {n}", "DATE_MODIFY": "2026-10-01T10:00:00+03:00",
            "CORPUS_TAG": f"corpus-b{n}", **fields}


def bitrix24_leads() -> list:
    r = []
    # wrong types and missing keys
    r += [_b(1, ID=B + 1.5), _b(2, ID=[B + 2]), _b(3, ID={"v": B + 3}), _b(4, ID=True), _b(5, ID="12abc"),
          _b(6, ID=""), _b(7, ID=None), {k: v for k, v in _b(8).items() if k != "ID"}, _b(9, ID=" 9000009 "),
          _b(10, ID="+9000010"), _b(11, ID="99999999999999999999"), _b(13, ID=9000013),
          _b(14, DATE_MODIFY=1790000000), _b(15, DATE_MODIFY=["2026-10-01"]), _b(16, DATE_MODIFY=None),
          {k: v for k, v in _b(17).items() if k != "DATE_MODIFY"}, _b(18, DATE_MODIFY={"t": 1}),
          _b(19, DATE_MODIFY=True), _b(20, ID="٩٠٠٠٠٢٠")]
    # impossible dates
    r += [_b(21, DATE_MODIFY="2026-02-31T10:00:00+03:00"), _b(22, DATE_MODIFY="31.02.2026 25:61"),
          _b(23, DATE_MODIFY="0000-00-00 00:00:00"), _b(24, DATE_MODIFY="9999-12-31T23:59:59+03:00"),
          _b(25, DATE_MODIFY="2026-11-01T10:00:00"), _b(26, DATE_MODIFY="10000-01-01T00:00:00+00:00"),
          _b(27, DATE_MODIFY=1e20), _b(28, DATE_MODIFY=-1e12), _b(29, DATE_MODIFY="yesterday")]
    # nulls, huge strings, control characters, emoji, odd unicode
    r += [{"ID": str(B + 30), "CORPUS_TAG": "corpus-b30", "TITLE": None, "STATUS_ID": None, "OPPORTUNITY": None,
           "DATE_MODIFY": None, "PHONE": None},
          _b(31, TITLE="x" * 300_000), _b(32, TITLE="nul\x00 bell\x07 esc\x1b del\x7f"),
          _b(33, TITLE="🏠🔑 квартира 👨‍👩‍👧 \u200b\u202e RTL"), _b(34, TITLE="e\u0301\u0301\u0301 combining"),
          _b(35, COMMENTS="<script>alert(1)</script>\r\n\t"), _b(36, PHONE=[{"VALUE": str(i)} for i in range(5000)]),
          _b(37, NESTED=_nested(200)),
          {"__raw__": f'{{"ID":"{B + 38}","TITLE":"lone \\ud800 surrogate","DATE_MODIFY":"2026-10-01T10:00:00+03:00",'
                      f'"CORPUS_TAG":"corpus-b38"}}'}]
    # amounts and enums
    r += [_b(39, OPPORTUNITY="-1500.00"), _b(40, OPPORTUNITY="1e400"), _b(41, OPPORTUNITY="12,5"),
          {"__raw__": f'{{"ID":"{B + 42}","OPPORTUNITY":1e400,"CORPUS_TAG":"corpus-b42",'
                      f'"DATE_MODIFY":"2026-10-01T10:00:00+03:00"}}'},
          {"__raw__": f'{{"ID":"{B + 43}","OPPORTUNITY":123456789012345678901234567890,"CORPUS_TAG":"corpus-b43",'
                      f'"DATE_MODIFY":"2026-10-01T10:00:00+03:00"}}'},
          {"__raw__": f'{{"ID":"{B + 44}","OPPORTUNITY":NaN,"CORPUS_TAG":"corpus-b44",'
                      f'"DATE_MODIFY":"2026-10-01T10:00:00+03:00"}}'},
          _b(45, STATUS_ID="NOT_A_STATUS", SOURCE_ID="💥", CURRENCY_ID="XXX", ASSIGNED_BY_ID="-1")]
    # duplicate keys, duplicate records
    r += [{"__raw__": f'{{"ID":"{B + 46}","ID":"{B + 47}","CORPUS_TAG":"corpus-b46",'
                      f'"DATE_MODIFY":"2026-10-01T10:00:00+03:00","DATE_MODIFY":"2026-10-02T10:00:00+03:00"}}'},
          _b(48, TITLE="first copy"), _b(48, TITLE="second copy")]
    # custom-field names with quotes or SQL
    r += [_b(49 + i, **{name: f"v{i}'); --"}) for i, name in enumerate(SQL_NAMES)]
    # not an object at all
    r += ["corpus-b60 a bare string", 42, None, [1, 2, 3], True]
    return r


def _a(n: int, **fields) -> dict:
    return {"id": A + n, "name": f"corpus lead {n}", "updated_at": 1790000000, "created_at": 1780000000,
            "corpus_tag": f"corpus-a{n}", "custom_fields_values": None, **fields}


def amocrm_leads() -> list:
    return [
        _a(1, id=str(A + 1)), _a(2, id=None), _a(3, id="abc"), _a(4, id=[A + 4]), _a(5, id=1.5e7),
        {k: v for k, v in _a(6).items() if k != "id"}, _a(7, id=10 ** 25), _a(8, id=True),
        _a(9, updated_at="yesterday"), _a(10, updated_at=None), _a(11, updated_at=10 ** 12),
        _a(12, updated_at={"t": 1}), _a(13, updated_at="2026-02-31"),
        _a(14, name="🏠🔑 \x00\x1b\u202e"), _a(15, name="y" * 200_000), _a(16, price=-100),
        _a(17, price=10 ** 30), _a(18, price="free"), _a(19, status_id=999999999, pipeline_id=-1),
        _a(20, is_deleted="yes"),
        _a(21, custom_fields_values=[{"field_id": 1, "field_name": n, "field_code": n, "field_type": "text",
                                      "values": [{"value": "x'); DROP TABLE raw_amocrm.leads; --"}]}
                                     for n in ["x'); DROP TABLE raw_amocrm.leads; --", 'a"b', "c`d", "$1"]]),
        _a(22, custom_fields_values="not a list"), _a(23, _embedded=[1, 2]),
        {"__raw__": f'{{"id":{A + 24},"id":{A + 25},"corpus_tag":"corpus-a24","updated_at":1790000000}}'},
        {"__raw__": f'{{"id":{A + 26},"price":NaN,"corpus_tag":"corpus-a26","updated_at":1790000000}}'},
        "corpus-a27 a bare string", None, 7,
    ]


def amocrm_custom_fields() -> list:
    return [{"id": A + 90, "name": "x\"); DROP TABLE raw_amocrm.custom_fields; --", "type": "text",
             "code": "'; DELETE FROM meta.extract_cursors; --", "corpus_tag": "corpus-a90"}]
