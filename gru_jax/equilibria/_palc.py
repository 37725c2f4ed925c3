"""Equilibria as a continuation problem: ``init`` a ``State`` at a start point, then ``step`` it (the core's one step).

A point is ``u = (h, p)`` (d+1,). Pseudo-arclength continuation (PALC, the default) predicts along the unit tangent
and corrects on the hyperplane orthogonal to it; natural-parameter continuation (``Settings.natural``) steps ``p`` and
corrects ``h`` at fixed ``p``. The tests at each point are the fold, branch-point and Hopf tests of ``_testfns``.
"""

from __future__ import annotations

from typing import Any, Callable

import equinox as eqx
import jax
import jax.numpy as jnp

from .._fixed_points import SeedStatus, fixed_point
from ..core._newton import value_and_jac
from ..core._status import BranchStatus
from ..core._step import ContinuationProblem, State, events_between, predict, start_status, step
from ..core._param import Param
from ._testfns import evaluate_tests


class Problem(ContinuationProblem):
    """Equilibria of ``f(h, params)`` (e.g. ``gru_jax.vector_field``) continued in ``param`` from ``param.get(params)``.
    ``f``, ``param`` and ``hopf`` (whether the loop evaluates the Hopf test) are static: reuse them to reuse compiles.
    """

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

    def system(self, u: jax.Array, context=None):
        return (*value_and_jac(self.F, u), jnp.asarray(True))

    def observe(self, before: State, after: State, value, jac, context, settings) -> State:
        """The fold, branch-point and Hopf tests (3,) at the new point and their sign changes."""
        tests = evaluate_tests(jac, after.t, self.hopf)
        return eqx.tree_at(lambda x: (x.tests, x.events), after,
                           (tests, events_between(before, tests, after.accepted)))

    def row(self, s: State) -> dict:
        return dict(u=s.u, tangent=s.t, ds=s.last_ds, residual=s.residual, newton=s.newton, tests=s.tests)


class Settings(eqx.Module):
    """Step sizes, window and tolerances: all array leaves, so changing them does not recompile. ``ds`` first step
    (arclength, or parameter step when ``natural``), kept in ``[ds_min, ds_max]``; grown by ``grow`` after a corrector
    that took at most ``max_newton // 2`` iterations, halved after a failure. ``[p_min, p_max]`` the parameter window;
    ``tol`` the Newton step tolerance (max-norm); ``hyperbolic_tol`` for counting unstable eigenvalues of stored points
    (see ``gru_jax.classify``); ``natural`` (bool): natural-parameter instead of pseudo-arclength continuation. It
    cannot pass folds: there its step shrinks below ``ds_min`` and the branch ends.
    """

    ds: jax.Array = eqx.field(converter=jnp.asarray, default=0.01)
    ds_min: jax.Array = eqx.field(converter=jnp.asarray, default=1e-6)
    ds_max: jax.Array = eqx.field(converter=jnp.asarray, default=0.1)
    p_min: jax.Array = eqx.field(converter=jnp.asarray, default=-jnp.inf)
    p_max: jax.Array = eqx.field(converter=jnp.asarray, default=jnp.inf)
    tol: jax.Array = eqx.field(converter=jnp.asarray, default=1e-10)
    max_newton: jax.Array = eqx.field(converter=jnp.asarray, default=10)
    grow: jax.Array = eqx.field(converter=jnp.asarray, default=1.5)
    hyperbolic_tol: jax.Array = eqx.field(converter=jnp.asarray, default=1e-8)
    natural: jax.Array = eqx.field(converter=jnp.asarray, default=False)

    def bounds(self) -> tuple[jax.Array, jax.Array]:
        """The window ``([p_min], [p_max])``."""
        return jnp.atleast_1d(self.p_min), jnp.atleast_1d(self.p_max)


def init(problem: Problem, h0: jax.Array, settings: Settings, direction=1.0) -> State:
    """Correct ``h0`` (d,) to an equilibrium at the start parameter; tangent oriented so ``t_p`` has the sign
    of ``direction`` (+1 or -1). BranchStatus ``START_FAILED`` if Newton does not converge."""
    p0 = problem.param.get(problem.params)
    h, seed = fixed_point(problem.params, h0, f=problem.f, tol=settings.tol, max_newton=10 * settings.max_newton)
    u = jnp.concatenate([h, p0[None]]).astype(h.dtype)
    value, jac = value_and_jac(problem.F, u)
    return start_state(u, jnp.max(jnp.abs(value)), jac, seed == SeedStatus.CONVERGED, direction, settings,
                       lambda t: evaluate_tests(jac, t, problem.hopf))


def start_state(u, residual, jac, ok, direction, settings, tests, key=lambda t: t[-1], **extra) -> State:
    """The ``State`` of a corrected start ``u`` with the system's ``residual`` and ``jac`` there: the tangent is the
    kernel of ``jac``, oriented so ``key(t)`` has the sign of ``direction``; ``tests(t)`` its test values;
    ``start_status`` of ``ok`` (and finite ``jac`` and ``t``)."""
    t = jnp.linalg.svd(jac)[2][-1]
    t = jnp.where(key(t) * direction < 0, -t, t)
    status = start_status(ok & jnp.all(jnp.isfinite(jac)) & jnp.all(jnp.isfinite(t)), u, settings)
    g = tests(t)
    return State(u=u, t=t, ds=jnp.asarray(settings.ds, u.dtype), last_ds=jnp.zeros((), u.dtype), tests=g,
                 events=jnp.zeros(g.shape, bool), residual=residual, newton=jnp.asarray(0, jnp.int32),
                 accepted=status == BranchStatus.RUNNING, status=status, **extra)


__all__ = ["Problem", "Settings", "State", "init", "predict", "step"]
