"""Turning API records into landing rows, or into quarantine entries when they cannot be parsed."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

_TZ_NO_COLON = re.compile(r"([+-]\d{2})(\d{2})$")


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 (with offset, or 'Z'), or unix seconds → aware UTC datetime. None/'' → None.
    Raises ValueError on anything else."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(float(value), tz=timezone.utc)
    if isinstance(value, str):
        s = value.strip()
        if s.isdigit():
            return datetime.fromtimestamp(int(s), tz=timezone.utc)
        s = s.replace("Z", "+00:00")
        s = _TZ_NO_COLON.sub(r"\1:\2", s)
        dt = datetime.fromisoformat(s)
        if dt.tzinfo is None:
            raise ValueError(f"time without offset: {value!r}")
        return dt.astimezone(timezone.utc)
    raise ValueError(f"not a time: {value!r}")


def parse_int(value: Any) -> int:
    """A record id: int or a decimal string that fits the BIGINT key columns. Raises ValueError
    otherwise (a 20-digit id would otherwise fail the whole chunk's merge, not just its record)."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not an integer id: {value!r}")
    if isinstance(value, int):
        n = value
    elif isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        n = int(value)
    else:
        raise ValueError(f"not an integer id: {value!r}")
    if not -(2 ** 63) <= n < 2 ** 63:
        raise ValueError(f"integer id out of the 64-bit range: {value!r}")
    return n
