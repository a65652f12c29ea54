"""Rater leniency: which raters score systematically high or low, adjusted for their ratees.

The model (docs/methods.md, "Rater leniency", gives the derivations and references):

    score_k = x_k'beta + u_rater(k) + v_ratee(k) + e_k

over one row k per (rater, ratee) pair, where the score is the pair's dimension-weighted
score, x_k holds an intercept, the ratee's attainment (when the dataset has KPI data) and,
when several rater roles are pooled, role indicators; u ~ N(0, s2_u) are the rater effects,
v ~ N(0, s2_v) the ratee effects and e ~ N(0, s2_e) the residuals, all independent.

- Variance components by maximum likelihood (Bates et al. 2015, lme4's profiled deviance),
  with the ratee effects absorbed exactly (they are a diagonal block of the mixed-model
  equations) and the rater block factorised with a sparse LU. For large designs in which
  raters share ratees, by the moment estimator of Gao & Owen (2017) instead, which costs one
  pass over the data.
- Rater effects are best linear unbiased predictions (BLUPs) from Henderson's mixed-model
  equations at those components; their standard errors are the square roots of the
  prediction-error variances Var(u_i - u_hat_i), exact from the inverse of the equations'
  coefficient matrix for every group of raters linked through shared ratees of up to
  EXACT_PEV_MAX_RATERS and, in larger groups, conditional on the other raters' effects
  (documented in docs/methods.md).
- z = effect / se, a two-sided normal p-value and Benjamini-Hochberg q-values across the
  raters eligible for flagging.

Everything here is a pure function of arrays and DataFrames; the SQL that builds the
(rater, ratee) pairs lives in queries/rater_pair_scores.sql.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import optimize, special
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import splu

if TYPE_CHECKING:
    import plotly.graph_objects as go

FIT_METHODS = ("auto", "ml", "reml", "moments")

DEFAULT_THRESHOLD = 0.25
"""Smallest |effect| (score points) worth flagging: below it a difference is not practical."""
DEFAULT_MIN_RATEES = 5
"""Fewest ratees a rater needs before they can be flagged."""
DEFAULT_ALPHA = 0.05
"""Benjamini-Hochberg false discovery rate for flags."""

ML_MAX_RATERS = 20_000
"""Above this many raters who share ratees, `auto` uses the moment estimator: each likelihood
evaluation factorises a raters x raters sparse matrix, and its fill-in grows with the design."""
ML_MAX_SHARED = 5_000_000
"""Likewise above this many (rater, other rater, shared ratee) triples, the entries of that
matrix: a ratee scored by thousands of raters would make it dense."""
EXACT_PEV_MAX_RATERS = 400
"""Largest group of raters linked through shared ratees whose standard errors come from the
exact inverse (a dense inverse of that size takes milliseconds); larger groups use the
conditional variance."""
THETA_MAX = 1e3
"""Upper bound on a variance ratio's square root (s2 / s2_e = 1e6) during the search."""

_DEGENERATE_RSS = 1e-12


@dataclass(frozen=True)
class CrossedFit:
    """A fitted crossed random-effects model; arrays are indexed by rater and ratee codes."""

    fixed_names: tuple[str, ...]
    fixed_effects: np.ndarray
    rater_variance: float
    ratee_variance: float
    residual_variance: float
    rater_effect: np.ndarray
    rater_pev: np.ndarray
    ratee_effect: np.ndarray
    method: str
    pev_method: str
    """'exact' (inverse of the mixed-model equations) or 'conditional' (see the module doc)."""
    ratee_variance_identified: bool
    """False when no ratee has two raters: ratee effects and residuals cannot be told apart,
    so the ratee variance is folded into the residual (rater effects are unaffected)."""
    rater_variance_identified: bool
    converged: bool
    deviance: float = math.nan
    notes: tuple[str, ...] = field(default=())

    @property
    def rater_se(self) -> np.ndarray:
        return np.sqrt(np.maximum(self.rater_pev, 0.0))

    def fixed(self, name: str, default: float = 0.0) -> float:
        return float(self.fixed_effects[self.fixed_names.index(name)]) if name in self.fixed_names else default


# ----------------------------------------------------------------------------- design


