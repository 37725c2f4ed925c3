"""Hopf eigenvectors and the first Lyapunov coefficient, without ``eig`` (bordered complex solves).

Convention (Kuznetsov's and MatCont's): ``A q = iω q``, ``A^T p = -iω p``, ``<q, q> = q^H q = 1``,
``<p, q> = p^H q = 1``; the restriction to the centre manifold in the coordinate ``z`` of ``h = z q + conj(z q)``
is ``dz/dt = iω z + c1 z|z|^2 + ...`` and ``l1 = Re(c1)/ω``. For the Stuart-Landau equation
``dz/dt = (μ + iω)z + c|z|^2 z`` in real coordinates ``(Re z, Im z)`` this gives ``l1 = 2 Re(c)/ω``
(``l1 < 0``: supercritical).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from ._testfns import bialternate, pairs


def derivative(g: Callable, h: jax.Array, *vectors: jax.Array) -> jax.Array:
    """The k-th derivative of ``g`` at ``h`` applied to real ``vectors`` (k of them), by nested ``jvp``."""
    fn = g
    for v in vectors:
        fn = (lambda inner, v: lambda x: jax.jvp(inner, (x,), (v,))[1])(fn, v)
    return fn(h)


def critical_pair(a: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(trace, det)`` of ``a`` (d, d) restricted to the invariant plane of its eigenvalue pair ``λ_1 + λ_2 ≈ 0``:
    the column space of the kernel ``V = x_1 ∧ x_2`` (``A V + V A^T = 0``) of ``2A ⊙ I``. No ``eig``: two SVDs.
    ``det > 0``: ``±iω`` with ``ω² = det`` (Hopf); ``det < 0``: ``±μ`` real (neutral saddle)."""
    d = a.shape[0]
    kernel = jnp.linalg.svd(bialternate(a))[2][-1]
    i, j = pairs(d)
    v = jnp.zeros((d, d), a.dtype).at[i, j].set(kernel).at[j, i].set(-kernel)
    plane = jnp.linalg.svd(v)[0][:, :2]
    r = plane.T @ a @ plane
    return jnp.trace(r), jnp.linalg.det(r)


