"""Eigenvalues of small dense real matrices in pure JAX, without host fallback.

``jnp.linalg.eig``/``eigvals`` have no GPU kernel and run on the host. :func:`eigvals` instead implements the
textbook dense algorithm (as in LAPACK ``dgehrd`` + ``dlahqr``) with plain ``jnp``/``lax`` ops on fixed-size
arrays, so it stays on the accelerator:

1. reduce to upper Hessenberg form with ``d - 2`` Householder reflections;
2. real Francis double-shift QR sweeps (3x3 reflectors chasing a bulge) on the bottom-most unreduced block,
   zeroing negligible subdiagonal entries after every sweep, with exceptional shifts when a block stalls;
3. read the eigenvalues off the remaining 1x1 and 2x2 diagonal blocks.

The batch is processed explicitly, as the last array axis (every step updates three rows and three columns of all
matrices at once, contiguous in memory); active windows are per-matrix indices in the loop carry and out-of-window steps
are masked, so all shapes are static. There is no balancing (unlike LAPACK ``dgeev``): strongly graded matrices such as
``D A D^-1`` with a wide range in ``D`` get normwise, not LAPACK-level, accuracy."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax import lax

Array = jax.Array


def eigvals(a: Array, *, max_sweeps: int | None = None, tol: float | None = None) -> tuple[Array, Array]:
    """Eigenvalues of real square matrices without host fallback.

    d <= 2 uses the closed form; d >= 3 the Hessenberg QR algorithm, all batch elements at once. Works under
    ``jax.jit`` and ``jax.vmap``; not meant for autodiff.

    Args:
      a: ``(..., d, d)`` real matrices (integers are promoted to float).
      max_sweeps: cap on QR sweeps per matrix (default ``30 * d``).
      tol: relative deflation tolerance (default: machine epsilon of the dtype).

    Returns:
      ``(w, converged)``: ``w`` of shape ``(..., d)``, complex, sorted by descending real part, then descending
      imaginary part; ``converged`` of shape ``(...,)``, bool, False where the iteration cap was hit or the
      input / result is not finite (``w`` is then meaningless).
    """
    a = jnp.asarray(a)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"expected (..., d, d) matrices, got shape {a.shape}")
    if jnp.iscomplexobj(a):
        raise TypeError("eigvals expects real matrices")
    if not jnp.issubdtype(a.dtype, jnp.floating):
        a = a.astype(jnp.result_type(float))
    d = a.shape[-1]
    batch = a.shape[:-2]
    max_sweeps = 30 * d if max_sweeps is None else max_sweeps
    tol = float(jnp.finfo(a.dtype).eps) if tol is None else tol

    a = jnp.moveaxis(a.reshape((math.prod(batch), d, d)), 0, -1)  # (d, d, B): batch last
    # exact power-of-2 scaling to max|a| ~ 1 keeps intermediate squares in range
    amax = jnp.max(jnp.abs(a), axis=(0, 1), initial=0)
    scale = jnp.where(amax > 0, jnp.exp2(jnp.floor(jnp.log2(amax))), 1)
    h = a / scale
    if d <= 1:
        w, converged = jnp.diagonal(h).T.astype(jnp.result_type(h.dtype, 1j)), True
    elif d == 2:
        w, converged = jnp.stack(_eig2x2(h[0, 0], h[0, 1], h[1, 0], h[1, 1])), True
    else:
        w, converged = _cpu_chunks(lambda x: _hessenberg_eigvals(_hessenberg(x), max_sweeps, tol), h)
    converged = converged & jnp.all(jnp.isfinite(w), axis=0) & jnp.all(jnp.isfinite(a), axis=(0, 1))
    w = (w * scale).T.reshape(batch + (d,))
    neg_re, neg_im = lax.sort((-w.real, -w.imag), dimension=-1, num_keys=2)
    return lax.complex(-neg_re, -neg_im), converged.reshape(batch)


def _cpu_chunks(solve, h: Array) -> tuple[Array, Array]:
    """``solve(h)`` for ``h`` ``(d, d, B)``; on CPU in cache-sized chunks of the batch (a ``lax.map``): the
    sweeps stream whole arrays through memory, 2-3x faster when a chunk fits in cache. On accelerators the
    batch stays whole."""
    d, b = h.shape[0], h.shape[-1]
    chunk = 2 ** max(5, (2**20 // (h.dtype.itemsize * (d + 1) ** 2)).bit_length() - 1)  # ~1 MiB
    if jax.default_backend() != "cpu" or b <= chunk:
        return solve(h)
    n = -(-b // chunk)
    h = jnp.pad(h, ((0, 0), (0, 0), (0, n * chunk - b)))  # zero matrices: converge at once
    w, converged = lax.map(solve, jnp.moveaxis(h.reshape((d, d, n, chunk)), 2, 0))
    return jnp.moveaxis(w, 0, 1).reshape((d, n * chunk))[:, :b], converged.reshape(-1)[:b]


def _eig2x2(a: Array, b: Array, c: Array, d: Array) -> tuple[Array, Array]:
    """Eigenvalues of ``[[a, b], [c, d]]``, elementwise over same-shape real arrays. Returns two complex arrays of the
    input shape. Triangular blocks give their diagonal exactly; a discriminant at rounding level (eigenvalue split below
    ``4 eps`` times the block scale) gives an exactly real double eigenvalue; complex pairs are exact conjugates."""
    eps = jnp.finfo(a.dtype).eps
    mid = (a + d) / 2
    p = (a - d) / 2
    bc = b * c
    disc = p * p + bc
    root = jnp.sqrt(jnp.abs(disc))
    scale = jnp.abs(a) + jnp.abs(b) + jnp.abs(c) + jnp.abs(d)
    double = root <= 4 * eps * scale
    # real pair, computed as in LAPACK dlanv2 (no cancellation in z)
    z = p + jnp.where(p >= 0, root, -root)
    real1 = d + z
    real2 = d - bc / jnp.where(z == 0, 1, z)
    triangular = (b == 0) | (c == 0)
    re1 = jnp.where(triangular, a, jnp.where(double | (disc < 0), mid, real1))
    re2 = jnp.where(triangular, d, jnp.where(double | (disc < 0), mid, real2))
    im = jnp.where(triangular | double | (disc >= 0), 0, root)
    return lax.complex(re1, im), lax.complex(re2, -im)


def _hessenberg(a: Array) -> Array:
    """Upper Hessenberg matrices ``(d, d, B)`` similar to ``a`` ``(d, d, B)`` (Householder)."""
    d = a.shape[0]
    idx = jnp.arange(d)[:, None]

    def step(k, h):
        x = jnp.where(idx > k, h[:, k], 0)  # (d, B): column k below the diagonal
        alpha = x[k + 1]
        below = jnp.sum(jnp.where(idx > k + 1, x * x, 0), 0)
        norm = jnp.sqrt(alpha * alpha + below)
        v = jnp.where(idx == k + 1, alpha + jnp.where(alpha >= 0, norm, -norm), x)
        beta = jnp.where(below > 0, 2 / jnp.sum(v * v, 0), 0)
        h = h - (beta * v)[:, None] * jnp.sum(v[:, None] * h, 0)[None]
        return h - jnp.sum(h * v[None], 1)[:, None] * (beta * v)[None]

    h = lax.fori_loop(0, d - 2, step, a)
    return jnp.where((idx > idx.T + 1)[..., None], 0, h)


def _hessenberg_eigvals(h: Array, max_sweeps: int, tol: float) -> tuple[Array, Array]:
    """Eigenvalues ``(d, B)`` complex and convergence flags ``(B,)`` of Hessenberg ``h`` ``(d, d, B)``, d >= 3
    (the batch last, so that the row and column slices updated at every step are contiguous across matrices)."""
    d, batch = h.shape[0], h.shape[-1]
    n = d + 1
    idx = jnp.arange(d, dtype=jnp.int32)[:, None]
    lane = jnp.arange(batch)
    finfo = jnp.finfo(h.dtype)
    smallnum = finfo.tiny * (d / finfo.eps)
    # One zero row/column of padding so that every 3-row/3-column slice starting at j <= d - 2 is in bounds
    h = jnp.pad(h, ((0, 1), (0, 1), (0, 0)))
    # subdiagonal entries below tol * max|h| are negligible (normwise backward stable)
    floor = jnp.maximum(smallnum, tol * jnp.max(jnp.abs(h), axis=(0, 1)))  # (B,)
    subdiagonal = (jnp.arange(n)[:, None] == jnp.arange(n)[None, :] + 1)[..., None]

    def deflate(h):
        """Zero negligible subdiagonal entries; return h and the active windows lo, m ``(B,)``: the bottom-most
        diagonal block of size >= 3 between zero subdiagonal entries; m = -1 when all blocks are 1x1 or 2x2."""
        i = idx[:, 0]
        diag, sub, sup = h[i, i], h[i[1:], i[:-1]], h[i[:-1], i[1:]]
        asub = jnp.abs(sub)
        # negligible: below the normwise floor, or by the local LAPACK dlahqr test with the Ahues & Tisseur
        # refinement (better for graded matrices)
        tst = jnp.abs(diag[:-1]) + jnp.abs(diag[1:])
        ab = jnp.maximum(asub, jnp.abs(sup))
        ba = jnp.minimum(asub, jnp.abs(sup))
        aa = jnp.maximum(jnp.abs(diag[1:]), jnp.abs(diag[:-1] - diag[1:]))
        bb = jnp.minimum(jnp.abs(diag[1:]), jnp.abs(diag[:-1] - diag[1:]))
        s = aa + ab
        refined = ba * (ab / s) <= jnp.maximum(smallnum, tol * (bb * (aa / s)))
        negligible = (asub <= floor) | ((asub <= tol * tst) & refined)
        h = jnp.where(subdiagonal & jnp.pad(negligible, ((0, 2), (0, 0)))[None], 0, h)

        coupled = ~negligible & (sub != 0)  # (d - 1, B): row i + 1 coupled to row i
        # a block of size >= 3 ends at the last row i with rows i - 2, i - 1, i coupled
        m = jnp.max(jnp.where(coupled[1:] & coupled[:-1], idx[2:], -1), 0)
        lo = jnp.max(jnp.where((idx[1:] <= m) & ~coupled, idx[1:], 0), 0)
        return h, lo, m

    def sweep(h, lo, m, exceptional):
        """One implicit double-shift QR sweep on rows/columns lo..m of each matrix (masked where m < 0)."""
        r = jnp.stack([m, m - 1, m - 1, m, m - 1, lo, lo + 1, lo, lo + 1, lo + 2])
        c = jnp.stack([m, m - 1, m, m - 1, m - 2, lo, lo, lo + 1, lo + 1, lo + 1])
        entries = h[r, c, lane]  # (10, B)
        # The first column below is quadratic in these entries: scale them to O(1) so it cannot under- or overflow
        scale = jnp.max(jnp.abs(entries), 0)
        hmm, hm1, hm1m, hmm1, hm1m2, h00, h10, h01, h11, h21 = entries / jnp.where(scale > 0, scale, 1)
        # Shifts: eigenvalues of the trailing 2x2 block, via their sum s and product t; a real pair is replaced
        # by the root closer to h[m, m], twice.
        mid, p = (hm1 + hmm) / 2, (hm1 - hmm) / 2
        disc = p * p + hm1m * hmm1
        root = jnp.sqrt(jnp.abs(disc))
        near = jnp.where(p >= 0, mid - root, mid + root)
        s = jnp.where(disc >= 0, 2 * near, 2 * mid)
        t = jnp.where(disc >= 0, near * near, mid * mid - disc)
        # exceptional shifts (dlahqr): a complex pair around h[m, m]
        w = jnp.abs(hmm1) + jnp.abs(hm1m2)
        s = jnp.where(exceptional, 2 * (hmm + 0.75 * w), s)
        t = jnp.where(exceptional, (hmm + 0.75 * w) ** 2 + 0.4375 * w * w, t)
        # first column of (h - s1)(h - s2), restricted to the window
        u0 = jnp.stack([h00 * h00 + h01 * h10 - s * h00 + t, h10 * (h00 + h11 - s), h10 * h21])
        u0 = u0 / jnp.maximum(jnp.sum(jnp.abs(u0), 0), finfo.tiny)

        k = jnp.arange(3)[:, None]  # component index of the reflector vectors

        def step(j, h):
            # reflector on rows/columns j..j+2 zeroing the bulge in column j-1 (at j = lo: u0 to a multiple of e1)
            active, first = (j >= lo) & (j < m), j == lo
            rows = lax.dynamic_slice_in_dim(h, j, 3, axis=0)
            u = jnp.where(first, u0, lax.dynamic_index_in_dim(rows, jnp.maximum(j - 1, 0), 1, False))
            u = jnp.where((k == 2) & (j + 2 > m), 0, u)  # last step: 2x2 reflector
            norm = jnp.sqrt(jnp.sum(u * u, 0))
            signed = jnp.where(u[0] >= 0, norm, -norm)
            v = jnp.where(k == 0, u + signed, u)
            beta = jnp.where(active & (u[1] * u[1] + u[2] * u[2] > 0), 2 / jnp.sum(v * v, 0), 0)
            rows = rows - v[:, None] * (beta * (v[0] * rows[0] + v[1] * rows[1] + v[2] * rows[2]))[None]
            at_bulge = (jnp.arange(n)[:, None] == j - 1) & ((beta > 0) & ~first)[None]
            bulge = jnp.where(k == 0, -signed, 0)
            rows = jnp.where(at_bulge[None], bulge[:, None], rows)
            h = lax.dynamic_update_slice_in_dim(h, rows, j, axis=0)
            cols = lax.dynamic_slice_in_dim(h, j, 3, axis=1)
            cols = cols - (beta * (cols[:, 0] * v[0] + cols[:, 1] * v[1] + cols[:, 2] * v[2]))[:, None] * v[None]
            return lax.dynamic_update_slice_in_dim(h, cols, j, axis=1)

        first_j = jnp.min(jnp.where(m >= 0, lo, d), initial=d)
        return lax.fori_loop(first_j, jnp.max(m, initial=-1), step, h)

    def running(h, m):
        return (m >= 0) & jnp.all(jnp.isfinite(h), axis=(0, 1))

    def cond(carry):
        h, _, m, sweeps, _ = carry
        return (sweeps < max_sweeps) & jnp.any(running(h, m))

    def body(carry):
        h, lo, m, sweeps, stall = carry
        m = jnp.where(running(h, m), m, -1)  # masks every step of the sweep
        h = sweep(h, lo, m, (stall > 0) & (stall % 10 == 0))
        h, lo, m_new = deflate(h)
        stall = jnp.where(m_new == m, stall + 1, 0)
        return h, lo, m_new, sweeps + 1, stall

    zeros = jnp.zeros(batch, jnp.int32)
    start = (h, zeros, zeros + d - 1, jnp.int32(0), zeros)  # windows 0..d-1, no sweeps, no stall
    h, _, m, _, _ = lax.while_loop(cond, body, start)

    i = idx[:, 0]
    diag, sub, sup = h[i, i], h[i[1:], i[:-1]], h[i[:-1], i[1:]]
    w1, w2 = _eig2x2(diag[:-1], sup, sub, diag[1:])
    pair = sub != 0  # 2x2 block at rows i, i+1
    w = jnp.where(jnp.pad(pair, ((0, 1), (0, 0))), jnp.pad(w1, ((0, 1), (0, 0))), diag.astype(w1.dtype))
    w = jnp.where(jnp.pad(pair, ((1, 0), (0, 0))), jnp.pad(w2, ((1, 0), (0, 0))), w)
    return w, m < 0
