"""Resources shared by every area: where the warehouse and the accounts file are.

Both default to the same `CRMWH_*` environment settings the extractors read
(extract.common.config.Settings), so Dagster, the `crmwh` command and tests agree. Secrets are never
resource fields: each extractor reads its own from `<SYSTEM>_<ACCOUNT>_<KEY>` variables.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from extract.common.config import AccountConfig, Settings, load_accounts


class CrmwhResource(dg.ConfigurableResource):
    """Warehouse path and accounts file; empty values fall back to CRMWH_* settings."""

    warehouse_path: str = ""
    accounts_file: str = ""

    def settings(self) -> Settings:
        base = Settings()
        overrides = {}
        if self.warehouse_path:
            overrides["warehouse_path"] = Path(self.warehouse_path)
        if self.accounts_file:
            overrides["accounts_file"] = Path(self.accounts_file)
        return base.model_copy(update=overrides)

    def accounts(self, system: str | None = None, only: list[str] | None = None) -> list[AccountConfig]:
        accounts = load_accounts(self.settings().accounts_file)
        if system:
            accounts = [a for a in accounts if a.system == system]
        if only:
            accounts = [a for a in accounts if a.name in only]
        return accounts
