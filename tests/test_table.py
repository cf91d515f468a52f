"""harness.table writes what tabulate's ``simple`` format writes, on the run summaries of
real runs and on random cells (numbers, blanks, wide characters and escapes among them,
which it leaves to tabulate)."""

from __future__ import annotations

import random
import sys

import pytest
from tabulate import tabulate

from harness import table
from harness.config import RunConfig
from harness.runner import run_test
from harness.summary import summary_rows

HEADERS = ["checker", "verdict", "why"]
WIDTHS = [None, None, 90]


def _both(rows, headers=HEADERS, widths=WIDTHS):
    return (table.simple_table(rows, headers, widths),
            tabulate(rows, headers=list(headers), tablefmt="simple", maxcolwidths=widths))


@pytest.mark.parametrize("cfg", [
    RunConfig(system="zab", workload="register", time_limit=10, seed=1, nemesis=("partition", "kill", "clock")),
    RunConfig(system="zab", workload="election", time_limit=10, seed=9, nemesis=("pause", "clock")),
    RunConfig(system="kafka", workload="queue", time_limit=10, seed=1, nemesis=("partition", "kill")),
], ids=["zab-register", "zab-election", "kafka-queue"])
def test_run_summaries_are_tabulates(cfg):
    rows = summary_rows(run_test(cfg))
    ours, theirs = _both(rows)
    assert ours == theirs


def test_plain_cells_are_written_without_tabulate(monkeypatch):
    rows = [["linearizable", "valid", ("all 12 operations linearize – key by key (3 keys) " * 4).strip()],
            ["perf", "valid (not counted)", ""]]
    theirs = tabulate(rows, headers=HEADERS, tablefmt="simple", maxcolwidths=WIDTHS)
    monkeypatch.setitem(sys.modules, "tabulate", None)  # importing it would raise
    out = table.simple_table(rows, HEADERS, WIDTHS)
    assert out == theirs
    assert len(out.splitlines()) == 6  # the why wrapped onto three lines


WORDS = ["a", "valid", "INVALID", "unknown", "12", "3.5", "1e3", "0x1f", "nan", "inf", "True", "1,000",
         "lost-write", "p99", "×", "–", "…", "読む", "\x1b[31mred\x1b[0m", "", " ", "tab\there", "line\nbreak",
         "n1→n2", "a" * 30, "supercalifragilistic-expialidocious-" * 3]
PLAIN = [w for w in WORDS if w and table._plain(w)]


@pytest.mark.parametrize("seed", range(300))
def test_random_tables_are_tabulates(seed):
    rng = random.Random(seed)
    ncol = rng.randint(1, 4)
    headers = [rng.choice(["checker", "verdict", "why", "x", "a long header"]) for _ in range(ncol)]
    widths = [rng.choice([None, None, 5, 12, 40]) for _ in range(ncol)]

    words = PLAIN if seed % 2 else WORDS  # half the tables take the fast path

    def cell():
        if rng.random() < 0.3:
            return rng.choice(words)
        return " ".join(rng.choice(words) for _ in range(rng.randint(1, 25)))

    rows = [[cell() for _ in range(ncol)] for _ in range(rng.randint(0, 6))]
    try:
        theirs = tabulate(rows, headers=headers, tablefmt="simple", maxcolwidths=widths)
    except ValueError:  # tabulate cannot wrap some numbers ("1,000"): nor can this, which hands it over
        with pytest.raises(ValueError):
            table.simple_table(rows, headers, widths)
        return
    assert table.simple_table(rows, headers, widths) == theirs, (rows, headers, widths)
