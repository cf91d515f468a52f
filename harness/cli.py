"""The ``harness`` command line: run, repro, check, bugs (campaign, shrink, report, export follow).

Exit codes everywhere, as in Jepsen: 0 valid, 1 invalid, 2 unknown, 254 bad usage or
input (one clear line on stderr, no traceback), 255 a crash of the harness itself.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from harness.config import ConfigError, RunConfig
from harness.faults import family_names

EXIT_BAD_INPUT = 254
EXIT_CRASH = 255


#: OSErrors that are the machine's answer, not a harness bug: a full disk, a read-only or
#: missing path, a name too long
ENVIRONMENT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                                errno.ENOTDIR, errno.EISDIR, errno.ENOENT, errno.ENAMETOOLONG,
                                errno.EEXIST, errno.ENOTEMPTY})


class UsageError(Exception):
    pass


class Terminated(KeyboardInterrupt):
    """SIGTERM, taken as Ctrl-C is (a campaign says how to resume, a shrink writes the
    smallest failing run so far), then exit 143 as a process ended by SIGTERM does."""


EXIT_TERMINATED = 128 + 15
#: the SIGTERMs this process took (`main` maps a command's 130 to 143 after one)
_TERMINATED: list[int] = []


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse would exit 2, which means "unknown" here
        raise UsageError(message)


def _nemesis_list(s: str) -> tuple[str, ...]:
    if s.strip() in ("", "none"):
        return ()
    out = tuple(x.strip() for x in s.split(",") if x.strip())
    for x in out:
        if x not in family_names():
            raise argparse.ArgumentTypeError(f"unknown fault {x!r} (known: {', '.join(family_names())}, or none)")
    return out


def _add_run_options(p: argparse.ArgumentParser, campaign: bool = False) -> None:
    """The options of one run; for a ``campaign``, the four an explorative campaign draws
    per run when left out (``harness.swarm``) say so instead of a fixed default."""
    d = RunConfig()

    def default(value: str) -> str:
        if not campaign:
            return f"(default {value})"
        return f"(left out: drawn per run, unless --nemesis or --no-swarm is given: then {value})"

    p.add_argument("--system", default=d.system, help="system under test (default %(default)s)")
    p.add_argument("--workload", default=d.workload, help="workload (default %(default)s)")
    p.add_argument("--nemesis", type=_nemesis_list, default=d.nemesis,
                   help=f"comma list of fault families ({','.join(family_names())}) or none "
                        + (f"(default {','.join(d.nemesis)})" if not campaign else
                           f"(left out: each run draws its own from the families the system can take; "
                           f"with --no-swarm, {','.join(d.nemesis)})"))
    p.add_argument("--nodes", type=int, default=d.nodes, help=f"servers {default(str(d.nodes))}")
    p.add_argument("--clients", type=int, default=d.clients, help="client processes (default %(default)s)")
    p.add_argument("--rate", type=float, default=d.rate, help="operations per simulated second (default %(default)s)")
    p.add_argument("--time-limit", type=float, default=d.time_limit,
                   help="simulated seconds of the main phase (default %(default)s)")
    p.add_argument("--recovery-time", type=float, default=d.recovery_time,
                   help="simulated seconds after healing for the cluster to serve again (default %(default)s)")
    p.add_argument("--nemesis-interval", type=float, default=d.nemesis_interval,
                   help="mean simulated seconds between faults of one family "
                        + default(str(d.nemesis_interval)))
    p.add_argument("--keys", type=int, default=d.keys, help="registers (default %(default)s)")
    # None marks it left out (`--set reads=` may then name it; a campaign may draw it)
    p.add_argument("--reads", default=None, choices=("sync", "local"),
                   help=f"register reads through sync (linearizable) or local {default(d.reads)}")
    p.add_argument("--bug", action="append", default=[], metavar="NAME",
                   help="switch on a planted bug (repeatable; see `harness bugs`)")
    p.add_argument("--fencing", action="store_true",
                   help="election: the storage service rejects writes with a fencing token older "
                        "than one it has seen (same as --set fencing=true)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="settings",
                   help="override a system or workload setting, e.g. counter_bits=6 (repeatable; VALUE is "
                        "JSON if it parses, else a string)")
    p.add_argument("--bin", default=None, metavar="PATH",
                   help="--system maelstrom: the program to run as each node (same as --set bin=PATH)")
    p.add_argument("--bin-arg", action="append", default=[], metavar="ARG", dest="bin_args",
                   help="--system maelstrom: an argument for the program (repeatable; one naming a file "
                        "here is made absolute, as the nodes run in their own directories)")
    p.add_argument("--store", type=Path, default=Path("store"), help="store directory (default %(default)s)")


def _settings(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set takes KEY=VALUE, not {item!r}")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
        except RecursionError:
            raise UsageError(f"--set {key.strip()}: value nested too deep") from None
    return out


def _fold_reads(args: argparse.Namespace) -> None:
    """``--set reads=X`` is ``--reads X``, in place: the nodes see the run option (it wins
    over any setting, ``harness.system.run_settings``), so kept as a setting it would be
    silently overridden by the default. Both, saying different things: UsageError."""
    items = getattr(args, "settings", None)
    if not items or not hasattr(args, "reads"):
        return
    keep = []
    for item in items:
        if item.partition("=")[0].strip() != "reads":
            keep.append(item)
            continue
        value = _settings([item])["reads"]
        if args.reads is not None and value != args.reads:
            raise UsageError(f"--set reads={value} contradicts --reads {args.reads}")
        args.reads = value
    args.settings = keep


def _bin(args: argparse.Namespace) -> dict[str, Any]:
    """--bin/--bin-arg as settings; the path made absolute so repro and campaign workers
    find it from any directory (a bare command name that is no file here, ``python3``, is
    looked up on PATH, as a shell would). So is an argument that names a file here (the
    script of ``--bin python3 --bin-arg prog.py``): the nodes run in their own directories."""
    out: dict[str, Any] = {}
    b = getattr(args, "bin", None)
    if b:
        on_path = None
        if os.sep not in b and not Path(b).exists():
            import shutil

            on_path = shutil.which(b)
        out["bin"] = str(Path(on_path or b).absolute())
    if getattr(args, "bin_args", None):
        out["bin_args"] = [str(Path(a).absolute()) if not a.startswith("-") and not Path(a).is_absolute()
                           and Path(a).is_file() else a for a in args.bin_args]
    return out


def _config_from(args: argparse.Namespace, **extra: Any) -> RunConfig:
    return RunConfig(
        system=args.system, workload=args.workload, nemesis=tuple(args.nemesis), nodes=args.nodes,
        clients=args.clients, rate=args.rate, time_limit=args.time_limit,
        recovery_time=args.recovery_time, nemesis_interval=args.nemesis_interval, keys=args.keys,
        reads=RunConfig().reads if args.reads is None else args.reads, bugs=tuple(dict.fromkeys(args.bug)),
        settings={**_settings(args.settings), **({"fencing": True} if args.fencing else {}), **_bin(args)},
        **extra,
    ).validate()


def _version() -> str:
    """The installed package's version (pyproject.toml's), or "unknown" when run from a tree
    that was never installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("zabkafka-harness")
    except PackageNotFoundError:
        return "unknown"


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; given the ``command`` about to run, the other plugged commands'
    modules are not imported (``harness report`` need not load the campaign machinery)."""
    p = _Parser(prog="harness",
                description="Deterministic fault-injection tests of ZAB/ZooKeeper and a Kafka-style log.")
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    r = sub.add_parser("run", help="run one fault-injected test, simulated or live, and check it")
    _add_run_options(r)
    r.add_argument("--seed", type=int, default=1, help="run seed (default %(default)s)")
    r.add_argument("--json", action="store_true", help="print results.json instead of the table")
    r.add_argument("--no-report", action="store_true", help="skip report.html and the plots")
    r.add_argument("--edn", action="store_true", help="also write Jepsen's history.edn (see harness export)")

    rp = sub.add_parser("repro", help="re-run a run directory and compare its history byte for byte "
                                      "(a live run: its verdicts)")
    rp.add_argument("run_dir", type=Path)
    rp.add_argument("--recheck", action="store_true",
                    help="judge an identical re-run with today's checkers (exit on that verdict) instead of "
                         "reporting the stored one: a kept finding after its checker was fixed")

    c = sub.add_parser("check", help="check history files: linearizability (--model) or queue durability "
                                     "(--workload queue)")
    c.add_argument("--model", metavar="MODEL", help="linearizability model: register, cas-register, kv, "
                   "multi-register, mutex, set, fifo-queue")
    c.add_argument("--workload", choices=("queue",), help="check queue (Kafka) histories for durability anomalies")
    c.add_argument("--initial", metavar="JSON", default=None, help="initial model state as JSON (default null)")
    c.add_argument("--time-limit", metavar="S", default=None, help="seconds of search per file; past it: unknown")
    c.add_argument("--max-steps", metavar="N", default=None,
                   help="search steps per file instead of --time-limit: the same verdict on any machine")
    c.add_argument("--json", action="store_true", help="one JSON object per file per line")
    c.add_argument("--no-final-drain", action="store_true",
                   help="queue: the history has no final drain, so unseen values are not lost writes")
    c.add_argument("files", nargs="+", metavar="FILE", help="history files (.jsonl or Jepsen .edn)")

    sub.add_parser("bugs", help="list the planted bugs")

    # Commands that live in their own modules register their own options.
    for name, module, helptext in _PLUGGED:
        if command is not None and name != command:
            sub.add_parser(name, help=helptext)
            continue
        try:
            mod = __import__(module, fromlist=["add_arguments"])
        except ImportError:
            continue
        sp = sub.add_parser(name, help=helptext)
        mod.add_arguments(sp)
        sp.set_defaults(_plugged=mod)
    return p


#: (command, module with add_arguments(parser) and run(args) -> exit code, help)
_PLUGGED = (
    ("campaign", "harness.campaign", "run many seeds in parallel, with progress and triage"),
    ("shrink", "harness.shrink", "shrink a failing run to a minimal one"),
    ("report", "reports.cli", "(re)build the HTML report of a run or a campaign"),
    ("export", "harness.export", "write a run's history in Jepsen's EDN (history.edn) for Knossos and Elle"),
)


@contextlib.contextmanager
def _sim_progress(config: Any) -> Iterator[Any]:
    """A progress bar of simulated seconds for a long simulated run, on a terminal: shown
    once the run has taken ``PROGRESS_AFTER_S`` of wall time (a standard run is done
    before), gone when the main phase ends; None (no bar) off a terminal and for a live
    run."""
    from harness.system import get_system

    if not sys.stderr.isatty() or get_system(config.system).live:
        yield None
        return
    import time

    t0 = time.monotonic()
    bar: Any = None
    finished = False

    def progress(done: float, total: float) -> None:
        nonlocal bar, finished
        if finished or (bar is None and time.monotonic() - t0 < PROGRESS_AFTER_S):
            return
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=round(total), initial=round(done), unit="s", desc="simulated", file=sys.stderr,
                       leave=False, dynamic_ncols=True, bar_format="{desc} {n:.0f} of {total} s |{bar}| {elapsed}")
        bar.update(round(done) - bar.n)
        if done >= total:  # the main phase is over; what follows (recovery, checks) is short
            finished = True
            bar.close()

    try:
        yield progress
    finally:
        if bar is not None and not finished:
            bar.close()


#: wall seconds a simulated run goes before `_sim_progress` shows its bar
PROGRESS_AFTER_S = 2.0


def cmd_run(args: argparse.Namespace) -> int:
    worker = None
    if not args.no_report:
        # the page's imports (matplotlib) run in a forked process while this one reads the
        # configuration, imports the system and simulates
        from reports.prefork import ReportWorker

        worker = ReportWorker.start()
    try:
        from harness.runner import run_test
        from harness.store import check_writable

        config = _config_from(args, seed=args.seed)
        check_writable(args.store)
        with _sim_progress(config) as progress:
            res = run_test(config, store=args.store, write_aside=True, progress=progress,
                           on_data=worker.data if worker is not None and worker.pid is not None else None)
        if res.directory is not None and args.edn:
            from harness.export import write_history_edn

            write_history_edn(res.directory)
        if res.directory is not None and worker is not None:
            worker.finish(res.directory)
    finally:
        if worker is not None:
            worker.close()
    from harness.runner import exit_code
    from harness.summary import print_run_summary

    if args.json:
        print(json.dumps(res.results, indent=1, default=str))
    else:
        print_run_summary(res)
    return exit_code(res.valid)


def cmd_repro(args: argparse.Namespace) -> int:
    from harness.runner import exit_code, history_bytes, simulate
    from harness.store import load_config, load_results

    config = load_config(args.run_dir)
    from harness.system import get_system

    if getattr(get_system(config.system), "live", False):
        if args.recheck:  # silently ignored before: there is no identical re-run to judge
            raise UsageError(f"--recheck: {args.run_dir} is a live run, not replayable; repro re-runs its "
                             f"schedule and compares verdicts (leave --recheck out)")
        return _repro_live(args.run_dir, config)
    hist = args.run_dir / "history.jsonl"
    if not hist.exists():
        raise ConfigError(f"{args.run_dir} has no history.jsonl")
    old = hist.read_bytes()
    out = simulate(config)
    new = history_bytes(out.history)
    if new == old:
        print(f"identical: {args.run_dir} re-ran from seed {config.seed}; history.jsonl is the same byte for byte "
              f"({len(old)} bytes, {len(out.history)} events)")
        if args.recheck:
            return _recheck(args.run_dir, out)
        try:
            valid = load_results(args.run_dir)["valid"]
            if valid not in (True, False, "unknown"):
                raise ValueError(valid)
        except (OSError, KeyError, ValueError, TypeError):
            # results.json gone or damaged: the verdict is judged again, never assumed valid
            from harness.checks import run_checkers
            from harness.runner import merge_verdicts

            checks = run_checkers(out)
            valid = merge_verdicts(c.valid for c in checks.values() if c.decides)
            print(f"  {args.run_dir}/results.json is missing or unreadable: checked again, verdict {_verdict(valid)}",
                  file=sys.stderr)
        return exit_code(valid)
    _refuse_damaged_history(args.run_dir, old, new)
    old_lines, new_lines = old.decode(errors="replace").splitlines(), new.decode().splitlines()
    first = next((i for i, (a, b) in enumerate(zip(old_lines, new_lines)) if a != b),
                 min(len(old_lines), len(new_lines)))
    print(f"DIFFERENT: {args.run_dir} re-ran from seed {config.seed}; history differs first at line {first + 1} "
          f"(exit {EXIT_CRASH}: a run that does not reproduce is a bug in the harness or the code changed)")
    print(f"  stored: {old_lines[first] if first < len(old_lines) else '<end>'}")
    print(f"  re-run: {new_lines[first] if first < len(new_lines) else '<end>'}")
    return EXIT_CRASH


def _verdict(v: Any) -> str:
    """A verdict as the run summary prints it: valid, INVALID, unknown."""
    from harness.summary import _verdict as shown

    return shown(v)


def _refuse_damaged_history(run_dir: Path, old: bytes, new: bytes) -> None:
    """ConfigError when the stored history.jsonl is not the one results.json recorded (a
    truncated or edited file): a damaged input, not a run that does not reproduce."""
    import hashlib

    from harness.store import load_results

    try:
        recorded = load_results(run_dir).get("history_sha256")
    except (OSError, KeyError, ValueError, TypeError, AttributeError):
        return
    if not isinstance(recorded, str) or hashlib.sha256(old).hexdigest() == recorded:
        return
    rerun = ("the re-run's history has the recorded sha256, so the run reproduces"
             if hashlib.sha256(new).hexdigest() == recorded else "nor has the re-run's history")
    raise ConfigError(f"{run_dir}/history.jsonl is damaged: its sha256 is not the one results.json recorded "
                      f"({recorded[:16]}...); {rerun}")


def _recheck(run_dir: Path, out: Any) -> int:
    """Judge a re-run whose history is identical with today's checkers (they read the
    re-run's trace, which today's code writes) and show the stored verdicts beside."""
    from harness.checks import run_checkers
    from harness.runner import exit_code, merge_verdicts
    from harness.store import load_results

    try:
        old = load_results(run_dir)
    except (OSError, KeyError, ValueError, TypeError):
        old = {}
    checks = run_checkers(out)
    valid = merge_verdicts(c.valid for c in checks.values() if c.decides)
    print(f"re-checked: stored {_verdict(old.get('valid', 'missing'))}, today's checkers {_verdict(valid)}")
    for name, chk in checks.items():
        before = (old.get("checkers") or {}).get(name, {}).get("valid", "missing")
        print(f"  {name:28} stored {_verdict(before):8} re-checked {_verdict(chk.valid)}")
    return exit_code(valid)


def _repro_live(run_dir: Path, config: RunConfig) -> int:
    """A live run is not replayable: re-run its schedule on real processes and compare
    the verdicts (overall and per checker), not bytes."""
    from harness.runner import exit_code, run_test
    from harness.store import load_results

    try:
        old = load_results(run_dir)
    except (OSError, KeyError, ValueError):
        old = {}
    print(f"{run_dir} is a live run: its interleaving is not replayable; re-running its fault schedule "
          f"(seed {config.seed}) on real processes and comparing verdicts, not bytes")
    res = run_test(config)
    old_v = old.get("valid", "missing")
    same = old_v == res.valid
    print(f"{'same verdict' if same else 'DIFFERENT verdict'}: stored {_verdict(old_v)}, re-run {_verdict(res.valid)}")
    for name, chk in res.results["checkers"].items():
        before = (old.get("checkers") or {}).get(name, {}).get("valid", "missing")
        print(f"  {name:28} stored {_verdict(before):8} re-run {_verdict(chk.get('valid'))}")
    return exit_code(res.valid)


def cmd_check(args: argparse.Namespace) -> int:
    if args.workload == "queue":
        if args.model:
            raise UsageError("give either --model or --workload queue, not both")
        given = [flag for flag, v in (("--initial", args.initial), ("--time-limit", args.time_limit),
                                      ("--max-steps", args.max_steps)) if v is not None]
        if given:  # silently ignored before: the queue checker has no model and no search
            raise UsageError(f"{', '.join(given)}: for --model (linearizability), not --workload queue")
        from checkers.durability_cli import run as run_queue

        return run_queue(args)
    if not args.model:
        raise UsageError("check needs --model M (linearizability) or --workload queue")
    if args.no_final_drain:
        raise UsageError("--no-final-drain: for --workload queue, not --model")
    from checkers.linearizable.cli import run

    return run(args)


def cmd_bugs(args: argparse.Namespace) -> int:
    from harness.bugs import print_bugs

    return print_bugs()


COMMANDS = {"run": cmd_run, "repro": cmd_repro, "check": cmd_check, "bugs": cmd_bugs}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command in ``argv`` (default: this process's arguments); its exit code.

    Called without ``argv``, as the ``harness`` command calls it, it ends the process
    itself once the command is done (`_exit_now`)."""
    previous = _on_sigterm_raise()
    _TERMINATED.clear()
    try:
        code = _main(argv)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if _TERMINATED and code == 130:  # a command that took it as Ctrl-C (shrink) and returned
        code = EXIT_TERMINATED
    if argv is None:
        _exit_now(code)
    return code


