"""Periodic orbits by multiple shooting as a continuation problem of the core: the first cycle (from a Hopf point or
from a given orbit), the shooting system, the Floquet multipliers and test functions of each new cycle.

A cycle is ``u = (X.ravel(), T, p)`` (M d + 2,): the multiple-shooting nodes ``X`` (M, d), the period ``T`` and the
parameter ``p``; its equations are ``gru_jax.periodic._flow.shooting_system`` with the phase condition taken relative to
the previous accepted cycle (a Poincare section through its first node, normal to the flow there). The core's ``step``
predicts along the unit tangent and corrects by damped Newton on the shooting system bordered by the tangent.

Tests (``CycleKind`` order): fold of cycles ``t_p`` (the tangent's parameter component); period doubling ``Π (μ + 1)``
over the non-trivial multipliers; Neimark-Sacker ``Π_{i<j} (μ_i μ_j - 1)`` over pairs of non-trivial multipliers (the
eigenvalues of the bialternate square; ``1`` for d < 3)."""

from __future__ import annotations

from typing import Any, Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._eig import eigvals
from .._linalg import solve
from ..equilibria._lyapunov import critical_pair, first_lyapunov, hopf_vectors
from ..core._param import Param
from ..core._newton import crossed, newton
from ..core._status import BranchStatus
from ..core._step import ContinuationProblem, State, start_status, tangent
from ._flow import FlowOptions, orbit, shooting_system

MIN_COS = 0.5          # a corrected cycle whose tangent turned by more than 60 degrees is rejected (branch jump)
TP_FLOOR = 10.0        # times tol: tangent p-components below this are noise (a fold of cycles is not recorded there)


