"""Bitrix24 extractor: CRM entities, history, dictionaries, product rows and payments → DuckDB.

API: https://apidocs.bitrix24.com (source: github.com/bitrix24/b24restdocs); facts we rely on and
their citations are in ../shared/crm-api.md.

- Auth: incoming webhook (`BITRIX24_<ACCOUNT>_WEBHOOK_URL`, https://PORTAL/rest/<user>/<code>/) or
  OAuth (`auth=` access token, refreshed on 401 `expired_token` through the OAuth server —
  default https://oauth.bitrix.info/oauth/token/ — the new refresh token persisted through
  `extract.common.tokens.TokenStore` before the new access token is used).
- Limits: a leaky bucket per portal (standard 2 req/s burst 50, enterprise 5/s burst 250) answering
  503 QUERY_LIMIT_EXCEEDED; a per-method operating-time budget (sum of `time.operating` over
  10 min, 480 s in the docs' example) answering 429 OPERATION_TIME_LIMIT until
  `operating_reset_at`. We mirror both client-side (`extract.common.ratelimit`) so a default run
  is never refused, and back off adaptively if it is (another app sharing the portal).
- Pagination: ID keyset with `start=-1` (no COUNT), `order {ID: ASC}`, `filter {">ID": last}`,
  50 pages chained in one `batch` call via `$result[cN][49][ID]` — 0.4 HTTP requests per 1,000
  records; small dictionaries read whole; per-object methods 50 per batch.

Modules: `client` (HTTP, auth, errors, batch), `paginate` (one paginator per API style),
`entities` (the catalogue of what we extract), `extractor` (runs, cursors, deletions).
"""

from extract.bitrix24.extractor import Bitrix24Extractor, extract_accounts  # noqa: F401
