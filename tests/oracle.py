"""Independent oracles for the tests: networkx on split edges, brute force placement."""

from __future__ import annotations

import itertools
from collections import defaultdict

import networkx as nx
import numpy as np
import scipy.sparse as sp

from lifecircle.coverage.network import Snap, WalkNetwork


def split_graph(network: WalkNetwork, groups: dict[str, Snap]) -> nx.Graph:
    """The network as a networkx graph with every snapped point inserted as a node.

    An edge carrying points is cut at their positions (in order along the edge); each
    point hangs off its cut by its access leg. Point nodes are ``(group, i)``; network
    nodes keep their internal index. Parallel edges without points keep the shortest.
    """
    on_edge: dict[int, list[tuple[float, tuple[str, int], float]]] = defaultdict(list)
    for name, snap in groups.items():
        for i in np.flatnonzero(snap.ok):
            on_edge[int(snap.edge[i])].append(
                (float(snap.t[i]), (name, int(i)), float(snap.access_m[i]))
            )
    G = nx.Graph()
    G.add_nodes_from(range(network.n_nodes))
    for e in range(network.n_edges):
        u, v, L = int(network.u[e]), int(network.v[e]), float(network.length[e])
        pts = sorted(on_edge.get(e, []), key=lambda x: x[0])
        if not pts:
            if u != v and (not G.has_edge(u, v) or G[u][v]["w"] > L):
                G.add_edge(u, v, w=L)
            continue
        prev, prev_t = u, 0.0
        for k, (t, node, access) in enumerate(pts):
            cut = ("cut", e, k)
            G.add_edge(prev, cut, w=(t - prev_t) * L)
            G.add_edge(cut, node, w=access)
            prev, prev_t = cut, t
        G.add_edge(prev, v, w=(1.0 - prev_t) * L)
    return G


def oracle_distances(G: nx.Graph, group: str, idx: np.ndarray, cutoff: float | None = None) -> dict:
    """networkx multi-source Dijkstra from the points ``idx`` of ``group``."""
    sources = [(group, int(i)) for i in idx if G.has_node((group, int(i)))]
    if not sources:
        return {}
    return nx.multi_source_dijkstra_path_length(G, sources, cutoff=cutoff, weight="w")


def brute_force_max_cover(sets: sp.csr_matrix, weights: np.ndarray, p: int) -> float:
    """The best weight any ``p`` candidates cover, by trying every subset."""
    dense = sets.toarray().astype(bool)
    best = 0.0
    for combo in itertools.combinations(range(dense.shape[0]), min(p, dense.shape[0])):
        hit = dense[list(combo)].any(axis=0)
        best = max(best, float(weights[hit].sum()))
    return best


def brute_force_set_cover(sets: sp.csr_matrix, weights: np.ndarray, need: float) -> int:
    """The fewest candidates that cover at least ``need`` weight, by trying every subset."""
    dense = sets.toarray().astype(bool)
    for k in range(0, dense.shape[0] + 1):
        for combo in itertools.combinations(range(dense.shape[0]), k):
            hit = dense[list(combo)].any(axis=0) if combo else np.zeros(dense.shape[1], bool)
            if float(weights[hit].sum()) >= need - 1e-9:
                return k
    raise AssertionError("target not reachable")
