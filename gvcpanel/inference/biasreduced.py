r"""Bias-reduced cluster-robust covariances: CR2 (Bell-McCaffrey) and CR3 (jackknife).

Both replace the cluster residuals :math:`e_g` in the CRV sandwich by :math:`A_g e_g`,

.. math:: V = M \Bigl(\sum_g X_g' A_g e_g e_g' A_g' X_g\Bigr) M,\qquad M = (X'X)^{-1},

with :math:`A_g = (I - H_{gg})^{-1/2}` (CR2, symmetric square root) or
:math:`A_g = (I - H_{gg})^{-1}` (CR3) and :math:`H_{gg} = X_g M X_g'`, as in clubSandwich's
``vcovCR(type = "CR2" | "CR3")`` with the identity working model and no further scaling.
CR3 so equals :math:`\sum_g (\hat b_{(g)} - \hat b)(\hat b_{(g)} - \hat b)'`, the uncentred
leave-one-cluster-out jackknife without the (G-1)/G factor.

Probability weights.  With sampling weights :math:`w` the fit is weighted least squares, and
the designs hold :math:`X^* = W^{1/2}X` and :math:`e^* = W^{1/2}e` (:class:`LinearDesign` with
``weights``).  CR2 then follows clubSandwich's default for weighted ``lm`` fits
(``inverse_var = FALSE``: the weights are not inverse variances, the working model is
:math:`\Phi = I`): with :math:`H = X(X'WX)^{-1}X'W`,

.. math:: A_g = \bigl[((I-H)(I-H)')_{gg}\bigr]^{-1/2},\qquad
          V = M\Bigl(\sum_g X_g'W_g A_g e_g e_g' A_g W_g X_g\Bigr)M,\quad M = (X'WX)^{-1},

see :func:`weighted_bias_reduced_cov`.  Theorem 2 of Pustejovsky and Tipton does not carry over
(absorbing nested effects changes this CR2), so weighted designs carry every absorbed effect as
dummies.  CR3 with weights is the leave-one-cluster-out jackknife of the weighted estimator,
which is the unweighted formula on :math:`X^*, e^*`.

Absorbed fixed effects.  When the absorbed effects are nested in the clusters (firm effects
inside industrial clusters, or firm effects with clustering by firm) the hat matrix of the
transformed design gives the same covariance and degrees of freedom as the full
dummy-variable regression (Pustejovsky and Tipton 2018, JBES, Theorem 2); the tests check it
against clubSandwich on ``lm`` with firm dummies.  Effects that cut across the clusters (year
effects with clustering by cluster) must stay in the hat matrix: the caller appends them as
dummy columns residualized on the nested effects and asks for the regressors' block with
``n_report`` (see :func:`gvcpanel.inference.covariance.crossed_columns`).  The CR3 of that
augmented design is the exact leave-one-cluster-out jackknife of the two-way fixed-effects
estimator: leaving out a cluster removes its firms' effects and re-estimates the year effects.

:math:`H_{gg}` has rank at most k, so the matrix powers are computed from a thin
eigen-decomposition in O(n_g k^2) per cluster instead of O(n_g^3).
"""

from __future__ import annotations

import numpy as np

# eigenvalues of H_gg this close to one make I - H_gg singular; clubSandwich then uses the
# Moore-Penrose power, which sends those directions to zero
_SINGULAR = 1e-10


def _adjusted_blocks(X: np.ndarray, codes: np.ndarray, bread: np.ndarray, power: float):
    """Yield (rows, A_g X_g-operator) pieces: for each cluster, U and the diagonal correction.

    For :math:`H_{gg} = U \\Lambda U'` (U orthonormal n_g x r) the power is
    :math:`(I - H_{gg})^{p} = I + U\\,\\mathrm{diag}((1-\\lambda)^{p} - 1)\\,U'`.
    """
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    for rows in np.split(order, bounds):
        Xg = X[rows]
        # orthonormal basis of span(X_g) and H_gg restricted to it
        q, r = np.linalg.qr(Xg)
        inner = r @ bread @ r.T
        lam, w = np.linalg.eigh((inner + inner.T) / 2)
        basis = q @ w
        one_minus = 1.0 - lam
        factor = np.where(one_minus > _SINGULAR, np.abs(one_minus) ** power - 1.0, -1.0)
        yield rows, basis, factor


def _apply(basis: np.ndarray, factor: np.ndarray, a: np.ndarray) -> np.ndarray:
    """(I + B diag(f) B') a for a vector or matrix a."""
    if a.ndim == 1:
        return a + basis @ (factor * (basis.T @ a))
    return a + basis @ (factor[:, None] * (basis.T @ a))


