"""Shared extraction core for every CRM source (plain Python, never imports Dagster or sandbox).

Modules:

- `config`    — `Settings` (CRMWH_* env), `AccountConfig`, `load_accounts(path)`; secrets come only
  from `<SYSTEM>_<ACCOUNT>_<KEY>` environment variables (`AccountConfig.secret(key)`).
- `http`      — `make_session()`, `send_json()` → `HttpResult`, `retrying()` (tenacity).
- `ratelimit` — `LeakyBucket` (client-side mirror of the server bucket), `OperatingBudget`
  (Bitrix24 per-method execution time), `Backoff`.
- `tokens`    — `TokenStore`: atomic 0600 files, `rotate()` persists a new pair before use.
- `redact`    — `redact()`, `register_secret()`, `get_logger()`.
- `errors`    — `ConfigError`, `AuthError`, `TransientError`, `RateLimited`, `ApiError`.
- `runs`      — `EntityRun` (per-entity metadata), `new_batch_id()`, `prefetch()`.
- `records`   — `parse_time()`, helpers that turn API records into landing rows or quarantine.

The DuckDB side (landing tables, merge, cursors, run log, quarantine, writer lock) is
`warehouse.landing`.
"""
