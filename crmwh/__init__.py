"""crm-sales-warehouse: the `crmwh` command and what every entry point shares.

Importing this package turns off the usage statistics of Dagster, dbt and Great Expectations
before any of them is imported: nothing in this project phones home.
"""

from crmwh.privacy import disable_usage_statistics

disable_usage_statistics()
