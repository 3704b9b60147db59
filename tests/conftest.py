"""Shared test setup: usage statistics off before any tool is imported."""

import crmwh  # noqa: F401
