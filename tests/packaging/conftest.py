"""Measurements of the packaging tests (binary size, start time, build time), printed in the
terminal summary so every `make test` run shows them."""

from __future__ import annotations

import pytest

MEASURED: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if MEASURED:
        terminalreporter.section("packaging")
        for line in MEASURED:
            terminalreporter.write_line(line)
