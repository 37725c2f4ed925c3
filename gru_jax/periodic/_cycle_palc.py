"""Pseudo-arclength continuation of periodic orbits as pure functions: the first cycle (from a Hopf point or from a
given orbit) and one step along the family.

A cycle is ``u = (X.ravel(), T, p)`` (M d + 2,): the multiple-shooting nodes ``X`` (M, d), the period ``T`` and the
parameter ``p``; its equations are ``gru_jax.periodic._flow.shooting_system`` with the phase condition taken
relative to the previous accepted cycle (a Poincare section through its first node, normal to the flow there).
A step predicts along the unit tangent, corrects by damped Newton on the shooting system bordered by the tangent,
grows ``ds`` after an easy corrector and halves it after a failure.
"""

from __future__ import annotations

from typing import Any, Callable

import equinox as eqx
import jax
import jax.numpy as jnp

from .._eig import eigvals
from .._linalg import solve
from ..continuation._lyapunov import critical_pair, first_lyapunov, hopf_vectors
from ..continuation._param import Param
from ..continuation._testfns import bordered, tangent
from ._cycle_branch import CycleStatus
from ._flow import FlowOptions, orbit, shooting_system

MAX_ATTEMPTS = 64      # corrector attempts per step (ds halves each time)
MIN_COS = 0.5          # a corrected cycle whose tangent turned by more than 60 degrees is rejected (branch jump)


def _array(x):
    return jnp.asarray(x)


class CycleProblem(eqx.Module):
    """Cycles of ``f(h, params)`` continued in ``param`` with ``n_segments`` shooting nodes of dimension ``d``.
    ``f``, ``param``, ``n_segments`` and ``d`` are static; ``opts`` holds the ODE tolerances."""

    f: Callable = eqx.field(static=True)
    params: Any
    param: Param = eqx.field(static=True)
    n_segments: int = eqx.field(static=True)
    d: int = eqx.field(static=True)
    opts: FlowOptions

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

    def system(self, u: jax.Array, ref) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
        """Shooting residual (M d + 1,), Jacobian (M d + 1, M d + 2) in ``u``, monodromy (d, d), ``ok``."""
        X, T, p = self.split(u)
        dparams = jax.jvp(self.at, (p,), (jnp.ones_like(p),))[1]
        return shooting_system(self.f, self.at(p), X, T, ref[0], ref[1], self.opts, dparams)


class CycleSettings(eqx.Module):
    """Step sizes, window, bounds and tolerances: array leaves, so changing them does not recompile.

    ``ds`` the first step (and the first cycle's amplitude from a Hopf point), kept in ``[ds_min, ds_max]``,
    grown by ``grow`` after a corrector of at most ``max_newton // 2`` iterations; ``[p_min, p_max]`` the window;
    ``period_max`` the period that ends the family as infinite; ``amp_min`` the amplitude that ends it at a Hopf
    point; ``tol`` the Newton step tolerance (max-norm); ``floquet_tol``: a multiplier is outside the unit circle
    when ``|μ| > 1 + floquet_tol``.
    """

    ds: jax.Array = eqx.field(converter=_array, default=0.01)
    ds_min: jax.Array = eqx.field(converter=_array, default=1e-6)
    ds_max: jax.Array = eqx.field(converter=_array, default=0.5)
    p_min: jax.Array = eqx.field(converter=_array, default=-jnp.inf)
    p_max: jax.Array = eqx.field(converter=_array, default=jnp.inf)
    period_max: jax.Array = eqx.field(converter=_array, default=jnp.inf)
    amp_min: jax.Array = eqx.field(converter=_array, default=1e-4)
    tol: jax.Array = eqx.field(converter=_array, default=1e-8)
    max_newton: jax.Array = eqx.field(converter=_array, default=8)
    grow: jax.Array = eqx.field(converter=_array, default=1.5)
    floquet_tol: jax.Array = eqx.field(converter=_array, default=1e-6)


