"""The planted bugs of the ZAB system: catalogue, switches, names, and "off changes nothing".

"Off changes nothing" is checked against digests recorded from the correct code (the
history and the trace of a few short runs with many kinds of faults, so that every bug
site is passed through with its bug off). If the ZAB code's behaviour changes on purpose,
record them again with ``python tests/zab/test_bugs.py`` and paste its output over
``GOLDEN``.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from harness.bugs import all_bugs
from harness.config import ConfigError, RunConfig
from harness.runner import history_digest, simulate
from systems.zab.bugs import BUGS, NAMES

ZAB = Path(__file__).resolve().parents[2] / "systems" / "zab"

#: the ZAB and ZooKeeper bugs of docs/zab.md and docs/zookeeper.md
EXPECTED = {
    "zab-commit-without-quorum", "zab-ack-before-fsync", "zab-newleader-ack-before-durable",
    "zab-epoch-before-log", "zab-no-trunc", "zab-volatile-accepted-epoch", "zab-vote-by-id-only",
    "zab-vote-order-not-total", "zab-propose-only-synced", "zab-zxid-overflow",
    "zk-sync-not-quorum", "zk-wallclock-session-expiry", "zk-reconnect-ignores-lastzxid",
    "zk-ephemeral-lingers",
}

ALL = ("partition", "kill", "pause", "clock", "crash", "power", "slow")
#: short runs that pass through every bug site: syncs of every mode, elections, crashes
#: between writes, counter rollover, session expiry, local reads, reconnects, ephemerals
CASES = {
    "all-faults": dict(seed=1, nemesis=ALL, time_limit=10.0),
    "local-reads-3": dict(seed=2, nemesis=ALL, time_limit=10.0, reads="local", nodes=3),
    "rollover": dict(seed=3, nemesis=("crash", "kill", "power"), time_limit=10.0, settings={"counter_bits": 6}),
    "election": dict(seed=4, workload="election", nemesis=("partition", "kill", "clock", "pause"), time_limit=10.0),
}

GOLDEN = {
    "all-faults": ("315001bde93aa57b07e7dd131904aee3c6a49402f189186e2b93724f60ff09b3",
                   "d0ddc6088f395c90093d39b51e5dfd979a85eb895203c4273a31a315ce41c575"),
    "election": ("0ded9d023b484aa941fe8d78cf0ef67347610e7beca9bdd8546114c9d7e29dfd",
                 "c4ea9ec2e70002a84f870f18304876c66859a69f38cf71d2e2c1bb0aeab0074f"),
    "local-reads-3": ("06fcd8b3c7cefc803f34ad1d7500102c07c20b96158ca607c6c9c2fde7704030",
                      "7b7d174d5add4aba59f1cf0dd70c8d9cd0b2baf065275d1e60b803a61a302b76"),
    "rollover": ("ea603bbcdf55cd2c3e8a74e9b3aeb7785e89fea9dda2a2fe09108090d455977e",
                 "0625a18eb1a4c24206741a2158e0cb8fc3598a50a5357ae0b47ecacb16ecfda5"),
}


def digests(case: dict) -> tuple[str, str]:
    out = simulate(RunConfig(**case))
    trace = hashlib.sha256(json.dumps(out.trace, sort_keys=True, default=str).encode()).hexdigest()
    return history_digest(out.history), trace


def test_catalogue_is_bugs_md() -> None:
    assert {b.name for b in BUGS} == EXPECTED == NAMES
    assert len(BUGS) == len(NAMES)  # no duplicates
    for b in BUGS:
        assert b.system == "zab" and b.breaks and b.caught_by and b.exposed_by, b
    assert {b.name for b in all_bugs()} >= EXPECTED


def test_every_bug_is_a_switch_at_a_marked_site() -> None:
    source = "\n".join(p.read_text() for p in sorted(ZAB.glob("*.py")) if p.name != "bugs.py")
    for name in EXPECTED:
        assert re.search(rf'"{name}"[^\n]*\bbugs\b|\bbugs\b[^\n]*"{name}"', source), f"{name}: no switch"
        assert re.search(rf"# bug: {name}\b", source), f"{name}: no '# bug: {name}' comment"


def test_unknown_bug_names_are_rejected(tmp_path) -> None:
    from harness.cli import main

    with pytest.raises(ConfigError, match="zab-nope"):
        RunConfig(bugs=("zab-nope",)).validate()
    RunConfig(bugs=tuple(sorted(EXPECTED))).validate()
    assert main(["run", "--bug", "zab-nope", "--store", str(tmp_path), "--no-report"]) == 254
    assert main(["campaign", "--bug", "zab-nope", "--runs", "1", "--store", str(tmp_path)]) == 254


@pytest.mark.parametrize("case", sorted(CASES))
def test_bugs_off_change_nothing(case: str) -> None:
    want = GOLDEN.get(case)
    if want is None:
        pytest.skip(f"no digest recorded for {case}: run python {Path(__file__).name}")
    assert digests(CASES[case]) == want, (
        f"{case}: the correct code no longer behaves as recorded. If a bug site changed the "
        f"default path, fix it; if the ZAB code changed on purpose, re-record: "
        f"python tests/zab/test_bugs.py")


@pytest.mark.parametrize("bug", sorted(EXPECTED))
def test_each_bug_runs(bug: str) -> None:
    """Switched on, every bug gives a complete run (no fault: most change nothing yet)."""
    settings = {"counter_bits": 6} if bug == "zab-zxid-overflow" else {}
    out = simulate(RunConfig(seed=5, nemesis=(), time_limit=3.0, bugs=(bug,), settings=settings, nodes=3))
    assert any(ev["type"] == "ok" for ev in out.history)


if __name__ == "__main__":
    print("GOLDEN = {")
    for name in sorted(CASES):
        h, t = digests(CASES[name])
        print(f'    "{name}": ("{h}",\n{" " * (len(name) + 9)}"{t}"),')
    print("}")
