"""Test functions that change sign at special points, all eig-free and traceable. ``jac`` is the (d, d+1) Jacobian
``[f_h, f_p]`` of the branch function at ``u = (h, p)``; ``t`` (d+1,) a tangent.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .._linalg import slogdet
from ..core._newton import bordered


def pairs(d: int) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays ``(i, j)`` with ``i > j`` of the d(d-1)/2 basis vectors ``e_i ∧ e_j`` of the exterior square."""
    return np.tril_indices(d, -1)


def bialternate(a: jax.Array) -> jax.Array:
    """The bialternate product ``2A ⊙ I`` (m, m), m = d(d-1)/2, of a (d, d): the action of ``A⊗I + I⊗A`` on
    antisymmetric tensors, so its eigenvalues are the sums ``λ_i + λ_j`` (i < j) of eigenvalues of ``a``."""
    i, j = pairs(a.shape[-1])
    p, q = i[:, None], j[:, None]          # row pair (p, q)
    r, s = i[None, :], j[None, :]          # column pair (r, s)
    return a[p, r] * (q == s) + (p == r) * a[q, s] - a[p, s] * (q == r) - (p == s) * a[q, r]


def scaled_det(m: jax.Array) -> jax.Array:
    """``det(m)`` with each row of norm above 1 scaled to 1, floored at ``e^-600`` in magnitude: the same sign and
    zeros as ``det``, linear across a simple zero, and no overflow or underflow to a false zero for large m."""
    sign, logabs = slogdet(m)
    rows = jnp.sum(jnp.log(jnp.maximum(jnp.linalg.norm(m, axis=1), 1.0)))
    return sign * jnp.exp(jnp.maximum(logabs - rows, -600.0))


def hopf_test(a: jax.Array) -> jax.Array:
    """Scaled ``det(2A ⊙ I) = Π_{i<j} (λ_i + λ_j)``: zero at Hopf points and neutral saddles (``1`` for d < 2)."""
    if a.shape[-1] < 2:
        return jnp.ones((), a.dtype)
    return scaled_det(bialternate(a))


def evaluate_tests(jac: jax.Array, t: jax.Array, hopf: bool = True) -> jax.Array:
    """Test values (3,) in ``SpecialKind`` order: fold ``t_p``, branch point ``det([[f_h, f_p], [t]])``, Hopf
    ``det(2 f_h ⊙ I)`` (determinants scaled by ``scaled_det``; the Hopf test is ``1`` unless ``hopf``)."""
    d = jac.shape[0]
    hopf_value = hopf_test(jac[:, :d]) if hopf else jnp.ones((), jac.dtype)
    return jnp.stack([t[-1], scaled_det(bordered(jac, t)), hopf_value])
