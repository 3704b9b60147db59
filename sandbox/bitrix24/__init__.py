"""Bitrix24 REST emulator: one portal served over HTTP from its DuckDB state file.

Written from /work/shared/crm-api.md (section BITRIX24 REST) and the docs it cites, so that a
client written only from the public docs — fast_bitrix24 and the official b24pysdk are tested
unchanged against it (tests/sandbox/bitrix24/test_third_party.py) — works against it.

Construct: ``Bitrix24App(data_dir, account, limits=True, options=None)`` where `account` is the
manifest entry (`file`, `plan`, `portal_offset`, `credentials`), then serve it with
``sandbox.common.http.start(app)``. Modules: `params` (PHP bracket arrays, JSON/form/multipart
bodies), `lists` (filter/order/select → SQL, value rendering), `methods` (the REST methods and the
cost model), `auth` (webhooks, OAuth tokens), `app` (routing, limits, batch, faults, admin).

What is emulated, with the doc references ([B24DOCS] = bitrix24/b24restdocs):

- **Auth** ([B24DOCS] `local-integrations/local-webhooks.md`, `settings/oauth/index.md`): webhook
  URLs `/rest/{USER_ID}/{CODE}/{method}[.json]`; OAuth `/rest/{method}` with `auth=`; a token
  endpoint at `/oauth/token/` on the same server (refresh_token and authorization_code grants).
  Errors: 401 NO_AUTH_FOUND, 401 expired_token, 401 invalid_token; token endpoint invalid_grant
  (400), invalid_client (401), invalid_request (400). Credential conventions: `auth.derive_credentials`.
- **Encodings** ([B24DOCS] `general-principles.md`, `data-encoding.md`): GET query, POST JSON,
  form-urlencoded and multipart, PHP brackets at any depth, query and body merged.
- **Methods**: crm.lead|deal|contact|company.list/get/fields, crm.item.list/get (entityTypeId 1,
  2, 3, 4, 31; `useOriginalUfNames`), crm.activity.list, crm.stagehistory.list, crm.status.list,
  crm.category.list, user.get, department.get, crm.lead|deal.userfield.list, crm.product.list,
  crm.deal.productrows.get, crm.item.productrow.list, crm.item.payment.list, sale.payment.list
  (admin only), server.time, profile, batch. Unknown → 404 ERROR_METHOD_NOT_FOUND.
- **Lists** ([B24DOCS] `crm-lead-list.md`, `list-methods-pecularities.md`, `performance/huge-data.md`):
  50 per page, `start`/`next`/`total`, `start=-1` fast path (no count, `total: 0`, no `next`),
  all filter prefixes, `order` on any column (ID appended as tie-breaker), `select` with `*`,
  `UF_*`, multifields only when listed. Old-style values are strings, crm.item values typed.
- **Batch** ([B24DOCS] `batch.md`, and the rest module's CRestProvider::methodsBatch): ≤ 50
  commands, `halt`, `$result[cmd][N][FIELD]` references, result/result_error/result_total/
  result_next/result_time, PHP-style arrays (keys 0..n-1 → JSON lists, empty → []).
- **Limits** ([B24DOCS] `limits.md`): leaky bucket per portal (enterprise 5/s burst 250, others
  2/s burst 50) → 503 QUERY_LIMIT_EXCEEDED; a batch is one request. Per-method operating-time
  budget (480 s per 10 one-minute baskets) → 429 OPERATION_TIME_LIMIT while other methods work.
  Each call's modelled cost is reported as `time.operating` (see `methods.CostModel`); nested batch
  commands are charged to their own methods, the outer batch is not.
- **Faults** (sandbox.common.faults): query_limit, operation_limit, expired_token, internal_error,
  html_error; `expire_tokens_after`; `mutate_between_pages`; `corrupt_records` (keyed by method,
  e.g. `crm.lead.list`); `hold_response`.
- **Admin** (`/_sandbox/<action>`): expire-tokens, operating, reset-limits; `stats()` adds bucket
  level, budget per method and counters.

`options` (see `app.DEFAULT_OPTIONS`) may be flat (unknown keys ignored, since `serve_all` hands the
same dict to every emulator) or namespaced as `{"bitrix24": {...}}` (checked strictly).

⚠ choices, each configurable through `options`:

- `refresh_token_ttl` 180 days (docs) — older material says 28 days.
- `refresh_token_single_use` True: a used refresh token is refused (invalid_grant).
- `operating_limit` 480 s per `operating_baskets` × `operating_basket_seconds` (10 × 60 s): the
  docs' worked example; the cloud value is "set by configuration". The budget is kept per method
  for the portal (not per app/webhook: the sandbox has one of each).
- `batch_overflow` "per_command": commands past the 50th get ERROR_BATCH_LENGTH_EXCEEDED in
  `result_error` (what the rest module's source does); "reject" answers the whole call 400.
- cost model `cost_page` 0.097, `cost_count_full` 49.9, `cost_reference_rows` 2 390 000,
  `cost_offset_weight` 0.25, `cost_single` 0.01; `processing_time_scale` 0 (no sleeping).
- crm.status.list answers unpaged; crm.item.list includes `fm` when `select` is `*` (the default).
- Filters on unknown fields are ignored; negations match NULL; `%` is case-insensitive.
- UF names in crm.item.list: `UF_CRM_PAYMENT_FORM` → `ufCrmPaymentForm`, `UF_CRM_1700000000` →
  `ufCrm_1700000000`, `UF_CRM_5_X` → `ufCrm5_X`.
- A batch reference that does not resolve (e.g. `$result[p1][49][ID]` after a short page) is
  replaced by what the path reached, as the PHP code does; used as a filter value it matches nothing.
"""
