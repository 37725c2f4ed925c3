"""Jacobians, small linear solves, eigenvalues and stability types, all on the accelerator (no host calls)."""

from __future__ import annotations

import enum

import jax
import jax.numpy as jnp

from ._eig import eigvals


class Kind(enum.IntEnum):
    """Stability type of an equilibrium (code stored in result arrays; ``-1`` marks padding)."""

    STABLE_NODE = 0
    STABLE_FOCUS = 1
    UNSTABLE_NODE = 2
    UNSTABLE_FOCUS = 3
    SADDLE = 4
    NON_HYPERBOLIC = 5

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", " ").replace("non hyperbolic", "non-hyperbolic")


def value_and_jacobian(f, h: jax.Array, params) -> tuple[jax.Array, jax.Array]:
    """``f(h, params)`` (d,) and its Jacobian in ``h`` (d, d), by forward mode in one pass."""
    jac, value = jax.jacfwd(lambda y: (f(y, params),) * 2, has_aux=True)(h)
    return value, jac


def solve(a: jax.Array, b: jax.Array) -> jax.Array:
    """Solve ``a x = b`` for one system: a (d, d), b (d,). Cramer's rule for d <= 2, LU otherwise."""
    d = a.shape[-1]
    if d == 1:
        return b / a[0]
    if d == 2:
        det = a[0, 0] * a[1, 1] - a[0, 1] * a[1, 0]
        return jnp.stack([a[1, 1] * b[0] - a[0, 1] * b[1], a[0, 0] * b[1] - a[1, 0] * b[0]]) / det
    return jnp.linalg.solve(a, b)


def classify(eigenvalues: jax.Array, hyperbolic_tol: float | jax.Array = 1e-8,
             focus_tol: float | jax.Array = 1e-10) -> jax.Array:
    """Stability type (int32 ``Kind`` code) from eigenvalues (..., d) complex.

    Non-hyperbolic if some ``|Re λ| <= hyperbolic_tol * max(1, max|λ|)``; a focus if some
    ``|Im λ| > focus_tol * max(1, max|λ|)``; NaN eigenvalues give ``-1``.
    """
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


__all__ = ["Kind", "classify", "eigvals", "n_unstable", "solve", "value_and_jacobian"]
