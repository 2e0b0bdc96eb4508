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

Why numba: it is already installed with pyfixest (the test reference), compiles these loops to
the speed of C with threads (``prange``) and caches the machine code; a Rust or C extension
would need a compiler in every build.
"""

from __future__ import annotations

import os

# numba runs prange loops on OpenMP when libgomp is present; its default wait policy spins
# between parallel regions, which on a shared or oversubscribed machine takes the cores from
# the threads doing the work (measured on 2 busy cores: 4x slower than one thread).  Passive
# waiting costs microseconds per region.  A value the user set is kept; the variable is read
# when the OpenMP runtime loads, so it must be set before the first parallel kernel runs.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
from numba import njit, prange  # noqa: E402

#: rows per chunk of the row-parallel loops (fixed, so results do not depend on the thread count)
CHUNK = 1 << 15
#: rows per chunk when a chunk is read twice (subtract, then cross-products): 8 columns stay in L2
GRAM_CHUNK = 1 << 12
#: rows per chunk of :func:`effect_sums_by_runs` (each chunk keeps its own sums of the other
#: effects' levels, so chunks are larger)
RUN_CHUNK = 1 << 16

NO_WEIGHTS = np.empty(0)
NO_CODES = np.empty(0, dtype=np.int64)
ALL_ROWS = np.empty(0, dtype=np.bool_)


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


@njit(cache=True)
def run_bounds(main, target):  # pragma: no cover - compiled
    """Chunk boundaries (0, ..., n) about ``target`` rows apart, each at a change of ``main``, when
    every level of ``main`` is one run of rows (a panel sorted by firm); else an empty array.

    A chunk then holds whole levels, so row-parallel loops can write level sums without two
    threads ever touching the same level; the boundaries depend on the data alone.
    """
    n = main.size
    last = np.full(1, -1, dtype=np.int64)
    seen_max = -1
    for i in range(n):
        g = main[i]
        if i > 0 and g != main[i - 1]:
            if g <= seen_max:
                return last[:0]  # a level comes back: not one run per level
        if g > seen_max:
            seen_max = g
    bounds = [0]
    next_cut = target
    for i in range(1, n):
        if i >= next_cut and main[i] != main[i - 1]:
            bounds.append(i)
            next_cut = i + target
    bounds.append(n)
    out = np.empty(len(bounds), dtype=np.int64)
    for k in range(len(bounds)):
        out[k] = bounds[k]
    return out


@njit(cache=True, inline="always")
def _run_end(main, i, hi):  # pragma: no cover - compiled
    """End of the run of rows that share ``main[i]`` (at most ``hi``)."""
    g = main[i]
    k = i
    while k < hi and main[k] == g:
        k += 1
    return k


@njit(parallel=True, cache=True)
def effect_sums_by_runs(X, main, div, rest, offsets, weights, bounds):  # pragma: no cover - compiled
    r"""Main-level sums, :math:`R'W M_A x` and the column moments in one pass, for a main effect A
    whose levels are runs of rows, split over the chunks of :func:`run_bounds`.

    ``div`` holds the (weighted) row count of each main level (1 for a level without weight).
    Returns (main sums G_A x p, the Schur right-hand side L x p, column sums p, column sums of
    squares p); the last two are weighted when ``weights`` is given.

    Notes
    -----
    :math:`R'W M_A x = \sum_i w_i r_i (x_i - \bar x_{g(i)})`: a level's rows are read again for
    the second term right after its mean is known, while they are still in cache, so the dense
    product with the cross-tabulation of A and R (``schur_rhs``) is not needed.  Rows are taken
    outer (each row's codes are read once for all columns); main-level sums are written by the
    chunk that holds the level, the other sums are kept per chunk and added over the chunks in
    order (results do not depend on the number of threads).
    """
    n, p = X.shape
    n_rest = rest.shape[1]
    total = offsets[n_rest]
    n_chunks = bounds.size - 1
    main_sums = np.zeros((div.size, p))
    rest_parts = np.zeros((n_chunks, total, p))
    moments = np.zeros((n_chunks, 2, p))
    weighted = weights.size > 0
    for c in prange(n_chunks):
        acc = rest_parts[c]
        run = np.zeros(p)
        mean = np.zeros(p)
        s1 = np.zeros(p)
        s2 = np.zeros(p)
        i, hi = bounds[c], bounds[c + 1]
        while i < hi:
            g = main[i]
            k = _run_end(main, i, hi)
            for j in range(p):
                run[j] = 0.0
            for m in range(i, k):
                w = weights[m] if weighted else 1.0
                for j in range(p):
                    v = X[m, j]
                    wv = v * w
                    run[j] += wv
                    s2[j] += wv * v
                for r in range(n_rest):
                    level = offsets[r] + rest[m, r]
                    for j in range(p):
                        acc[level, j] += X[m, j] * w
            for j in range(p):
                main_sums[g, j] = run[j]
                s1[j] += run[j]
                mean[j] = run[j] / div[g]
            for m in range(i, k):
                w = weights[m] if weighted else 1.0
                for r in range(n_rest):
                    level = offsets[r] + rest[m, r]
                    for j in range(p):
                        acc[level, j] -= w * mean[j]
            i = k
        for j in range(p):
            moments[c, 0, j] = s1[j]
            moments[c, 1, j] = s2[j]
    rhs = np.zeros((total, p))
    col_sum = np.zeros(p)
    col_ss = np.zeros(p)
    for c in range(n_chunks):
        for level in range(total):
            for j in range(p):
                rhs[level, j] += rest_parts[c, level, j]
        for j in range(p):
            col_sum[j] += moments[c, 0, j]
            col_ss[j] += moments[c, 1, j]
    return main_sums, rhs, col_sum, col_ss


@njit(cache=True, inline="always", fastmath={"reassoc"})
def _add_gram(X, lo, hi, weights, part):  # pragma: no cover - compiled
    """``part += X[lo:hi]' W X[lo:hi]`` (upper triangle) for rows still in cache."""
    p = X.shape[1]
    weighted = weights.size > 0
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
            part[a, b] += s


@njit(cache=True, inline="always")
def _sum_parts(parts):  # pragma: no cover - compiled
    """The upper triangles of per-chunk cross-products added in chunk order, mirrored."""
    p = parts.shape[1]
    out = np.zeros((p, p))
    for c in range(parts.shape[0]):
        for a in range(p):
            for b in range(a, p):
                out[a, b] += parts[c, a, b]
    for a in range(p):
        for b in range(a):
            out[a, b] = out[b, a]
    return out


@njit(parallel=True, cache=True, fastmath={"reassoc"})
def subtract_effects_by_runs(X, main, sum_main, div, rest, offsets, rest_coef, gram, weights, bounds):  # pragma: no cover
    r""":func:`subtract_effects` for a main effect whose levels are runs of rows (chunks of
    :func:`run_bounds`), with the main coefficients formed level by level on the way.

    Notes
    -----
    :math:`a_g = (s_g - \sum_{i \in g} w_i \sum_r b_{r(i)}) / d_g` (the main-level sums ``s``,
    counts ``d``): the rows of a level are read once for this sum and once for the subtraction
    while in cache, so no G_A x p table of coefficients is made and empty cells of the
    cross-tabulation cost nothing.  The cross-products are added over blocks of about
    :data:`GRAM_CHUNK` rows ending at level boundaries (the blocks depend on the data alone).
    """
    n, p = X.shape
    n_rest = rest.shape[1]
    n_chunks = bounds.size - 1
    parts = np.zeros((n_chunks if gram else 0, p, p))
    weighted = weights.size > 0
    for c in prange(n_chunks):
        v = np.empty(p)
        acc = np.empty(p)
        i, hi = bounds[c], bounds[c + 1]
        block = i
        while i < hi:
            g = main[i]
            k = _run_end(main, i, hi)
            for j in range(p):
                acc[j] = 0.0
            for m in range(i, k):
                w = weights[m] if weighted else 1.0
                for r in range(n_rest):
                    level = offsets[r] + rest[m, r]
                    for j in range(p):
                        acc[j] += w * rest_coef[level, j]
            for j in range(p):
                acc[j] = (sum_main[g, j] - acc[j]) / div[g]
            for m in range(i, k):
                for j in range(p):
                    v[j] = acc[j]
                for r in range(n_rest):
                    level = offsets[r] + rest[m, r]
                    for j in range(p):
                        v[j] += rest_coef[level, j]
                for j in range(p):
                    X[m, j] -= v[j]
            i = k
            if gram and (i - block >= GRAM_CHUNK or i == hi):
                _add_gram(X, block, i, weights, parts[c])
                block = i
    return _sum_parts(parts) if gram else np.zeros((0, 0))


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
    for c in prange(n_chunks):
        lo = c * GRAM_CHUNK
        hi = min(n, lo + GRAM_CHUNK)
        # row by row: the codes of a row are read once for all its columns, and a level's
        # coefficients are one contiguous row of main_coef / rest_coef
        v = np.empty(p)
        for i in range(lo, hi):
            g = main[i]
            for j in range(p):
                v[j] = main_coef[g, j]
            for r in range(n_rest):
                level = offsets[r] + rest[i, r]
                for j in range(p):
                    v[j] += rest_coef[level, j]
            for j in range(p):
                X[i, j] -= v[j]
        if gram:
            _add_gram(X, lo, hi, weights, parts[c])
    return _sum_parts(parts) if gram else np.zeros((0, 0))


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


@njit(parallel=True, cache=True)
def schur_rhs(sum_rest, cross, sum_main, div):  # pragma: no cover - compiled
    """``sum_rest - cross' @ (sum_main / div[:, None])`` (L x p) for a dense cross-tabulation."""
    G, p = sum_main.shape
    L = cross.shape[1]
    out = np.empty((p, L))
    for j in prange(p):
        acc = out[j]
        for l in range(L):
            acc[l] = sum_rest[l, j]
        for g in range(G):
            f = sum_main[g, j] / div[g]
            for l in range(L):
                acc[l] -= cross[g, l] * f
    return out.T


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
    for c in prange(n_chunks):
        _add_gram(X, c * CHUNK, min(n, (c + 1) * CHUNK), weights, parts[c])
    return _sum_parts(parts)


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
def residuals_and_scores(X, y, params, out, codes, n_groups, bounds):  # pragma: no cover - compiled
    """``out = y - X @ params``, the cluster sums of the scores :math:`x_i u_i` (G x p) and the
    cluster sizes in one pass, for clusters whose levels are runs of rows, split over the chunks
    of :func:`run_bounds` (each cluster is summed by one chunk).

    The residuals are the bits of :func:`residuals` and the sums those of :func:`score_sums`
    (same order of additions).
    """
    n, p = X.shape
    scores = np.zeros((n_groups, p))
    sizes = np.zeros(n_groups, dtype=np.int64)
    for c in prange(bounds.size - 1):
        lo, hi = bounds[c], bounds[c + 1]
        run = np.zeros(p)
        current = codes[lo] if hi > lo else 0
        start = lo
        for i in range(lo, hi):
            g = codes[i]
            if g != current:
                for a in range(p):
                    scores[current, a] = run[a]
                    run[a] = 0.0
                sizes[current] = i - start
                start = i
                current = g
            u = y[i]
            for a in range(p):
                u -= X[i, a] * params[a]
            out[i] = u
            for a in range(p):
                run[a] += X[i, a] * u
        if hi > lo:
            for a in range(p):
                scores[current, a] = run[a]
            sizes[current] = hi - start
    return scores, sizes


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
    """Rows (or total weight) in each (main level, stacked rest level) cell: a dense G_A x L table,
    with the rows (weight) of each main level and of each stacked rest level."""
    n = main.size
    n_rest = rest.shape[1]
    out = np.zeros((n_main, offsets[n_rest]))
    main_counts = np.zeros(n_main)
    rest_counts = np.zeros(offsets[n_rest])
    weighted = weights.size > 0
    for i in range(n):
        w = weights[i] if weighted else 1.0
        g = main[i]
        main_counts[g] += w
        for r in range(n_rest):
            level = offsets[r] + rest[i, r]
            out[g, level] += w
            rest_counts[level] += w
    return out, main_counts, rest_counts


@njit(parallel=True, cache=True)
def cross_counts_by_runs(main, n_main, rest, offsets, weights, bounds):  # pragma: no cover - compiled
    """:func:`cross_counts` for a main effect whose levels are runs of rows (chunks of
    :func:`run_bounds`): a chunk fills the table rows of its levels; the other levels' counts
    are kept per chunk and added in order."""
    n_rest = rest.shape[1]
    L = offsets[n_rest]
    n_chunks = bounds.size - 1
    out = np.zeros((n_main, L))
    main_counts = np.zeros(n_main)
    parts = np.zeros((n_chunks, L))
    weighted = weights.size > 0
    for c in prange(n_chunks):
        part = parts[c]
        for i in range(bounds[c], bounds[c + 1]):
            w = weights[i] if weighted else 1.0
            g = main[i]
            main_counts[g] += w
            for r in range(n_rest):
                level = offsets[r] + rest[i, r]
                out[g, level] += w
                part[level] += w
    rest_counts = np.zeros(L)
    for c in range(n_chunks):
        for level in range(L):
            rest_counts[level] += parts[c, level]
    return out, main_counts, rest_counts


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


# --- binary likelihood (complementary log-log and logit) --------------------------------------
#: link codes of the binary kernels
CLOGLOG, LOGIT = 0, 1
#: exp(eta) overflows beyond ~709; a hazard with eta > 700 is 1 to machine precision anyway
ETA_CAP = 700.0


@njit(cache=True, inline="always")
def _binary_point(eta, y, link):  # pragma: no cover - compiled
    """Log-likelihood of one observation and its first two derivatives in ``eta`` (see
    :func:`gvcpanel.models.binary.derivatives` for the formulas)."""
    if eta > ETA_CAP:
        eta = ETA_CAP
    if link == LOGIT:
        # one exponential, of -|eta| (never overflows): mu = 1/(1 + e) or e/(1 + e) and
        # mu(1 - mu) = e/(1 + e)^2 for either sign; log(1 + e) for e in (0, 1] is off from
        # log1p by at most an ulp of 1 in absolute terms (where the term is added to a sum)
        e = np.exp(-abs(eta))
        inv = 1.0 / (1.0 + e)
        mu = inv if eta >= 0.0 else e * inv
        return y * eta - (max(eta, 0.0) + np.log(1.0 + e)), y - mu, -e * inv * inv
    e = np.exp(eta)
    if y <= 0.5:
        return -e, -e, -e
    p = -np.expm1(-e)
    if p <= 0.0:
        return -np.inf, 1.0, 0.0
    ratio = e * np.exp(-e) / p
    if e < 1e-3:
        p_minus_e = -(e * e) * (0.5 - e / 6.0 + e * e / 24.0 - e * e * e / 120.0)
    else:
        p_minus_e = p - e
    return np.log(p), ratio, ratio * p_minus_e / p


@njit(cache=True, fastmath={"reassoc"})
def _binary_chunk(X, n_dense, codes, y, offset, beta, link, weights, order, lo, hi, g, h, d,
                  derivative):  # pragma: no cover
    """One chunk of rows of :func:`binary_pass`: adds the chunk's gradient to ``g`` (K), its
    information to ``h`` (n_dense x K, upper part) and ``d`` (indicator diagonal), writes
    :math:`w_i \\ell'_i` to ``derivative`` when it is not empty; returns its log-likelihood.
    A separate function so that the compiler optimizes it as a plain loop nest (loops written
    inside ``prange`` bodies were measured several times slower)."""
    k = n_dense
    m = hi - lo
    weighted = weights.size > 0
    eta = np.zeros(m)
    if offset.size > 0:
        for i in range(m):
            eta[i] = offset[lo + i]
    if codes.size > 0:
        for i in range(m):
            eta[i] += beta[k + codes[lo + i]]
    for a in range(k):
        b = beta[a]
        for i in range(m):
            eta[i] += X[lo + i, a] * b
    d1 = np.empty(m)
    d2 = np.empty(m)
    ll = 0.0
    for i in range(m):
        l0, l1, l2 = _binary_point(eta[i], y[lo + i], link)
        w = weights[lo + i] if weighted else 1.0
        ll += w * l0
        d1[i] = w * l1
        d2[i] = w * max(-l2, 0.0)
    if derivative.size > 0:
        for i in range(m):
            derivative[lo + i] = d1[i]
    if order >= 1:
        for a in range(k):
            s = 0.0
            for i in range(m):
                s += X[lo + i, a] * d1[i]
            g[a] += s
    if order >= 2:
        for a in range(k):
            for b in range(a, k):
                s = 0.0
                for i in range(m):
                    s += X[lo + i, a] * X[lo + i, b] * d2[i]
                h[a, b] += s
    if order >= 1 and codes.size > 0:
        # the indicator block: every row adds to its level's entries, all in one loop (one
        # read of the code; the stores of a row are independent of each other)
        for i in range(m):
            level = codes[lo + i]
            g[k + level] += d1[i]
            if order >= 2:
                t = d2[i]
                d[level] += t
                for a in range(k):
                    h[a, k + level] += X[lo + i, a] * t
    return ll


@njit(parallel=True, cache=True)
def _binary_passes(X, codes, n_levels, y, offset, beta, link, weights, order, derivative):  # pragma: no cover
    n, k = X.shape
    K = k + n_levels
    n_chunks = max(1, (n + GRAM_CHUNK - 1) // GRAM_CHUNK)
    ll_parts = np.zeros(n_chunks)
    g_parts = np.zeros((n_chunks, K))
    h_parts = np.zeros((n_chunks, k, K))
    d_parts = np.zeros((n_chunks, n_levels))
    for c in prange(n_chunks):
        lo = c * GRAM_CHUNK
        hi = min(n, lo + GRAM_CHUNK)
        ll_parts[c] = _binary_chunk(X, k, codes, y, offset, beta, link, weights, order, lo, hi,
                                    g_parts[c], h_parts[c], d_parts[c], derivative)
    loglik = 0.0
    gradient = np.zeros(K)
    information = np.zeros((K, K))
    for c in range(n_chunks):  # chunks in order: the same sums for any number of threads
        loglik += ll_parts[c]
        if order >= 1:
            for a in range(K):
                gradient[a] += g_parts[c, a]
        if order >= 2:
            for a in range(k):
                for b in range(a, K):
                    information[a, b] += h_parts[c, a, b]
            for level in range(n_levels):
                information[k + level, k + level] += d_parts[c, level]
    for a in range(K):
        for b in range(a):
            information[a, b] = information[b, a]
    return loglik, gradient, information


def binary_pass(X, y, offset, beta, link, weights, order):
    """Weighted log-likelihood, gradient and information of a binary model in one pass.

    Returns ``(loglik, gradient (k), information (k x k))``: :math:`\\sum w\\ell`,
    :math:`\\sum w \\ell' x` and :math:`\\sum w \\max(-\\ell'', 0) x x'`; ``order`` 0 computes the
    log-likelihood only (gradient and information are then zeros), 1 adds the gradient.  Rows
    are split in fixed chunks; within a chunk the predictor, the derivatives and the
    cross-products are computed column by column while the chunk is in cache.
    """
    return _binary_passes(X, NO_CODES, 0, y, offset, beta, link, weights, order, NO_WEIGHTS)


def binary_pass_indicators(X, codes, n_levels, y, offset, beta, link, weights, order):
    """:func:`binary_pass` for a design whose last ``n_levels`` columns are the indicators of
    ``codes`` (baseline-period dummies), given only its first k columns ``X``.

    The indicator block is never read: the predictor adds ``beta[k + codes[i]]``, the gradient of
    the block is a sum by level, its information a diagonal, and its cross-products with the
    other columns are sums by level.  Returns the same (k + n_levels)-dimensional results.
    """
    return _binary_passes(X, codes, n_levels, y, offset, beta, link, weights, order, NO_WEIGHTS)


def binary_pass_with_derivative(X, codes, n_levels, y, offset, beta, link, weights, derivative):
    """:func:`binary_pass_indicators` of order 2 (``codes`` empty and ``n_levels`` 0 for none)
    that also writes each row's :math:`w_i \\ell'(\\eta_i)` into ``derivative`` (n): the
    log-likelihood, information and score factors at the estimates in one pass."""
    return _binary_passes(X, codes, n_levels, y, offset, beta, link, weights, 2, derivative)


@njit(parallel=True, cache=True)
def binary_scores(X, y, offset, beta, link, weights, out):  # pragma: no cover - compiled
    """Per-observation (weighted) scores :math:`w_i \\ell'(\\eta_i) x_i` into ``out`` (n x k)."""
    n, k = X.shape
    n_chunks = max(1, (n + GRAM_CHUNK - 1) // GRAM_CHUNK)
    weighted = weights.size > 0
    has_offset = offset.size > 0
    for c in prange(n_chunks):
        lo = c * GRAM_CHUNK
        hi = min(n, lo + GRAM_CHUNK)
        m = hi - lo
        eta = np.zeros(m)
        if has_offset:
            for i in range(m):
                eta[i] = offset[lo + i]
        for a in range(k):
            b = beta[a]
            for i in range(m):
                eta[i] += X[lo + i, a] * b
        for i in range(m):
            l0, l1, l2 = _binary_point(eta[i], y[lo + i], link)
            eta[i] = l1 * weights[lo + i] if weighted else l1
        for a in range(k):
            for i in range(m):
                out[lo + i, a] = X[lo + i, a] * eta[i]


@njit(parallel=True, cache=True)
def binary_derivative(X, codes, y, offset, beta, link, weights):  # pragma: no cover - compiled
    """:math:`w_i \\ell'(\\eta_i)` per row (n), the factor the scores share; ``codes`` (or an empty
    vector) index indicator coefficients ``beta[p + codes[i]]`` after the p columns of ``X``."""
    n, k = X.shape
    out = np.empty(n)
    n_chunks = max(1, (n + GRAM_CHUNK - 1) // GRAM_CHUNK)
    weighted = weights.size > 0
    has_offset = offset.size > 0
    has_codes = codes.size > 0
    for c in prange(n_chunks):
        lo = c * GRAM_CHUNK
        hi = min(n, lo + GRAM_CHUNK)
        for i in range(lo, hi):
            eta = offset[i] if has_offset else 0.0
            if has_codes:
                eta += beta[k + codes[i]]
            for a in range(k):
                eta += X[i, a] * beta[a]
            l0, l1, l2 = _binary_point(eta, y[i], link)
            out[i] = l1 * weights[i] if weighted else l1
    return out


# --- reading columns -----------------------------------------------------------------------------
@njit(parallel=True, cache=True, fastmath={"reassoc"})
def all_finite(x):  # pragma: no cover - compiled
    """Whether every value of a float64 vector is finite (no NaN, no infinity); rows split in
    fixed chunks on every core."""
    n = x.size
    n_chunks = max(1, (n + CHUNK - 1) // CHUNK)
    bad = np.zeros(n_chunks, dtype=np.bool_)
    for c in prange(n_chunks):
        lo = c * CHUNK
        hi = min(n, lo + CHUNK)
        s = 0.0
        for i in range(lo, hi):
            # 0 for a finite value, NaN for NaN or infinity (in any order of the additions)
            s += x[i] * 0.0
        bad[c] = s != 0.0
    for c in range(n_chunks):
        if bad[c]:
            return False
    return True


@njit(parallel=True, cache=True)
def copy_into(out, x):  # pragma: no cover - compiled
    """``out[:] = x`` for float64 vectors, rows split in fixed chunks on every core."""
    n = x.size
    n_chunks = max(1, (n + CHUNK - 1) // CHUNK)
    for c in prange(n_chunks):
        lo = c * CHUNK
        hi = min(n, lo + CHUNK)
        for i in range(lo, hi):
            out[i] = x[i]


@njit(cache=True)
def chunk_starts(keep):  # pragma: no cover - compiled
    """Where each fixed chunk of :data:`CHUNK` rows starts among the kept rows (one more entry:
    the number kept), for :func:`compress_into`."""
    n = keep.size
    n_chunks = max(1, (n + CHUNK - 1) // CHUNK)
    starts = np.zeros(n_chunks + 1, dtype=np.int64)
    for c in range(n_chunks):
        m = 0
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if keep[i]:
                m += 1
        starts[c + 1] = starts[c] + m
    return starts


@njit(parallel=True, cache=True)
def compress_into(out, x, keep, starts):  # pragma: no cover - compiled
    """``out[:] = x[keep]`` for float64 vectors, chunks of rows on every core (``starts`` from
    :func:`chunk_starts` of the same ``keep``)."""
    n = x.size
    for c in prange(starts.size - 1):
        t = starts[c]
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if keep[i]:
                out[t] = x[i]
                t += 1


# --- codes -------------------------------------------------------------------------------------
#: row parts of the code kernels (each part marks the levels it sees in its own table)
CODE_PARTS = 4


@njit(cache=True, inline="always")
def _code_parts(n, n_levels):  # pragma: no cover - compiled
    """Parts and rows per part: one part when the levels outnumber the rows or rows are few."""
    parts = CODE_PARTS if n_levels <= n and n >= CODE_PARTS * CHUNK else 1
    return parts, (n + parts - 1) // parts


@njit(parallel=True, cache=True)
def present_levels(codes, low, n_levels, keep):  # pragma: no cover - compiled
    """Which of the levels ``0..n_levels-1`` of ``codes - low`` occur among the rows ``keep`` (all
    rows when empty), by parts of rows on every core."""
    n = codes.size
    selected = keep.size > 0
    parts, size = _code_parts(n, n_levels)
    seen = np.zeros((parts, n_levels), dtype=np.bool_)
    for c in prange(parts):
        row = seen[c]
        for i in range(c * size, min(n, (c + 1) * size)):
            if not selected or keep[i]:
                row[codes[i] - low] = True
    present = seen[0].copy()
    for c in range(1, parts):
        for level in range(n_levels):
            present[level] |= seen[c, level]
    return present


@njit(parallel=True, cache=True)
def recode(codes, low, new, keep):  # pragma: no cover - compiled
    """``new[codes - low]`` on the rows ``keep`` (all rows when empty) as int64, by parts of rows
    on every core."""
    n = codes.size
    selected = keep.size > 0
    parts, size = _code_parts(n, new.size)
    kept = np.zeros(parts + 1, dtype=np.int64)
    for c in prange(parts):
        m = 0
        for i in range(c * size, min(n, (c + 1) * size)):
            if not selected or keep[i]:
                m += 1
        kept[c + 1] = m
    for c in range(parts):
        kept[c + 1] += kept[c]
    out = np.empty(kept[parts], dtype=np.int64)
    for c in prange(parts):
        t = kept[c]
        for i in range(c * size, min(n, (c + 1) * size)):
            if not selected or keep[i]:
                out[t] = new[codes[i] - low]
                t += 1
    return out


def compact_codes(codes: np.ndarray, n_levels: int, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes ``0..n_levels-1`` (any integer type) of the rows ``keep`` (all rows when empty)
    recoded to ``0..G-1`` over the levels that occur, in order, as int64; returns (codes, the old
    codes used).  Two compiled passes, no temporaries of the data's size."""
    return recode_present(codes, present_levels(codes, codes.dtype.type(0), n_levels, keep), keep)


def recode_present(codes: np.ndarray, present: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`compact_codes` when the levels that occur (``present``) are known."""
    new = np.cumsum(present, dtype=np.int64) - 1
    return recode(codes, codes.dtype.type(0), new, keep), np.flatnonzero(present)


def integer_codes(values: np.ndarray, low: int, high: int, keep: np.ndarray = ALL_ROWS) -> tuple[np.ndarray, np.ndarray]:
    """Codes ``0..G-1`` of whole numbers in ``[low, high]`` (of the rows ``keep``; all rows when
    empty) in sorted order, and the values that occur (counting instead of hashing; the caller
    keeps ``high - low`` near the data's size)."""
    low = values.dtype.type(low)
    present = present_levels(values, low, int(high) - int(low) + 1, keep)
    new = np.cumsum(present, dtype=np.int64) - 1
    return recode(values, low, new, keep), (np.flatnonzero(present) + low).astype(values.dtype)


# --- row selection -----------------------------------------------------------------------------
@njit(parallel=True, cache=True)
def singleton_sweeps(codes, n_levels, keep, dropped):  # pragma: no cover - compiled
    """Drop, in place in ``keep``, the rows alone in a level of an effect, sweep after sweep until
    none is left; ``codes`` is a tuple of E code vectors (one per effect, no n x E copy; a row
    outside ``keep`` is never read, so its code may be anything), ``dropped[e]`` counts the rows
    dropped against effect e.  Returns the rows left in each level (the effects' levels stacked).

    Within a sweep the effects are taken in order and a row counts against the first effect in
    whose level it is alone (the rule of :func:`gvcpanel.models.absorb.singleton_mask`).
    """
    n_eff = len(codes)
    n = codes[0].size
    offsets = np.zeros(n_eff + 1, dtype=np.int64)
    for e in range(n_eff):
        offsets[e + 1] = offsets[e] + n_levels[e]
    # the first count by parts of rows on every core; the sweeps stay in order (their rule)
    parts, size = _code_parts(n, offsets[n_eff])
    table = np.zeros((parts, offsets[n_eff]), dtype=np.int64)
    for part in prange(parts):
        row = table[part]
        for e in range(n_eff):
            c = codes[e]
            base = offsets[e]
            for i in range(part * size, min(n, (part + 1) * size)):
                if keep[i]:
                    row[base + c[i]] += 1
    counts = table[0].copy()
    for part in range(1, parts):
        for level in range(offsets[n_eff]):
            counts[level] += table[part, level]
    # an effect is scanned only while one of its levels may hold a single row: most panels have
    # none, and a scan that could drop nothing is skipped (the drops and their order are those of
    # scanning every effect in every sweep)
    pending = np.zeros(n_eff, dtype=np.bool_)
    for e in range(n_eff):
        for level in range(offsets[e], offsets[e + 1]):
            if counts[level] == 1:
                pending[e] = True
                break
    while pending.any():
        for e in range(n_eff):
            if not pending[e]:
                continue
            # a row alone in its level is the level's only row: dropping it changes no other
            # row's count in this effect, so the counts can be updated as rows go (and no level
            # of this effect is left with one row after the scan)
            pending[e] = False
            c = codes[e]
            base = offsets[e]
            for i in range(n):
                if keep[i] and counts[base + c[i]] == 1:
                    keep[i] = False
                    dropped[e] += 1
                    for f in range(n_eff):
                        level = offsets[f] + codes[f][i]
                        counts[level] -= 1
                        if counts[level] == 1:
                            pending[f] = True
    return counts


# --- structure of the effects ------------------------------------------------------------------
@njit(cache=True)
def _root(parent, x):  # pragma: no cover - compiled
    while parent[x] != x:
        parent[x] = parent[parent[x]]  # path halving
        x = parent[x]
    return x


@njit(cache=True)
def bipartite_components(a, n_a, b, n_b):  # pragma: no cover - compiled
    """Connected components of the graph linking level ``a[i]`` to level ``n_a + b[i]`` for every
    row (union-find; levels that occur in no row are components of their own)."""
    parent = np.arange(n_a + n_b)
    components = n_a + n_b
    for i in range(a.size):
        x = _root(parent, a[i])
        y = _root(parent, n_a + b[i])
        if x != y:
            if x < y:
                parent[y] = x
            else:
                parent[x] = y
            components -= 1
    return components


@njit(cache=True)
def schur_cross(main, n_main, rest, offsets, weights, div):  # pragma: no cover - compiled
    """:math:`C' \\mathrm{diag}(1/d) C` (L x L, dense) for the G_A x L cross-tabulation C of the
    main effect with the stacked other effects, from the rows themselves.

    Row i of main level g adds :math:`w_i w_j / d_g` to cell (level of i, level of j) for every
    row j of the same main level: the product of a level's row of C with itself without forming
    C (a sparse product of a cross-tabulation with millions of entries takes a second).  The
    cost is the sum of squared main-level sizes, so callers use it for small levels (firms).
    """
    n = main.size
    n_rest = rest.shape[1]
    L = offsets[n_rest]
    weighted = weights.size > 0
    # rows grouped by main level (counting sort; keeps the row order within a level)
    starts = np.zeros(n_main + 1, dtype=np.int64)
    for i in range(n):
        starts[main[i] + 1] += 1
    for g in range(n_main):
        starts[g + 1] += starts[g]
    fill = starts[:n_main].copy()
    order = np.empty(n, dtype=np.int64)
    for i in range(n):
        g = main[i]
        order[fill[g]] = i
        fill[g] += 1
    out = np.zeros((L, L))
    for g in range(n_main):
        lo, hi = starts[g], starts[g + 1]
        inv = 1.0 / div[g]
        for a in range(lo, hi):
            i = order[a]
            wi = (weights[i] if weighted else 1.0) * inv
            for b in range(lo, hi):
                j = order[b]
                wij = wi * (weights[j] if weighted else 1.0)
                for r in range(n_rest):
                    li = offsets[r] + rest[i, r]
                    for s in range(n_rest):
                        out[li, offsets[s] + rest[j, s]] += wij
    return out


@njit(parallel=True, cache=True)
def run_schur_counts(main, n_main, rest, offsets, weights, bounds):  # pragma: no cover - compiled
    """:func:`schur_cross` for a main effect whose levels are runs of rows, with the (weighted)
    row counts of the main levels and of the stacked other levels: (C'D^{-1}C, d, the other
    counts), where D = diag(d) (a level without weight divides by 1).

    No sort and no G_A x L table: a level's entries (row, other effect) are gathered into a small
    buffer, and each unordered pair of them is added once to the upper triangle, which is
    mirrored at the end (half the scattered additions of the full product).  The chunks of
    ``bounds`` (few: each keeps an L x L sum) run on every core and are added in order.
    """
    n_rest = rest.shape[1]
    L = offsets[n_rest]
    n_chunks = bounds.size - 1
    parts = np.zeros((n_chunks, L, L))
    rest_parts = np.zeros((n_chunks, L))
    main_counts = np.zeros(n_main)
    weighted = weights.size > 0
    for c in prange(n_chunks):
        out = parts[c]
        rest_counts = rest_parts[c]
        levels = np.empty(64 * n_rest, dtype=np.int64)
        wts = np.empty(64 * n_rest)
        i, hi = bounds[c], bounds[c + 1]
        while i < hi:
            g = main[i]
            k = _run_end(main, i, hi)
            m = (k - i) * n_rest
            if m > levels.size:
                levels = np.empty(2 * m, dtype=np.int64)
                wts = np.empty(2 * m)
            t = 0
            d = 0.0
            for a in range(i, k):
                wa = weights[a] if weighted else 1.0
                d += wa
                for r in range(n_rest):
                    levels[t] = offsets[r] + rest[a, r]
                    wts[t] = wa
                    rest_counts[levels[t]] += wa
                    t += 1
            main_counts[g] = d
            inv = 1.0 / d if d > 0 else 1.0
            for t1 in range(m):
                l1 = levels[t1]
                w1 = wts[t1] * inv
                out[l1, l1] += w1 * wts[t1]
                for t2 in range(t1 + 1, m):
                    l2 = levels[t2]
                    v = w1 * wts[t2]
                    if l1 < l2:
                        out[l1, l2] += v
                    elif l2 < l1:
                        out[l2, l1] += v
                    else:  # two entries of one level: the pair counts in both orders
                        out[l1, l1] += 2.0 * v
            i = k
    total = np.zeros((L, L))
    rest_total = np.zeros(L)
    for c in range(n_chunks):
        for a in range(L):
            rest_total[a] += rest_parts[c, a]
            for b in range(a, L):
                total[a, b] += parts[c, a, b]
    for a in range(L):
        for b in range(a + 1, L):
            total[b, a] = total[a, b]
    return total, main_counts, rest_total


@njit(parallel=True, cache=True)
def run_squared_sizes(main, bounds):  # pragma: no cover - compiled
    """:func:`sum_squared_sizes` for a main effect whose levels are runs of rows (chunks of
    :func:`run_bounds`): the squared lengths of the runs."""
    n_chunks = bounds.size - 1
    parts = np.zeros(n_chunks, dtype=np.int64)
    for c in prange(n_chunks):
        i, hi = bounds[c], bounds[c + 1]
        total = 0
        while i < hi:
            k = _run_end(main, i, hi)
            total += (k - i) * (k - i)
            i = k
        parts[c] = total
    return parts.sum()


@njit(cache=True)
def sum_squared_sizes(main, n_main):  # pragma: no cover - compiled
    """:math:`\\sum_g n_g^2` over the levels of ``main`` (the cost of :func:`schur_cross`)."""
    counts = np.zeros(n_main, dtype=np.int64)
    for i in range(main.size):
        counts[main[i]] += 1
    total = 0
    for g in range(n_main):
        total += counts[g] * counts[g]
    return total