@dataclass
class _Design:
    y: np.ndarray
    X: np.ndarray
    fixed_names: tuple[str, ...]
    rater: np.ndarray
    ratee: np.ndarray
    n_raters: int
    n_ratees: int

    def __post_init__(self) -> None:
        self.n = len(self.y)
        self.p = self.X.shape[1]
        self.rater_count = np.bincount(self.rater, minlength=self.n_raters).astype(float)
        self.ratee_count = np.bincount(self.ratee, minlength=self.n_ratees).astype(float)
        self.yy = float(self.y @ self.y)
        self.Xy = self.X.T @ self.y
        self.XX = self.X.T @ self.X
        self.Zu_y = np.bincount(self.rater, self.y, self.n_raters)
        self.Zv_y = np.bincount(self.ratee, self.y, self.n_ratees)
        self.X_Zu = np.stack([np.bincount(self.rater, col, self.n_raters) for col in self.X.T])
        self.X_Zv = np.stack([np.bincount(self.ratee, col, self.n_ratees) for col in self.X.T])
        # Raters share a ratee when it has two or more raters: only then is the rater block
        # of the equations (after absorbing ratees) not diagonal.
        self.shared = bool((self.ratee_count > 1).any())
        self.shared_triples = float(self.ratee_count @ self.ratee_count - self.n)
        self._pattern: tuple | None = None
        self._incidence: sp.csr_matrix | None = None

    def incidence(self) -> sp.csr_matrix:
        """N_uv: raters x ratees, 1 where the rater scored the ratee."""
        if self._incidence is None:
            self._incidence = sp.csr_matrix((np.ones(self.n), (self.rater, self.ratee)), shape=(self.n_raters, self.n_ratees))
        return self._incidence

    @property
    def factorisable(self) -> bool:
        """Whether S can be formed and factorised quickly (always when it is diagonal)."""
        return not self.shared or (self.n_raters <= ML_MAX_RATERS and self.shared_triples <= ML_MAX_SHARED)

    def to_raters(self, per_ratee: np.ndarray) -> np.ndarray:
        """sum over each rater's pairs of a per-ratee value: N_uv @ per_ratee."""
        return np.bincount(self.rater, per_ratee[self.ratee], self.n_raters)

    def to_ratees(self, per_rater: np.ndarray) -> np.ndarray:
        """N_uv' @ per_rater."""
        return np.bincount(self.ratee, per_rater[self.rater], self.n_ratees)

    def schur_pattern(self) -> tuple:
        """The CSC structure of S = (raters x raters after absorbing ratees), computed once.

        Off the diagonal, S_ik = -theta_u^2 sum over ratees j shared by raters i and k of
        ratio_j. Returns (indptr, indices, slot of each diagonal entry, slot of each unique
        off-diagonal entry, which unique entry each (i, k, shared ratee) triple adds to, the
        ratee of each triple) so that each evaluation only fills in the values.
        """
        if self._pattern is None:
            multi = self.ratee_count[self.ratee] > 1
            pairs = pd.DataFrame({"ratee": self.ratee[multi], "rater": self.rater[multi]})
            joined = pairs.merge(pairs, on="ratee")
            joined = joined[joined["rater_x"].to_numpy() != joined["rater_y"].to_numpy()]
            n = self.n_raters
            # Column-major keys (col * n + row) sort into CSC order.
            off_key = joined["rater_y"].to_numpy().astype(np.int64) * n + joined["rater_x"].to_numpy()
            unique_off, triple_entry = np.unique(off_key, return_inverse=True)
            diag_key = np.arange(n, dtype=np.int64) * (n + 1)
            keys = np.concatenate([diag_key, unique_off])
            order = np.argsort(keys, kind="stable")
            slot = np.empty(len(keys), dtype=np.int64)
            slot[order] = np.arange(len(keys))
            sorted_keys = keys[order]
            indices = (sorted_keys % n).astype(np.int32)
            indptr = np.searchsorted(sorted_keys // n, np.arange(n + 1)).astype(np.int32)
            self._pattern = (indptr, indices, slot[:n], slot[n:], triple_entry, joined["ratee"].to_numpy(), len(keys))
        return self._pattern


@dataclass
class _Solution:
    beta: np.ndarray
    u: np.ndarray  # rater effects (score points)
    v: np.ndarray  # ratee effects
    penalised_rss: float
    logdet_random: float
    logdet_fixed: float
    solver: str  # 'diagonal' (S is diagonal), 'lu' (sparse LU of S) or 'cg' (conjugate gradients)
    S: sp.csc_matrix | None  # the raters x raters Schur complement, when formed ('lu')
    s_diag: np.ndarray  # its diagonal
    SiQt: np.ndarray  # S^-1 Q', raters x p
    Pc: np.ndarray  # the fixed-effects Schur complement, p x p


def _solve(d: _Design, theta_u: float, theta_v: float, direct: bool = True) -> _Solution:
    """Solve the penalised least squares problem of lme4 (Bates et al. 2015, eq. 11) at
    relative standard deviations theta = (s_u / s_e, s_v / s_e).

    Unknowns in the scaled coordinates u* = u / theta_u, v* = v / theta_v, beta. The ratee
    block (theta_v^2 D_v + I) is diagonal, so it is absorbed exactly; what remains is the
    raters x raters Schur complement S (sparse, diagonal when no two raters share a ratee)
    and a p x p block Pc for the fixed effects. S is factorised by sparse LU, or, with
    `direct=False`, solved by conjugate gradients (then no log-determinant is computed).
    """
    tu2, tv2 = theta_u * theta_u, theta_v * theta_v
    cvv = tv2 * d.ratee_count + 1.0
    ratio = tv2 / cvv  # theta_v^2 / (theta_v^2 n_j + 1)
    if theta_v == 0.0:
        # No ratee effects (as when no ratee has two raters): every term with `ratio` is
        # exactly 0, so these are the general formulas below without the passes over the pairs.
        own = np.zeros(d.n_raters)
        s_diag = tu2 * d.rater_count + 1.0
        Q, Pm = theta_u * d.X_Zu, d.XX
        bu, bx = theta_u * d.Zu_y, d.Xy
    else:
        own = tu2 * d.to_raters(ratio)  # the diagonal of theta_u^2 N diag(ratio) N' (each n_ij is 1)
        s_diag = tu2 * d.rater_count + 1.0 - own
        Q = theta_u * (d.X_Zu - np.stack([d.to_raters(row * ratio) for row in d.X_Zv]))  # p x raters
        Pm = d.XX - (d.X_Zv * ratio) @ d.X_Zv.T
        bu = theta_u * (d.Zu_y - d.to_raters(d.Zv_y * ratio))
        bx = d.Xy - (d.X_Zv * ratio) @ d.Zv_y
    rhs = np.column_stack([bu, Q.T])

    S = None
    if not d.shared or theta_u == 0.0 or theta_v == 0.0:
        solver = "diagonal"
        solved = rhs / s_diag[:, None]
        logdet_s = float(np.log(s_diag).sum())
    elif direct:
        solver = "lu"
        indptr, indices, diag_slot, off_slot, triple_entry, triple_ratee, nnz = d.schur_pattern()
        data = np.empty(nnz)
        data[diag_slot] = s_diag
        data[off_slot] = -tu2 * np.bincount(triple_entry, ratio[triple_ratee], len(off_slot))
        S = sp.csc_matrix((data, indices, indptr), shape=(d.n_raters, d.n_raters))
        lu = splu(S, permc_spec="MMD_AT_PLUS_A")
        logdet_s = float(np.log(np.abs(lu.U.diagonal())).sum())
        solved = lu.solve(rhs)
    else:
        solver = "cg"
        incidence = d.incidence()

        def times_s(block: np.ndarray) -> np.ndarray:
            shared = incidence @ (ratio[:, None] * (incidence.T @ block))
            return s_diag[:, None] * block - tu2 * shared + own[:, None] * block

        solved = block_cg(times_s, s_diag, rhs)
        logdet_s = math.nan
    Sibu, SiQt = solved[:, 0], solved[:, 1:]
    Pc = Pm - Q @ SiQt
    beta = np.linalg.solve(Pc, bx - Q @ Sibu) if d.p else np.zeros(0)
    u_star = Sibu - SiQt @ beta
    if theta_v == 0.0:  # v* and v are 0 (subtracting 0.0 changes no residual)
        v_star = v = np.zeros(d.n_ratees)
        residual = d.y - d.X @ beta - (theta_u * u_star + 0.0)[d.rater]
    else:
        v_star = theta_v * (d.Zv_y - d.X_Zv.T @ beta - theta_u * d.to_ratees(u_star)) / cvv
        v = theta_v * v_star + 0.0
        residual = d.y - d.X @ beta - (theta_u * u_star + 0.0)[d.rater] - v[d.ratee]
    u = theta_u * u_star + 0.0  # + 0.0: no negative zeros when a ratio is 0
    prss = float(residual @ residual + u_star @ u_star + v_star @ v_star)
    logdet_fixed = float(np.linalg.slogdet(Pc)[1]) if d.p else 0.0
    return _Solution(beta, u, v, prss, float(np.log(cvv).sum()) + logdet_s, logdet_fixed, solver, S, s_diag, SiQt, Pc)


def block_cg(times: Callable[[np.ndarray], np.ndarray], diagonal: np.ndarray, B: np.ndarray, rtol: float = 1e-10, maxiter: int = 5000) -> np.ndarray:
    """Solve A X = B for a symmetric positive definite A given as `times(block) -> A @ block`,
    by Jacobi-preconditioned conjugate gradients run on every column at once (each column is
    its own CG; the product is shared). Stops when every residual is below rtol * |b|."""
    X = np.zeros_like(B, dtype=float)
    R = np.array(B, dtype=float)
    target = rtol * np.linalg.norm(R, axis=0)
    Z = R / diagonal[:, None]
    P = Z.copy()
    rz = np.einsum("ij,ij->j", R, Z)
    for _ in range(maxiter):
        if (np.linalg.norm(R, axis=0) <= target).all():
            return X
        AP = times(P)
        curvature = np.einsum("ij,ij->j", P, AP)
        alpha = np.divide(rz, curvature, out=np.zeros_like(rz), where=curvature > 0)
        X += alpha * P
        R -= alpha * AP
        Z = R / diagonal[:, None]
        rz_next = np.einsum("ij,ij->j", R, Z)
        beta = np.divide(rz_next, rz, out=np.zeros_like(rz), where=rz > 0)
        rz = rz_next
        P = Z + beta * P
    raise ArithmeticError(f"conjugate gradients did not converge in {maxiter} iterations")


def _deviance(d: _Design, solution: _Solution, reml: bool) -> float:
    """-2 log-likelihood profiled over beta and s2_e (Bates et al. 2015, eqs. 34 and 41)."""
    if reml:
        dof = d.n - d.p
        return solution.logdet_random + solution.logdet_fixed + dof * (1.0 + math.log(2.0 * math.pi * solution.penalised_rss / dof))
    return solution.logdet_random + d.n * (1.0 + math.log(2.0 * math.pi * solution.penalised_rss / d.n))


# ----------------------------------------------------------------------------- moments


def moment_components(d: _Design) -> tuple[float, float, float, bool, bool]:
    """(s2_u, s2_v, s2_e, rater identified, ratee identified) by Gao & Owen (2017)'s
    U-statistics on the residuals of an ordinary least-squares fit of the fixed effects.

    U_a = sum_i [n_i sum_j r_ij^2 - (sum_j r_ij)^2]   E = (s2_v + s2_e)(sum_i n_i^2 - N)
    U_b = sum_j [n_j sum_i r_ij^2 - (sum_i r_ij)^2]   E = (s2_u + s2_e)(sum_j n_j^2 - N)
    U_e = N sum r^2 - (sum r)^2                        E = s2_u (N^2 - sum_i n_i^2)
                                                         + s2_v (N^2 - sum_j n_j^2) + s2_e (N^2 - N)
    Solved by non-negative least squares on the rows scaled to unit length; a component
    with no information (no rater with two ratees, no ratee with two raters) is fixed at 0.
    """
    beta, *_ = np.linalg.lstsq(d.X, d.y, rcond=None)
    r = d.y - d.X @ beta
    r2 = r * r
    n = float(d.n)
    sum_ni2 = float(d.rater_count @ d.rater_count)
    sum_nj2 = float(d.ratee_count @ d.ratee_count)
    u_a = float(d.rater_count @ np.bincount(d.rater, r2, d.n_raters) - (np.bincount(d.rater, r, d.n_raters) ** 2).sum())
    u_b = float(d.ratee_count @ np.bincount(d.ratee, r2, d.n_ratees) - (np.bincount(d.ratee, r, d.n_ratees) ** 2).sum())
    u_e = float(n * r2.sum() - r.sum() ** 2)
    rater_identified = sum_ni2 > n
    ratee_identified = sum_nj2 > n
    rows = [[0.0, sum_ni2 - n, sum_ni2 - n], [sum_nj2 - n, 0.0, sum_nj2 - n], [n * n - sum_ni2, n * n - sum_nj2, n * n - n]]
    values = [u_a, u_b, u_e]
    keep = [k for k, ok in enumerate((rater_identified, ratee_identified, True)) if ok]
    A = np.array([[rows[i][k] for k in keep] for i in range(3)])
    b = np.array(values)
    scale = np.linalg.norm(A, axis=1)
    used = scale > 0
    if not used.any() or d.n < 2:
        return 0.0, 0.0, 0.0, rater_identified, ratee_identified
    solution, _ = optimize.nnls(A[used] / scale[used, None], b[used] / scale[used])
    components = np.zeros(3)
    components[keep] = solution
    return float(components[0]), float(components[1]), float(components[2]), rater_identified, ratee_identified


# ----------------------------------------------------------------------------- the fit


def fit_crossed(
    y: np.ndarray,
    X: np.ndarray,
    rater: np.ndarray,
    ratee: np.ndarray,
    fixed_names: tuple[str, ...] | None = None,
    method: str = "auto",
) -> CrossedFit:
    """Fit score = X beta + rater effect + ratee effect + residual.

    `rater` and `ratee` are integer codes 0..n-1 (one row per pair); `X` must have full
    column rank (see `fixed_effects_design`). `method`: 'ml' or 'reml' (profiled likelihood),
    'moments' (Gao & Owen), or 'auto' (ML unless the design is too large to factorise).
    """
    if method not in FIT_METHODS:
        raise ValueError(f"method must be one of {FIT_METHODS}, not {method!r}")
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float).reshape(len(y), -1)
    rater = np.asarray(rater, dtype=np.int64)
    ratee = np.asarray(ratee, dtype=np.int64)
    names = fixed_names or tuple(f"x{k}" for k in range(X.shape[1]))
    d = _Design(y, X, names, rater, ratee, int(rater.max(initial=-1)) + 1, int(ratee.max(initial=-1)) + 1)
    if method == "auto":
        method = "ml" if d.factorisable else "moments"

    s2_u, s2_v, s2_e, rater_ok, ratee_ok = moment_components(d)
    notes: list[str] = []
    beta_ols = np.linalg.lstsq(X, y, rcond=None)[0]
    rss_ols = float(np.sum((y - X @ beta_ols) ** 2))
    if rss_ols <= _DEGENERATE_RSS * max(1.0, d.yy) or s2_u + s2_v + s2_e == 0.0:
        # Identical scores (after the fixed effects): nothing to attribute to raters, and
        # the likelihood has no finite maximum, so no search is made.
        beta = beta_ols
        return CrossedFit(names, beta, 0.0, 0.0, 0.0, np.zeros(d.n_raters), np.zeros(d.n_raters), np.zeros(d.n_ratees),
                          method, "exact", ratee_ok, rater_ok, True, notes=("no variation left to explain",))

    if method == "moments":
        theta_u = math.sqrt(s2_u / s2_e) if s2_e > 0 else (THETA_MAX if s2_u > 0 else 0.0)
        theta_v = math.sqrt(s2_v / s2_e) if s2_e > 0 else (THETA_MAX if s2_v > 0 else 0.0)
        solution = _solve(d, theta_u, theta_v, direct=d.factorisable)
        residual = s2_e
        converged, deviance = True, math.nan
    else:
        reml = method == "reml"
        free = [rater_ok, ratee_ok]
        start = np.array([
            math.sqrt(s2_u / s2_e) if s2_e > 0 else 1.0,
            math.sqrt(s2_v / s2_e) if s2_e > 0 else 1.0,
        ])
        start = np.clip(np.where(start > 0, start, 0.1), 0.05, THETA_MAX / 10)

        def full(params: np.ndarray) -> tuple[float, float]:
            values = iter(params)
            return (next(values) if free[0] else 0.0, next(values) if free[1] else 0.0)

        def objective(params: np.ndarray) -> float:
            return _deviance(d, _solve(d, *full(params)), reml)

        x0 = start[free]
        converged = True
        if len(x0):
            result = optimize.minimize(objective, x0, method="L-BFGS-B", bounds=[(0.0, THETA_MAX)] * len(x0),
                                       options={"ftol": 1e-10, "gtol": 1e-6, "maxiter": 200})
            best = np.clip(result.x, 0.0, THETA_MAX)
            converged = bool(result.success)
            theta_u, theta_v = full(np.abs(best))
        else:
            theta_u, theta_v = 0.0, 0.0
        solution = _solve(d, theta_u, theta_v)
        deviance = _deviance(d, solution, reml)
        residual = solution.penalised_rss / (d.n - d.p if reml else d.n)
    if not ratee_ok:
        notes.append("no ratee has two raters: ratee variance folded into the residual")

    pev, pev_method = _prediction_error_variance(d, solution, theta_u, residual)
    return CrossedFit(
        fixed_names=names,
        fixed_effects=solution.beta,
        rater_variance=residual * theta_u**2,
        ratee_variance=residual * theta_v**2,
        residual_variance=residual,
        rater_effect=solution.u,
        rater_pev=pev,
        ratee_effect=solution.v,
        method=method,
        pev_method=pev_method,
        ratee_variance_identified=ratee_ok,
        rater_variance_identified=rater_ok,
        converged=converged,
        deviance=deviance,
        notes=tuple(notes),
    )


