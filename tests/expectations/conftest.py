"""A small generated sandbox (labelled junk) and helpers shared by the junk-detection tests."""

from __future__ import annotations

import pandas as pd
import pytest

from sandbox.canonical_frames import sandbox_frames, truth_leads
from sandbox.generator import generate

AS_OF = "2026-11-01"
NOW = pd.Timestamp(AS_OF, tz="UTC")


@pytest.fixture(scope="session")
def labelled(tmp_path_factory):
    path = tmp_path_factory.mktemp("junk_sandbox")
    generate(path, seed=42, leads=5000, as_of=AS_OF)
    leads, deals = sandbox_frames(path)
    truth = truth_leads(path)
    return leads, deals, truth[~truth["is_deleted"]].reset_index(drop=True)


def lead(lead_id: int, created: str, **kw) -> dict:
    row = {"source_system": "bitrix24", "account": "b24-test", "lead_id": lead_id,
           "created_at": pd.Timestamp(created, tz="UTC"), "title": "Авито: Иван", "name": "Иван Петров",
           "comments": None, "phone": "+79161234567", "email": None, "source_code": "UC_AVITO",
           "channel": "avito", "responsible_id": 10, "contact_id": None, "amount": 0.0}
    row.update(kw)
    return row
