"""The one Newton solver (square, or n equations in n+1 unknowns bordered by a hyperplane: every corrector, locator and
``bracket`` probe), its backtracking form for far-away guesses, the implicit-function step, the Illinois bracket."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from .._linalg import solve, value_and_jacobian
from ._status import LocateStatus

MAX_BRACKET = 60        # Illinois iterations
MIN_FRACTION = 1e-6     # backtracking gives up when the step is cut below this fraction of the Newton step


def bordered(jac: jax.Array, row: jax.Array) -> jax.Array:
    """The square (n+1, n+1) matrix ``[[jac], [row]]`` of a (n, n+1) ``jac``."""
    return jnp.concatenate([jac, row[None, :]], axis=0)


def value_and_jac(F: Callable, u: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``F(u)`` (n,) and its Jacobian (n, len(u)) in one forward-mode pass."""
    return value_and_jacobian(lambda y, _: F(y), u, None)


def blank(v: jax.Array, underdetermined: bool, fill=0.0) -> tuple[jax.Array, jax.Array]:
    """A value (n,) and Jacobian (n, len(v)) filled with ``fill``, shaped like a system's at ``v``: ``n = len(v)``
    for a square system, ``len(v) - 1`` for one continued along a curve (no tracing of the system)."""
    n = v.shape[0] - underdetermined
    return jnp.full((n,), fill, v.dtype), jnp.full((n, v.shape[0]), fill, v.dtype)


def system_of(F: Callable) -> Callable:
    """The ``system`` of a plain function: ``v -> (F(v), F'(v), True)``."""
    def system(v):
        value, jac = value_and_jac(F, v)
        return value, jac, jnp.asarray(True)
    return system


class Newton(NamedTuple):
    """What ``newton`` returns: the root ``v``; ``converged`` (a full step at most ``tol``, and taken); ``iterations``;
    ``finite`` (False when a step was NaN/inf: a singular system or a non-finite ``F``); ``value`` and ``jac`` of the
    system at the last point evaluated (within ``tol`` of ``v``)."""

    v: jax.Array
    converged: jax.Array
    iterations: jax.Array
    finite: jax.Array
    value: jax.Array
    jac: jax.Array


def newton(system: Callable, v0: jax.Array, tol, max_iter, border=None, cap=jnp.inf, exact_roots=True) -> Newton:
    """Newton from ``v0`` for ``system(v) -> (F(v) (n,), F'(v), ok)``. ``border = (row, target)`` adds the equation
    ``row·(v - target) = 0`` to a (n, n+1) system. Each step is shortened to 2-norm at most ``cap``; converged when a
    full step is at most ``tol`` (max-norm), and that step is taken. An exact root stays put (unless
    ``exact_roots=False``: then a singular system fails there, as an augmented system at a degenerate point should).
    Pure (plain-JAX solves): jit and vmap freely."""
    def cond(carry):
        _, size, finite, k, _ = carry
        return (k < max_iter) & (size > tol) & finite

    def body(carry):
        v, _, _, k, _ = carry
        value, jac, ok = system(v)
        residual, matrix = value, jac
        if border is not None:
            row, target = border
            residual, matrix = jnp.append(value, jnp.dot(row, v - target)), bordered(jac, row)
        dv = -solve(matrix, residual)
        if exact_roots:
            dv = jnp.where(jnp.all(residual == 0), 0.0, dv)
        size = jnp.max(jnp.abs(dv))
        finite = ok & jnp.all(jnp.isfinite(dv))
        scale = jnp.where(size <= tol, 1.0, jnp.minimum(1.0, cap / jnp.linalg.norm(dv)))
        return jnp.where(finite, v + scale * dv, v), size, finite, k + 1, (value, jac)

    start = (v0, jnp.asarray(jnp.inf, v0.dtype), jnp.asarray(True), jnp.asarray(0, jnp.int32),
             blank(v0, border is not None))
    v, size, finite, k, (value, jac) = jax.lax.while_loop(cond, body, start)
    return Newton(v, (size <= tol) & finite, k, finite, value, jac)