def _prediction_error_variance(d: _Design, solution: _Solution, theta_u: float, residual: float) -> tuple[np.ndarray, str]:
    """Var(u_i - u_hat_i) = s2_e theta_u^2 [C^-1]_ii for the rater block of the equations.

    [C^-1]_uu = S^-1 + S^-1 Q' Pc^-1 Q S^-1 (block inverse; Pc the fixed-effects Schur
    complement, a p x p matrix, so the second term, the uncertainty of beta, is exact and
    cheap). diag(S^-1) is exact when S is diagonal (no two raters share a ratee) and for
    every group of raters linked through shared ratees (a connected component of S) of at
    most EXACT_PEV_MAX_RATERS; for larger groups it is 1 / S_ii, the variance conditional on
    the other raters' effects, with the ratee effects still integrated out exactly (a lower
    bound; docs/methods.md gives its size on the demo).
    """
    if theta_u == 0.0:
        return np.zeros(d.n_raters), "exact"
    if solution.solver == "diagonal":
        inverse_diag, method = 1.0 / solution.s_diag, "exact"
    elif solution.solver == "lu":
        inverse_diag, all_exact = _component_inverse_diagonal(solution.S, EXACT_PEV_MAX_RATERS)
        method = "exact" if all_exact else "conditional"
    else:
        inverse_diag, method = 1.0 / solution.s_diag, "conditional"
    correction = np.einsum("ij,jk,ik->i", solution.SiQt, np.linalg.inv(solution.Pc), solution.SiQt) if d.p else 0.0
    return residual * theta_u**2 * (inverse_diag + correction), method


