"""Damped Newton corrector on the bordered system ``[F(v); row·(v - target)] = 0``."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from .._linalg import solve, value_and_jacobian
from ._testfns import bordered


def value_and_jac(F: Callable, u: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``F(u)`` (d,) and its Jacobian (d, d+1) in one forward-mode pass."""
    return value_and_jacobian(lambda y, _: F(y), u, None)


def correct(F: Callable, target: jax.Array, row: jax.Array, cap, tol, max_iter):
    """Newton from ``target`` (d+1,) for ``F(v) = 0`` on the hyperplane ``row·(v - target) = 0``.

    Each step is shortened to 2-norm at most ``cap``; converged when a full step is at most ``tol``
    (max-norm), and that step is taken. Returns ``(v, converged, iterations, finite)``: ``finite`` is
    False when a step was NaN/inf (singular system or non-finite ``F``).
    """
    def cond(carry):
        v, size, finite, k = carry
        return (k < max_iter) & (size > tol) & finite

    def body(carry):
        v, _, _, k = carry
        value, jac = value_and_jac(F, v)
        residual = jnp.concatenate([value, jnp.dot(row, v - target)[None]])
        dv = jnp.where(jnp.all(residual == 0), 0.0, -solve(bordered(jac, row), residual))   # exact roots stay
        size = jnp.max(jnp.abs(dv))
        finite = jnp.all(jnp.isfinite(dv))
        scale = jnp.where(size <= tol, 1.0, jnp.minimum(1.0, cap / jnp.linalg.norm(dv)))
        return jnp.where(finite, v + scale * dv, v), size, finite, k + 1

    start = (target, jnp.asarray(jnp.inf, target.dtype), jnp.asarray(True), jnp.asarray(0, jnp.int32))
    v, size, finite, k = jax.lax.while_loop(cond, body, start)
    return v, (size <= tol) & finite, k, finite