class CycleState(eqx.Module):
    """The last accepted cycle: ``u`` (M d + 2,), unit tangent ``t``, the next ``ds``, the step ``last_ds`` that
    reached it, ``multipliers`` (d,) complex, ``residual`` max-norm, ``newton`` iterations, ``accepted`` whether
    the last step added it, ``status`` a ``CycleStatus`` code (``RUNNING`` until the family ends)."""

    u: jax.Array
    t: jax.Array
    ds: jax.Array
    last_ds: jax.Array
    multipliers: jax.Array
    residual: jax.Array
    newton: jax.Array
    accepted: jax.Array
    status: jax.Array


def amplitude(X: jax.Array) -> jax.Array:
    """The largest distance of a node of ``X`` (M, d) from the nodes' mean (the radius of a circular cycle)."""
    return jnp.max(jnp.linalg.norm(X - jnp.mean(X, axis=0), axis=1))


def correct(problem: CycleProblem, target, row, ref, cap, tol, max_newton):
    """Damped Newton from ``target`` for the shooting system on the hyperplane ``row·(v - target) = 0``; each step
    shortened to 2-norm ``cap``; converged when a full step is at most ``tol``. Returns ``(v, converged,
    iterations, finite, (r, jac))``, the last two at the last point evaluated (within ``tol`` of ``v``)."""
    n = target.shape[0]

    def cond(carry):
        _, size, finite, k, _ = carry
        return (k < max_newton) & (size > tol) & finite

    def body(carry):
        v, _, _, k, _ = carry
        r, jac, _, ok = problem.system(v, ref)
        dv = -solve(bordered(jac, row), jnp.append(r, jnp.dot(row, v - target)))
        size = jnp.max(jnp.abs(dv))
        finite = ok & jnp.all(jnp.isfinite(dv))
        scale = jnp.where(size <= tol, 1.0, jnp.minimum(1.0, cap / jnp.linalg.norm(dv)))
        return jnp.where(finite, v + scale * dv, v), size, finite, k + 1, (r, jac)

    blank = (jnp.zeros(n - 1, target.dtype), jnp.zeros((n - 1, n), target.dtype))
    start = (target, jnp.asarray(jnp.inf, target.dtype), jnp.asarray(True), jnp.asarray(0, jnp.int32), blank)
    v, size, finite, k, evaluated = jax.lax.while_loop(cond, body, start)
    return v, (size <= tol) & finite, k, finite, evaluated


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


def _state(problem, v, t, ds, last_ds, evaluated, iters, ok, status) -> CycleState:
    r, jac = evaluated
    return CycleState(u=v, t=t, ds=jnp.asarray(ds, v.dtype), last_ds=jnp.asarray(last_ds, v.dtype),
                      multipliers=multipliers(problem, v, jac), residual=jnp.max(jnp.abs(r)),
                      newton=iters.astype(jnp.int32), accepted=ok, status=jnp.asarray(status, jnp.int32))


def _start_status(ok, u, problem, s):
    _, T, p = problem.split(u)
    inside = (p >= s.p_min) & (p <= s.p_max)
    return jnp.where(ok & inside, CycleStatus.RUNNING, jnp.where(ok, CycleStatus.LEFT_WINDOW, CycleStatus.START_FAILED))


def start_from_hopf(problem: CycleProblem, s: CycleSettings, h: jax.Array, p: jax.Array) -> CycleState:
    """The first cycle near the Hopf point ``(h (d,), p ())``: ``h + √2 ds Re(e^{iθ} q)`` with the critical
    eigenvector ``q`` (``<q, q> = 1``), period ``2π/ω``, and ``p`` moved by ``-l1 ω ds² / (2μ')`` (the side where
    the normal form ``r² = -2μ'(p - p_H)/(l1 ω)`` has a cycle, ``l1`` in Kuznetsov's normalisation; ``μ'`` the
    transversality ``d Re λ/dp``); corrected on the hyperplane that fixes its projection on the eigen-direction,
    with the amplitude quartered and the cycle corrected again while that fails (down to ``ds_min``); the first
    step is that amplitude. The tangent points away from the Hopf point (along the secant from it to the first
    cycle)."""
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
    return _state(problem, v, t, r0, 0.0, evaluated, iters, ok, _start_status(ok, v, problem, s))   # first step: r0


def start_from_orbit(problem: CycleProblem, s: CycleSettings, x0: jax.Array, period, direction) -> CycleState:
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
    return _state(problem, v, t, s.ds, 0.0, evaluated, iters, ok, _start_status(ok, v, problem, s))


