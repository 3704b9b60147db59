"""Everything BI reads, after a successful run, in one call (the Dagster asset and `crmwh` wrap this).

    publish_bi("warehouse/crm.duckdb", "warehouse")
      -> warehouse/bi.duckdb                      (atomic swap, warehouse.publish)
         warehouse/reports/report_ru.html, _en    (warehouse.report)
         warehouse/reports/parquet/*.parquet, xlsx/*.xlsx   (warehouse.exports)
         PostgreSQL schema `marts`                 (warehouse.postgres, when a DSN is given)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from warehouse.exports import ExportResult, export_marts
from warehouse.postgres import PostgresPublishResult, publish_postgres
from warehouse.publish import PublishResult, publish_duckdb
from warehouse.report import build_report


@dataclass
class BiOutputs:
    publish: PublishResult
    reports: dict[str, Path] = field(default_factory=dict)
    exports: ExportResult | None = None
    postgres: PostgresPublishResult | None = None


def publish_bi(warehouse_path: str | Path, out_dir: str | Path = "warehouse", *, langs=("ru", "en"),
               exports: bool = True, xlsx: bool = True, postgres_dsn: str | None = None,
               reader_role: str = "bi_reader", manifest: str | Path | None = None) -> BiOutputs:
    out_dir = Path(out_dir)
    res = BiOutputs(publish=publish_duckdb(warehouse_path, out_dir / "bi.duckdb", manifest=manifest))
    bi = res.publish.path
    for lang in langs:
        res.reports[lang] = build_report(bi, out_dir / "reports" / f"report_{lang}.html", lang=lang)
    if exports:
        res.exports = export_marts(bi, out_dir / "reports", xlsx=xlsx, manifest=manifest)
    if postgres_dsn:
        res.postgres = publish_postgres(bi, postgres_dsn, reader_role=reader_role, manifest=manifest)
    return res
