"""One continuation step as a pure function: ``init`` a ``State`` at a start point, then ``step`` it.

A point on the branch is ``u = (h, p)`` (d+1,). Pseudo-arclength continuation (PALC, the default) predicts
along the unit tangent and corrects on the hyperplane orthogonal to it; natural-parameter continuation
(``Settings.natural``) steps the parameter and corrects ``h`` at fixed ``p``. The tangent is the kernel of
``[f_h, f_p]`` bordered by the previous tangent, so its orientation is kept. Failed correctors halve ``ds``
and retry; below ``ds_min`` the branch ends.
"""

from __future__ import annotations

from typing import Any, Callable

import equinox as eqx
import jax
import jax.numpy as jnp

from .._fixed_points import SeedStatus, fixed_point
from ._corrector import correct, value_and_jac
from ._param import Param
from ._status import BranchStatus
from ._testfns import crossed, evaluate_tests, tangent

MAX_ATTEMPTS = 64      # safety cap on corrector attempts per step (ds halves each time, so ~50 is the real limit)


def _array(x):
    return jnp.asarray(x)


class Problem(eqx.Module):
    """Equilibria of ``f(h, params)`` (e.g. ``gru_jax.vector_field``) continued in ``param``; the start
    parameter is ``param.get(params)``. ``f``, ``param`` and ``hopf`` (whether the loop evaluates the Hopf
    test) are static: reuse the same objects to reuse compiles."""

    f: Callable = eqx.field(static=True)
    params: Any
    param: Param = eqx.field(static=True)
    hopf: bool = eqx.field(static=True, default=True)

    def frozen(self) -> "Problem":
        """The same problem with its params behind ``stop_gradient``."""
        return eqx.tree_at(lambda q: q.params, self, jax.lax.stop_gradient(self.params))

    def at(self, p) -> Any:
        """The params with the continued entry set to ``p``."""
        return self.param.set(self.params, p)

    def F(self, u: jax.Array) -> jax.Array:
        """The branch function ``u = (h, p)`` (d+1,) -> ``f(h, params(p))`` (d,)."""
        return self.f(u[:-1], self.at(u[-1]))


class Settings(eqx.Module):
    """Step sizes, window and tolerances: all array leaves, so changing them does not recompile.

    ``ds`` first step (arclength, or parameter step when ``natural``), kept in ``[ds_min, ds_max]``;
    grown by ``grow`` after a corrector that took at most ``max_newton // 2`` iterations, halved after a
    failure. ``[p_min, p_max]`` the parameter window; ``tol`` the Newton step tolerance (max-norm);
    ``hyperbolic_tol`` for counting unstable eigenvalues of stored points (see ``gru_jax.classify``);
    ``natural`` (bool): natural-parameter instead of pseudo-arclength continuation. It cannot pass folds:
    there its step shrinks below ``ds_min`` and the branch ends.
    """

    ds: jax.Array = eqx.field(converter=_array, default=0.01)
    ds_min: jax.Array = eqx.field(converter=_array, default=1e-6)
    ds_max: jax.Array = eqx.field(converter=_array, default=0.1)
    p_min: jax.Array = eqx.field(converter=_array, default=-jnp.inf)
    p_max: jax.Array = eqx.field(converter=_array, default=jnp.inf)
    tol: jax.Array = eqx.field(converter=_array, default=1e-10)
    max_newton: jax.Array = eqx.field(converter=_array, default=10)
    grow: jax.Array = eqx.field(converter=_array, default=1.5)
    hyperbolic_tol: jax.Array = eqx.field(converter=_array, default=1e-8)
    natural: jax.Array = eqx.field(converter=_array, default=False)


def predict(u: jax.Array, t: jax.Array, ds, natural) -> tuple[jax.Array, jax.Array]:
    """Predictor and the normal of the corrector's hyperplane: PALC ``u + ds t`` and ``t``; natural-parameter
    ``p + ds`` along the tangent and ``e_p`` (so ``p`` stays fixed)."""
    e_p = jnp.zeros_like(u).at[-1].set(1.0)
    return u + jnp.where(natural, ds / jnp.abs(t[-1]), ds) * t, jnp.where(natural, e_p, t)


class State(eqx.Module):
    """The last accepted point and what the next step needs.

    ``u`` (d+1,) = (h, p); ``t`` (d+1,) unit tangent; ``ds`` () the next step size; ``last_ds`` () the step
    that reached ``u``; ``tests`` (3,) fold, branch-point and Hopf test values at ``u``; ``events`` (3,)
    which of them changed sign on the last step; ``residual`` ``max|f|`` at ``u``;
    ``newton`` corrector iterations of the last step; ``accepted`` whether the last step added ``u``;
    ``status`` a ``BranchStatus`` code (``RUNNING`` until the branch ends).
    """

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


