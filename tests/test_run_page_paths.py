"""The standard run's faster paths (issue 16) do what the plain ones did: the run directory
written in two halves (every data file, then results.json and the rename), the plots
drawn from the data files while the checkers run, and the ``harness`` command leaving
without the interpreter's teardown only when that loses nothing."""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from pagecheck import assert_same_as_rebuilt, page_text

from harness.cli import _exit_now
from harness.config import RunConfig
from harness.runner import run_test
from harness.store import begin_run
from reports.plots import FILES, draw_plots, write_plots
from reports.prefork import ReportWorker
from reports.run_report import write_run_report
from reports.rundata import DATA_FILES, ResultsPending, RunData

RUN = RunConfig(system="toy", nodes=3, time_limit=10, seed=3, nemesis=("partition", "kill"),
                bugs=("toy-async-backup-reads",))
ROOT = Path(__file__).resolve().parents[1]


def _files(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()}


def _without_wall_times(results: bytes) -> str:
    return re.sub(rb'"wall_(simulate|check)_s": [0-9.e-]+', b"", results).decode()


# ------------------------------------------------------------ the run directory in halves


def test_on_data_sees_every_file_but_results_and_the_directory_is_the_same(tmp_path):
    seen: list[tuple[Path, list[str]]] = []

    def on_data(tmp: Path) -> None:
        seen.append((tmp, sorted(p.name for p in tmp.iterdir())))
        assert not (tmp_path / "a").exists()  # not in place before its results

    a = run_test(RUN, directory=tmp_path / "a", on_data=on_data)
    b = run_test(RUN, directory=tmp_path / "b")
    assert len(seen) == 1 and seen[0][1] == sorted(DATA_FILES)
    assert not seen[0][0].exists()  # renamed into place
    fa, fb = _files(a.directory), _files(b.directory)
    assert sorted(fa) == sorted(fb) == sorted([*DATA_FILES, "results.json"])
    for name in DATA_FILES:
        assert fa[name] == fb[name], name
    assert _without_wall_times(fa["results.json"]) == _without_wall_times(fb["results.json"])
    assert a.results["history_sha256"] == b.results["history_sha256"]


def test_a_failing_on_data_or_checker_leaves_no_directory(tmp_path, monkeypatch):
    def boom(tmp: Path) -> None:
        raise RuntimeError("on_data failed")

    with pytest.raises(RuntimeError):
        run_test(RUN, directory=tmp_path / "runs" / "a", on_data=boom)
    assert list((tmp_path / "runs").iterdir()) == []

    import harness.checks

    def broken(out):
        raise RuntimeError("checker crashed")

    monkeypatch.setattr(harness.checks, "run_checkers", broken)
    with pytest.raises(RuntimeError):
        run_test(RUN, directory=tmp_path / "runs" / "b", on_data=lambda tmp: None)
    assert list((tmp_path / "runs").iterdir()) == []


# ------------------------------------------------------------ plots before the results


def test_plots_drawn_before_the_results_are_those_drawn_after(tmp_path):
    res = run_test(RUN, directory=tmp_path / "a")
    plain = write_plots(res.directory, jobs=1)
    plain_bytes = {name: p.read_bytes() for name, p in plain.items()}
    files = {name: (res.directory / name).read_bytes() for name in DATA_FILES}
    for jobs in (1, 2):
        early = RunData.before_results(tmp_path / "nowhere", files)
        with pytest.raises(ResultsPending):
            early.results  # noqa: B018
        drawn = draw_plots(early, jobs=jobs)
        # every plot but the one that reads the checkers' results (unseen writes)
        assert set(drawn) == set(FILES) - {"unseen"}
        assert {n: d for n, d in drawn.items() if d is not None} == plain_bytes
        assert not list((tmp_path / "nowhere").parent.glob("*.png"))  # nothing written
        out = tmp_path / f"out{jobs}"
        shutil.copytree(res.directory, out, ignore=shutil.ignore_patterns("*.png", "report.html"))
        early.attach_results(out)
        assert early.results["valid"] is False and early.dir == out
        page = write_run_report(early, drawn=drawn)
        assert {p.name: p.read_bytes() for p in out.glob("*.png")} == {FILES[n]: d for n, d in plain_bytes.items()}
        write_run_report(res.directory)
        assert page_text(page) == page_text(res.directory / "report.html").replace(str(res.directory), str(out))