class Backtracking(NamedTuple):
    """What ``backtracking_newton`` returns: ``v`` (n,) the last accepted point, plus the last step when ``converged``
    (its size at most ``tol``), projected; ``finite`` (False when a step was NaN/inf); ``stalled`` (the fraction fell
    below ``MIN_FRACTION``); ``accepted`` (some point was: |F|² finite); ``iterations``; ``aux`` (else ``aux0``)."""

    v: jax.Array
    converged: jax.Array
    finite: jax.Array
    stalled: jax.Array
    accepted: jax.Array
    iterations: jax.Array
    aux: Any


def backtracking_newton(evaluate: Callable, v0: jax.Array, tol, max_iter, cap: Callable,
                        measure: Callable = lambda v, dv: jnp.max(jnp.abs(dv)), project: Callable = lambda v: v,
                        aux0=(), exact_roots=True, stop_if_start_fails=False) -> Backtracking:
    """Newton with backtracking on ``|F|²`` from a far-away guess ``v0`` (n,) for ``evaluate(v) -> (F (n,), F' (n, n),
    ok, aux)``: one evaluation per iteration, at the trial ``project(v + fraction · step)``, accepted when ``ok``,
    ``F`` finite and ``|F|²`` smaller, else the fraction is halved; at an accepted point the fraction restarts at
    ``min(1, cap(v, step))``. Stops when ``measure(v, step) <= tol`` (converged), at a non-finite step, below
    ``MIN_FRACTION``, after ``max_iter`` or, with ``stop_if_start_fails``, when ``v0`` fails. ``exact_roots``: a point
    with ``F = 0`` gets a zero step. Pure: jit and vmap freely."""
    def cond(c):
        _, _, size, norm, fraction, _, _, k = c
        started = (k == 0) | jnp.isfinite(norm) | (not stop_if_start_fails)
        return started & (k < max_iter) & (size > tol) & ~jnp.isnan(size) & (fraction >= MIN_FRACTION)

    def body(c):
        v, dv, size, norm, fraction, trial, aux, k = c
        value, jac, ok, trial_aux = evaluate(trial)
        trial_norm = jnp.where(ok & jnp.all(jnp.isfinite(value)), jnp.sum(value**2), jnp.inf)
        trial_dv = -solve(jac, value)
        if exact_roots:
            trial_dv = jnp.where(jnp.all(value == 0), 0.0, trial_dv)
        trial_size = jnp.where(jnp.all(jnp.isfinite(trial_dv)), measure(trial, trial_dv), jnp.nan)
        accept = trial_norm < norm
        v, dv, size, norm, aux = jax.tree_util.tree_map(lambda a, b: jnp.where(accept, a, b),
                                                        (trial, trial_dv, trial_size, trial_norm, trial_aux),
                                                        (v, dv, size, norm, aux))
        fraction = jnp.where(accept, jnp.minimum(1.0, cap(v, dv)), 0.5 * fraction)
        return v, dv, size, norm, fraction, project(v + fraction * dv), aux, k + 1

    inf = jnp.asarray(jnp.inf, v0.dtype)
    start = (v0, jnp.zeros_like(v0), inf, inf, jnp.asarray(1.0, v0.dtype), v0, aux0, jnp.asarray(0, jnp.int32))
    v, dv, size, norm, fraction, _, aux, k = jax.lax.while_loop(cond, body, start)
    converged = size <= tol
    return Backtracking(project(jnp.where(converged, v + dv, v)), converged, ~jnp.isnan(size),
                        fraction < MIN_FRACTION, jnp.isfinite(norm), k, aux)


def implicit_step(G: Callable, u: jax.Array, jac: jax.Array) -> jax.Array:
    """One Newton step at the root ``u`` of ``G`` (square Jacobian ``jac``, held constant): the same value, with the
    implicit-function derivative ``-jac⁻¹ ∂G/∂params`` in what ``G`` closes over (none if not finite)."""
    u = jax.lax.stop_gradient(u)
    du = solve(jax.lax.stop_gradient(jac), G(u))
    return u - jnp.where(jnp.all(jnp.isfinite(du)), du, 0.0)


