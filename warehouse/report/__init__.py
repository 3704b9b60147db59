"""Head-of-sales HTML report (self-contained, Russian by default, English on request)."""

from warehouse.report.builder import Chart, Section, build_report, report_sections

__all__ = ["Chart", "Section", "build_report", "report_sections"]