def _on_sigterm_raise() -> Any:
    """Make SIGTERM raise `Terminated` in this process (a process forked from it dies of
    it as before); the handler it replaces, or None where no handler can be set."""
    pid = os.getpid()

    def handler(signum: int, frame: Any) -> None:
        if os.getpid() != pid:  # a forked worker or writer: the default, die at once
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        _TERMINATED.append(signum)
        raise Terminated

    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (an embedding program's worker thread)
        return None


def _exit_now(code: int) -> None:
    """End the process with ``code`` now, without the interpreter's teardown, when that
    loses nothing: no exit handler registered (``multiprocessing``, ``logging``,
    ``weakref.finalize`` and ``tempfile``'s cleanups register theirs), no other thread,
    and stdout and stderr flushed (files are closed where they are written). Otherwise,
    and where CPython's ``atexit._ncallbacks`` is missing, return: the ordinary exit.

    The teardown frees every object a run left and clears some 160 modules one by one:
    20-40 ms of wall time of the standard run, spent on memory that the end of the
    process frees at once."""
    import atexit

    pending = getattr(atexit, "_ncallbacks", None)
    threading = sys.modules.get("threading")
    if pending is None or pending() or (threading is not None and threading.active_count() > 1):
        return
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):  # a closed pipe: the ordinary exit says so as before
        return
    os._exit(code)


