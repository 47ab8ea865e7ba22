"""docs/faults.md, the table "fault or bad input -> what happens", stays true to the tests: every test a row
names exists, nothing is lost, the total adds up, and the config row counts the generated cases."""

from __future__ import annotations

import re

from conftest import ROOT


def rows() -> list[list[str]]:
    section = (ROOT / "docs" / "faults.md").read_text()
    table = [r for r in section.splitlines() if r.startswith("| ") and "---" not in r]
    return [[c.strip() for c in r.strip("|").split("|")] for r in table[1:]], section


def test_every_row_names_tests_that_exist_and_nothing_is_lost():
    table, section = rows()
    defined = set()
    for path in (ROOT / "tests").glob("test_*.py"):
        defined |= set(re.findall(r"^def (test_\w+)\(", path.read_text(), re.M))
    assert len(table) > 20
    for fault, _, tried, lost, tests in table:
        named = re.findall(r"`(test_\w+)`", tests)
        assert named and set(named) <= defined, (fault, set(named) - defined)
        assert int(tried) >= 1 and lost == "0", fault
    total = sum(int(r[2]) for r in table)
    assert f"In all: {total} cases tried, 0 lost" in section


def test_the_config_row_counts_the_generated_cases():
    from test_config_errors import CASES

    table, _ = rows()
    (row,) = [r for r in table if r[0].startswith("every config key")]
    assert int(row[2]) == len(CASES)
