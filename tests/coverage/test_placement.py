"""Placement: optima equal brute force; greedy keeps its guarantee; results are ranked."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from lifecircle.coverage.placement import (
    CoverageProblem,
    MaximalCovering,
    SetCovering,
    greedy_cover,
    rank_sites,
)
from tests.oracle import brute_force_max_cover, brute_force_set_cover


def random_problem(
    seed: int, n_cand: int = 12, n_dem: int = 40, density: float = 0.15
) -> CoverageProblem:
    rng = np.random.default_rng(seed)
    dense = rng.random((n_cand, n_dem)) < density
    weights = rng.integers(1, 500, n_dem).astype(float)
    weights[rng.random(n_dem) < 0.1] = 0.0  # some already covered
    return CoverageProblem(sp.csr_matrix(dense), weights)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("p", [1, 2, 3, 4])
def test_maximal_covering_equals_brute_force(seed: int, p: int) -> None:
    prob = random_problem(seed)
    result = MaximalCovering(p).solve(prob)
    assert result.status == "optimal" and result.gap == 0
    assert result.covered == pytest.approx(brute_force_max_cover(prob.sets, prob.weights, p))
    assert len(result.selected) <= p
    assert result.bound >= result.covered - 1e-9


@pytest.mark.parametrize("seed", range(12))
def test_milp_alone_and_greedy_bound(seed: int) -> None:
    prob = random_problem(seed, n_cand=14)
    best = brute_force_max_cover(prob.sets, prob.weights, 3)
    assert MaximalCovering(3, method="milp").solve(prob).covered == pytest.approx(best)
    greedy = MaximalCovering(3, method="greedy").solve(prob)
    assert greedy.covered >= (1 - 1 / np.e) * best - 1e-9
    assert greedy.bound >= best - 1e-6  # the LP bound is a true upper bound


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("share", [0.5, 0.9, 1.0])
def test_set_covering_equals_brute_force(seed: int, share: float) -> None:
    prob = random_problem(seed, n_cand=10, n_dem=30, density=0.25)
    result = SetCovering(share).solve(prob)
    need = share * prob.coverable
    assert result.status == "optimal"
    assert result.objective == brute_force_set_cover(prob.sets, prob.weights, need)
    assert result.covered >= need - 1e-6


def test_sites_are_ranked_by_marginal_gain() -> None:
    sets = sp.csr_matrix(np.array([[1, 1, 1, 0, 0], [0, 0, 1, 1, 0], [0, 0, 0, 0, 1]], dtype=bool))
    w = np.array([10.0, 10.0, 10.0, 25.0, 1.0])
    order, gains = rank_sites(CoverageProblem(sets, w), np.array([2, 1, 0]))
    # site 1 covers 35, then site 0 adds 20 (its third point is taken), then site 2 adds 1
    assert order.tolist() == [1, 0, 2]
    assert gains.tolist() == [35.0, 20.0, 1.0]


def test_reduce_merges_identical_demand_and_drops_dominated_sites() -> None:
    sets = sp.csr_matrix(
        np.array(
            [
                [1, 1, 0, 0, 0],
                [1, 1, 1, 0, 0],  # equal to candidate 0 once demand 2 (weight 0) is gone
                [0, 0, 0, 1, 1],
                [0, 0, 0, 1, 1],  # equal to candidate 2
                [0, 0, 0, 1, 0],  # contained in candidate 2
            ],
            dtype=bool,
        )
    )
    w = np.array([1.0, 2.0, 0.0, 4.0, 8.0])
    red, cand = CoverageProblem(sets, w).reduce()
    assert cand.tolist() == [0, 2]  # of equal sets the first is kept
    # demand 2 has weight 0 and is dropped; 0 and 1 are covered by the same candidates
    # and merge; 3 (covered by 2, 3, 4) and 4 (by 2, 3) stay apart
    assert sorted(red.weights.tolist()) == [3.0, 4.0, 8.0]


def test_uncoverable_residents_are_reported() -> None:
    sets = sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 0]], dtype=bool))
    r = MaximalCovering(2).solve(CoverageProblem(sets, np.array([3.0, 4.0, 100.0])))
    assert r.covered == 7.0 and r.uncoverable == 100.0


def test_greedy_is_exact_when_sets_are_disjoint() -> None:
    sets = sp.csr_matrix(np.eye(5, dtype=bool))
    w = np.array([5.0, 1.0, 4.0, 2.0, 3.0])
    assert greedy_cover(CoverageProblem(sets, w), p=3).tolist() == [0, 2, 4]


def test_maximal_covering_equals_spopt_with_cbc_on_helsinki(
    helsinki_area, helsinki_network
) -> None:
    """A medium instance from real walking distances: our optimum equals spopt's MCLP (CBC)."""
    import pulp
    from spopt.locate import MCLP

    net = helsinki_network
    rng = np.random.default_rng(11)
    xy = np.vstack(
        [np.asarray(g.coords[0]) for g in net.geometry[rng.choice(net.n_edges, 120, replace=False)]]
    )
    demand = helsinki_area.demand
    weights = rng.integers(1, 500, len(demand)).astype(float)
    pairs = net.pair_distances(net.snap(xy), net.snap(demand), limit_m=400.0)
    problem = CoverageProblem(pairs.to_csr(), weights)
    ours = MaximalCovering(6).solve(problem)
    cost = np.full((len(demand), len(xy)), 1e9)
    cost[pairs.target, pairs.source] = pairs.dist
    model = MCLP.from_cost_matrix(cost, weights, service_radius=400.0, p_facilities=6).solve(
        pulp.PULP_CBC_CMD(msg=False)
    )
    assert pulp.LpStatus[model.problem.status] == "Optimal"
    assert ours.status == "optimal"
    assert ours.covered == pytest.approx(pulp.value(model.problem.objective))
    assert problem.sets.nnz > 1000 and problem.n_candidates == 120  # a real instance, not a toy
