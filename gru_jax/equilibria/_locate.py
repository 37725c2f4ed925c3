"""Locating a detected special point between two consecutive branch points ``u_a``, ``u_b``. No ``eig`` anywhere.

1. Bracketing: Illinois (regula falsi) on the event's test function along the chord ``u_a → u_b``, each trial point
   corrected onto the branch on the hyperplane orthogonal to the chord.
2. Folds and Hopf points are refined by Newton on ``(F(u), g(u)) = 0``, ``g`` the bordered singularity test of
   ``M = f_h`` (fold) or ``M = 2 f_h ⊙ I`` (Hopf); its convergence is their ``located`` status; a last Newton step
   makes them differentiable in the params. Branch points keep the bracketing result (no gradient).
3. A Hopf-test zero is a Hopf point if its zero-sum eigenvalue pair is complex (see ``critical_pair``), else a
   neutral saddle; at Hopf points ``ω`` and the first Lyapunov coefficient are computed.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .._linalg import solve
from ..core._newton import bracket as bracket_on_curve, implicit_step, newton, value_and_jac
from ..core._status import LocateStatus, SpecialKind
from ..core._step import tangent
from ._lyapunov import hopf_point
from ._palc import Problem, Settings
from ._testfns import bialternate, evaluate_tests


def bracket(F, kind, u_a, u_b, g_a, g_b, settings: Settings):
    """Illinois iterations on test function ``kind`` along the chord, from its values ``g_a``, ``g_b`` at the
    ends (with tangents oriented along the chord). Returns ``(u, LocateStatus code)``."""
    def test(v, chord):
        jac = value_and_jac(F, v)[1]
        t = tangent(jac, chord)
        # a singular [[f_h, f_p], [chord]] on the branch means a branch point at rounding level: a root
        return jnp.where(jnp.all(jnp.isfinite(t)), evaluate_tests(jac, t)[kind], 0.0), jnp.all(jnp.isfinite(jac))
    return bracket_on(F, test, u_a, u_b, g_a, g_b, settings)


def bracket_on(F, test, u_a, u_b, g_a, g_b, settings):
    """``core.bracket`` with the corrector's ``settings.tol`` and ``settings.max_newton``."""
    return bracket_on_curve(F, test, u_a, u_b, g_a, g_b, settings.tol, settings.max_newton)


def singularity_matrix(F, u, hopf) -> jax.Array:
    """``f_h`` (fold) or ``2 f_h ⊙ I`` (Hopf, when ``hopf``), each padded with an identity block to the common
    size ``max(d, d(d-1)/2)`` so that both share one compiled Newton solve."""
    d = u.shape[0] - 1
    jac_h = value_and_jac(F, u)[1][:, :d]
    if d < 2 or hopf is False:        # folds only (a problem without Hopf detection): no bialternate product
        return jac_h
    bi = bialternate(jac_h)
    k = max(d, bi.shape[0])
    pad = lambda m: jnp.eye(k, dtype=m.dtype).at[: m.shape[0], : m.shape[0]].set(m)
    return jnp.where(hopf, pad(bi), pad(jac_h))