def test_attach_results_refuses_a_directory_without_them(tmp_path):
    from harness.config import ConfigError

    early = RunData.before_results(tmp_path, {})
    with pytest.raises(ConfigError):
        early.attach_results(tmp_path)
    with pytest.raises(ResultsPending):
        early.results  # noqa: B018


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("when", ["before", "before-one-process", "too-late", "never"])
def test_prefork_worker_given_the_data_early_writes_the_same_report(tmp_path, monkeypatch, when):
    monkeypatch.setenv("REPORT_PREFORK", "1")
    # with the page's second plot process, the page is prepared while it draws
    monkeypatch.setenv("REPORT_JOBS", "1" if when == "before-one-process" else "2")
    monkeypatch.setattr(threading, "active_count", lambda: 1)  # a thread another test left idle
    worker = ReportWorker.start()
    assert worker.pid is not None
    if when.startswith("before"):
        res = run_test(RUN, directory=tmp_path / "a", on_data=worker.data)
    else:
        res = run_test(RUN, directory=tmp_path / "a")
        if when == "too-late":  # the directory was renamed before the child looked
            worker.data(tmp_path / ".tmp-gone")
    out = worker.finish(res.directory)
    assert worker.pid is None  # reaped
    assert out == res.directory / "report.html"
    assert_same_as_rebuilt(res.directory, out, tmp_path / "b")


def test_begin_run_then_abort_leaves_nothing(tmp_path):
    from harness.runner import simulate

    out = simulate(RUN)
    pending = begin_run(out, directory=tmp_path / "runs" / "x")
    assert sorted(p.name for p in pending.tmp.iterdir()) == sorted(DATA_FILES)
    pending.abort()
    assert list((tmp_path / "runs").iterdir()) == []


# ------------------------------------------------------------------ leaving the process


def test_exit_now_returns_when_an_exit_handler_is_registered():
    called = []

    def handler() -> None:
        called.append(1)

    atexit.register(handler)
    try:
        _exit_now(0)  # would end pytest if it did not return
    finally:
        atexit.unregister(handler)
    assert called == []


