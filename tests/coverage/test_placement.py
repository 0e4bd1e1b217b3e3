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


# A street-like hand-made case: neighbouring candidates with the same set (1 and 2), a
# candidate inside another's reach (4 inside 3), demand points that the same candidates
# reach (0 and 1; 4, 5 and 6), one already covered (weight 0: 7) and one nobody reaches (8).
HAND_SETS = np.array(
    [
        # 0  1  2  3  4  5  6  7  8
        [1, 1, 1, 0, 0, 0, 0, 0, 0],  # 0
        [0, 0, 1, 1, 0, 0, 0, 1, 0],  # 1
        [0, 0, 1, 1, 0, 0, 0, 1, 0],  # 2 = 1
        [0, 0, 0, 1, 1, 1, 1, 0, 0],  # 3
        [0, 0, 0, 0, 1, 1, 1, 0, 0],  # 4 inside 3
        [1, 1, 0, 0, 0, 0, 0, 1, 0],  # 5 inside 0
    ],
    dtype=bool,
)
HAND_WEIGHTS = np.array([4.0, 6.0, 3.0, 7.0, 2.0, 5.0, 1.0, 0.0, 9.0])


def test_reduction_of_a_hand_made_case() -> None:
    """The reduced problem, worked out by hand: demand 7 (weight 0) and 8 (nobody) go;
    0+1 merge (10), 4+5+6 merge (8); 2 = 1 keeps 1; 4 and 5 are dominated."""
    prob = CoverageProblem(sp.csr_matrix(HAND_SETS), HAND_WEIGHTS)
    red, cand = prob.reduce()
    assert cand.tolist() == [0, 1, 3]
    # columns in order of first appearance: {0,1} 10, {2} 3, {3} 7, {4,5,6} 8
    assert red.weights.tolist() == [10.0, 3.0, 7.0, 8.0]
    assert red.sets.toarray().astype(int).tolist() == [[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]]
    # by hand: p = 1 takes 3 (7 + 8 = 15, against 13 and 10); p = 2 takes 0 and 3 (13 + 15)
    for p, best in [(1, 15.0), (2, 28.0), (3, 28.0)]:
        assert brute_force_max_cover(red.sets, red.weights, p) == best
        assert brute_force_max_cover(prob.sets, prob.weights, p) == best
        assert MaximalCovering(p).solve(prob).covered == best
    assert red.total == prob.coverable == 28.0


def street_like_problem(seed: int) -> CoverageProblem:
    """A random problem with the redundancy of real ones: every candidate repeated or
    shrunk a few times (neighbouring street points), demand points repeated (homes that
    the same sites reach), some weights 0."""
    rng = np.random.default_rng(seed)
    base = rng.random((5, 12)) < 0.3
    rows = [base]
    for _ in range(2):
        rows.append(base & (rng.random(base.shape) < 0.8))  # shrunk copies: dominated
    dense = np.vstack([*rows, base[:2]])  # and exact copies
    dense = dense[rng.permutation(len(dense))]
    dense = np.hstack([dense, dense[:, rng.integers(0, 12, 8)]])  # repeated demand
    weights = rng.integers(1, 100, dense.shape[1]).astype(float)
    weights[rng.random(len(weights)) < 0.15] = 0.0
    return CoverageProblem(sp.csr_matrix(dense), weights)


@pytest.mark.parametrize("seed", range(10))
def test_reduction_keeps_the_optimum_against_brute_force(seed: int) -> None:
    """Merging demand and dropping repeated and dominated candidates changes no optimum:
    brute force on the reduced problem equals brute force on the whole one, for both
    models; and the solver, which reduces, reaches it."""
    prob = street_like_problem(seed)
    red, _ = prob.reduce()
    assert red.n_candidates < prob.n_candidates and len(red.weights) < len(prob.weights)
    # the kept candidates are the original rows, restricted to the kept demand
    assert np.array_equal(red.covered_weight(np.arange(red.n_candidates)), prob.coverable)
    for p in (1, 2, 3):
        best = brute_force_max_cover(prob.sets, prob.weights, p)
        assert brute_force_max_cover(red.sets, red.weights, p) == pytest.approx(best)
        result = MaximalCovering(p).solve(prob)
        assert result.covered == pytest.approx(best) and result.status == "optimal"
        assert prob.covered_weight(result.selected) == pytest.approx(best)
    for share in (0.6, 1.0):
        need = share * prob.coverable
        fewest = brute_force_set_cover(prob.sets, prob.weights, need)
        assert brute_force_set_cover(red.sets, red.weights, need) == fewest
        assert SetCovering(share).solve(prob).objective == fewest


def test_candidate_fractions_are_linspace_bit_for_bit() -> None:
    """The points along each street, computed in one pass, are numpy.linspace's exactly."""
    from lifecircle.coverage.sites import _fractions

    n = np.random.default_rng(2).integers(1, 400, 5000)
    expect = np.concatenate([np.linspace(0.0, 1.0, k + 1) for k in n])
    assert np.array_equal(_fractions(n).view(np.int64), expect.view(np.int64))
    assert len(_fractions(np.empty(0, dtype=int))) == 0
