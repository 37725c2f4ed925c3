"""The one continuation step: predictor, bordered damped Newton corrector, step-size rule, window, events. A *problem*
(``ContinuationProblem``) says what is continued: a point ``u`` whose last ``k`` entries are the continued parameters,
the residual ``F(u)`` (n,) of ``u`` (n+1,) with its Jacobian, the test functions at each new point, and what else a row
carries. *Settings* say how: ``ds`` in ``[ds_min, ds_max]``, grown by ``grow`` after an easy corrector and halved after
a failure, ``tol`` and ``max_newton`` for the corrector, ``bounds()`` the window ``(lo (k,), hi (k,))``, ``natural``
(optional) natural-parameter steps instead of PALC. ``step`` is pure (``run`` loops it; Python can too)."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from .._linalg import solve
from ._newton import blank, bordered, crossed, newton
from ._status import BranchStatus

MAX_ATTEMPTS = 64      # safety cap on corrector attempts per step (ds halves each time, so ~50 is the real limit)


def tangent(jac: jax.Array, ref: jax.Array) -> jax.Array:
    """Unit kernel vector (n+1,) of ``jac`` (n, n+1) with ``t·ref > 0`` (NaN if ``[[jac], [ref]]`` is singular)."""
    e = jnp.zeros(jac.shape[1], jac.dtype).at[-1].set(1.0)
    t = solve(bordered(jac, ref), e)
    return t / jnp.linalg.norm(t)


class State(eqx.Module):
    """The last accepted point of a curve and what the next step needs. ``u`` (n+1,) the point; ``t`` (n+1,) its unit
    tangent; ``ds`` () the next step; ``last_ds`` () the step that reached ``u``; ``tests`` (m,) the problem's test
    functions at ``u``; ``events`` (m,) which of them changed sign on the last step; ``residual`` ``max|F|`` at ``u``;
    ``newton`` corrector iterations of the last step; ``accepted`` whether the last step added ``u``; ``status`` a
    ``BranchStatus`` code (``RUNNING`` until the curve ends); ``extra`` what the problem keeps per point or ``None``."""


    u: jax.Array
    t: jax.Array
    ds: jax.Array
    last_ds: jax.Array
    tests: jax.Array
    events: jax.Array
    residual: jax.Array
    newton: jax.Array
    accepted: jax.Array
    status: jax.Array
    extra: Any = None


class ContinuationProblem(eqx.Module):
    """The problem protocol, with the defaults most problems keep; ``system``, ``observe``, ``row`` are required.
    - ``system(u, context) -> (F (n,), jac (n, n+1), ok)``: the residual and its Jacobian at ``u``; ``ok`` False where
      it cannot be evaluated (a failed step: the curve ends ``STEP_TOO_SMALL``, or ``NONFINITE`` if not finite);
    - ``context(state)``: what stays fixed during one step (borders, a phase reference); default ``None``;
    - ``observe(before, after, value, jac, context, settings) -> State``: fills ``tests``, ``events``, ``extra`` of the
      new point ``after`` (and may reject it or end the curve through ``accepted`` and ``status``);
    - ``row(state) -> dict``: the per-row fields the driver stores;
    - ``tangent(v, jac, t)``: the new tangent (default: the kernel of ``jac`` oriented along ``t``);
    - ``admissible(before, v, value, t_new)``: extra conditions on a corrected point ``v`` (default: none);
    - ``residual(value)``: the stored residual (default ``max|F|``);
    - ``reevaluate``: evaluate ``system`` again at the corrected point (cheap systems), or reuse the corrector's last
      evaluation, within ``tol`` of it (expensive ones: shooting);
    - ``observe_start``: the driver observes the start point in its first pass (``init`` leaves tests NaN);
    - ``closes``: the driver ends the curve when it comes back to its start (``CLOSED_LOOP``)."""

    reevaluate: bool = eqx.field(static=True, default=True, kw_only=True)
    observe_start: bool = eqx.field(static=True, default=False, kw_only=True)
    closes: bool = eqx.field(static=True, default=True, kw_only=True)

    def context(self, state: State) -> Any:
        return None

    def tangent(self, v, jac, t) -> jax.Array:
        return tangent(jac, t)

    def admissible(self, before: State, v, value, t_new) -> jax.Array:
        return jnp.asarray(True)

    def residual(self, value) -> jax.Array:
        return jnp.max(jnp.abs(value))


def predict(u: jax.Array, t: jax.Array, ds, natural) -> tuple[jax.Array, jax.Array]:
    """Predictor and the normal of the corrector's hyperplane: PALC ``u + ds t`` and ``t``; natural-parameter ``p + ds``
    along the tangent and ``e_p`` (so the last entry stays fixed)."""
    e_p = jnp.zeros_like(u).at[-1].set(1.0)
    return u + jnp.where(natural, ds / jnp.abs(t[-1]), ds) * t, jnp.where(natural, e_p, t)


def inside(u: jax.Array, lo: jax.Array, hi: jax.Array) -> jax.Array:
    """Whether the last ``k`` entries of ``u`` lie in the window ``[lo, hi]`` (k,)."""
    k = lo.shape[0]
    return jnp.all((u[-k:] >= lo) & (u[-k:] <= hi))


def start_status(ok, u: jax.Array, settings) -> jax.Array:
    """The ``BranchStatus`` of a start point ``u``: ``RUNNING`` if it converged (``ok``) inside the window,
    ``LEFT_WINDOW`` if it converged outside, ``START_FAILED`` if not."""
    status = jnp.where(inside(u, *settings.bounds()), BranchStatus.RUNNING, BranchStatus.LEFT_WINDOW)
    return jnp.where(ok, status, BranchStatus.START_FAILED).astype(jnp.int32)


def window_exit(u, end, lo, hi):
    """Where the segment ``u → end`` first leaves the window: ``(index into u or -1, fraction, edge value)``."""
    k = lo.shape[0]
    x0, x1 = u[-k:], end[-k:]
    span = jnp.where(x1 != x0, x1 - x0, 1.0)
    frac = jnp.stack([jnp.where(x1 > hi, (hi - x0) / span, jnp.inf),
                      jnp.where(x1 < lo, (lo - x0) / span, jnp.inf)])      # (2 sides, k params)
    j = jnp.argmin(jnp.min(frac, axis=0))
    side = jnp.argmin(frac[:, j])
    first = frac[side, j]
    edge = jnp.where(side == 0, hi, lo)[j]
    return jnp.where(jnp.isfinite(first), u.shape[0] - k + j, -1), jnp.clip(first, 0.0, 1.0), edge


def move(problem: ContinuationProblem, state: State, settings) -> tuple[State, jax.Array, jax.Array, Any]:
    """Predict and correct one point, halving ``ds`` and retrying on failure. Returns the moved state (not yet observed:
    its ``tests``, ``events`` and ``extra`` are the old ones), the system's value and Jacobian there, and the step's
    context. A predictor that leaves the window is replaced by one that lands on its edge (the corrector then holds that
    parameter) and the curve ends there with ``LEFT_WINDOW``; a corrected point that overshoots the window is retried
    along its chord. A finished state comes back with ``accepted = False``."""
    s, u, t = settings, state.u, state.t
    lo, hi = s.bounds()
    natural = getattr(s, "natural", False)
    context = problem.context(state)
    system = lambda v: problem.system(v, context)
    running = state.status == BranchStatus.RUNNING

    def attempt(carry):
        ds, land, toward, *_, k = carry
        pred, normal = predict(u, t, ds, natural)
        end = jnp.where(land, toward, pred)
        index, frac, edge = window_exit(u, end, lo, hi)
        landing = index >= 0
        row = jnp.where(landing, jnp.zeros_like(u).at[index].set(1.0), normal)
        target = jnp.where(landing, (u + frac * (end - u)).at[index].set(edge), pred)
        cap = jnp.linalg.norm(pred - u)
        res = newton(system, target, s.tol, s.max_newton, border=(row, target), cap=cap)
        v = res.v
        value, jac, ok_v = system(v) if problem.reevaluate else (res.value, res.jac, jnp.asarray(True))
        t_new = problem.tangent(v, jac, t)
        finite = jnp.all(jnp.isfinite(jac)) & jnp.all(jnp.isfinite(value))
        converged = (res.converged & ok_v & finite & jnp.all(jnp.isfinite(t_new))
                     & (jnp.linalg.norm(v - target) <= cap + s.tol)
                     & problem.admissible(state, v, value, t_new))
        overshoot = converged & ~landing & ~inside(v, lo, hi)
        ok = converged & ~overshoot
        ds = jnp.where(converged, ds, 0.5 * ds)
        return ds, overshoot, v, ok, landing, value, jac, t_new, res.iterations, finite, k + 1

    def cond(carry):
        ds, ok, k = carry[0], carry[3], carry[-1]
        return running & ~ok & (ds >= s.ds_min) & (k < MAX_ATTEMPTS)

    start = (state.ds, jnp.asarray(False), u, jnp.asarray(False), jnp.asarray(False), *blank(u, True), t,
             jnp.asarray(0, jnp.int32), jnp.asarray(True), jnp.asarray(0))
    ds, _, v, ok, landing, value, jac, t_new, iters, finite, _ = jax.lax.while_loop(cond, attempt, start)

    ds_next = jnp.where(iters <= s.max_newton // 2, jnp.minimum(ds * s.grow, s.ds_max), ds)
    status = jnp.where(ok, jnp.where(landing, BranchStatus.LEFT_WINDOW, BranchStatus.RUNNING),
                       jnp.where(finite, BranchStatus.STEP_TOO_SMALL, BranchStatus.NONFINITE))
    moved = State(u=v, t=t_new, ds=jnp.asarray(ds_next, u.dtype), last_ds=jnp.asarray(ds, u.dtype),
                  tests=state.tests, events=state.events, residual=problem.residual(value),
                  newton=iters.astype(jnp.int32), accepted=ok & running, status=status.astype(jnp.int32),
                  extra=state.extra)
    return moved, value, jac, context


def conclude(before: State, after: State) -> State:
    """``after`` if accepted, else ``before`` not accepted, with ``after``'s status (if running), no events, last ds."""
    running = before.status == BranchStatus.RUNNING
    failed = eqx.tree_at(lambda x: (x.accepted, x.status, x.events, x.ds), before,
                         (jnp.asarray(False), jnp.where(running, after.status, before.status).astype(jnp.int32),
                          jnp.zeros_like(before.events), after.last_ds))
    return jax.tree_util.tree_map(lambda a, b: jnp.where(after.accepted & running, a, b), after, failed)


def step(problem: ContinuationProblem, state: State, settings) -> State:
    """One accepted point (or the end of the curve): ``move``, then the problem's ``observe`` of the new point."""
    moved, value, jac, context = move(problem, state, settings)
    return conclude(state, problem.observe(state, moved, value, jac, context, settings))


def events_between(before: State, tests: jax.Array, accepted) -> jax.Array:
    """The sign changes of the tests from ``before`` to a new point (none when it is not accepted)."""
    return crossed(before.tests, tests) & accepted