def _component_inverse_diagonal(S: sp.spmatrix, max_size: int) -> tuple[np.ndarray, bool]:
    """diag(S^-1), exact within each connected component of at most `max_size` rows (S^-1
    is block diagonal over components; blocks of one size are inverted in one batch), and
    1 / S_ii in larger components. Returns (diagonal, whether every row was exact)."""
    n = S.shape[0]
    count, label = connected_components(S, directed=False)
    size = np.bincount(label, minlength=count)
    order = np.argsort(label, kind="stable")
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n) - start[label[order]]
    coo = S.tocoo()
    diagonal = 1.0 / np.asarray(S.diagonal())
    for block in np.unique(size[size <= max_size]):
        components = np.flatnonzero(size == block)
        slot = np.full(count, -1)
        slot[components] = np.arange(len(components))
        entry = slot[label[coo.row]] >= 0
        blocks = np.zeros((len(components), block, block))
        rows, cols = coo.row[entry], coo.col[entry]
        blocks[slot[label[rows]], position[rows], position[cols]] = coo.data[entry]
        inverse = np.linalg.inv(blocks)
        members = np.flatnonzero(slot[label] >= 0)
        diagonal[members] = inverse[slot[label[members]], position[members], position[members]]
    return diagonal, bool((size <= max_size).all())


