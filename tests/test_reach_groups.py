"""The report's hand-written graph code (who can reach whom under a partition) against
networkx as the oracle: the report itself does not import networkx (its import costs more
than the whole partition picture), so networkx checks it here."""

from __future__ import annotations

import itertools

import networkx as nx
from hypothesis import given, settings, strategies as st

from reports.plots import _components
from reports.rundata import reach_groups

SERVERS = ["z1", "z2", "z3", "b1", "b2", "b3", "b4", "b5"]
PAIRS = list(itertools.combinations(SERVERS, 2))


def reach_graph(servers: list[str], cut: set[frozenset]) -> nx.Graph:
    g = nx.complete_graph(servers)
    g.remove_edges_from(tuple(p) for p in cut)
    return g


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, len(SERVERS)), cut_idx=st.sets(st.integers(0, len(PAIRS) - 1)))
def test_groups_and_components_match_networkx(n: int, cut_idx: set[int]) -> None:
    servers = SERVERS[:n]
    cut = [list(PAIRS[i]) for i in sorted(cut_idx) if PAIRS[i][0] in servers and PAIRS[i][1] in servers]
    g = reach_graph(servers, {frozenset(p) for p in cut})
    expected = sorted(sorted(c) for c in nx.find_cliques(g))
    assert sorted(sorted(c) for c in reach_groups(cut, servers)) == expected
    comps = _components(servers, {frozenset(p) for p in cut})
    assert sorted(sorted(c) for c in comps) == sorted(sorted(c) for c in nx.connected_components(g))
