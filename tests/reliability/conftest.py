"""Fixtures of the reliability tests: one small generated sandbox (a Bitrix24 portal and an amoCRM
account, ~1,000 leads each) per session, copied per test, served over real HTTP on loopback."""

from __future__ import annotations

import shutil

import pytest

from tests.reliability.helpers import AMO, B24, Sandbox, settings_for

LEADS = 600


@pytest.fixture(scope="session")
def generated(tmp_path_factory):
    from sandbox.generator import generate

    out = tmp_path_factory.mktemp("reliability_sandbox")
    generate(out, seed=17, leads=LEADS, accounts=[B24, AMO], as_of="2026-11-01")
    return out


@pytest.fixture()
def sandbox(generated, tmp_path):
    """A private copy of the sandbox, not yet served (tests start it, maybe with faults)."""
    dst = tmp_path / "sandbox"
    shutil.copytree(generated, dst)
    sb = Sandbox(dst)
    yield sb
    sb.stop()


@pytest.fixture()
def settings(tmp_path):
    return settings_for(tmp_path)


@pytest.fixture()
def fast_retries(monkeypatch):
    """Retry pauses in milliseconds instead of seconds. What is under test is *whether* the
    pipeline retries, how often, and what it lands — not how long it sleeps; attempt limits and
    the rate-limit wait budgets are unchanged."""
    import extract.bitrix24.client as b24_client
    import extract.common.http as http
    from extract.common.ratelimit import Backoff
    from tenacity import wait_exponential_jitter

    real_wait = wait_exponential_jitter
    monkeypatch.setattr(http, "wait_exponential_jitter",
                        lambda initial=0.5, max=30.0, **kw: real_wait(initial=0.01, max=0.05, jitter=0.01))

    class FastBackoff(Backoff):
        def __init__(self, initial: float = 1.0, factor: float = 2.0, maximum: float = 60.0) -> None:
            super().__init__(initial / 100, factor, maximum / 100)

    monkeypatch.setattr(b24_client, "Backoff", FastBackoff)