def null_vectors(m: jax.Array, border) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(v, w, g)`` from ``[[M, b], [c^T, 0]] [v; g] = e`` and its transpose ``[[M^T, c], [b^T, 0]] [w; g] = e``:
    ``M v = -g b``, ``c·v = 1``, ``w^T M = -g c^T``, ``b·w = 1``; ``g = 0`` exactly when ``M`` is singular."""
    b, c = border
    k = m.shape[0]
    e = jnp.zeros(k + 1, m.dtype).at[-1].set(1.0)
    big = jnp.concatenate([jnp.concatenate([m, b[:, None]], axis=1), jnp.append(c, 0.0)[None]], axis=0)
    x, y = solve(big, e), solve(big.T, e)
    return x[:k], y[:k], x[k]


def augmented(F, hopf, border):
    """``G(u) = (F(u), g(u))`` (d+1,), ``g`` of ``null_vectors``, ``M`` the singularity matrix."""
    return lambda u: jnp.append(F(u), null_vectors(singularity_matrix(F, u, hopf), border)[2])


def refine(F, hopf, u0, settings: Settings):
    """Newton on the augmented fold (or Hopf) system from ``u0``: ``(u, LocateStatus code, border, jac)``, the borders
    the singular vectors of the smallest singular value of ``M(u0)``, ``jac`` that of the system at the last iterate."""
    left, _, right = jnp.linalg.svd(singularity_matrix(F, u0, hopf))
    border = (left[:, -1], right[-1])
    system = lambda u: (*value_and_jac(augmented(F, hopf, border), u), jnp.asarray(True))
    res = newton(system, u0, settings.tol, 2 * settings.max_newton, exact_roots=False)
    status = jnp.where(~res.finite, LocateStatus.NONFINITE,
                       jnp.where(res.converged, LocateStatus.CONVERGED, LocateStatus.MAX_STEPS))
    return res.v, status, border, res.jac


def locate(problem: Problem, settings: Settings, kind, u_a, u_b, g_a, g_b) -> dict:
    """Locate one event of ``kind`` (fold, branch point or Hopf) bracketed by the consecutive branch points ``u_a``,
    ``u_b`` (d+1,) with test values ``g_a``, ``g_b`` (tangents along the chord): the fields of ``SpecialPoints``."""
    F = problem.frozen().F
    u_bracket, status = bracket(F, kind, u_a, u_b, g_a, g_b, settings)

    hopf = (kind == SpecialKind.HOPF) if problem.hopf else False
    u_r, st_r, border, jac_r = refine(F, hopf, u_bracket, settings)
    chord = u_b - u_a
    s = jnp.dot(u_r - u_a, chord) / jnp.dot(chord, chord)
    off = jnp.linalg.norm(u_r - (u_a + jnp.clip(s, 0.0, 1.0) * chord))
    near = (s > -0.5) & (s < 1.5) & (off <= jnp.linalg.norm(chord))
    st_r = jnp.where((st_r == LocateStatus.CONVERGED) & ~near, LocateStatus.OUTSIDE_BRACKET, st_r)
    is_bp = kind == SpecialKind.BRANCH_POINT
    u = jnp.where(is_bp, u_bracket, polish(problem.F, hopf, u_r, st_r, border, jac_r, u_a))
    return fields(problem, u, kind, jnp.where(is_bp, status, st_r), hopf)   # folds, Hopf: the augmented solve decides


def polish(F, hopf, u, status, border, jac, fallback) -> jax.Array:
    """``u`` (d+1,) after a last Newton step on the augmented system (differentiable in the params by the implicit
    function theorem) where ``status`` converged and ``u`` is finite; ``fallback`` keeps NaN out of gradients."""
    good = (status == LocateStatus.CONVERGED) & jnp.all(jnp.isfinite(u))
    step = implicit_step(augmented(F, hopf, border), jnp.where(good, u, fallback),
                         jnp.where(good, jac, jnp.eye(u.shape[0], dtype=jac.dtype)))
    return jnp.where(good, step, u)


def fields(problem: Problem, u, kind, located, hopf) -> dict:
    """The special point's fields at ``u`` (d+1,) (see ``SpecialPoints``); ``ω`` and ``l1`` where ``hopf`` (a Hopf-test
    zero with a real critical pair is a ``NEUTRAL_SADDLE``), NaN elsewhere."""
    h, p = u[:-1], u[-1]
    g = lambda y: problem.f(y, problem.at(p))
    nan = jnp.full((), jnp.nan, h.dtype)
    out = dict(kind=jnp.asarray(kind, jnp.int32), h=h, p=p, located=located.astype(jnp.int32),
               residual=jnp.max(jnp.abs(g(h))), omega=nan, l1=nan)
    if h.shape[0] >= 2 and hopf is not False:
        _, omega, l1 = hopf_point(g, h, jax.jacfwd(g)(h))
        out.update(kind=jnp.where(hopf & ~jnp.isfinite(omega), SpecialKind.NEUTRAL_SADDLE, kind).astype(jnp.int32),
                   omega=jnp.where(hopf, omega, jnp.nan), l1=jnp.where(hopf, l1, jnp.nan))
    return out


def empty(d: int, dtype) -> dict:
    """The fields of an unused slot."""
    nan = jnp.full((), jnp.nan, dtype)
    minus = jnp.full((), -1, jnp.int32)
    return dict(kind=minus, h=jnp.full(d, jnp.nan, dtype), p=nan, located=minus, residual=nan, omega=nan, l1=nan)