def init(problem: Problem, h0: jax.Array, settings: Settings, direction=1.0) -> State:
    """Correct ``h0`` (d,) to an equilibrium at the start parameter; tangent oriented so ``t_p`` has the sign
    of ``direction`` (+1 or -1). BranchStatus ``START_FAILED`` if Newton does not converge."""
    p0 = problem.param.get(problem.params)
    h, seed = fixed_point(problem.params, h0, f=problem.f, xtol=settings.tol, max_steps=10 * settings.max_newton)
    u = jnp.concatenate([h, p0[None]]).astype(h.dtype)
    value, jac = value_and_jac(problem.F, u)
    t = jnp.linalg.svd(jac)[2][-1]
    t = jnp.where(t[-1] * direction < 0, -t, t)
    ok = (seed == SeedStatus.CONVERGED) & jnp.all(jnp.isfinite(jac)) & jnp.all(jnp.isfinite(t))
    inside = (p0 >= settings.p_min) & (p0 <= settings.p_max)
    status = jnp.where(ok & inside, BranchStatus.RUNNING,
                       jnp.where(ok, BranchStatus.LEFT_WINDOW, BranchStatus.START_FAILED))
    return State(u=u, t=t, ds=jnp.asarray(settings.ds, u.dtype), last_ds=jnp.zeros((), u.dtype),
                 tests=evaluate_tests(jac, t, problem.hopf), events=jnp.zeros(3, bool), residual=jnp.max(jnp.abs(value)),
                 newton=jnp.asarray(0, jnp.int32), accepted=ok & inside, status=status.astype(jnp.int32))


def step(problem: Problem, state: State, settings: Settings) -> State:
    """One accepted point (or the end of the branch): predict, correct, halve ``ds`` and retry on failure.

    A predictor that leaves the window ``[p_min, p_max]`` is replaced by one that lands on its edge (the
    corrector then fixes ``p``), and the branch ends there with ``LEFT_WINDOW``. A finished state is
    returned unchanged with ``accepted = False``.
    """
    F, s = problem.F, settings
    u, t = state.u, state.t
    running = state.status == BranchStatus.RUNNING
    e_p = jnp.zeros_like(u).at[-1].set(1.0)

    def attempt(carry):
        ds, side, _, _, _, _, _, _, _, k = carry
        pred, row = predict(u, t, ds, s.natural)
        side = jnp.where(side != 0, side, jnp.where(pred[-1] > s.p_max, 1, jnp.where(pred[-1] < s.p_min, -1, 0)))
        landing = side != 0
        edge = jnp.where(side > 0, s.p_max, s.p_min)
        target = jnp.where(landing, u + (edge - u[-1]) / (pred[-1] - u[-1]) * (pred - u), pred)
        cap = jnp.linalg.norm(pred - u)
        v, converged, iters, finite = correct(F, target, jnp.where(landing, e_p, row), cap, s.tol, s.max_newton)
        value, jac = value_and_jac(F, v)
        t_new = tangent(jac, t)
        finite = finite & jnp.all(jnp.isfinite(jac)) & jnp.all(jnp.isfinite(t_new)) & jnp.all(jnp.isfinite(value))
        converged = converged & finite & (jnp.linalg.norm(v - target) <= cap + s.tol)
        overshoot = converged & ~landing & ((v[-1] > s.p_max) | (v[-1] < s.p_min))
        ok = converged & ~overshoot
        ds = jnp.where(converged, ds, 0.5 * ds)
        side = jnp.where(overshoot, jnp.where(v[-1] > s.p_max, 1, -1), 0)
        return ds, side, ok, landing, v, value, jac, t_new, (iters, finite), k + 1

    def cond(carry):
        ds, _, ok, *_, k = carry
        return running & ~ok & (ds >= s.ds_min) & (k < MAX_ATTEMPTS)

    d1 = u.shape[0]
    start = (state.ds, jnp.asarray(0), jnp.asarray(False), jnp.asarray(False), u, jnp.zeros(d1 - 1, u.dtype),
             jnp.zeros((d1 - 1, d1), u.dtype), t, (jnp.asarray(0, jnp.int32), jnp.asarray(True)),
             jnp.asarray(0))
    ds, _, ok, landing, v, value, jac, t_new, (iters, finite), _ = jax.lax.while_loop(cond, attempt, start)

    ds_next = jnp.where(iters <= s.max_newton // 2, jnp.minimum(ds * s.grow, s.ds_max), ds)
    tests = evaluate_tests(jac, t_new, problem.hopf)
    status = jnp.where(ok, jnp.where(landing, BranchStatus.LEFT_WINDOW, BranchStatus.RUNNING),
                       jnp.where(finite, BranchStatus.STEP_TOO_SMALL, BranchStatus.NONFINITE))
    new = State(u=v, t=t_new, ds=ds_next, last_ds=ds, tests=tests, events=crossed(state.tests, tests),
                residual=jnp.max(jnp.abs(value)), newton=iters, accepted=ok, status=status.astype(jnp.int32))
    failed = eqx.tree_at(lambda x: (x.accepted, x.status, x.events, x.ds), state,
                         (jnp.asarray(False), jnp.where(running, new.status, state.status), jnp.zeros(3, bool), ds))
    return jax.tree_util.tree_map(lambda a, b: jnp.where(ok & running, a, b), new, failed)