# ----------------------------------------------------------------------------- pairs -> raters


def fixed_effects_design(pairs: pd.DataFrame) -> tuple[np.ndarray, tuple[str, ...], dict[str, object]]:
    """The fixed-effects matrix for a frame of pairs (columns score, attainment, rater_role).

    Columns: intercept; attainment when any ratee has one (ratees without it get the mean
    and an `attainment_missing` indicator); when several roles are pooled, one indicator per
    role other than the reference (manager, else the most common). Columns that add no rank
    are dropped (constant attainment, say).
    """
    n = len(pairs)
    columns: list[np.ndarray] = [np.ones(n)]
    names: list[str] = ["intercept"]
    info: dict[str, object] = {"attainment_adjusted": False, "attainment_coverage": 0.0}
    attainment = pd.to_numeric(pairs["attainment"], errors="coerce").to_numpy(dtype=float) if "attainment" in pairs else np.full(n, np.nan)
    has = np.isfinite(attainment)
    if n and has.any():
        info["attainment_coverage"] = float(has.mean())
        columns.append(np.where(has, attainment, attainment[has].mean()))
        names.append("attainment")
        if not has.all():
            columns.append((~has).astype(float))
            names.append("attainment_missing")
    if "rater_role" in pairs and n:
        # Managers are the reference when present (the intercept is a manager's score),
        # otherwise the most common role.
        roles = pairs["rater_role"].astype(str)
        counts = roles.value_counts()
        reference = "manager" if "manager" in counts.index else counts.index[0]
        for role in sorted(set(counts.index) - {reference}):
            columns.append((roles == role).to_numpy(dtype=float))
            names.append(f"role_{role}")
    X = np.column_stack(columns) if n else np.zeros((0, len(columns)))
    keep = _independent_columns(X)
    X = X[:, keep]
    names = [names[k] for k in keep]
    info["attainment_adjusted"] = "attainment" in names
    return X, tuple(names), info


def _independent_columns(X: np.ndarray) -> list[int]:
    """Greedy left-to-right: keep a column when it raises the rank (the intercept first).

    The diagonal of an unpivoted QR decomposition says exactly that: |R_kk| is the part of
    column k outside the span of the columns before it.
    """
    if len(X) == 0:
        return [0]
    norms = np.linalg.norm(X, axis=0)
    R = np.linalg.qr(X / np.maximum(norms, 1e-300), mode="r")
    return [k for k in range(min(R.shape)) if norms[k] > 0 and abs(R[k, k]) > 1e-9]


RATER_COLUMNS = ("rater_id", "ratees", "mean_attainment", "raw_mean", "expected_mean", "effect", "se", "z", "p_value", "q_value", "flagged")


@dataclass(frozen=True)
class LeniencyResult:
    """Per-rater estimates, per-pair predictions and the fit behind them."""

    raters: pd.DataFrame
    """RATER_COLUMNS, one row per rater (unflagged: q_value and flagged come from `flag_raters`)."""
    pairs: pd.DataFrame
    """The input pairs with expected_score (x'beta), ratee_effect and rater_effect added."""
    fit: CrossedFit | None
    attainment_adjusted: bool
    attainment_coverage: float


