"""dbt's echoed events are kept out of the terminal in CLI runs (the progress bar's thread still
writes), and shown when the dbt step fails."""

from __future__ import annotations

import io
import sys
import threading

import pytest

from orchestration.defs.dbt import _quiet_stdout


def test_dbt_thread_is_muted_other_threads_pass_and_stdout_is_restored(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    with _quiet_stdout(True):
        print("1 of 75 START sql view model staging.stg_amocrm__account")
        t = threading.Thread(target=lambda: print("progress bar"))
        t.start()
        t.join()
    assert sys.stdout is out
    assert out.getvalue() == "progress bar\n"


def test_failure_prints_the_last_dbt_lines(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    with pytest.raises(RuntimeError), _quiet_stdout(True):
        print("Database Error in model int_leads")
        raise RuntimeError("dbt build failed")
    assert "Database Error in model int_leads" in out.getvalue() and sys.stdout is out


def test_disabled_passes_everything(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    with _quiet_stdout(False):
        print("dbt line")
    assert out.getvalue() == "dbt line\n"
