"""amoCRM (Kommo) API v4 emulator: enough of the real service that a client written only from the
public docs works against it unchanged. References are to ../shared/crm-api.md ("AMOCRM / KOMMO API
v4" and "What the sandbox must reproduce"), which cites AMODOCS, KOMMO, AMOSDK and the issues.

Construct: `AmoCRMApp(data_dir, account, limits=True, options=None)` (sandbox.serve.make_app),
serve with `sandbox.common.http.start(app)`. State is the account's DuckDB file
(`data_dir/account["file"]`, tables sandbox.state.AMOCRM_DDL); every list page is SQL (filter,
order, LIMIT/OFFSET over ids, then the page's rows), so a million-lead account serves from disk.
Emulator-owned tables `_oauth_tokens` / `_oauth_meta` live in the same file.

Modules: `auth` (OAuth, tokens), `params` (PHP-bracket query, paging, filters → SQL),
`endpoints` (renderers, list specs, the list engine), `app` (routing, limits, faults, admin).

Emulated (GET unless noted; HAL JSON `application/hal+json`, errors `application/problem+json`):
- `POST /oauth2/access_token` (JSON or form; grant_type authorization_code | refresh_token) →
  `{token_type:"Bearer", expires_in:86400, access_token, refresh_token, server_time}` (§1).
  Refresh tokens are single-use (reuse → 401 hint "Token has been revoked", OAuthProblemJson) and
  expire 3 months after issue; auth codes are single-use and live 20 min; access tokens are JWTs
  (`exp`, `iat`, `jti`, ... — amocrm_api decodes `exp`). Long-lived tokens: JWT, no refresh.
  Every API call needs `Authorization: Bearer`; a bad, expired or revoked token → 401
  `{"title":"Unauthorized","type":"https://httpstatus.es/401","status":401,"detail":...}`
  (amocrm-api-php#333).
- `/api/v4/account` (with=users_groups, task_types, amojo_id, uuid, version, datetime_settings).
- `/api/v4/leads` (with=contacts, loss_reason, source_id, source, catalog_elements, only_deleted,
  is_price_modified_by_robot; page; limit ≤ 250; query; filter[id|name|price|created_by|
  updated_by|responsible_user_id|group_id|pipeline_id|status_id|statuses][i][pipeline_id|
  status_id]|created_at|updated_at|closed_at|closest_task_at][from|to]; order[created_at|
  updated_at|id]=asc|desc), `/api/v4/leads/{id}` (204 if absent), `/api/v4/leads/{id}/links`,
  `/api/v4/leads/links?filter[entity_id][]=..` (the mass list of entity-links-api.md: contacts,
  companies and catalog elements of many leads; ⚠ at most `links_max_entity_ids` ids, paged).
- `/api/v4/leads/pipelines` (+`/{id}`, `/{id}/statuses`, `/{id}/statuses/{id}`) with
  `_total_items`, statuses 142/143 from the state; `/api/v4/leads/loss_reasons` (⚠ shape not in
  the docs mirror: `{id, name, sort, created_at, updated_at}` as AMOSDK's model has it).
- `/api/v4/{leads|contacts|companies}/custom_fields` (+`/{id}`), `/api/v4/contacts` (with=leads),
  `/api/v4/companies`, `/api/v4/users` (with=group, role), `/api/v4/tasks` (filter[updated_at],
  [is_completed], [entity_type], [entity_id], [task_type], [responsible_user_id]),
  `/api/v4/sources` (≤ 100, 204 if none), `/api/v4/catalogs`, `/api/v4/catalogs/{id}/elements`
  (+`/{id}`), `/api/v4/catalogs/{id}/custom_fields`.
- `/api/v4/events` (limit ≤ 100, default 100, newest first; filter[created_at] single = "since"
  or [from]/[to]; filter[type] comma list or array; filter[entity] (singular or plural);
  filter[entity_id] ≤ 10 and only with one entity, else 400; filter[created_by];
  filter[value_after|value_before][leads_statuses][i][pipeline_id|status_id]). Event
  `value_after`/`value_before` are served exactly as stored (shapes of §2 "Events").
- Lists: `{"_page", "_links": {self, next, first, prev}, "_embedded": {<entity>: [...]}}`,
  `next` absent on the last page, no total on leads/events/contacts/tasks, `_total_items` on
  pipelines, custom fields, loss reasons, users, sources, catalogs. Links are absolute URLs of this
  server (from the Host header, or `options["base_url"]`), the request's own query with `page`
  replaced. Nothing found → HTTP 204, empty body (error code 2002). Over-limit `limit`, page < 1,
  non-integer values → 400 `validation-errors` in the documented shape. Unknown path → 404 problem
  JSON; write methods → 405 (the sandbox is read-only).
- Default orders: leads, contacts, companies, tasks, users by id ascending (the docs do not say);
  events newest first (created_at desc, then seq desc). A unique tie-breaker keeps OFFSET paging
  stable within one snapshot.

Rate limits (§4; on unless `limits=False`): 7 requests per `rate_limit_window` second per account
(⚠ the scope is unstated; one window per account is the strictest reading) → 429 with an nginx
HTML body (not JSON; AMOSDK PR #517). `block_threshold` violations within `block_window` seconds
→ the account is blocked: every request gets 403 nginx HTML for `block_seconds` (default 24 h:
"until support unblocks it", #563) or until `/_sandbox/unblock`. The OAuth endpoint counts too.
`Response.api_method` is the route ("GET /api/v4/leads/{id}"), `Response.limited` "429" or
"blocked".

Options (`options=` dict, defaults in app.DEFAULT_OPTIONS and auth.DEFAULTS):
- `filters_enabled` (True) ⚠ API filtering is a paid/alpha add-on on some accounts
  (#211, #215, #614). False = every filter[...] is IGNORED and the unfiltered list is served, as
  the real API does for filters it does not support; a client must not trust a filter blindly.
- `past_last_page` ("204") ⚠ "204" = empty body past the last page; "empty" = 200 with
  `_embedded: {<entity>: []}` and no `next`. A first page with no rows is always 204.
- `retry_after` (None) ⚠ seconds for a Retry-After header on 429; absent by default (#526).
- `rate_limit_per_second` (7), `rate_limit_window` (1.0), `block_threshold` (20),
  `block_window` (60.0), `block_seconds` (86400).
- `access_token_ttl` (86400), `refresh_token_ttl` (90 days), `auth_code_ttl` (1200),
  `long_lived_token_ttl` (5 years), `long_lived_token_expires_at` (unix; overrides the ttl).
- `base_url` (None): absolute base of `_links`.
- `links_max_entity_ids` (250) ⚠ most `filter[entity_id]` values of `/api/v4/leads/links`.

Credentials (manifest entry `credentials`): client_id, client_secret, redirect_uri, auth_code,
refresh_token, long_lived_token. Missing ones are derived deterministically from the account name
(auth.derive_credentials: sha256("amocrm-sandbox:<account>:<what>"); client_id a UUID; the
long-lived token a JWT with a fixed iat). The manifest's auth code, refresh token and long-lived
token count as issued at the emulator's first start on that file; once used they stay used across
restarts. `/_sandbox/credentials` shows the effective values (sandbox-only secrets).

Faults (sandbox.common.faults): `render_fault` kinds `rate_limit` (429 HTML), `unauthorized`
(401 problem JSON), `html_error` (503 nginx HTML), `server_error` (500 problem JSON).
`corrupt_records` (keyed by the `_embedded` list name, e.g. `leads`) and `hold_response` as
described in sandbox.common.faults.
`expire_tokens_after=N`: each OAuth access token dies after N more API requests although its JWT
`exp` is in the future (long-lived tokens are exempt: nothing could renew them).
`mutate_between_pages=p`: before answering a leads or events list page, with probability p, three
leads get a newer `updated_at`, one lead is added (with a `lead_added` event) and one is deleted
(with `lead_deleted`) — a pager walking `page=1..n` then skips or repeats rows. The server hands
the app its FaultInjector through the `faults` attribute (sandbox.common.http.SandboxServer).

Admin (`/_sandbox/<action>`): `tokens` (token digests and status), `expire-tokens` (all access
tokens; `?refresh=1` also refresh tokens), `revoke-tokens` (integration disabled), `auth-code`
(mint a fresh code), `credentials`, `unblock`, `reset-limits`, `mutate` (one mutation now),
`options` (GET; POST a JSON object to change
`filters_enabled`, `past_last_page`, `retry_after`, `base_url` at run time; limits and lifetimes
are read at construction). `stats()` adds `http_429`,
`blocks`, `blocked`, `mutations`, `expired_by_fault`.

Not emulated: writes (POST/PATCH of entities), notes, customers, webhooks, If-Modified-Since,
the 402 (unpaid) and 403 code 113 (IP whitelist) answers, custom-field-value filters.
"""