def crossed(before: jax.Array, after: jax.Array) -> jax.Array:
    """Which test functions changed sign from ``before`` to ``after`` (k,) bool (a new exact zero counts)."""
    sa, sb = jnp.sign(after), jnp.sign(before)
    return (sa * sb < 0) | ((sa == 0) & (sb != 0))


def illinois(probe: Callable, v_a, g_a, v_b, g_b, length, tol, max_iter=MAX_BRACKET):
    """Illinois (modified regula falsi) on ``s`` in [0, 1] for a sign change of ``g`` between ``(v_a, g_a)`` at 0 and
    ``(v_b, g_b)`` at 1; ``probe(s) -> (v, g, ok)`` gives the point ``v`` (any pytree) and its test value. Stops when
    the bracket is at most ``tol`` long (``length`` per unit of ``s``) or a test value is exactly zero. Returns ``(v,
    LocateStatus code, iterations)``, ``v`` the end of the final bracket with the smaller ``|g|``."""

    def cond(c):
        s_lo, g_lo, _, s_hi, g_hi, _, _, ok, k = c
        return ok & ((s_hi - s_lo) * length > tol) & (g_lo != 0) & (g_hi != 0) & (k < max_iter)

    def body(c):
        s_lo, g_lo, v_lo, s_hi, g_hi, v_hi, side, ok, k = c
        s = s_hi - g_hi * (s_hi - s_lo) / (g_hi - g_lo)
        s = jnp.where((s > s_lo) & (s < s_hi), s, 0.5 * (s_lo + s_hi))
        v, g, ok_s = probe(s)
        low = jnp.sign(g) == jnp.sign(g_lo)
        g_hi = jnp.where(low & (side == -1), 0.5 * g_hi, g_hi)     # Illinois: halve an end kept twice
        g_lo = jnp.where(~low & (side == 1), 0.5 * g_lo, g_lo)
        pick = lambda a, b: jax.tree_util.tree_map(lambda x, y: jnp.where(low, x, y), a, b)
        s_lo, g_lo, v_lo = pick(s, s_lo), pick(g, g_lo), pick(v, v_lo)
        s_hi, g_hi, v_hi = pick(s_hi, s), pick(g_hi, g), pick(v_hi, v)
        return s_lo, g_lo, v_lo, s_hi, g_hi, v_hi, jnp.where(low, -1, 1), ok & ok_s, k + 1

    signs_ok = jnp.sign(g_a) * jnp.sign(g_b) <= 0
    start = (jnp.zeros_like(length), g_a, v_a, jnp.ones_like(length), g_b, v_b, 0, signs_ok, 0)
    s_lo, g_lo, v_lo, s_hi, g_hi, v_hi, _, ok, k = jax.lax.while_loop(cond, body, start)
    v = jax.tree_util.tree_map(lambda x, y: jnp.where(jnp.abs(g_lo) <= jnp.abs(g_hi), x, y), v_lo, v_hi)
    finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(v)]))
    done = ((s_hi - s_lo) * length <= tol) | (g_lo == 0) | (g_hi == 0)
    status = jnp.select([~signs_ok, ~ok | ~finite, ~done],
                        [LocateStatus.NO_SIGN_CHANGE, LocateStatus.NONFINITE, LocateStatus.MAX_STEPS],
                        LocateStatus.CONVERGED)
    return v, status, k


def bracket(F: Callable, test: Callable, u_a, u_b, g_a, g_b, tol, max_newton):
    """``illinois`` along the chord ``u_a → u_b`` of the zero set of ``F`` (n+1,) -> (n,) for a scalar ``test(v,
    chord) -> (value, ok)`` with values ``g_a``, ``g_b`` at the ends; each trial point is corrected onto the zero set by
    ``newton`` on the hyperplane orthogonal to the chord. Returns ``(u, LocateStatus code)``."""
    chord = u_b - u_a
    length = jnp.linalg.norm(chord)
    system = system_of(F)

    def probe(s):
        target = u_a + s * chord
        res = newton(system, target, tol, max_newton, border=(chord / length, target), cap=length)
        g, ok = test(res.v, chord)
        return res.v, g, res.converged & ok

    return illinois(probe, u_a, g_a, u_b, g_b, length, tol)[:2]
