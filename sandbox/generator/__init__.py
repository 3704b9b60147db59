"""Sandbox data generator: a real-estate developer's sales department in Bitrix24 and amoCRM.

Public API::

    generate(out_dir, seed=42, leads=10_000, as_of=None, accounts=None, months=12) -> manifest
    mutate(data_dir, seed, changes=200) -> summary          # one day of CRM work, offline
    mutate_account(con, system, account, ...)               # same, on an open DuckDB connection

Files written follow sandbox/state.py (the contract with the emulators).
"""

from sandbox.generator.core import generate
from sandbox.generator.mutate import mutate, mutate_account

__all__ = ["generate", "mutate", "mutate_account"]
