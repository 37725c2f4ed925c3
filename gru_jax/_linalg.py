"""Jacobians, small linear solves, eigenvalues and stability types, all on the accelerator (no host calls)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._eig import eigvals
from .core._status import Codes


class Kind(Codes):
    """Stability type of an equilibrium (code stored in result arrays; ``-1`` marks padding)."""

    STABLE_NODE = 0, "stable node", "every eigenvalue has negative real part, all real"
    STABLE_FOCUS = 1, "stable focus", "every eigenvalue has negative real part, some complex"
    UNSTABLE_NODE = 2, "unstable node", "every eigenvalue has positive real part, all real"
    UNSTABLE_FOCUS = 3, "unstable focus", "every eigenvalue has positive real part, some complex"
    SADDLE = 4, "saddle", "eigenvalues with positive and with negative real parts"
    NON_HYPERBOLIC = 5, "non-hyperbolic", "some eigenvalue has zero real part (within hyperbolic_tol)"


def value_and_jacobian(f, h: jax.Array, params) -> tuple[jax.Array, jax.Array]:
    """``f(h, params)`` (d,) and its Jacobian in ``h`` (d, d), by forward mode in one pass."""
    jac, value = jax.jacfwd(lambda y: (f(y, params),) * 2, has_aux=True)(h)
    return value, jac


def lu(a: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """LU factorisation with partial pivoting of one (n, n) matrix in plain JAX ops: ``(lu, perm, sign)`` with ``a[perm]
    = L U`` (unit lower ``L`` and ``U`` packed in ``lu``), ``sign`` the permutation's sign. Not LAPACK: jaxlib's batched
    CPU LU (``getrf``) deadlocked under ``vmap`` in the continuation loops at n = 33 (jaxlib 0.10.2), and plain ops stay
    on the accelerator. A singular ``a`` leaves a zero on the diagonal of ``U``."""
    n = a.shape[-1]
    rows = jnp.arange(n)

    def body(k, carry):
        m, perm, sign = carry
        pivot = jnp.argmax(jnp.where(rows >= k, jnp.abs(m[:, k]), -1.0))
        swap = jnp.where(rows == k, pivot, jnp.where(rows == pivot, k, rows))
        m, perm = m[swap], perm[swap]
        below = rows > k
        factors = jnp.where(below & (m[k, k] != 0), m[:, k] / jnp.where(m[k, k] != 0, m[k, k], 1.0), 0.0)
        m = m - jnp.outer(factors, jnp.where(below, m[k], 0.0))
        m = m.at[:, k].set(jnp.where(below, factors, m[:, k]))
        return m, perm, jnp.where(pivot != k, -sign, sign)

    return jax.lax.fori_loop(0, n, body, (a, rows, jnp.ones((), a.dtype)))


def slogdet(a: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(sign, log|det a|)`` of one (n, n) matrix from ``lu`` (``(0, -inf)`` when singular, like LAPACK's)."""
    m, _, sign = lu(a)
    diag = jnp.diagonal(m)
    return sign * jnp.prod(jnp.sign(diag)), jnp.sum(jnp.log(jnp.abs(diag)))


def solve(a: jax.Array, b: jax.Array) -> jax.Array:
    """Solve ``a x = b`` for one system: a (d, d), b (d,). Cramer's rule for d <= 2, ``lu`` otherwise."""
    d = a.shape[-1]
    if d == 1:
        return b / a[0]
    if d == 2:
        det = a[0, 0] * a[1, 1] - a[0, 1] * a[1, 0]
        return jnp.stack([a[1, 1] * b[0] - a[0, 1] * b[1], a[0, 0] * b[1] - a[1, 0] * b[0]]) / det
    m, perm, _ = lu(jnp.asarray(a))
    return _substitute(m, _substitute(m, jnp.asarray(b)[perm], lower=True), lower=False)


def _substitute(m: jax.Array, b: jax.Array, lower: bool) -> jax.Array:
    """Forward (unit ``L`` of ``lu``) or back (``U``) substitution in plain JAX ops (``trsm`` deadlocked too)."""
    n = b.shape[0]
    cols = jnp.arange(n)

    def body(k, x):
        i = k if lower else n - 1 - k
        known = (cols < i) if lower else (cols > i)
        value = b[i] - jnp.dot(jnp.where(known, m[i], 0.0), x)
        return x.at[i].set(value if lower else value / m[i, i])

    return jax.lax.fori_loop(0, n, body, jnp.zeros_like(b))


def classify(eigenvalues: jax.Array, hyperbolic_tol: float | jax.Array = 1e-8,
             focus_tol: float | jax.Array = 1e-10) -> jax.Array:
    """Stability type (int32 ``Kind`` code, ``-1`` for NaN) from eigenvalues (..., d) complex: non-hyperbolic if some
    ``|Re λ| <= hyperbolic_tol * max(1, max|λ|)``; a focus if some ``|Im λ| > focus_tol * max(1, max|λ|)``."""

    scale = jnp.maximum(1.0, jnp.max(jnp.abs(eigenvalues), axis=-1))
    re, im = eigenvalues.real, eigenvalues.imag
    n_pos = jnp.sum(re > 0, axis=-1)
    d = eigenvalues.shape[-1]
    oscillating = jnp.any(jnp.abs(im) > focus_tol * scale[..., None], axis=-1)
    kind = jnp.where(n_pos == 0, jnp.where(oscillating, Kind.STABLE_FOCUS, Kind.STABLE_NODE),
                     jnp.where(n_pos == d, jnp.where(oscillating, Kind.UNSTABLE_FOCUS, Kind.UNSTABLE_NODE),
                               Kind.SADDLE))
    kind = jnp.where(jnp.any(jnp.abs(re) <= hyperbolic_tol * scale[..., None], axis=-1), Kind.NON_HYPERBOLIC, kind)
    return jnp.where(jnp.all(jnp.isfinite(eigenvalues), axis=-1), kind, -1).astype(jnp.int32)


def n_unstable(eigenvalues: jax.Array, hyperbolic_tol: float | jax.Array = 1e-8) -> jax.Array:
    """Number of eigenvalues with ``Re λ > hyperbolic_tol * max(1, max|λ|)``; (..., d) -> (...,) int32."""
    scale = jnp.maximum(1.0, jnp.max(jnp.abs(eigenvalues), axis=-1))
    return jnp.sum(eigenvalues.real > hyperbolic_tol * scale[..., None], axis=-1).astype(jnp.int32)


__all__ = ["Kind", "classify", "eigvals", "lu", "n_unstable", "slogdet", "solve", "value_and_jacobian"]
