"""Compiled loops over rows: group sums, the fixed-effect subtraction, cross-products, cluster scores.

NumPy reaches memory bandwidth for element-wise arithmetic but not for the steps of a panel
model that scatter rows into groups (``np.bincount`` walks one column at a time and allocates),
nor for fused passes (sum by firm and by year in one read; subtract both effects in one write).
These kernels do each such step in one pass over the data, on every core (numba ``prange``), in
float64 throughout.

Determinism
-----------
Results do not depend on the number of threads: a loop that is split over columns adds each
column in row order, and a loop split over rows adds fixed chunks of :data:`CHUNK` rows and then
the chunks in order.  Two runs give the same bits on any machine with the same numba.

Conventions
-----------
``X`` is n x p float64 (Fortran order is fastest); ``codes`` are int64 (``intp``) level codes
``0..G-1``; ``weights`` is a float64 vector of n weights or an empty vector for none (one compiled
signature serves both).  Compilation is cached on disk (``cache=True``), so only the first call on
a fresh installation pays it.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

#: rows per chunk of the row-parallel loops (fixed, so results do not depend on the thread count)
CHUNK = 1 << 15
#: rows per chunk when a chunk is read twice (subtract, then cross-products): 8 columns stay in L2
GRAM_CHUNK = 1 << 12

NO_WEIGHTS = np.empty(0)


def as_codes(codes: np.ndarray) -> np.ndarray:
    """Codes as a contiguous int64 vector (the kernels' one integer signature)."""
    return np.ascontiguousarray(codes, dtype=np.int64)


def as_weights(weights: np.ndarray | None) -> np.ndarray:
    return NO_WEIGHTS if weights is None else np.ascontiguousarray(weights, dtype=np.float64)


@njit(parallel=True, cache=True)
def effect_sums(X, main, n_main, rest, offsets, weights):  # pragma: no cover - compiled
    """Weighted sums of every column within the levels of a main effect and of further effects.

    ``rest`` is n x R (codes of R further effects), ``offsets`` their start in the stacked
    levels.  Returns (main sums G_A x p, stacked rest sums L x p, column sums p, column sums of
    squares p); the last two are weighted when ``weights`` is given.

    Notes
    -----
    Each column's sums are kept in their own row of the accumulators (returned transposed), so
    that threads working on different columns never write to the same cache line.  Runs of rows
    in one main level (a firm's years in a sorted panel) are summed in registers and written once
    per run: adding row after row into the same memory cell would wait for each store.
    """
    n, p = X.shape
    n_rest = rest.shape[1]
    total = offsets[n_rest]
    main_sums = np.zeros((p, n_main))
    rest_sums = np.zeros((p, total))
    col_sum = np.zeros(p)
    col_ss = np.zeros(p)
    weighted = weights.size > 0
    for j in prange(p):
        acc_main = main_sums[j]
        acc_rest = rest_sums[j]
        s2 = 0.0
        current = main[0] if n > 0 else 0
        run = 0.0
        run_ss = 0.0
        for i in range(n):
            g = main[i]
            if g != current:
                acc_main[current] += run
                s2 += run_ss
                current = g
                run = 0.0
                run_ss = 0.0
            v = X[i, j]
            wv = v * weights[i] if weighted else v
            run += wv
            run_ss += wv * v
            for r in range(n_rest):
                acc_rest[offsets[r] + rest[i, r]] += wv
        if n > 0:
            acc_main[current] += run
            s2 += run_ss
        col_ss[j] = s2
        s1 = 0.0
        for g in range(n_main):
            s1 += acc_main[g]
        col_sum[j] = s1
    return main_sums.T, rest_sums.T, col_sum, col_ss


@njit(parallel=True, cache=True, fastmath={"reassoc"})
def subtract_effects(X, main, main_coef, rest, offsets, rest_coef, gram, weights):  # pragma: no cover
    """``X[i, j] -= main_coef[main[i], j] + sum_r rest_coef[offsets[r] + rest[i, r], j]`` in place.

    When ``gram`` is True, also returns :math:`X'WX` of the result (p x p), computed on each
    chunk of rows while it is still in cache (otherwise a 0 x 0 array).  Rows are split in fixed
    chunks of :data:`GRAM_CHUNK`.
    """
    n, p = X.shape
    n_rest = rest.shape[1]
    n_chunks = max(1, (n + GRAM_CHUNK - 1) // GRAM_CHUNK)
    parts = np.zeros((n_chunks if gram else 0, p, p))
    weighted = weights.size > 0
    for c in prange(n_chunks):
        lo = c * GRAM_CHUNK
        hi = min(n, lo + GRAM_CHUNK)
        for j in range(p):
            for i in range(lo, hi):
                v = main_coef[main[i], j]
                for r in range(n_rest):
                    v += rest_coef[offsets[r] + rest[i, r], j]
                X[i, j] -= v
        if gram:
            for a in range(p):
                xa = X[lo:hi, a]
                for b in range(a, p):
                    xb = X[lo:hi, b]
                    s = 0.0
                    if weighted:
                        w = weights[lo:hi]
                        for i in range(hi - lo):
                            s += xa[i] * xb[i] * w[i]
                    else:
                        for i in range(hi - lo):
                            s += xa[i] * xb[i]
                    parts[c, a, b] = s
    out = np.zeros((p, p) if gram else (0, 0))
    if gram:
        for c in range(n_chunks):
            for a in range(p):
                for b in range(a, p):
                    out[a, b] += parts[c, a, b]
        for a in range(p):
            for b in range(a):
                out[a, b] = out[b, a]
    return out


@njit(parallel=True, cache=True)
def main_coefficients(sum_main, cross, b, div):  # pragma: no cover - compiled
    """``(sum_main - cross @ b) / div[:, None]`` (G_A x p) for a dense cross-tabulation."""
    G, p = sum_main.shape
    L = cross.shape[1]
    out = np.empty((G, p))
    for g in prange(G):
        for j in range(p):
            v = sum_main[g, j]
            for l in range(L):
                v -= cross[g, l] * b[l, j]
            out[g, j] = v / div[g]
    return out


@njit(cache=True)
def schur_rhs(sum_rest, cross, sum_main, div):  # pragma: no cover - compiled
    """``sum_rest - cross' @ (sum_main / div[:, None])`` (L x p) for a dense cross-tabulation."""
    G, p = sum_main.shape
    L = cross.shape[1]
    out = sum_rest.copy()
    for g in range(G):
        inv = 1.0 / div[g]
        for l in range(L):
            c = cross[g, l]
            if c != 0.0:
                f = c * inv
                for j in range(p):
                    out[l, j] -= f * sum_main[g, j]
    return out


@njit(cache=True)
def refines(fine, n_fine, coarse):  # pragma: no cover - compiled
    """Whether every level of ``fine`` lies within one level of ``coarse`` (stops at the first
    counter-example)."""
    level_of = np.full(n_fine, -1, dtype=np.int64)
    for i in range(fine.size):
        g = fine[i]
        c = coarse[i]
        if level_of[g] < 0:
            level_of[g] = c
        elif level_of[g] != c:
            return False
    return True


@njit(parallel=True, cache=True)
def group_sums(X, codes, n_groups, weights):  # pragma: no cover - compiled
    """Weighted sums of the columns of ``X`` within groups: G x p (split over columns; runs of
    equal codes summed in registers, as in :func:`effect_sums`)."""
    n, p = X.shape
    out = np.zeros((p, n_groups))
    weighted = weights.size > 0
    for j in prange(p):
        acc = out[j]
        current = codes[0] if n > 0 else 0
        run = 0.0
        for i in range(n):
            g = codes[i]
            if g != current:
                acc[current] += run
                current = g
                run = 0.0
            run += X[i, j] * weights[i] if weighted else X[i, j]
        if n > 0:
            acc[current] += run
    return out.T


@njit(parallel=True, cache=True, fastmath={"reassoc"})
def crossprod(X, weights):  # pragma: no cover - compiled
    """:math:`X'WX` (p x p), rows split in fixed chunks (reassociated sums: vectorized)."""
    n, p = X.shape
    n_chunks = max(1, (n + CHUNK - 1) // CHUNK)
    parts = np.zeros((n_chunks, p, p))
    weighted = weights.size > 0
    for c in prange(n_chunks):
        lo = c * CHUNK
        hi = min(n, lo + CHUNK)
        w = weights[lo:hi] if weighted else weights
        for a in range(p):
            xa = X[lo:hi, a]
            for b in range(a, p):
                xb = X[lo:hi, b]
                s = 0.0
                if weighted:
                    for i in range(hi - lo):
                        s += xa[i] * xb[i] * w[i]
                else:
                    for i in range(hi - lo):
                        s += xa[i] * xb[i]
                parts[c, a, b] = s
    out = np.zeros((p, p))
    for c in range(n_chunks):
        for a in range(p):
            for b in range(a, p):
                out[a, b] += parts[c, a, b]
    for a in range(p):
        for b in range(a):
            out[a, b] = out[b, a]
    return out


@njit(parallel=True, cache=True, fastmath={"reassoc"})
def crossprod_with(X, y, weights):  # pragma: no cover - compiled
    """:math:`X'Wy` (p), rows split in fixed chunks."""
    n, p = X.shape
    n_chunks = max(1, (n + CHUNK - 1) // CHUNK)
    parts = np.zeros((n_chunks, p))
    weighted = weights.size > 0
    for c in prange(n_chunks):
        lo = c * CHUNK
        hi = min(n, lo + CHUNK)
        yc = y[lo:hi]
        w = weights[lo:hi] if weighted else weights
        for a in range(p):
            xa = X[lo:hi, a]
            s = 0.0
            if weighted:
                for i in range(hi - lo):
                    s += xa[i] * yc[i] * w[i]
            else:
                for i in range(hi - lo):
                    s += xa[i] * yc[i]
            parts[c, a] = s
    out = np.zeros(p)
    for c in range(n_chunks):
        for a in range(p):
            out[a] += parts[c, a]
    return out


@njit(parallel=True, cache=True)
def residuals(X, y, params, out):  # pragma: no cover - compiled
    """``out = y - X @ params`` (rows split in fixed chunks, columns added in order)."""
    n, p = X.shape
    n_chunks = max(1, (n + CHUNK - 1) // CHUNK)
    for c in prange(n_chunks):
        lo = c * CHUNK
        hi = min(n, lo + CHUNK)
        for i in range(lo, hi):
            out[i] = y[i]
        for a in range(p):
            b = params[a]
            for i in range(lo, hi):
                out[i] -= X[i, a] * b


@njit(parallel=True, cache=True)
def score_sums(X, u, codes, n_groups):  # pragma: no cover - compiled
    """Cluster sums of the scores :math:`\\sum_{i \\in g} x_i u_i`: G x p (split over columns;
    runs of equal codes summed in registers)."""
    n, p = X.shape
    out = np.zeros((p, n_groups))
    for j in prange(p):
        acc = out[j]
        current = codes[0] if n > 0 else 0
        run = 0.0
        for i in range(n):
            g = codes[i]
            if g != current:
                acc[current] += run
                current = g
                run = 0.0
            run += X[i, j] * u[i]
        if n > 0:
            acc[current] += run
    return out.T


@njit(cache=True)
def cross_counts(main, n_main, rest, offsets, weights):  # pragma: no cover - compiled
    """Rows (or total weight) in each (main level, stacked rest level) cell: a dense G_A x L table."""
    n = main.size
    n_rest = rest.shape[1]
    out = np.zeros((n_main, offsets[n_rest]))
    weighted = weights.size > 0
    for i in range(n):
        w = weights[i] if weighted else 1.0
        g = main[i]
        for r in range(n_rest):
            out[g, offsets[r] + rest[i, r]] += w
    return out


@njit(cache=True)
def is_sorted(codes):  # pragma: no cover - compiled
    """Whether codes start at 0 and never decrease."""
    if codes.size == 0:
        return True
    if codes[0] != 0:
        return False
    for i in range(1, codes.size):
        if codes[i] < codes[i - 1]:
            return False
    return True