def estimate_leniency(pairs: pd.DataFrame, method: str = "auto") -> LeniencyResult:
    """Fit the model to (rater_id, ratee_id, score[, attainment, rater_role]) pairs.

    expected_mean is what an average rater would give the same ratees: the mean of
    x'beta + v_j over the rater's ratees. The effect is then exactly a shrunk gap:
    effect = n_i / (n_i + s2_e / s2_u) * (raw_mean - expected_mean) (mixed-model equations,
    rater row).
    """
    if pairs.empty:
        empty = pd.DataFrame({c: pd.Series(dtype="object" if c == "rater_id" else "float64") for c in RATER_COLUMNS})
        return LeniencyResult(empty.astype({"flagged": bool, "ratees": "int64"}), pairs.assign(expected_score=[], ratee_effect=[], rater_effect=[]), None, False, 0.0)
    rater_code, rater_ids = pd.factorize(pairs["rater_id"], sort=True)
    ratee_code, _ = pd.factorize(pairs["ratee_id"], sort=True)
    X, names, info = fixed_effects_design(pairs)
    y = pairs["score"].to_numpy(dtype=float)
    fit = fit_crossed(y, X, rater_code, ratee_code, names, method=method)
    expected = X @ fit.fixed_effects
    ratee_effect = fit.ratee_effect[ratee_code]
    n_raters = len(rater_ids)
    ratees = np.bincount(rater_code, minlength=n_raters)
    attainment = pd.to_numeric(pairs.get("attainment", pd.Series(np.nan, index=pairs.index)), errors="coerce").to_numpy(dtype=float)
    has = np.isfinite(attainment)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_attainment = np.bincount(rater_code, np.where(has, attainment, 0.0), n_raters) / np.bincount(rater_code, has.astype(float), n_raters)
        raw_mean = np.bincount(rater_code, y, n_raters) / ratees
        expected_mean = np.bincount(rater_code, expected + ratee_effect, n_raters) / ratees
    se = fit.rater_se
    effect = fit.rater_effect
    z = np.divide(effect, se, out=np.zeros(n_raters), where=se > 0)
    raters = pd.DataFrame({
        "rater_id": np.asarray(rater_ids, dtype=object),
        "ratees": ratees.astype("int64"),
        "mean_attainment": mean_attainment,
        "raw_mean": raw_mean,
        "expected_mean": expected_mean,
        "effect": effect,
        "se": se,
        "z": z,
        "p_value": 2.0 * special.ndtr(-np.abs(z)),
        "q_value": np.nan,
        "flagged": False,
    })
    scored = pairs.assign(expected_score=expected, ratee_effect=ratee_effect, rater_effect=effect[rater_code])
    return LeniencyResult(raters, scored, fit, bool(info["attainment_adjusted"]), float(info["attainment_coverage"]))


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini & Hochberg (1995) adjusted p-values (q-values); NaN stays NaN."""
    p = np.asarray(p_values, dtype=float)
    q = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = len(finite)
    if m == 0:
        return q
    order = finite[np.argsort(p[finite], kind="stable")]
    ranked = p[order] * m / np.arange(1, m + 1)
    q[order] = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
    return q


def flag_raters(raters: pd.DataFrame, threshold: float = DEFAULT_THRESHOLD, min_ratees: int = DEFAULT_MIN_RATEES,
                alpha: float = DEFAULT_ALPHA) -> pd.DataFrame:
    """q-values across the raters with at least `min_ratees` ratees (the others cannot be
    flagged, so they are not part of the family tested), and
    flagged = q < alpha and |effect| >= threshold and ratees >= min_ratees."""
    eligible = raters["ratees"].to_numpy() >= min_ratees
    q = benjamini_hochberg(np.where(eligible, raters["p_value"].to_numpy(dtype=float), np.nan))
    flagged = eligible & (np.nan_to_num(q, nan=1.0) < alpha) & (raters["effect"].abs().to_numpy() >= threshold)
    return raters.assign(q_value=q, flagged=flagged)


# ----------------------------------------------------------------------------- page helpers
# Pure functions the leniency page uses: the drill-down selection and the charts. Plotly and
# the chart styling are imported inside the chart functions, so the named queries (and the
# CLI, which loads every analysis) do not pay for them.


def picked_rater(selected_rows: list[int], rater_ids: list[str] | pd.Series) -> str | None:
    """The rater of the row clicked in the ranked table (`st.dataframe` selection rows are
    positions in the frame shown), or None when no row is selected."""
    ids = list(rater_ids)
    rows = [r for r in selected_rows if 0 <= r < len(ids)]
    return str(ids[rows[0]]) if rows else None


def choose_rater(options: list[str], *, current: str | None, url: str | None, table_pick: str | None,
                 last_table_pick: str | None) -> str | None:
    """The rater the drill-down shows.

    A row newly clicked in the ranked table wins (a selection that stays the same across
    reruns does not override a later choice in the select box); then the rater already
    chosen; then the one in the URL (`?rater=`), so a copied link reopens it; then the
    top-ranked rater. Values that are not among `options` are skipped.
    """
    if table_pick is not None and table_pick != last_table_pick and table_pick in options:
        return table_pick
    for candidate in (current, url):
        if candidate is not None and candidate in options:
            return candidate
    return options[0] if options else None


def funnel_limits(raters: pd.DataFrame, z_values: tuple[float, ...] = (1.96, 3.09), points: int = 60) -> pd.DataFrame:
    """Control limits for the funnel plot: +/- z * se(n) against the number of ratees n.

    se(n) is the typical standard error at n ratees. For the conditional variance
    1/se^2 = n / s2_res + 1 / s2_u exactly, so 1/se^2 is fitted as a straight line in n over
    the raters shown (least squares). Limits at 95% and 99.8% follow Spiegelhalter (2005).
    Columns: ratees, se, lower_<z>, upper_<z> for each z (z written with two decimals).
    """
    usable = raters[(raters["se"] > 0) & np.isfinite(raters["se"])]
    if usable["ratees"].nunique() < 2:
        return pd.DataFrame()
    n = usable["ratees"].to_numpy(dtype=float)
    precision = 1.0 / usable["se"].to_numpy(dtype=float) ** 2
    slope, intercept = np.polyfit(n, precision, 1)
    grid = np.linspace(n.min(), n.max(), points)
    fitted = np.maximum(intercept + slope * grid, precision.min())
    se = 1.0 / np.sqrt(fitted)
    limits = pd.DataFrame({"ratees": grid, "se": se})
    for z in z_values:
        limits[f"lower_{z:.2f}"] = -z * se
        limits[f"upper_{z:.2f}"] = z * se
    return limits


LENIENT_COLOR = "#1f4e9c"  # the grade-S blue: scores above what the ratees earned
SEVERE_COLOR = "#c8423b"  # the grade-D red
NEUTRAL_COLOR = "#9ab8ca"
LIMIT_COLOR = "#888888"
THRESHOLD_COLOR = "#f2a35e"  # the grade-C amber: the practical threshold, not a statistical limit
MIN_CURVE_PAIRS = 5
"""Attainment bands with fewer pairs are left off the company curve: their mean is noise."""


def _threshold_lines(fig: go.Figure, threshold: float, label: str) -> None:
    line = dict(color=THRESHOLD_COLOR, width=1.5, dash="dashdot")
    fig.add_hline(y=threshold, line=line, annotation_text=label, annotation_position="top right",
                  annotation_font=dict(color=THRESHOLD_COLOR, size=11))
    fig.add_hline(y=-threshold, line=line)
    fig.add_hline(y=0, line=dict(color="#444444", width=1))


def funnel_chart(raters: pd.DataFrame, threshold: float) -> go.Figure:
    """Effect against number of ratees, flagged raters highlighted, with control limits and
    the practical threshold. Expects the columns of the rater_leniency query."""
    import plotly.graph_objects as go

    from gradelens.charts import style
    from gradelens.i18n import t

    fig = go.Figure()
    limits = funnel_limits(raters)
    for z, dash in ((1.96, "dot"), (3.09, "dash")):
        if limits.empty:
            break
        label = t("leniency.chart_limit", level="95%" if z < 2 else "99.8%")
        for side, show in (("upper", True), ("lower", False)):
            fig.add_scatter(x=limits["ratees"], y=limits[f"{side}_{z:.2f}"], mode="lines", name=label, showlegend=show,
                            legendgroup=label, line=dict(color=LIMIT_COLOR, dash=dash, width=1), hoverinfo="skip")
    groups = (
        (t("leniency.chart_lenient"), raters["flagged"] & (raters["effect"] > 0), LENIENT_COLOR, 10),
        (t("leniency.chart_severe"), raters["flagged"] & (raters["effect"] < 0), SEVERE_COLOR, 10),
        (t("leniency.chart_not_flagged"), ~raters["flagged"], NEUTRAL_COLOR, 7),
    )
    # Every rater is a point (22,000 at 200,000 employees): names as text, departments as hover
    # text and the numbers as a float array, which plotly copies and sends whole; a customdata
    # array of mixed objects cost 0.3 s a render to copy and encode item by item.
    names = raters["rater_name"].to_numpy(dtype=object)
    departments = raters["department"].astype(object).fillna("–").to_numpy(dtype=object)
    numbers = raters[["se", "q_value"]].to_numpy(dtype=float)
    for name, mask, color, size in groups:
        rows = mask.to_numpy(dtype=bool)
        fig.add_scatter(
            x=raters["ratees"].to_numpy()[rows], y=raters["effect"].to_numpy(dtype=float)[rows], mode="markers", name=name,
            marker=dict(color=color, size=size, line=dict(width=0.5, color="white")),
            text=names[rows], hovertext=departments[rows], customdata=numbers[rows],
            hovertemplate=t("leniency.chart_hover") + "<extra></extra>",
        )
    _threshold_lines(fig, threshold, t("leniency.chart_threshold", threshold=f"{threshold:.2f}"))
    fig.update_xaxes(title=t("leniency.chart_ratees"), rangemode="tozero")
    fig.update_yaxes(title=t("leniency.chart_effect"))
    return style(fig, height=420)


def ratee_chart(ratees: pd.DataFrame, curve: pd.DataFrame, rater_name: str) -> go.Figure:
    """A rater's ratees: attainment against the score given, beside the company's mean score
    by attainment band (bands of at least MIN_CURVE_PAIRS pairs) and the model's expected
    score. Expects rater_ratee_scores and rater_score_curve rows."""
    import plotly.graph_objects as go

    from gradelens.charts import style
    from gradelens.i18n import t

    fig = go.Figure()
    curve = curve[curve["pairs"] >= MIN_CURVE_PAIRS]
    if not curve.empty:
        fig.add_scatter(x=curve["mean_attainment"], y=curve["mean_score"], mode="lines+markers", name=t("leniency.chart_company"),
                        line=dict(color=LIMIT_COLOR), marker=dict(size=5), customdata=curve[["pairs"]],
                        hovertemplate=t("leniency.chart_hover_company") + "<extra></extra>")
    placed = ratees[ratees["attainment"].notna()].sort_values("attainment")
    if not placed.empty:
        fig.add_scatter(x=placed["attainment"], y=placed["expected_score"], mode="lines", name=t("leniency.chart_expected"),
                        line=dict(color=NEUTRAL_COLOR, dash="dash"), hoverinfo="skip")
    fig.add_scatter(x=placed["attainment"], y=placed["score"], mode="markers", name=rater_name,
                    marker=dict(color=LENIENT_COLOR if (ratees["rater_effect"] >= 0).all() else SEVERE_COLOR, size=10),
                    customdata=placed[["ratee_name", "expected_score"]],
                    hovertemplate=t("leniency.chart_hover_ratee") + "<extra></extra>")
    fig.update_xaxes(title=t("leniency.chart_attainment"), tickformat=".0%")
    fig.update_yaxes(title=t("leniency.chart_score"))
    return style(fig, height=340)


def rater_grade_chart(mix: pd.DataFrame) -> go.Figure:
    """Proposed and final grade shares of a rater's ratees against the guideline (rater_grade_mix rows)."""
    import plotly.graph_objects as go

    from gradelens.charts import TARGET_COLOR, grade_color, style
    from gradelens.i18n import t

    fig = go.Figure()
    for stage, opacity in (("proposed", 0.55), ("final", 1.0)):
        fig.add_bar(x=mix["grade"], y=mix[f"{stage}_share"], name=t(f"leniency.chart_{stage}"), opacity=opacity,
                    marker_color=[grade_color(g) for g in mix["grade"]], customdata=mix[[stage]],
                    hovertemplate=t("leniency.chart_hover_grade") + "<extra></extra>")
    fig.add_scatter(x=mix["grade"], y=mix["target_share"], mode="markers", name=t("leniency.chart_guideline"),
                    marker=dict(symbol="line-ew-open", size=34, line=dict(width=3, color=TARGET_COLOR)),
                    hovertemplate="%{y:.0%}<extra></extra>")
    fig.update_yaxes(tickformat=".0%", rangemode="tozero", title=None)
    fig.update_xaxes(type="category", title=None)
    fig.update_layout(barmode="group", bargap=0.3)
    return style(fig, height=340)