def test_harness_command_exit_codes_output_and_exit_handlers(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = ["run", "--system", "zab", "--time-limit", "3", "--store", str(tmp_path), "--no-report"]
    cmd = [sys.executable, "-c", "from harness.cli import main; import sys; sys.exit(main())"]
    ok = subprocess.run(cmd + run, env=env, capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.rstrip().endswith("seed1") and "verdict: valid" in ok.stdout
    bad = subprocess.run(cmd + run + ["--bug", "zab-commit-without-quorum", "--time-limit", "5"],
                         env=env, capture_output=True, text=True)
    assert bad.returncode == 1 and "verdict: INVALID" in bad.stdout
    usage = subprocess.run(cmd + ["run", "--system", "nope"], env=env, capture_output=True, text=True)
    assert usage.returncode == 254 and usage.stderr.count("\n") == 1
    # an exit handler registered: the ordinary exit, which runs it
    hook = [sys.executable, "-c", "import atexit, sys; from harness.cli import main; "
            "atexit.register(lambda: print('handler ran')); sys.exit(main())"]
    with_hook = subprocess.run(hook + run, env=env, capture_output=True, text=True)
    assert with_hook.returncode == 0 and with_hook.stdout.rstrip().endswith("handler ran")


# ------------------------------------------------------- data files written aside


@pytest.fixture
def one_thread(monkeypatch):
    monkeypatch.setattr(threading, "active_count", lambda: 1)  # a thread another test left idle
    monkeypatch.setenv("HARNESS_WRITE_ASIDE", "1")  # whatever the machine's load


def test_the_writer_is_forked_only_where_it_can_pay(monkeypatch):
    from types import SimpleNamespace

    from harness.store_aside import worth_forking

    run, live = SimpleNamespace(artifacts={}), SimpleNamespace(artifacts={"logs": b"x"})
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.delenv("HARNESS_WRITE_ASIDE", raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.3, 0.0, 0.0))
    assert worth_forking(run) and not worth_forking(live)
    monkeypatch.setattr(os, "getloadavg", lambda: (4.0, 0.0, 0.0))
    assert not worth_forking(run)
    monkeypatch.setenv("HARNESS_WRITE_ASIDE", "1")
    assert worth_forking(run) and not worth_forking(live)
    monkeypatch.setenv("HARNESS_WRITE_ASIDE", "0")
    monkeypatch.setattr(os, "getloadavg", lambda: (0.3, 0.0, 0.0))
    assert not worth_forking(run)
    monkeypatch.delenv("HARNESS_WRITE_ASIDE")
    monkeypatch.setattr(threading, "active_count", lambda: 2)
    assert not worth_forking(run)


def _same_run_dirs(a: Path, b: Path) -> None:
    fa, fb = _files(a), _files(b)
    assert sorted(fa) == sorted(fb) == sorted([*DATA_FILES, "results.json"])
    for name in DATA_FILES:
        assert fa[name] == fb[name], name
    assert _without_wall_times(fa["results.json"]) == _without_wall_times(fb["results.json"])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_data_files_written_aside_are_the_same(tmp_path, one_thread, monkeypatch):
    import gc

    import harness.store_aside as aside

    forked = []
    real_start = aside.start
    monkeypatch.setattr(aside, "start", lambda *a, **k: forked.append(r := real_start(*a, **k)) or r)
    seen = tmp_path / "seen"

    def on_data(tmp: Path) -> None:  # runs in the child: it leaves a note
        seen.write_text(f"{os.getpid()} {' '.join(sorted(p.name for p in tmp.iterdir()))}")

    a = run_test(RUN, directory=tmp_path / "a", write_aside=True, on_data=on_data)
    b = run_test(RUN, directory=tmp_path / "b")
    assert forked and forked[0] is not None and forked[0].pid is None  # forked, reaped
    pid, names = seen.read_text().split(" ", 1)
    assert int(pid) != os.getpid() and names.split() == sorted(DATA_FILES)  # after every data file
    _same_run_dirs(a.directory, b.directory)
    assert a.results["history_sha256"] == b.results["history_sha256"]
    assert gc.get_freeze_count() == 0 and gc.isenabled()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_failing_writer_child_leaves_the_writing_to_this_process(tmp_path, one_thread, monkeypatch):
    import harness.store_aside as aside

    me = os.getpid()
    real = aside.write_data_files

    def fails_in_the_child(*args, **kwargs):
        if os.getpid() != me:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(aside, "write_data_files", fails_in_the_child)
    seen: list[Path] = []
    a = run_test(RUN, directory=tmp_path / "a", write_aside=True, on_data=seen.append)
    b = run_test(RUN, directory=tmp_path / "b")
    assert len(seen) == 1
    _same_run_dirs(a.directory, b.directory)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_full_disk_or_a_crash_with_the_writer_aside_leaves_nothing(tmp_path, one_thread, monkeypatch):
    import harness.checks
    import harness.store_aside as aside

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(aside, "write_data_files", full)
    with pytest.raises(OSError, match="No space"):
        run_test(RUN, directory=tmp_path / "runs" / "a", write_aside=True)
    assert list((tmp_path / "runs").iterdir()) == []
    monkeypatch.undo()
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    monkeypatch.setenv("HARNESS_WRITE_ASIDE", "1")

    def broken(out):
        raise RuntimeError("checker crashed")

    monkeypatch.setattr(harness.checks, "run_checkers", broken)
    forked = []
    real_start = aside.start
    monkeypatch.setattr(aside, "start", lambda *a, **k: forked.append(r := real_start(*a, **k)) or r)
    pids: list[int] = []
    real_fork = os.fork
    monkeypatch.setattr(os, "fork", lambda: pids.append(pid := real_fork()) or pid)
    with pytest.raises(RuntimeError):
        run_test(RUN, directory=tmp_path / "runs" / "b", write_aside=True)
    assert list((tmp_path / "runs").iterdir()) == []
    assert forked and forked[0] is not None and forked[0].pid is None and len(pids) == 1
    with pytest.raises(ChildProcessError):
        os.waitpid(pids[0], os.WNOHANG)  # the writer was reaped


@pytest.mark.skipif(not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists(),
                    reason="needs Linux /proc/PID/task/TID/children")
def test_sigkill_of_the_harness_ends_the_writer_child(tmp_path):
    import signal
    import textwrap
    import time

    from proctree import descendants, survivors

    script = textwrap.dedent(f"""
        import sys, time
        import harness.store_aside as aside
        real = aside.write_data_files
        def slow(*args, **kwargs):  # the child waits here while the test kills its parent
            time.sleep(60)
            return real(*args, **kwargs)
        aside.write_data_files = slow
        from harness.cli import main
        sys.exit(main(["run", "--time-limit", "3", "--store", {str(tmp_path)!r}, "--no-report"]))
    """)
    env = {**os.environ, "HARNESS_WRITE_ASIDE": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        seen: set[tuple[int, str]] = set()
        deadline = time.monotonic() + 60
        while not seen and time.monotonic() < deadline:
            assert proc.poll() is None, "the harness ended before its writer started"
            seen |= descendants(proc.pid)
            time.sleep(0.02)
        assert seen, "no writer started"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        left = survivors(seen)
        assert not left, f"writer left after SIGKILL of the harness: {left}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
