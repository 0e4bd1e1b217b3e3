"""Where new facilities should go: maximal covering and set covering on walking distance.

The core works on plain arrays: a sparse candidates x demand matrix saying which candidate
site covers which demand point (within the category's walking threshold), and each demand
point's weight (residents not yet covered by existing facilities, which always stay).

Solving follows what makes large instances tractable:

1. reduce: drop demand nobody can cover, merge demand points with identical coverage
   sets (their weights summed), drop candidates whose set equals or is contained in
   another's; identical sets are found by a hash of each set checked against the set
   itself, in vectorised passes;
2. greedy (the best next site, again and again; within 1 - 1/e of the optimum);
3. interchange: swap a chosen site for another while that covers more;
4. the LP relaxation (HiGHS): its optimum bounds what any ``p`` sites cover, and when the
   greedy cover meets it the cover is proven optimal (method ``greedy+swap+lp bound``);
5. otherwise an integer program solved by HiGHS from that start, with a time limit: the
   result says "optimal" or gives the proven gap to the solver's bound.

The demand weights are one number per demand point (:class:`CoverageProblem`'s
``weights``), whatever they count (residents, or residents weighted by group).

Each model is a small class whose ``solve()`` returns a :class:`PlacementResult`.
"""

from __future__ import annotations

import itertools
import logging
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from lifecircle.errors import Problem, SolverError