def step(problem: CycleProblem, state: CycleState, s: CycleSettings) -> CycleState:
    """One accepted cycle (or the end of the family).

    A predictor that leaves the window is replaced by one landing on its edge (corrected at fixed ``p``) and the
    family ends there (``LEFT_WINDOW``). A cycle whose nodes turned through the equilibrium (the deviations from
    their mean reversed) ends the family at a ``HOPF`` point without being accepted; one with amplitude below
    ``amp_min`` is accepted and ends it likewise; a period above ``period_max`` is accepted and ends it with
    ``PERIOD_MAX`` (classified afterwards). A finished state is returned unchanged with ``accepted = False``.
    """
    u, t = state.u, state.t
    ref = problem.reference(u)
    running = state.status == CycleStatus.RUNNING
    e_p = jnp.zeros_like(u).at[-1].set(1.0)
    X_old = problem.split(u)[0]

    def attempt(carry):
        ds, side, *_, k = carry
        pred = u + ds * t
        side = jnp.where(side != 0, side, jnp.where(pred[-1] > s.p_max, 1, jnp.where(pred[-1] < s.p_min, -1, 0)))
        landing = side != 0
        edge = jnp.where(side > 0, s.p_max, s.p_min)
        target = jnp.where(landing, u + (edge - u[-1]) / (pred[-1] - u[-1]) * (pred - u), pred)
        row = jnp.where(landing, e_p, t)
        v, conv, iters, finite, evaluated = correct(problem, target, row, ref, ds, s.tol, s.max_newton)
        t_new = tangent(own_section(problem, v, evaluated[1]), t)
        finite = finite & jnp.all(jnp.isfinite(t_new))
        conv = (conv & finite & (jnp.linalg.norm(v - target) <= ds + s.tol) & (jnp.dot(t_new, t) >= MIN_COS)
                & (problem.split(v)[1] > 0))
        overshoot = conv & ~landing & ((v[-1] > s.p_max) | (v[-1] < s.p_min))
        ok = conv & ~overshoot
        ds = jnp.where(conv, ds, 0.5 * ds)
        side = jnp.where(overshoot, jnp.where(v[-1] > s.p_max, 1, -1), 0)
        return ds, side, ok, landing, v, t_new, evaluated, iters, finite, k + 1

    def cond(carry):
        ds, _, ok, *_, k = carry
        return running & ~ok & (ds >= s.ds_min) & (k < MAX_ATTEMPTS)

    n = u.shape[0]
    blank = (jnp.zeros(n - 1, u.dtype), jnp.zeros((n - 1, n), u.dtype))
    start = (state.ds, jnp.asarray(0), jnp.asarray(False), jnp.asarray(False), u, t, blank,
             jnp.asarray(0, jnp.int32), jnp.asarray(True), jnp.asarray(0))
    ds, _, ok, landing, v, t_new, evaluated, iters, finite, _ = jax.lax.while_loop(cond, attempt, start)

    X_new, T_new, _ = problem.split(v)
    flipped = jnp.sum((X_new - jnp.mean(X_new, 0)) * (X_old - jnp.mean(X_old, 0))) < 0
    ds_next = jnp.where(iters <= s.max_newton // 2, jnp.minimum(ds * s.grow, s.ds_max), ds)
    status = jnp.select([~ok, landing, amplitude(X_new) < s.amp_min, T_new > s.period_max],
                        [jnp.where(finite, CycleStatus.STEP_TOO_SMALL, CycleStatus.NONFINITE),
                         CycleStatus.LEFT_WINDOW, CycleStatus.HOPF, CycleStatus.PERIOD_MAX], CycleStatus.RUNNING)
    accept = ok & ~flipped & running
    new = _state(problem, v, t_new, ds_next, ds, evaluated, iters, accept, status)
    failed = eqx.tree_at(lambda x: (x.accepted, x.status, x.ds), state,
                         (jnp.asarray(False), jnp.where(running, jnp.where(ok, CycleStatus.HOPF, status),
                                                        state.status).astype(jnp.int32), ds))
    return jax.tree_util.tree_map(lambda a, b: jnp.where(accept, a, b), new, failed)
