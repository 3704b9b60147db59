"""amoCRM (Kommo) extractor: leads, contacts, companies, tasks, events, pipelines and statuses,
users and groups, custom field definitions, loss reasons, catalogs and their elements (payments),
account → DuckDB `raw_amocrm.*`.

API: https://www.amocrm.ru/developers (Kommo: https://developers.kommo.com); the facts we rely on
and their citations are in ../shared/crm-api.md ("AMOCRM / KOMMO API v4").

- Auth: OAuth 2.0 with single-use rotating refresh tokens (`AMOCRM_<ACCOUNT>_CLIENT_ID`,
  `_CLIENT_SECRET`, `_REDIRECT_URI`, and a first `_REFRESH_TOKEN` or `_AUTH_CODE`; rotated pairs
  live in the token store, persisted before use), or a long-lived token
  (`AMOCRM_<ACCOUNT>_LONG_LIVED_TOKEN`). Base URL `https://{subdomain}.amocrm.ru` by default;
  `base_url` in the accounts file for Kommo (`https://{sub}.kommo.com`) or the sandbox.
- Limits: 7 requests/s (a client-side sliding window with a margin; `options.rate_limit_per_second`,
  `options.rate_margin_seconds`); 429 has a non-JSON body and maybe no Retry-After; repeated
  429s get the account blocked (403 HTML), so a run stops after `options.max_429` of them.
- Pagination: HAL `page` + `_links.next`, `limit` ≤ 250 (events ≤ 100), 204 = nothing.
  Incremental lists walk `filter[updated_at][from]` (events: `created_at`) in ascending order with
  a few concurrent slices; without the paid filter add-on (detected when a filtered answer
  contains rows outside the filter, or `options.api_filters: off`) they fall back to
  `order[updated_at]=desc` down to the cursor.

Modules: `client` (HTTP, auth, limits, errors), `paginate` (the paginator), `entities` (the
catalogue), `extractor` (runs, cursors, tombstones).
"""

from extract.amocrm.client import AmoCRMClient  # noqa: F401
from extract.amocrm.extractor import AmoCRMExtractor, extract_account, extract_accounts  # noqa: F401