__all__ = [
    "CoverageProblem",
    "MaximalCovering",
    "PlacementResult",
    "SetCovering",
    "greedy_cover",
    "rank_sites",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CoverageProblem:
    """Which candidate covers which demand point, and what each demand point weighs.

    Parameters
    ----------
    sets
        ``(n_candidates, n_demand)`` sparse boolean matrix.
    weights
        Residents per demand point still to cover (0 for those already covered).
    """

    sets: sp.csr_matrix
    weights: np.ndarray

    def __post_init__(self) -> None:
        if self.sets.shape[1] != len(self.weights):
            raise ValueError("sets has one column per demand point")

    @property
    def n_candidates(self) -> int:
        """Number of candidate sites."""
        return int(self.sets.shape[0])

    def covered_weight(self, selected: np.ndarray) -> float:
        """Weight covered by the candidates ``selected``."""
        if len(selected) == 0:
            return 0.0
        hit = np.asarray(self.sets[np.asarray(selected)].sum(axis=0)).ravel() > 0
        return float(self.weights[hit].sum())

    @property
    def coverable(self) -> float:
        """Weight that at least one candidate covers."""
        hit = np.asarray(self.sets.sum(axis=0)).ravel() > 0
        return float(self.weights[hit].sum())

    @property
    def total(self) -> float:
        """All the weight."""
        return float(self.weights.sum())

    def reduce(self, *, dominance: bool = True) -> tuple[CoverageProblem, np.ndarray]:
        """An equivalent smaller problem and the original index of each kept candidate.

        Demand points of zero weight or that no candidate covers are dropped; demand points
        with identical coverage sets are merged (weights summed); of candidates with
        identical sets the first is kept. With ``dominance``, a candidate whose set is
        contained in another candidate's set is dropped: some optimum never needs it.
        """
        A = sp.csc_matrix(self.sets, dtype=bool)
        A.eliminate_zeros()
        w = np.asarray(self.weights, float)
        col_nnz = np.diff(A.indptr)
        keep_cols = np.flatnonzero((w > 0) & (col_nnz > 0))
        A = A[:, keep_cols]
        w = w[keep_cols]
        A.sort_indices()
        # merge identical columns (demand points that the same candidates cover)
        group, first = _identical(A.indptr, A.indices)
        merged_w = np.bincount(group, weights=w, minlength=len(first))
        B = sp.csr_matrix(A[:, first], dtype=bool)
        B.sort_indices()
        cand = np.arange(B.shape[0])
        nz = np.diff(B.indptr) > 0
        B, cand = B[nz], cand[nz]
        # candidates with identical sets (neighbouring street nodes often are): keep the first
        _, rows = _identical(B.indptr, B.indices)
        if len(rows) < B.shape[0]:
            B, cand = B[rows], cand[rows]
        # the containment test costs about sum(candidates per demand point ^ 2)
        work = float((np.diff(B.tocsc().indptr).astype(float) ** 2).sum())
        if dominance and B.shape[0] > 1 and work <= DOMINANCE_WORK:
            B, cand = _drop_dominated(B, cand)
        return CoverageProblem(B.tocsr(), merged_w), cand


def _identical(indptr: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group the rows of a sparse pattern (sorted indices) that are identical.

    Returns each row's group, groups numbered in the order of their first row, and each
    group's first row. Rows are hashed (a sum of random 64-bit keys of their columns, with
    their length) in one vectorised pass; every row is then compared with its group's first
    row, so a hash collision (never seen) only sends the rows to the exact, slower path.
    """
    n = len(indptr) - 1
    if n == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    count = np.diff(indptr).astype(np.int64)
    col_key = (
        np.random.default_rng(18)
        .integers(1, np.iinfo(np.int64).max, int(indices.max(initial=0)) + 1, dtype=np.int64)
        .astype(np.uint64)
    )
    key = np.zeros(n, np.uint64)
    full = count > 0
    if full.any():
        sums = np.add.reduceat(col_key[indices[: indptr[-1]]], indptr[:-1][full].astype(np.int64))
        key[full] = sums
    key ^= count.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    _, first_sorted, inverse = np.unique(key, return_index=True, return_inverse=True)
    # number the groups by their first row
    order = np.argsort(first_sorted, kind="stable")
    label = np.empty(len(order), np.int64)
    label[order] = np.arange(len(order))
    group = label[inverse.ravel()]
    first = first_sorted[order].astype(np.int64)
    rep = first[group]
    same = count == count[rep]
    if same.all():
        row = np.repeat(np.arange(n), count)
        offset = np.arange(len(indices)) - np.repeat(indptr[:-1].astype(np.int64), count)
        same &= (
            np.bincount(
                row,
                weights=(indices != indices[indptr[rep[row]].astype(np.int64) + offset]),
                minlength=n,
            )
            == 0
        )
    if same.all():
        return group, first
    return _identical_exact(indptr, indices)


def _identical_exact(indptr: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_identical` by the rows' bytes, one row at a time."""
    uniq: dict[bytes, int] = {}
    group = np.empty(len(indptr) - 1, dtype=np.int64)
    for j in range(len(group)):
        group[j] = uniq.setdefault(indices[indptr[j] : indptr[j + 1]].tobytes(), len(uniq))
    first = np.full(len(uniq), -1, dtype=np.int64)
    first[group[::-1]] = np.arange(len(group))[::-1]
    return group, first


DOMINANCE_WORK = 5e8
"""Largest containment test :meth:`CoverageProblem.reduce` runs (pairs of candidates that
share a demand point); bigger problems keep their dominated candidates."""


def _drop_dominated(B: sp.csr_matrix, cand: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
    size = np.diff(B.indptr).astype(np.int64)
    Bi = sp.csr_matrix(B, dtype=np.int32)
    BT = Bi.T.tocsr()  # transposed once, not once per block
    # rows in blocks of about the same number of candidate pairs (the product's size)
    per_demand = np.diff(BT.indptr).astype(np.float64)
    pairs = Bi @ per_demand
    ends = np.searchsorted(np.cumsum(pairs), np.arange(1, 1 + int(pairs.sum() // 2e7)) * 2e7)
    bounds = np.unique(np.concatenate([[0], ends, [B.shape[0]]]))
    drop = np.zeros(B.shape[0], dtype=bool)
    for start, stop in itertools.pairwise(bounds):
        overlap = (Bi[start:stop] @ BT).tocoo()
        j = overlap.row + start
        k = overlap.col
        contained = (overlap.data == size[j]) & (j != k)
        strict = size[k] > size[j]
        tie = (size[k] == size[j]) & (k < j)
        drop[j[contained & (strict | tie)]] = True
    keep = ~drop
    return B[keep], cand[keep]


@dataclass(frozen=True)
class PlacementResult:
    """Chosen sites and how good the choice is.

    Attributes
    ----------
    selected
        Candidate indices, in rank order: each adds the most of what is left.
    gains
        Weight newly covered by each selected site, in rank order (marginal gains).
    objective
        Total weight covered (maximal covering) or number of sites (set covering).
    bound
        The best bound proven: an upper bound on the covered weight (maximal covering) or
        a lower bound on the number of sites (set covering).
    gap
        Relative gap between ``objective`` and ``bound`` (0 when proven optimal).
    status
        ``"optimal"``, ``"time limit"`` (feasible, gap proven), or ``"heuristic"``.
    method
        How the result was reached (e.g. ``"greedy+swap+highs"``).
    seconds
        Wall time.
    total, coverable
        All demand weight, and the part some candidate covers; ``total - coverable``
        needs a site outside the candidates.
    """

    selected: np.ndarray
    gains: np.ndarray
    objective: float
    bound: float
    gap: float
    status: str
    method: str
    seconds: float
    total: float
    coverable: float

    @property
    def covered(self) -> float:
        """Weight covered by the selected sites."""
        return float(self.gains.sum())

    @property
    def uncoverable(self) -> float:
        """Weight that no candidate reaches."""
        return self.total - self.coverable


def rank_sites(problem: CoverageProblem, selected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order sites so that each adds the most of what is left, with their marginal gains."""
    selected = np.asarray(selected, dtype=np.int64)
    A = sp.csr_matrix(problem.sets[selected], dtype=bool)
    left = problem.weights.astype(float).copy()
    order, gains = [], []
    remaining = list(range(len(selected)))
    while remaining:
        g = np.array([left[A.indices[A.indptr[i] : A.indptr[i + 1]]].sum() for i in remaining])
        best = int(np.argmax(g))
        i = remaining.pop(best)
        order.append(selected[i])
        gains.append(g[best])
        left[A.indices[A.indptr[i] : A.indptr[i + 1]]] = 0.0
    return np.array(order, dtype=np.int64), np.array(gains, dtype=float)


def greedy_cover(
    problem: CoverageProblem, *, p: int | None = None, target: float | None = None
) -> np.ndarray:
    """Add the site that newly covers the most until ``p`` sites or ``target`` weight.

    Exact incremental gains: when a demand point is covered, every candidate covering it
    loses its weight (one sparse product per pick).

    Parameters
    ----------
    problem
        The coverage sets and weights.
    p
        Stop after this many sites (all candidates when ``None``).
    target
        Stop once this much weight is covered.

    Returns
    -------
    numpy.ndarray
        The chosen candidates' rows, in the order picked.
    """
    A = sp.csr_matrix(problem.sets, dtype=np.float64)
    AT = sp.csc_matrix(A)
    w = problem.weights.astype(float).copy()
    gain = A @ w
    chosen: list[int] = []
    covered = 0.0
    limit = p if p is not None else problem.n_candidates
    while len(chosen) < limit:
        if target is not None and covered >= target - 1e-9:
            break
        j = int(np.argmax(gain))
        if gain[j] <= 0:
            break
        chosen.append(j)
        cols = A.indices[A.indptr[j] : A.indptr[j + 1]]
        newly = cols[w[cols] > 0]
        covered += float(w[newly].sum())
        gain -= AT[:, newly] @ w[newly]
        w[newly] = 0.0
        gain[j] = -np.inf
    return np.array(chosen, dtype=np.int64)


def _swap_improve(
    problem: CoverageProblem,
    selected: np.ndarray,
    *,
    max_rounds: int = 1000,
    deadline: float = np.inf,
) -> np.ndarray:
    """Interchange search: the best swap of a chosen site for an unchosen one, while it helps."""
    A = sp.csr_matrix(problem.sets, dtype=np.float64)
    w = problem.weights.astype(float)
    sel = list(int(s) for s in selected)
    if not sel:
        return np.array(sel, dtype=np.int64)
    for _ in range(max_rounds):
        if time.perf_counter() > deadline:
            break
        count = np.asarray(A[sel].sum(axis=0)).ravel()
        free = w * (count == 0)
        gain0 = A @ free
        best_delta, best_pair = 1e-9, None
        in_sel = np.zeros(A.shape[0], bool)
        in_sel[sel] = True
        for s in sel:
            cols = A.indices[A.indptr[s] : A.indptr[s + 1]]
            only = cols[count[cols] == 1]
            loss = float(w[only].sum())
            v = np.zeros(len(w))
            v[only] = w[only]
            delta = gain0 + A @ v - loss
            delta[in_sel] = -np.inf
            c = int(np.argmax(delta))
            if delta[c] > best_delta:
                best_delta, best_pair = float(delta[c]), (s, c)
        if best_pair is None:
            break
        s, c = best_pair
        sel[sel.index(s)] = c
    return np.array(sel, dtype=np.int64)


def _highs(time_limit_s: float, mip_gap: float, threads: int | None = None) -> Any:
    """A silent HiGHS instance (its banner goes to the C stdout at construction)."""
    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    if threads:
        h.setOptionValue("threads", int(threads))
    return h


def _pass_model(  # noqa: PLR0913, RUF100 (the LP's arrays, as HiGHS takes them)
    h: Any,
    cost: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    integrality: np.ndarray,
    A_csc: sp.csc_matrix,
    row_lo: np.ndarray,
    row_hi: np.ndarray,
    maximize: bool,
) -> None:
    import highspy

    lp = highspy.HighsLp()
    lp.num_col_ = len(cost)
    lp.num_row_ = len(row_lo)
    lp.col_cost_ = np.asarray(cost, float)
    lp.col_lower_ = np.asarray(lower, float)
    lp.col_upper_ = np.asarray(upper, float)
    lp.row_lower_ = np.asarray(row_lo, float)
    lp.row_upper_ = np.asarray(row_hi, float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A_csc.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A_csc.indices.astype(np.int32)
    lp.a_matrix_.value_ = A_csc.data.astype(float)
    lp.a_matrix_.num_col_ = len(cost)
    lp.a_matrix_.num_row_ = len(row_lo)
    lp.integrality_ = [highspy.HighsVarType(int(k)) for k in integrality]
    lp.sense_ = highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize
    status = h.passModel(lp)
    if status != highspy.HighsStatus.kOk:
        raise SolverError(Problem.of("solver_refused", "HiGHS", status=status))


def _set_start(h: Any, x: np.ndarray) -> None:
    import highspy

    sol = highspy.HighsSolution()
    sol.col_value = list(map(float, x))
    sol.value_valid = True
    h.setSolution(sol)


def _run(h: Any) -> tuple[str, float, float, np.ndarray]:
    import highspy

    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    S = highspy.HighsModelStatus
    if status == S.kOptimal:
        label = "optimal"
    elif status in (S.kTimeLimit, S.kIterationLimit, S.kInterrupt, S.kSolutionLimit):
        label = "time limit"
    else:
        raise SolverError(
            Problem.of("solver_status", "HiGHS", status=h.modelStatusToString(status))
        )
    if info.primal_solution_status != highspy.kSolutionStatusFeasible:
        raise SolverError(Problem.of("solver_no_solution", "HiGHS"))
    x = np.asarray(h.getSolution().col_value, float)
    return label, float(info.objective_function_value), float(info.mip_dual_bound), x


class MaximalCovering:
    """Choose ``p`` new sites that newly cover the most residents.

    Parameters
    ----------
    p
        Number of sites.
    time_limit_s
        Time the solver may take to prove optimality; the best solution so far and its
        proven gap are returned when it runs out.
    mip_gap
        Relative gap at which the solver stops (optimal within it).
    method
        ``"auto"`` (greedy, interchange, then HiGHS), ``"milp"`` (HiGHS alone),
        ``"greedy"`` (greedy and interchange, with the LP bound when ``bound=True``).

    Examples
    --------
    >>> sets = sp.csr_matrix(np.array([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]], dtype=bool))
    >>> r = MaximalCovering(p=2).solve(CoverageProblem(sets, np.array([5.0, 1.0, 1.0, 5.0])))
    >>> r.selected.tolist(), r.covered, r.status
    ([0, 2], 12.0, 'optimal')
    """

    def __init__(
        self,
        p: int,
        *,
        time_limit_s: float = 60.0,
        mip_gap: float = 1e-6,
        method: str = "auto",
        bound: bool = True,
    ) -> None:
        if p < 0:
            raise ValueError("p must be >= 0")
        if method not in {"auto", "milp", "greedy"}:
            raise ValueError("method is auto, milp or greedy")
        self.p = int(p)
        self.time_limit_s = time_limit_s
        self.mip_gap = mip_gap
        self.method = method
        self.bound = bound

    def solve(self, problem: CoverageProblem) -> PlacementResult:
        """Solve; never changes ``problem``."""
        t0 = time.perf_counter()
        total, coverable = problem.total, problem.coverable
        red, cand = problem.reduce()
        p = min(self.p, red.n_candidates)
        if p == 0 or red.n_candidates == 0:
            return PlacementResult(
                np.empty(0, np.int64),
                np.empty(0),
                0.0,
                0.0,
                0.0,
                "optimal",
                "trivial",
                time.perf_counter() - t0,
                total,
                coverable,
            )
        if p == red.n_candidates:
            chosen = np.arange(p)
            status, bound, method = "optimal", red.covered_weight(chosen), "all candidates"
        else:
            chosen = np.empty(0, np.int64)
            method_parts = []
            if self.method in {"auto", "greedy"}:
                chosen = greedy_cover(red, p=p)
                chosen = _swap_improve(red, chosen, deadline=t0 + self.time_limit_s / 2)
                method_parts = ["greedy", "swap"]
            chosen, bound, status, more = self._prove(red, p, chosen, t0)
            method_parts += more
            method = "+".join(method_parts)
        covered = red.covered_weight(chosen)
        bound = max(bound, covered)
        gap = 0.0 if bound <= 0 else max(0.0, (bound - covered) / bound)
        if status == "optimal":
            gap = 0.0 if gap <= self.mip_gap else gap
        order, gains = rank_sites(problem, cand[chosen])
        return PlacementResult(
            order,
            gains,
            covered,
            bound,
            gap,
            status,
            method,
            time.perf_counter() - t0,
            total,
            coverable,
        )

    def _prove(
        self, red: CoverageProblem, p: int, chosen: np.ndarray, t0: float
    ) -> tuple[np.ndarray, float, str, list[str]]:
        """Bound (and with the MILP improve) the heuristic ``chosen``: the sites, the bound,
        the status and the steps taken.

        The LP relaxation comes first: on reduced covering problems its optimum often equals
        the greedy cover, which is then proven optimal without branching. Otherwise HiGHS
        solves the integer program from the greedy start."""
        best = red.covered_weight(chosen) if len(chosen) else 0.0
        bound = float(red.weights.sum())
        if not (self.method in {"auto", "milp"} or self.bound):
            return chosen, bound, "heuristic", []

        def remaining() -> float:
            # the whole solve keeps to the limit: the solver gets what is left, less a
            # margin for ranking the sites afterwards
            return max(0.5, 0.97 * (self.time_limit_s - (time.perf_counter() - t0)) - 0.2)

        parts = []
        if len(chosen) and self.method in {"auto", "greedy"}:
            _label, _obj, lp, _x = self._milp(red, p, chosen, remaining(), lp_only=True)
            bound = min(bound, lp)
            parts.append("lp bound")
            if best >= bound * (1.0 - self.mip_gap) - 1e-9:
                return chosen, bound, "optimal", parts
            if self.method == "greedy":
                return chosen, bound, "heuristic", parts
        label, obj, dual, x = self._milp(red, p, chosen, remaining(), lp_only=False)
        bound = min(bound, dual)
        parts.append("highs")
        sol = np.flatnonzero(x[: red.n_candidates] > 0.5)
        if obj > best + 1e-9 or len(chosen) == 0:
            chosen, best = sol, red.covered_weight(sol)
        if best >= bound - 1e-9 * max(1.0, bound):
            label = "optimal"
        return chosen, bound, label, parts

    def _milp(
        self, red: CoverageProblem, p: int, start: np.ndarray, time_limit: float, *, lp_only: bool
    ) -> tuple[str, float, float, np.ndarray]:
        nc, nd = red.sets.shape
        # columns: x (candidates, binary), y (demand, continuous 0..1)
        # rows: y_i - sum_{j covers i} x_j <= 0 ; sum x_j <= p
        At = sp.csc_matrix(red.sets, dtype=float)  # nc x nd, column i lists candidates covering i
        X_part = -At.T.tocsc()  # nd x nc
        Y_part = sp.identity(nd, format="csc")
        top = sp.hstack([X_part, Y_part], format="csc")
        budget = sp.csr_matrix(
            (np.ones(nc), (np.zeros(nc, int), np.arange(nc))), shape=(1, nc + nd)
        )
        A = sp.vstack([top, budget], format="csc")
        cost = np.concatenate([np.zeros(nc), red.weights])
        integrality = np.concatenate([np.full(nc, 0 if lp_only else 1), np.zeros(nd)])
        h = _highs(time_limit, self.mip_gap)
        _pass_model(
            h,
            cost,
            np.zeros(nc + nd),
            np.ones(nc + nd),
            integrality,
            A,
            np.concatenate([np.full(nd, -np.inf), [-np.inf]]),
            np.concatenate([np.zeros(nd), [p]]),
            maximize=True,
        )
        if len(start) and not lp_only:
            x0 = np.zeros(nc + nd)
            x0[start] = 1.0
            hit = np.asarray(red.sets[start].sum(axis=0)).ravel() > 0
            x0[nc:] = hit
            _set_start(h, x0)
        if lp_only:
            label, obj, _dual, x = _run(h)
            return label, obj, obj, x
        return _run(h)


class SetCovering:
    """The fewest new sites that cover a target share of the coverable residents.

    Parameters
    ----------
    share
        Share of the *coverable* weight (what some candidate reaches) to cover; 1.0 = all.
    time_limit_s, mip_gap
        As for :class:`MaximalCovering`.

    Examples
    --------
    >>> sets = sp.csr_matrix(np.array([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]], dtype=bool))
    >>> r = SetCovering().solve(CoverageProblem(sets, np.array([5.0, 1.0, 1.0, 5.0])))
    >>> sorted(r.selected.tolist()), r.objective, r.status
    ([0, 2], 2.0, 'optimal')
    """

    def __init__(
        self, share: float = 1.0, *, time_limit_s: float = 60.0, mip_gap: float = 1e-6
    ) -> None:
        if not 0 < share <= 1:
            raise ValueError("share must be in (0, 1]")
        self.share = share
        self.time_limit_s = time_limit_s
        self.mip_gap = mip_gap

    def solve(self, problem: CoverageProblem) -> PlacementResult:
        """Solve; never changes ``problem``."""
        t0 = time.perf_counter()
        total, coverable = problem.total, problem.coverable
        red, cand = problem.reduce()
        need = self.share * float(red.weights.sum())
        if red.n_candidates == 0 or need <= 0:
            return PlacementResult(
                np.empty(0, np.int64),
                np.empty(0),
                0.0,
                0.0,
                0.0,
                "optimal",
                "trivial",
                time.perf_counter() - t0,
                total,
                coverable,
            )
        start = greedy_cover(red, target=need)
        nc, nd = red.sets.shape
        At = sp.csc_matrix(red.sets, dtype=float)
        if self.share >= 1.0:
            A = At.T.tocsc()  # each demand point: sum of its candidates >= 1
            cost = np.ones(nc)
            h = _highs(self.time_limit_s, self.mip_gap)
            _pass_model(
                h,
                cost,
                np.zeros(nc),
                np.ones(nc),
                np.ones(nc),
                A,
                np.ones(nd),
                np.full(nd, np.inf),
                maximize=False,
            )
            x0 = np.zeros(nc)
        else:
            top = sp.hstack([-At.T.tocsc(), sp.identity(nd, format="csc")], format="csc")
            share_row = sp.csr_matrix(np.concatenate([np.zeros(nc), red.weights])[None, :])
            A = sp.vstack([top, share_row], format="csc")
            cost = np.concatenate([np.ones(nc), np.zeros(nd)])
            h = _highs(self.time_limit_s, self.mip_gap)
            _pass_model(
                h,
                cost,
                np.zeros(nc + nd),
                np.ones(nc + nd),
                np.concatenate([np.ones(nc), np.zeros(nd)]),
                A,
                np.concatenate([np.full(nd, -np.inf), [need - 1e-6 * need]]),
                np.concatenate([np.zeros(nd), [np.inf]]),
                maximize=False,
            )
            x0 = np.zeros(nc + nd)
            x0[nc:] = np.asarray(red.sets[start].sum(axis=0)).ravel() > 0
        x0[start] = 1.0
        _set_start(h, x0)
        label, _obj, dual, x = _run(h)
        chosen = np.flatnonzero(x[:nc] > 0.5)
        if len(chosen) > len(start):
            chosen = start
        n_sites = float(len(chosen))
        bound = float(np.ceil(dual - 1e-6))
        gap = 0.0 if label == "optimal" or n_sites <= bound else (n_sites - bound) / n_sites
        order, gains = rank_sites(problem, cand[chosen])
        return PlacementResult(
            order,
            gains,
            n_sites,
            min(bound, n_sites),
            gap,
            "optimal" if gap == 0 else label,
            "greedy+highs",
            time.perf_counter() - t0,
            total,
            coverable,
        )
