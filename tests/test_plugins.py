"""The registries' entry-point side (harness.plugins), with entry points faked in place of
an installed package (tests/test_example_plugin.py installs a real one)."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from harness import plugins, system
from harness.checks import checker, checkers_for
from harness.config import ConfigError, RunConfig
from harness.system import SystemSpec, get_system, system_names
from workloads import Workload, workload_class, workload_names


class ShySpec(SystemSpec):
    name = "shy"


NOT_A_SPEC = object()


@pytest.fixture
def declared(monkeypatch):
    eps = [EntryPoint("zz-broken", "no_such_module_here:Spec", plugins.SYSTEMS),
           EntryPoint("shy", f"{__name__}:ShySpec", plugins.SYSTEMS),
           EntryPoint("wrong", f"{__name__}:NOT_A_SPEC", plugins.SYSTEMS),
           # the same name declared by a second package: the first by value is taken
           EntryPoint("shy", "zzz_no_such_module:Later", plugins.SYSTEMS)]
    monkeypatch.setattr(plugins, "entry_points", lambda group: [e for e in eps if e.group == group])
    plugins.declared.cache_clear()
    yield
    plugins.declared.cache_clear()
    system._REGISTRY.pop("shy", None)  # loaded plug-ins are kept: forget the fake one


def test_entry_points_are_listed_without_importing_them(declared):
    names = system_names()
    assert {"zab", "kafka", "shy", "wrong", "zz-broken"} <= set(names) and names == sorted(names)


def test_a_declared_system_is_built_from_its_entry_point(declared):
    spec = get_system("shy")
    assert isinstance(spec, ShySpec) and spec.server_ids(3, {}) == ["n1", "n2", "n3"]
    assert spec.known_settings() == set() and spec.crash_points == ()


@pytest.mark.parametrize("name, why", [("zz-broken", "No module named 'no_such_module_here'"),
                                       ("wrong", "is not a harness.system.SystemSpec subclass")])
def test_a_plugin_that_cannot_load_is_one_line_of_bad_input(declared, name, why):
    with pytest.raises(ConfigError) as e:
        RunConfig(system=name).validate()
    assert why in str(e.value) and "\n" not in str(e.value)


class TablelessSpec(SystemSpec):
    """A plug-in with settings but no SETTINGS table (docs/plugins.md allows it)."""

    name = "tableless"

    def default_settings(self):
        return {"beat_ms": 50, "scale": 0.5, "strict": False, "mode": "fast", "peers": None}


@pytest.fixture
def tableless(monkeypatch):
    monkeypatch.setitem(system._REGISTRY, "tableless", TablelessSpec)
    yield


@pytest.mark.parametrize("key, value, why", [
    ("beat_ms", "abc", "beat_ms must be an integer (the type of its default), not 'abc'"),
    ("beat_ms", 1.5, "beat_ms must be an integer"),
    ("beat_ms", True, "beat_ms must be an integer"),
    ("scale", "x", "scale must be a number"),
    ("scale", float("nan"), "scale must be a number"),
    ("strict", 1, "strict must be true or false"),
    ("mode", 3, "mode must be a string"),
    ("nope", 1, "unknown setting 'nope' for system tableless and workload register "
                "(known: beat_ms, mode, peers, scale, strict)"),
])
def test_a_plugin_without_a_settings_table_gets_the_type_of_its_defaults(tableless, key, value, why):
    with pytest.raises(ConfigError) as e:
        RunConfig(system="tableless", settings={key: value}).validate()
    assert why in str(e.value)


def test_values_of_the_defaults_type_pass_without_a_table(tableless):
    RunConfig(system="tableless", settings={"beat_ms": 7, "scale": 2, "strict": True, "mode": "slow",
                                           "peers": ["n1"]}).validate()


def test_a_system_refuses_a_workload_it_does_not_serve():
    with pytest.raises(ConfigError, match="system kafka does not serve workload register"):
        RunConfig(system="kafka", workload="register").validate()


class EchoWorkload(Workload):
    name = "echo"
    checkers = ("echo-check",)

    def next_op(self, process):
        return ("read", "x0", None)


def echo_check(out, settings):
    return {"echo-check": {"valid": True, "explanation": f"saw {len(out.history)} events"}}


def test_workloads_and_checkers_plug_in_by_entry_point_too(monkeypatch):
    eps = [EntryPoint("echo", f"{__name__}:EchoWorkload", plugins.WORKLOADS),
           EntryPoint("echo-check", f"{__name__}:echo_check", plugins.CHECKERS)]
    monkeypatch.setattr(plugins, "entry_points", lambda group: [e for e in eps if e.group == group])
    plugins.declared.cache_clear()
    try:
        assert "echo" in workload_names() and workload_class("echo") is EchoWorkload
        config = RunConfig(system="toy", workload="echo").validate()
        assert checkers_for(config) == ["echo-check"]
        assert checker("echo-check") is echo_check
    finally:
        plugins.declared.cache_clear()