def history_chart(history: pd.DataFrame, threshold: float) -> go.Figure:
    """A rater's effect in each cycle with a 95% interval (effect +/- 1.96 se); flagged cycles filled."""
    import plotly.graph_objects as go

    from gradelens.charts import style
    from gradelens.i18n import t

    fig = go.Figure()
    flagged = history["flagged"].to_numpy(dtype=bool)
    fig.add_scatter(
        x=history["cycle_id"], y=history["effect"], mode="lines+markers", name=t("leniency.chart_effect"),
        error_y=dict(type="data", array=1.96 * history["se"], color=LIMIT_COLOR),
        line=dict(color=LIMIT_COLOR),
        marker=dict(size=11, color=[(LENIENT_COLOR if e > 0 else SEVERE_COLOR) if f else "white" for e, f in zip(history["effect"], flagged)],
                    line=dict(width=2, color=[LENIENT_COLOR if e > 0 else SEVERE_COLOR for e in history["effect"]])),
        customdata=history[["ratees", "q_value"]],
        hovertemplate=t("leniency.chart_hover_history") + "<extra></extra>",
    )
    _threshold_lines(fig, threshold, t("leniency.chart_threshold", threshold=f"{threshold:.2f}"))
    fig.update_xaxes(type="category", title=None)
    fig.update_yaxes(title=t("leniency.chart_effect"))
    fig.update_layout(showlegend=False)
    return style(fig, height=340)


