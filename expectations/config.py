"""Junk-rule thresholds: `expectations/junk_rules.yaml` (the defaults, user-editable) merged with
an optional override file or dict."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

DEFAULTS_PATH = Path(__file__).with_name("junk_rules.yaml")


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> dict:
    """Defaults from junk_rules.yaml, then the file at `path` (same keys, any subset), then
    `overrides` (a nested dict, e.g. {"duplicates": {"window_days": 7}})."""
    cfg = yaml.safe_load(DEFAULTS_PATH.read_text(encoding="utf-8"))
    if path is not None:
        cfg = _merge(cfg, yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {})
    if overrides:
        cfg = _merge(cfg, overrides)
    return cfg