def bias_reduced_cov(
    X: np.ndarray,
    resid: np.ndarray,
    codes: np.ndarray,
    bread: np.ndarray,
    kind: str,
    *,
    n_report: int | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    r"""CR2 or CR3 covariance and, for CR2, Satterthwaite degrees of freedom per coefficient.

    Parameters
    ----------
    X : ndarray
        Transformed regressors (n x k).
    resid : ndarray
        Residuals (n).
    codes : ndarray
        Cluster codes 0..G-1.
    bread : ndarray
        :math:`(X'X)^{-1}`.
    kind : {"cr2", "cr3"}
    n_report : int, optional
        Return the covariance block and degrees of freedom of the first ``n_report`` columns
        only (the regressors, when dummy columns of crossed effects follow them); all k by
        default.

    Returns
    -------
    cov : ndarray (n_report x n_report)
    df : ndarray (n_report) or None
        Satterthwaite degrees of freedom of each reported coefficient (CR2 only).

    Notes
    -----
    Satterthwaite degrees of freedom for the contrast c (clubSandwich ``coef_test(...,
    test = "Satterthwaite")`` under the identity working model): with
    :math:`p_g = (I-H)_{g\cdot}' A_g X_g M c`,

    .. math:: \nu = \frac{(\sum_g p_g'p_g)^2}{\sum_{g,h} (p_g'p_h)^2},\qquad
              p_g'p_h = \delta_{gh}\, w_g'w_g - z_g' M z_h,

    where :math:`w_g = A_g X_g M c` and :math:`z_g = X_g' w_g`, because
    :math:`(I-H)(I-H)' = I-H`.  This needs only cluster-level quantities.
    """
    power = -0.5 if kind == "cr2" else -1.0
    n_groups = int(codes.max()) + 1
    k = X.shape[1]
    m = k if n_report is None else int(n_report)
    meat_scores = np.zeros((n_groups, k))
    ww = np.zeros((n_groups, m))  # w_g'w_g for every reported unit contrast
    zs = np.zeros((n_groups, k, m))  # z_g for every reported unit contrast (columns)
    for g, (rows, basis, factor) in enumerate(_adjusted_blocks(X, codes, bread, power)):
        Xg = X[rows]
        adjusted_resid = _apply(basis, factor, resid[rows])
        meat_scores[g] = Xg.T @ adjusted_resid
        if kind == "cr2":
            w = _apply(basis, factor, Xg @ bread[:, :m])  # n_g x m, column j is w_g for c = e_j
            ww[g] = np.sum(w * w, axis=0)
            zs[g] = Xg.T @ w
    rows_of_bread = bread[:m]
    cov = rows_of_bread @ (meat_scores.T @ meat_scores) @ rows_of_bread.T
    if kind != "cr2":
        return cov, None
    df = np.empty(m)
    for j in range(m):
        z = zs[:, :, j]  # G x k
        omega = -(z @ bread @ z.T)
        omega[np.diag_indices(n_groups)] += ww[:, j]
        df[j] = np.trace(omega) ** 2 / np.sum(omega * omega)
    return cov, df


class SatterthwaiteContrasts:
    r"""CR2 Satterthwaite degrees of freedom of any linear contrast :math:`c'b`.

    Built by :func:`satterthwaite_contrasts`; calling it with a q x m array of contrasts (rows
    over the first m coefficients) returns their q degrees of freedom.

    Notes
    -----
    The degrees of freedom of a contrast depend on the contrast, not only on the coefficients
    it combines (Bell and McCaffrey 2002; Pustejovsky and Tipton 2018, *JBES* 36(4), section
    3.2; clubSandwich's ``linear_contrast``).  With :math:`W_g = A_g X_g M` (n_g x m) and
    :math:`Z_g = X_g' W_g`, for :math:`w_g = W_g c` and :math:`z_g = Z_g c` the formula of
    :func:`bias_reduced_cov` becomes

    .. math:: \Omega_{gh} = \delta_{gh}\, c'W_g'W_g c - (L'Z_g c)'(L'Z_h c),\qquad
              \nu(c) = \frac{(\operatorname{tr}\Omega)^2}{\sum_{g,h}\Omega_{gh}^2},

    with :math:`M = LL'`.  The G matrices :math:`W_g'W_g` (m x m) and :math:`L'Z_g` (k x m) are
    kept, so each contrast costs O(G k m + G^2 k).
    """

    def __init__(self, ww: np.ndarray, half: np.ndarray) -> None:
        self.ww = ww  # G x m x m
        self.half = half  # G x k x m

    def __call__(self, contrasts: np.ndarray) -> np.ndarray:
        rows = np.atleast_2d(np.asarray(contrasts, dtype=float))
        m = self.ww.shape[1]
        if rows.shape[1] != m:
            raise ValueError(f"contrasts need {m} columns, found shape {rows.shape}")
        out = np.empty(rows.shape[0])
        diagonal = np.diag_indices(self.ww.shape[0])
        for i, c in enumerate(rows):
            t = self.half @ c  # G x k
            omega = -(t @ t.T)
            omega[diagonal] += np.einsum("i,gij,j->g", c, self.ww, c)
            out[i] = np.trace(omega) ** 2 / np.sum(omega * omega)
        return out


def satterthwaite_contrasts(
    X: np.ndarray, codes: np.ndarray, bread: np.ndarray, *, n_report: int | None = None
) -> SatterthwaiteContrasts:
    """The CR2 pieces that give the Satterthwaite degrees of freedom of any contrast.

    Parameters are those of :func:`bias_reduced_cov`; contrasts run over the first
    ``n_report`` coefficients (all k by default).  For a unit contrast the result equals the
    degrees of freedom :func:`bias_reduced_cov` reports for that coefficient.
    """
    n_groups = int(codes.max()) + 1
    k = X.shape[1]
    m = k if n_report is None else int(n_report)
    lower = np.linalg.cholesky((bread + bread.T) / 2)
    ww = np.zeros((n_groups, m, m))
    half = np.zeros((n_groups, k, m))
    for g, (rows, basis, factor) in enumerate(_adjusted_blocks(X, codes, bread, -0.5)):
        Xg = X[rows]
        w = _apply(basis, factor, Xg @ bread[:, :m])  # n_g x m
        ww[g] = w.T @ w
        half[g] = lower.T @ (Xg.T @ w)
    return SatterthwaiteContrasts(ww, half)


# --- probability weights ------------------------------------------------------------------------
def _weighted_blocks(Z: np.ndarray, weights: np.ndarray, codes: np.ndarray, bread: np.ndarray,
                     cross_w: np.ndarray):
    r"""Per cluster: rows and :math:`A_g = I + B\,\mathrm{diag}(f)\,B'` (original scale).

    With :math:`a = W_g^{-1/2}Z_g`, :math:`b = W_g^{1/2}Z_g` (Z the weighted design
    :math:`W^{1/2}X`), :math:`M = (Z'Z)^{-1}` and :math:`Q = M Z'WZ M`,

    .. math:: W_g^{-1/2}[(I-H^*)W(I-H^*)]_{gg}W_g^{-1/2} = I - L_g,\qquad
              L_g = aMb' + bMa' - aQa',

    of rank at most 2k, so :math:`(I - L_g)^{-1/2}` comes from the eigen-decomposition of
    :math:`L_g` on the span of [a, b] (pseudo-inverse power in null directions, as for the
    unweighted CR2).
    """
    k = Z.shape[1]
    inner_map = np.block([[-cross_w, bread], [bread, np.zeros((k, k))]])
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    for rows in np.split(order, bounds):
        root = np.sqrt(weights[rows])
        Zg = Z[rows]
        q, r = np.linalg.qr(np.hstack([Zg / root[:, None], Zg * root[:, None]]))
        inner = r @ inner_map @ r.T
        lam, v = np.linalg.eigh((inner + inner.T) / 2)
        one_minus = 1.0 - lam
        kept = one_minus > _SINGULAR
        factor = np.where(kept, np.where(kept, one_minus, 1.0) ** -0.5 - 1.0, -1.0)
        yield rows, root, q @ v, factor


def _weighted_pieces(Z, resid, weights, codes, bread, m, *, meat: bool):
    """Cluster pieces of the weighted CR2: adjusted scores and the Satterthwaite inputs."""
    n_groups = int(codes.max()) + 1
    k = Z.shape[1]
    cross_w = bread @ (Z.T @ (Z * weights[:, None])) @ bread
    scores = np.zeros((n_groups, k))
    gg = np.zeros((n_groups, m, m))
    alpha = np.zeros((n_groups, k, m))
    beta = np.zeros((n_groups, k, m))
    for g, (rows, root, basis, factor) in enumerate(_weighted_blocks(Z, weights, codes, bread, cross_w)):
        Zg = Z[rows]
        if meat:
            scores[g] = (Zg * root[:, None]).T @ _apply(basis, factor, resid[rows] / root)
        r = _apply(basis, factor, (Zg * root[:, None]) @ bread[:, :m]) / root[:, None]
        gg[g] = r.T @ (r * weights[rows, None])
        alpha[g] = Zg.T @ r
        beta[g] = Zg.T @ (r * weights[rows, None])
    return scores, gg, alpha, beta, cross_w


def _weighted_omega(c, gg, alpha, beta, bread, cross_w):
    t_a = alpha @ c  # G x k
    t_b = beta @ c
    cross = t_a @ bread @ t_b.T
    omega = t_a @ cross_w @ t_a.T - cross - cross.T
    omega[np.diag_indices(gg.shape[0])] += np.einsum("i,gij,j->g", c, gg, c)
    return np.trace(omega) ** 2 / np.sum(omega * omega)


def weighted_bias_reduced_cov(
    Z: np.ndarray,
    resid: np.ndarray,
    weights: np.ndarray,
    codes: np.ndarray,
    bread: np.ndarray,
    *,
    n_report: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""CR2 of a weighted least-squares fit and Satterthwaite degrees of freedom per coefficient.

    Parameters
    ----------
    Z : ndarray
        The weighted design :math:`W^{1/2}X` (n x k).
    resid : ndarray
        Weighted residuals :math:`W^{1/2}e`.
    weights : ndarray
        The probability weights w (n, positive).
    codes : ndarray
        Cluster codes 0..G-1.
    bread : ndarray
        :math:`(Z'Z)^{-1} = (X'WX)^{-1}`.
    n_report : int, optional
        Report the first ``n_report`` coefficients only.

    Notes
    -----
    clubSandwich ``vcovCR(lm(..., weights = w), cluster, type = "CR2")`` (working model
    :math:`\Phi = I`).  Satterthwaite degrees of freedom of :math:`c'b`
    (``coef_test(..., test = "Satterthwaite")``): with :math:`r_g = W_g^{-1/2}A_gW_g^{1/2}Z_gMc`,
    :math:`\gamma_g = r_g'W_g r_g`, :math:`\alpha_g = Z_g'r_g`, :math:`\beta_g = Z_g'W_g r_g`,

    .. math:: \Omega_{gh} = \delta_{gh}\gamma_g - \alpha_g'M\beta_h - \beta_g'M\alpha_h +
              \alpha_g'Q\alpha_h,\qquad \nu = (\operatorname{tr}\Omega)^2/\textstyle\sum\Omega_{gh}^2,

    the entries :math:`p_g'p_h` of :func:`bias_reduced_cov` with :math:`(I-H)(I-H)'` in place of
    :math:`I-H`.  With unit weights both reduce to the unweighted formulas.
    """
    k = Z.shape[1]
    m = k if n_report is None else int(n_report)
    scores, gg, alpha, beta, cross_w = _weighted_pieces(Z, resid, weights, codes, bread, m, meat=True)
    rows_of_bread = bread[:m]
    cov = rows_of_bread @ (scores.T @ scores) @ rows_of_bread.T
    df = np.array([_weighted_omega(np.eye(m)[j], gg, alpha, beta, bread, cross_w) for j in range(m)])
    return cov, df


class WeightedSatterthwaiteContrasts:
    """Weighted counterpart of :class:`SatterthwaiteContrasts` (see :func:`weighted_bias_reduced_cov`)."""

    def __init__(self, gg, alpha, beta, bread, cross_w) -> None:
        self._pieces = (gg, alpha, beta, bread, cross_w)

    def __call__(self, contrasts: np.ndarray) -> np.ndarray:
        rows = np.atleast_2d(np.asarray(contrasts, dtype=float))
        m = self._pieces[0].shape[1]
        if rows.shape[1] != m:
            raise ValueError(f"contrasts need {m} columns, found shape {rows.shape}")
        return np.array([_weighted_omega(c, *self._pieces) for c in rows])


def weighted_satterthwaite_contrasts(
    Z: np.ndarray, weights: np.ndarray, codes: np.ndarray, bread: np.ndarray, *, n_report: int | None = None
) -> WeightedSatterthwaiteContrasts:
    """The weighted CR2 pieces that give the Satterthwaite degrees of freedom of any contrast."""
    m = Z.shape[1] if n_report is None else int(n_report)
    _, gg, alpha, beta, cross_w = _weighted_pieces(Z, np.zeros(Z.shape[0]), weights, codes, bread, m, meat=False)
    return WeightedSatterthwaiteContrasts(gg, alpha, beta, bread, cross_w)
