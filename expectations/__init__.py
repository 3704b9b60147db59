"""Junk detection and the Great Expectations layer (issue 5).

Public API::

    load_config(path=None, overrides=None) -> dict              # thresholds (junk_rules.yaml)
    normalise_phones(raw_values, region="RU") -> DataFrame      # raw, e164, is_valid
    row_features(leads, cfg, phone_cache=None, now=None) -> (features, new_phone_rows)
    detect(features, deals, cfg) -> {"rules", "flags", "leads"}
    run_quality(warehouse, *, leads=None, deals=None, config=None, gx_dir=None, now=None,
                full=False, validate=True) -> RunResult           # the whole run, writes `quality`
    evaluate_gates(summary, cfg, now, ...) -> list[CheckResult]; publish_allowed(checks) -> bool
    read_leads(con) -> (leads, deals)                            # from dbt intermediate models

The input contract is documented in expectations.contract.
"""

from expectations.config import load_config
from expectations.contract import conform_deals, conform_leads
from expectations.gating import CheckResult, evaluate_gates, publish_allowed
from expectations.phones import normalise_phones
from expectations.reader import read_leads
from expectations.rules import JUNK_KINDS, RULES, detect, row_features
from expectations.runner import RunResult, run_quality

__all__ = ["load_config", "conform_leads", "conform_deals", "CheckResult", "evaluate_gates", "publish_allowed",
           "normalise_phones", "read_leads", "JUNK_KINDS", "RULES", "detect", "row_features", "RunResult",
           "run_quality"]