class CycleProblem(ContinuationProblem):
    """Cycles of ``f(h, params)`` continued in ``param`` with ``n_segments`` shooting nodes of dimension ``d``.
    ``f``, ``param``, ``n_segments`` and ``d`` are static; ``opts`` holds the ODE tolerances. A point's ``extra``
    is its Floquet multipliers (d,) complex."""

    f: Callable = eqx.field(static=True)
    params: Any
    param: Param = eqx.field(static=True)
    n_segments: int = eqx.field(static=True)
    d: int = eqx.field(static=True)
    opts: FlowOptions
    reevaluate: bool = eqx.field(static=True, default=False, kw_only=True)   # integrations are expensive
    closes: bool = eqx.field(static=True, default=False, kw_only=True)

    def at(self, p) -> Any:
        return self.param.set(self.params, p)

    def split(self, u: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        """``(X (M, d), T (), p ())`` from ``u``."""
        m = self.n_segments * self.d
        return u[:m].reshape(self.n_segments, self.d), u[m], u[m + 1]

    def reference(self, u: jax.Array) -> tuple[jax.Array, jax.Array]:
        """The phase section of cycle ``u``: its first node and the flow there."""
        X, _, p = self.split(u)
        return X[0], self.f(X[0], self.at(p))

    def shooting(self, u: jax.Array, ref) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
        """Shooting residual (M d + 1,), Jacobian (M d + 1, M d + 2) in ``u``, monodromy (d, d), ``ok``."""
        X, T, p = self.split(u)
        dparams = jax.jvp(self.at, (p,), (jnp.ones_like(p),))[1]
        return shooting_system(self.f, self.at(p), X, T, ref[0], ref[1], self.opts, dparams)

    def system(self, u: jax.Array, ref):
        r, jac, _, ok = self.shooting(u, ref)
        return r, jac, ok

    def context(self, state: State):
        return self.reference(state.u)

    def tangent(self, v, jac, t) -> jax.Array:
        return tangent(own_section(self, v, jac), t)

    def admissible(self, before: State, v, value, t_new) -> jax.Array:
        return (jnp.dot(t_new, before.t) >= MIN_COS) & (self.split(v)[1] > 0)

    def observe(self, before: State, after: State, value, jac, ref, s) -> State:
        """Multipliers and tests of the new cycle; the family ends (``ENDED``) at a Hopf point when the cycle turned
        through the equilibrium (rejected) or its amplitude fell below ``amp_min`` (accepted), and at infinite
        period above ``period_max`` (``run`` tells which from the last cycle). A fold of cycles is recorded only
        where ``t_p`` is above the corrector's noise."""
        mu = multipliers(self, after.u, jac)
        g = tests(after.t, mu)
        X_old, X_new, T_new = self.split(before.u)[0], *self.split(after.u)[:2]
        flipped = jnp.sum((X_new - jnp.mean(X_new, 0)) * (X_old - jnp.mean(X_old, 0))) < 0
        shrunk, infinite = ends_by_itself(X_new, T_new, s)
        status = jnp.where(after.status != BranchStatus.RUNNING, after.status,
                           jnp.where(shrunk | infinite, BranchStatus.ENDED, BranchStatus.RUNNING))
        accepted = after.accepted & ~flipped
        status = jnp.where(after.accepted & flipped, BranchStatus.ENDED, status)
        resolved = jnp.minimum(jnp.abs(before.tests[0]), jnp.abs(g[0])) > TP_FLOOR * s.tol
        events = accepted & crossed(before.tests, g) & jnp.stack([resolved, True, True])
        return eqx.tree_at(lambda x: (x.tests, x.events, x.extra, x.accepted, x.status), after,
                           (g, events, mu, accepted, status.astype(jnp.int32)))

    def row(self, st: State) -> dict:
        return dict(u=st.u, t=st.t, ds=st.last_ds, residual=st.residual, newton=st.newton, tests=st.tests,
                    mu=st.extra)


class CycleSettings(eqx.Module):
    """Step sizes, window, bounds and tolerances: array leaves, so changing them does not recompile. ``ds`` the
    first step (and the first cycle's amplitude from a Hopf point), kept in ``[ds_min, ds_max]``, grown by ``grow``
    after a corrector of at most ``max_newton // 2`` iterations; ``[p_min, p_max]`` the window; ``period_max`` the
    period that ends the family as infinite; ``amp_min`` the amplitude that ends it at a Hopf point; ``tol`` the
    Newton step tolerance (max-norm); ``floquet_tol``: a multiplier is outside the unit circle when ``|μ| > 1 +
    floquet_tol``."""

    ds: jax.Array = eqx.field(converter=jnp.asarray, default=0.01)
    ds_min: jax.Array = eqx.field(converter=jnp.asarray, default=1e-6)
    ds_max: jax.Array = eqx.field(converter=jnp.asarray, default=0.5)
    p_min: jax.Array = eqx.field(converter=jnp.asarray, default=-jnp.inf)
    p_max: jax.Array = eqx.field(converter=jnp.asarray, default=jnp.inf)
    period_max: jax.Array = eqx.field(converter=jnp.asarray, default=jnp.inf)
    amp_min: jax.Array = eqx.field(converter=jnp.asarray, default=1e-4)
    tol: jax.Array = eqx.field(converter=jnp.asarray, default=1e-8)
    max_newton: jax.Array = eqx.field(converter=jnp.asarray, default=8)
    grow: jax.Array = eqx.field(converter=jnp.asarray, default=1.5)
    floquet_tol: jax.Array = eqx.field(converter=jnp.asarray, default=1e-6)

    def bounds(self) -> tuple[jax.Array, jax.Array]:
        """The window ``([p_min], [p_max])``."""
        return jnp.atleast_1d(self.p_min), jnp.atleast_1d(self.p_max)


def amplitude(X: jax.Array) -> jax.Array:
    """The largest distance of a node of ``X`` (M, d) from the nodes' mean (the radius of a circular cycle)."""
    return jnp.max(jnp.linalg.norm(X - jnp.mean(X, axis=0), axis=1))


def ends_by_itself(X: jax.Array, T, s: CycleSettings) -> tuple[jax.Array, jax.Array]:
    """Whether the cycle ``(X (M, d), T)`` ends its family: ``shrunk`` below ``amp_min`` (at a Hopf point), or,
    if not, ``infinite``: its period above ``period_max``."""
    shrunk = amplitude(X) < s.amp_min
    return shrunk, ~shrunk & (T > s.period_max)


def correct(problem: CycleProblem, target, row, ref, cap, tol, max_newton):
    """``core.newton`` from ``target`` for the shooting system on the hyperplane ``row·(v - target) = 0``; each step
    shortened to 2-norm ``cap``. Returns ``(v, converged, iterations, finite, (r, jac))``, the last two at the last
    point evaluated (within ``tol`` of ``v``)."""
    res = newton(lambda v: problem.system(v, ref), target, tol, max_newton, border=(row, target), cap=cap)
    return res.v, res.converged, res.iterations, res.finite, (res.value, res.jac)


def n_unstable(mu: jax.Array, floquet_tol) -> jax.Array:
    """Non-trivial multipliers (``mu[1:]``, see ``multipliers``) with ``|μ| > 1 + floquet_tol`` (int32; -1 if any
    is NaN)."""
    count = jnp.sum(jnp.abs(mu[1:]) > 1.0 + floquet_tol).astype(jnp.int32)
    return jnp.where(jnp.all(jnp.isfinite(mu)), count, -1)


def _ns_pairs(rest: jax.Array) -> jax.Array:
    i, j = np.triu_indices(rest.shape[0], 1)
    return rest[i] * rest[j] - 1.0


def tests(t: jax.Array, mu: jax.Array) -> jax.Array:
    """The three test values (3,) at a row with unit tangent ``t`` and multipliers ``mu`` (d,)."""
    rest = mu[1:]                       # the non-trivial multipliers
    pd = jnp.prod(rest + 1.0).real
    ns = jnp.prod(_ns_pairs(rest)).real if rest.shape[0] >= 2 else jnp.ones((), t.dtype)
    return jnp.stack([t[-1], pd, ns])


def own_section(problem: CycleProblem, v, jac) -> jax.Array:
    """``jac`` with its phase row moved to the section of ``v`` itself (no new integration)."""
    return jac.at[-1, : problem.d].set(problem.reference(v)[1])


SECTOR = 0.123 * jnp.pi   # over M: the centre of a sector of width 2π/M that holds one M-th root of each μ


def _orthogonal_complement(v: jax.Array) -> jax.Array:
    """An orthonormal basis (d, d - 1) of the complement of ``v`` (d,): the last columns of a Householder
    reflector that maps ``v/|v|`` to ``±e_1``."""
    v = v / jnp.linalg.norm(v)
    w = v.at[0].add(jnp.where(v[0] >= 0, 1.0, -1.0))
    h = jnp.eye(v.shape[0], dtype=v.dtype) - 2.0 * jnp.outer(w, w) / jnp.dot(w, w)
    return h[:, 1:]


def multipliers(problem: CycleProblem, u: jax.Array, jac: jax.Array) -> jax.Array:
    """Floquet multipliers (d,) complex of cycle ``u`` from the segment flows ``Φ_k`` in its shooting Jacobian
    (M d + 1, M d + 2): the trivial multiplier first, exactly 1, then the non-trivial ones by descending modulus.

    The trivial one is deflated segment by segment (``Φ_k`` maps the flow direction at node ``k`` onto that at
    node ``k+1``): with orthonormal complements ``N_k`` of ``f(X_k)``, the non-trivial multipliers are the
    eigenvalues of the product of the transverse blocks ``D_k = N_{k+1}^T Φ_k N_k``. Without this, near a
    homoclinic orbit the phase coupling (entries like ``e^{λ_u T}``) swamps them. For d <= 3 the (at most 2 x 2)
    product is formed and its eigenvalues are in closed form; for d > 3 it is not: the eigenvalues ``λ`` of the
    block-cyclic matrix with blocks ``D_k`` satisfy ``λ^M = μ``, and each ``μ`` has one root in a half-open sector
    of width ``2π/M``. NaN if the eigenvalue iteration failed."""
    M, d = problem.n_segments, problem.d
    X, _, p = problem.split(u)
    top = jac[: M * d, : M * d].reshape(M, d, M, d)
    k = jnp.arange(M)
    phi = top[k, :, k, :] + (jnp.eye(d, dtype=jac.dtype) if M == 1 else 0.0)       # (M, d, d)
    normals = jax.vmap(_orthogonal_complement)(jax.vmap(lambda x: problem.f(x, problem.at(p)))(X))
    blocks = jnp.einsum("kia,kij,kjb->kab", jnp.roll(normals, -1, axis=0), phi, normals)   # (M, d-1, d-1)
    if d <= 3:                           # closed-form eigenvalues of the (at most 2 x 2) product
        rest, ok = eigvals(jax.lax.fori_loop(1, M, lambda i, m: blocks[i] @ m, blocks[0]))
    else:
        e = d - 1
        cyclic = jnp.zeros((M, M, e, e), jac.dtype).at[(k + 1) % M, k].set(blocks)
        lam, ok = eigvals(cyclic.transpose(0, 2, 1, 3).reshape(M * e, M * e))
        pick = jnp.argsort(jnp.abs(jnp.angle(lam * jnp.exp(-1j * SECTOR / M))))[:e]
        rest = lam[pick] ** M
    rest = rest[jnp.argsort(-jnp.abs(rest))]
    mu = jnp.concatenate([jnp.ones(1, rest.dtype), rest])
    return jnp.where(ok, mu, jnp.nan)


def _state(problem, v, t, ds, last_ds, evaluated, iters, ok, status) -> State:
    r, jac = evaluated
    mu = multipliers(problem, v, jac)
    return State(u=v, t=t, ds=jnp.asarray(ds, v.dtype), last_ds=jnp.asarray(last_ds, v.dtype), tests=tests(t, mu),
                 events=jnp.zeros(3, bool), residual=jnp.max(jnp.abs(r)), newton=iters.astype(jnp.int32),
                 accepted=ok, status=jnp.asarray(status, jnp.int32), extra=mu)


def start_from_hopf(problem: CycleProblem, s: CycleSettings, h: jax.Array, p: jax.Array) -> State:
    """The first cycle near the Hopf point ``(h (d,), p ())``: ``h + √2 ds Re(e^{iθ} q)`` with the critical
    eigenvector ``q`` (``<q, q> = 1``), period ``2π/ω``, and ``p`` moved by ``-l1 ω ds² / (2μ')`` (the side where
    the normal form ``r² = -2μ'(p - p_H)/(l1 ω)`` has a cycle, ``l1`` in Kuznetsov's normalisation; ``μ'`` the
    transversality ``d Re λ/dp``); corrected on the hyperplane that fixes its projection on the eigen-direction, with
    the amplitude quartered and the cycle corrected again while that fails (down to ``ds_min``); the first step is
    that amplitude. The tangent points away from the Hopf point (along the secant from it to the first cycle)."""
    prm = problem.at(p)
    g = lambda x: problem.f(x, prm)
    a = jax.jacfwd(g)(h)
    omega, q, left = hopf_vectors(a, jnp.sqrt(jnp.maximum(critical_pair(a)[1], 0.0)))
    l1 = first_lyapunov(g, h, a, omega, q, left)
    dparams = jax.jvp(problem.at, (p,), (jnp.ones_like(p),))[1]
    h_p = -solve(a, jax.jvp(lambda c: problem.f(h, c), (prm,), (dparams,))[1])
    a_p = jax.jvp(lambda x, c: jax.jacfwd(problem.f)(x, c), (h, prm), (h_p, dparams))[1]
    mu_p = jnp.vdot(left, a_p @ q).real
    theta = 2 * jnp.pi * jnp.arange(problem.n_segments) / problem.n_segments
    u_hopf = jnp.concatenate([jnp.tile(h, problem.n_segments), jnp.stack([2 * jnp.pi / omega, p])])

    def attempt(r0):
        dp = -l1 * omega * r0**2 / (2 * mu_p)
        dp = jnp.where(jnp.isfinite(dp), dp, 0.0)
        X = h + jnp.sqrt(2.0) * r0 * jnp.real(jnp.exp(1j * theta)[:, None] * q[None, :])
        u0 = jnp.concatenate([X.ravel(), jnp.stack([2 * jnp.pi / omega, p + dp])])
        row = jnp.concatenate([(X - h).ravel(), jnp.zeros(2, X.dtype)])
        row = row / jnp.linalg.norm(row)
        ref = (X[0], problem.f(X[0], problem.at(p + dp)))
        v, conv, iters, finite, evaluated = correct(problem, u0, row, ref, 1.0, s.tol, 3 * s.max_newton)
        t = tangent(own_section(problem, v, evaluated[1]), row)
        t = jnp.where(jnp.dot(t, v - u_hopf) < 0, -t, t)          # away from the Hopf point
        ok = conv & jnp.all(jnp.isfinite(t)) & (problem.split(v)[1] > 0)
        return v, t, evaluated, iters, ok

    def retry(carry):     # a strongly nonlinear Hopf point (large |l1|) needs a smaller first cycle
        r0, *_ = carry
        return (0.25 * r0, *attempt(0.25 * r0))

    first = (s.ds, *attempt(s.ds))
    r0, v, t, evaluated, iters, ok = jax.lax.while_loop(
        lambda c: ~c[-1] & (c[0] > 4 * s.ds_min), retry, first)
    return _state(problem, v, t, r0, 0.0, evaluated, iters, ok, start_status(ok, v, s))   # first step: r0


def start_from_orbit(problem: CycleProblem, s: CycleSettings, x0: jax.Array, period, direction) -> State:
    """The first cycle from a point ``x0`` (d,) on it and its ``period``, at the start parameter: nodes by
    integration, corrected at fixed ``p``; tangent from the SVD, oriented so ``t_p`` has the sign of ``direction``."""
    p = problem.param.get(problem.params)
    X, _ = orbit(problem.f, problem.at(p), x0, period, problem.n_segments + 1, problem.opts)
    u0 = jnp.concatenate([X[:-1].ravel(), jnp.stack([jnp.asarray(period, X.dtype), p])])
    e_p = jnp.zeros_like(u0).at[-1].set(1.0)
    ref = (x0, problem.f(x0, problem.at(p)))
    v, conv, iters, finite, evaluated = correct(problem, u0, e_p, ref, 1.0, s.tol, 3 * s.max_newton)
    t = jnp.linalg.svd(own_section(problem, v, evaluated[1]))[2][-1]
    t = jnp.where(t[-1] * direction < 0, -t, t)
    ok = conv & jnp.all(jnp.isfinite(t)) & (problem.split(v)[1] > 0)
    return _state(problem, v, t, s.ds, 0.0, evaluated, iters, ok, start_status(ok, v, s))