def hopf_vectors(a: jax.Array, omega0) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(ω, q, p)`` for a (d, d) with eigenvalues near ``±iω0``: ``A q = iω q``, ``p^H A = iω p^H``,
    ``<q, q> = 1``, ``<p, q> = 1``; ``ω`` the two-sided Rayleigh quotient. Differentiable in ``a``. The null vectors
    solve bordered systems ``[[A - iωI, b], [c^H, 0]]``, the borders the singular vectors of the smallest singular
    value of ``A - iω0 I`` (held constant)."""
    d = a.shape[0]
    eye = jnp.eye(d)
    m0 = jax.lax.stop_gradient(a) - 1j * jax.lax.stop_gradient(omega0) * eye
    u, _, vh = jnp.linalg.svd(m0)
    b, c = u[:, -1], vh[-1].conj()
    e = jnp.zeros(d + 1, m0.dtype).at[-1].set(1.0)

    def null(m, col, row):
        top = jnp.concatenate([m, col[:, None]], axis=1)
        return jnp.linalg.solve(jnp.concatenate([top, jnp.append(row.conj(), 0.0)[None]], axis=0), e)[:d]

    def vectors(omega):
        m = a - 1j * omega * eye
        return null(m, b, c), null(m.conj().T, c, b)

    q, p = vectors(omega0)
    omega = (jnp.vdot(p, a @ q) / jnp.vdot(p, q)).imag
    q, p = vectors(omega)
    q = q / jnp.linalg.norm(q)
    p = p / jnp.vdot(p, q).conj()
    return omega, q, p


def first_lyapunov(g: Callable, h: jax.Array, a: jax.Array, omega, q: jax.Array, p: jax.Array) -> jax.Array:
    """Kuznetsov's ``l1 = Re[<p,C(q,q,q̄)> - 2<p,B(q,A⁻¹B(q,q̄))> + <p,B(q̄,(2iωI - A)⁻¹B(q,q))>] / (2ω)``
    for ``dh/dt = g(h)`` at a Hopf point ``h`` (d,) with Jacobian ``a``; ``B``, ``C`` by nested ``jvp``."""
    d = a.shape[0]
    re, im = q.real, q.imag
    B = jax.vmap(lambda x, y: derivative(g, h, x, y))
    bb = B(jnp.stack([re, im, re]), jnp.stack([re, im, im]))          # B(re,re), B(im,im), B(re,im)
    b_q_qbar = bb[0] + bb[1]
    b_q_q = bb[0] - bb[1] + 2j * bb[2]
    s1 = jnp.linalg.solve(a, b_q_qbar)                                  # real
    s2 = jnp.linalg.solve(2j * omega * jnp.eye(d) - a, b_q_q)
    # B(q, s1) = B(re, s1) + i B(im, s1);  B(q̄, s2) = B(re, s2r) + B(im, s2i) + i (B(re, s2i) - B(im, s2r))
    b2 = B(jnp.stack([re, im, re, im, re, im]), jnp.stack([s1, s1, s2.real, s2.imag, s2.imag, s2.real]))
    b_q_s1 = b2[0] + 1j * b2[1]
    b_qbar_s2 = b2[2] + b2[3] + 1j * (b2[4] - b2[5])
    # C(q, q, q̄) = C(re,re,re) + C(re,im,im) + i (C(re,re,im) + C(im,im,im))
    cc = jax.vmap(lambda x, y, z: derivative(g, h, x, y, z))(jnp.stack([re, re, re, im]), jnp.stack([re, im, re, im]),
                                                             jnp.stack([re, im, im, im]))
    c_qqqbar = cc[0] + cc[1] + 1j * (cc[2] + cc[3])
    value = jnp.vdot(p, c_qqqbar) - 2 * jnp.vdot(p, b_q_s1) + jnp.vdot(p, b_qbar_s2)
    return value.real / (2 * omega)


FOCUS_TOL = 1e-8        # ω above this (relative to max|f_h|) makes a Hopf-test zero a Hopf point


def _rotation_like(d: int, dtype) -> jax.Array:
    """A stand-in Jacobian with eigenvalues ``±i`` (and -1) where a point is not a Hopf point."""
    return -jnp.eye(d, dtype=dtype).at[0, 0].set(0.0).at[1, 1].set(0.0).at[0, 1].set(-1.0).at[1, 0].set(1.0)


def hopf_point(g: Callable, h: jax.Array, a: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """At a zero ``h`` (d,) of the Hopf test of ``dh/dt = g(h)`` with Jacobian ``a`` (d, d), d >= 2:
    ``(κ, ω, l1)``, ``κ`` the determinant of ``a`` on the critical pair's plane (``ω²`` at a Hopf point,
    ``-μ²`` at a neutral saddle; NaN if ``a`` is not finite; no gradient). ``ω`` and ``l1`` are NaN unless
    ``ω = √κ`` is above ``FOCUS_TOL`` (a Hopf point); both are differentiable in ``g``'s parameters. No ``eig``."""
    d = a.shape[0]
    h_finite = jnp.all(jnp.isfinite(h))
    finite = jnp.all(jnp.isfinite(a)) & h_finite
    _, kappa = critical_pair(jax.lax.stop_gradient(jnp.where(finite, a, _rotation_like(d, a.dtype))))
    omega0 = jnp.sqrt(jnp.maximum(kappa, 0.0))
    is_hopf = finite & (omega0 > FOCUS_TOL * jnp.maximum(1.0, jnp.max(jnp.abs(a))))
    a_safe = jnp.where(is_hopf, a, _rotation_like(d, a.dtype))
    omega, q, p = hopf_vectors(a_safe, jnp.where(is_hopf, omega0, 1.0))
    l1 = first_lyapunov(g, jnp.where(h_finite, h, 0.0), a_safe, omega, q, p)
    nan = jnp.full((), jnp.nan, a.dtype)
    return jnp.where(finite, kappa, nan), jnp.where(is_hopf, omega, nan), jnp.where(is_hopf, l1, nan)