def department_chart(raters: pd.DataFrame, min_ratees: int) -> go.Figure:
    """The spread of rater effects in each department (raters with at least `min_ratees`),
    widest spread first: a box per department (quartiles, whiskers to the furthest effect within
    1.5 times the interquartile range), the raters beyond the whiskers as points, and flagged
    raters coloured. The boxes are computed here rather than by plotly from every rater: at
    200,000 employees that would send 22,000 points nobody can tell apart."""
    import plotly.graph_objects as go

    from gradelens.charts import style
    from gradelens.i18n import t, value_label

    no_department = value_label("group", "(no department)")
    eligible = raters[raters["ratees"] >= min_ratees].assign(department=lambda f: f["department"].astype(object).fillna(no_department))
    order = eligible.groupby("department")["effect"].std().fillna(0.0).sort_values(ascending=False).index.tolist()
    fig = go.Figure()
    outside = np.zeros(len(eligible), dtype=bool)
    departments = eligible["department"].to_numpy(dtype=object)
    effects = eligible["effect"].to_numpy(dtype=float)
    for department in order:
        rows = departments == department
        box = box_statistics(effects[rows])
        outside[rows] = (effects[rows] < box["lowerfence"]) | (effects[rows] > box["upperfence"])
        fig.add_box(y=[department], name=department, orientation="h", marker=dict(color=NEUTRAL_COLOR), line=dict(color=LIMIT_COLOR),
                    fillcolor="rgba(0,0,0,0)", showlegend=False, **{key: [value] for key, value in box.items()})
    flagged = eligible["flagged"].to_numpy(dtype=bool)
    lenient = flagged & (effects > 0)
    severe = flagged & (effects < 0)
    for name, rows, color, size in (
        (t("leniency.chart_outside_whiskers"), outside & ~flagged, NEUTRAL_COLOR, 5),
        (t("leniency.chart_lenient"), lenient, LENIENT_COLOR, 9),
        (t("leniency.chart_severe"), severe, SEVERE_COLOR, 9),
    ):
        subset = eligible[rows]
        fig.add_scatter(y=subset["department"].to_numpy(dtype=object), x=subset["effect"].to_numpy(dtype=float), mode="markers", name=name,
                        marker=dict(size=size, color=color, line=dict(width=0.5, color="white")),
                        text=subset["rater_name"].to_numpy(dtype=object), customdata=subset["ratees"].to_numpy(),
                        hovertemplate=t("leniency.chart_hover_department") + "<extra></extra>")
    fig.add_vline(x=0, line=dict(color="#444444", width=1))
    fig.update_xaxes(title=t("leniency.chart_effect"))
    fig.update_yaxes(title=None, type="category", categoryorder="array", categoryarray=order[::-1])
    return style(fig, height=max(260, 48 * len(order) + 80))


def box_statistics(values: np.ndarray) -> dict[str, float]:
    """A box plot's figures for `values` (not empty): quartiles by linear interpolation (numpy's
    default), whiskers (fences) at the furthest values within 1.5 interquartile ranges of the
    box (Tukey's rule, as plotly draws when given the points), and the mean."""
    q1, median, q3 = np.quantile(values, [0.25, 0.5, 0.75])
    reach = 1.5 * (q3 - q1)
    inside = values[(values >= q1 - reach) & (values <= q3 + reach)]
    return {"q1": float(q1), "median": float(median), "q3": float(q3), "lowerfence": float(inside.min()),
            "upperfence": float(inside.max()), "mean": float(values.mean())}


def gap_chart(gap: pd.DataFrame) -> go.Figure:
    """Mean self-minus-manager gap by department (self_manager_gap rows), largest on top."""
    import plotly.graph_objects as go

    from gradelens.charts import style
    from gradelens.i18n import t

    ordered = gap.sort_values("mean_gap")
    fig = go.Figure()
    fig.add_bar(y=ordered["department"], x=ordered["mean_gap"], orientation="h", marker_color=NEUTRAL_COLOR,
                customdata=ordered[["employees", "mean_self", "mean_manager"]],
                hovertemplate=t("leniency.chart_hover_gap") + "<extra></extra>")
    fig.add_vline(x=0, line=dict(color="#444444", width=1))
    fig.update_xaxes(title=t("leniency.chart_gap"))
    fig.update_yaxes(title=None, type="category")
    return style(fig, height=max(240, 36 * len(ordered) + 80))