def _main(argv: Sequence[str] | None) -> int:
    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        first = next((a for a in argv if not a.startswith("-")), None)
        known = first in COMMANDS or first in {n for n, _, _ in _PLUGGED}
        args = build_parser(first if known else None).parse_args(argv)
        _fold_reads(args)
        plugged = getattr(args, "_plugged", None)
        if plugged is not None:
            code: int = plugged.run(args)
            return code
        return COMMANDS[args.command](args)
    except (UsageError, ConfigError) as e:
        print(f"harness: error: {' '.join(str(e).split())}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # e.g. piped into head
        sys.stderr.close()
        return 0
    except Terminated:
        print("harness: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return 130
    except SystemExit as e:  # --help; or a live run's SIGTERM / SIGHUP (`harness.live.procs`)
        code = int(e.code or 0)
        if code in (128 + signal.SIGTERM, 128 + signal.SIGHUP):
            print("harness: terminated", file=sys.stderr)
        return code
    except OSError as e:
        if e.errno not in ENVIRONMENT_ERRNOS:
            return _crash()
        # the machine said no (full disk, read-only or missing path): one line, no traceback
        where = f": {e.filename}" if e.filename else ""
        print(f"harness: error: {e.strerror or e}{where}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception:
        return _crash()


def _crash() -> int:
    import traceback

    traceback.print_exc()
    print("harness: crashed (exit 255): this is a bug in the harness", file=sys.stderr)
    return EXIT_CRASH


if __name__ == "__main__":
    sys.exit(main())
