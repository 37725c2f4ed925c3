"""Locating a detected special point between two consecutive branch points ``u_a``, ``u_b``.

1. Bracketing: Illinois (regula falsi) on the event's test function along the chord ``u_a → u_b``, each
   trial point corrected onto the branch on the hyperplane orthogonal to the chord.
2. Folds and Hopf points are then refined by Newton on the minimally augmented system ``(F(u), g(u)) = 0``,
   ``g`` the bordered singularity test of ``M = f_h`` (fold) or ``M = 2 f_h ⊙ I`` (Hopf); its convergence is
   their ``located`` status. A last Newton step makes the result differentiable in the params by the
   implicit function theorem. Branch points keep the bracketing result (no gradient flows into them).
3. A Hopf-test zero is a Hopf point if the eigenvalue pair with zero sum is complex (``det`` of the matrix
   restricted to its invariant plane is positive, see ``critical_pair``), else a neutral saddle; at Hopf
   points ``ω`` and the first Lyapunov coefficient are computed. No ``eig`` anywhere.
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


def augmented(F, hopf, border):
    """``G(u) = (F(u), g(u))`` (d+1,), ``g`` from ``[[M, b], [c^T, 0]] [v; g] = e``, ``M`` the singularity matrix."""
    b, c = border

    def G(u):
        m = singularity_matrix(F, u, hopf)
        k = m.shape[0]
        bordered = jnp.concatenate([jnp.concatenate([m, b[:, None]], axis=1), jnp.append(c, 0.0)[None]], axis=0)
        g = solve(bordered, jnp.zeros(k + 1, u.dtype).at[-1].set(1.0))[-1]
        return jnp.concatenate([F(u), g[None]])
    return G


def refine(F, hopf, u0, settings: Settings):
    """Newton on the minimally augmented fold (or Hopf) system from ``u0``. Returns ``(u, LocateStatus code, border,
    jac)``: the borders are the singular vectors of the smallest singular value of ``M(u0)``, ``jac`` the
    Jacobian of the augmented system at the last Newton iterate."""
    left, _, right = jnp.linalg.svd(singularity_matrix(F, u0, hopf))
    border = (left[:, -1], right[-1])
    G = augmented(F, hopf, border)
    system = lambda u: (*value_and_jac(G, u), jnp.asarray(True))
    res = newton(system, u0, settings.tol, 2 * settings.max_newton, exact_roots=False)
    status = jnp.where(~res.finite, LocateStatus.NONFINITE,
                       jnp.where(res.converged, LocateStatus.CONVERGED, LocateStatus.MAX_STEPS))
    return res.v, status, border, res.jac


def locate(problem: Problem, settings: Settings, kind, u_a, u_b, g_a, g_b) -> dict:
    """Locate one event of ``kind`` (detection code: fold, branch point or Hopf) bracketed by the consecutive
    branch points ``u_a``, ``u_b`` (d+1,) with test values ``g_a``, ``g_b`` (tangents oriented along the
    chord). Returns the special point's fields (see ``SpecialPoints``)."""
    d = u_a.shape[0] - 1
    F = problem.frozen().F
    u_bracket, status = bracket(F, kind, u_a, u_b, g_a, g_b, settings)

    hopf = (kind == SpecialKind.HOPF) if problem.hopf else False
    u_r, st_r, border, jac_r = refine(F, hopf, u_bracket, settings)
    chord = u_b - u_a
    s = jnp.dot(u_r - u_a, chord) / jnp.dot(chord, chord)
    off = jnp.linalg.norm(u_r - (u_a + jnp.clip(s, 0.0, 1.0) * chord))
    near = (s > -0.5) & (s < 1.5) & (off <= jnp.linalg.norm(chord))
    st_r = jnp.where((st_r == LocateStatus.CONVERGED) & ~near, LocateStatus.OUTSIDE_BRACKET, st_r)
    good = (st_r == LocateStatus.CONVERGED) & jnp.all(jnp.isfinite(u_r))
    polished = implicit_step(augmented(problem.F, hopf, border), jnp.where(good, u_r, u_a),
                      jnp.where(good, jac_r, jnp.eye(d + 1, dtype=jac_r.dtype)))
    is_bp = kind == SpecialKind.BRANCH_POINT
    u = jnp.where(is_bp, u_bracket, jnp.where(good, polished, u_r))
    located = jnp.where(is_bp, status, st_r)        # folds and Hopf points: the augmented Newton solve decides

    h, p = u[:d], u[d]
    g = lambda y: problem.f(y, problem.at(p))
    out = dict(kind=jnp.asarray(kind, jnp.int32), h=h, p=p, located=located.astype(jnp.int32),
               residual=jnp.max(jnp.abs(g(h))), omega=jnp.full((), jnp.nan, h.dtype),
               l1=jnp.full((), jnp.nan, h.dtype))
    if d >= 2 and problem.hopf:
        _, omega, l1 = hopf_point(g, h, jax.jacfwd(g)(h))
        out.update(kind=jnp.where(hopf & ~jnp.isfinite(omega), SpecialKind.NEUTRAL_SADDLE, kind).astype(jnp.int32),
                   omega=jnp.where(hopf, omega, jnp.nan), l1=jnp.where(hopf, l1, jnp.nan))
    return out


def empty(d: int, dtype) -> dict:
    """The fields of an unused slot."""
    nan = jnp.full((), jnp.nan, dtype)
    minus = jnp.full((), -1, jnp.int32)
    return dict(kind=minus, h=jnp.full(d, jnp.nan, dtype), p=nan, located=minus, residual=nan, omega=nan, l1=nan)
