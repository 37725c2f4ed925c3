"""Fold and Hopf curves of equilibria in two parameters as a problem of the core: the minimally augmented system, its
test functions for codimension-two points and their location.

A point is ``u = (h, p, p2)`` (d+2,); the curve is the zero set of ``G(u) = (f(h, params(p, p2)), g(u))`` (d+1,), ``g``
the last entry of the solution of ``[[M, b], [c^T, 0]] [v; g] = e`` with ``M = f_h`` (fold) or ``M = 2 f_h ⊙ I``
(Hopf; it also holds neutral saddles). The borders are replaced by the normalised null vectors ``(ŵ, v̂)`` of ``M`` at
every accepted point, so they never degenerate and ``v`` (``c·v = 1``), ``w`` (``b·w = 1``) keep their orientation.

Tests (2,): fold curves ``w·v`` (zero at Bogdanov-Takens points) and ``a = w·B(v, v)/2`` (zero at cusps); Hopf curves
``κ = ω²``, the determinant of ``f_h`` on the critical pair's plane (zero at Bogdanov-Takens points; ``κ < 0``: the
neutral-saddle part), and ``l1`` (zero at generalized Hopf points; NaN where ``κ <= 0``).
"""

from __future__ import annotations

from typing import Any, Callable

import equinox as eqx
import jax
import jax.numpy as jnp

from ..core._driver import locate_slots, run as drive
from ..core._newton import newton, value_and_jac
from ..core._status import BranchStatus, Codim2Kind
from ..core._step import ContinuationProblem, State, events_between
from ..equilibria._palc import start_state
from ..equilibria._locate import bracket_on, empty, null_vectors
from ..equilibria._lyapunov import derivative, hopf_point
from ..core._param import Param
from ..equilibria._testfns import bialternate
#: ``Codim2Kind`` of a sign change of test 0 and test 1, on fold and on Hopf curves
EVENTS = {False: (Codim2Kind.BOGDANOV_TAKENS, Codim2Kind.CUSP),
          True: (Codim2Kind.BOGDANOV_TAKENS, Codim2Kind.GENERALIZED_HOPF)}


class CurveProblem(ContinuationProblem):
    """Fold (``hopf=False``) or Hopf curve of ``f(h, params)`` in ``param`` and ``param2``; ``f``, the params
    lenses and ``hopf`` are static (reuse the same objects to reuse compiles). A point's ``extra`` is
    ``(border, kappa)``: the borders ``(b, c)`` for the next step and ``κ`` (NaN on fold curves)."""

    f: Callable = eqx.field(static=True)
    params: Any
    param: Param = eqx.field(static=True)
    param2: Param = eqx.field(static=True)
    hopf: bool = eqx.field(static=True)
    observe_start: bool = eqx.field(static=True, default=True, kw_only=True)   # the start's tests in the loop

    def at(self, p, p2) -> Any:
        """The params with the two continued entries set to ``p`` and ``p2``."""
        return self.param2.set(self.param.set(self.params, p), p2)

    def field(self, u: jax.Array) -> Callable:
        """``h -> f(h, params(p, p2))`` at the parameters of ``u`` (d+2,)."""
        params = self.at(u[-2], u[-1])
        return lambda h: self.f(h, params)

    def F(self, u: jax.Array) -> jax.Array:
        """The equilibrium condition (d,) at ``u = (h, p, p2)``."""
        return self.field(u)(u[:-2])

    def matrix(self, u: jax.Array) -> jax.Array:
        """``(f_h, M)``: the Jacobian (d, d) and the singularity matrix ``f_h`` or ``2 f_h ⊙ I`` at ``u``."""
        a = jax.jacfwd(self.field(u))(u[:-2])
        return a, (bialternate(a) if self.hopf else a)

    def context(self, state: State):
        return state.extra[0]

    def system(self, u: jax.Array, border):
        return (*value_and_jac(augmented(self, border), u), jnp.asarray(True))

    def residual(self, value) -> jax.Array:
        return jnp.max(jnp.abs(value[:-1]))

    def observe(self, before: State, after: State, value, jac, border, settings) -> State:
        """The tests (2,), ``κ`` and new borders at the new point; non-finite borders reject it (``NONFINITE``)."""
        tests, kappa, new_border = evaluate(self, after.u, border)
        good = jnp.all(jnp.isfinite(new_border[0])) & jnp.all(jnp.isfinite(new_border[1]))
        accepted = after.accepted & good
        keep = lambda a, b: jax.tree_util.tree_map(lambda x, y: jnp.where(accepted, x, y), a, b)
        return eqx.tree_at(lambda x: (x.extra, x.tests, x.events, x.accepted, x.status), after,
                           (keep((new_border, kappa), after.extra), keep(tests, after.tests),
                            events_between(before, tests, accepted), accepted,
                            jnp.where(after.accepted & ~good, BranchStatus.NONFINITE, after.status).astype(jnp.int32)))

    def row(self, s: State) -> dict:
        return dict(u=s.u, tests=s.tests, kappa=s.extra[1], residual=s.residual, border=jnp.stack(s.extra[0]))


class CurveSettings(eqx.Module):
    """Step sizes, window ``[lo, hi]`` (2,) for ``(p, p2)``, tolerances: array leaves (no recompiles)."""

    ds: jax.Array = eqx.field(converter=jnp.asarray)
    ds_min: jax.Array = eqx.field(converter=jnp.asarray)
    ds_max: jax.Array = eqx.field(converter=jnp.asarray)
    lo: jax.Array = eqx.field(converter=jnp.asarray)
    hi: jax.Array = eqx.field(converter=jnp.asarray)
    tol: jax.Array = eqx.field(converter=jnp.asarray)
    max_newton: jax.Array = eqx.field(converter=jnp.asarray)
    grow: jax.Array = eqx.field(converter=jnp.asarray)

    def bounds(self) -> tuple[jax.Array, jax.Array]:
        return self.lo, self.hi


def augmented(problem: CurveProblem, border) -> Callable:
    """``G(u) = (f, g)`` (d+1,) of ``u`` (d+2,) for fixed borders."""
    def G(u):
        return jnp.append(problem.F(u), null_vectors(problem.matrix(u)[1], border)[2])
    return G


def evaluate(problem: CurveProblem, u: jax.Array, border):
    """Test values (2,), ``κ`` (NaN on fold curves) and the updated borders ``(ŵ, v̂)`` at ``u``."""
    a, m = problem.matrix(u)
    v, w, _ = null_vectors(m, border)
    new_border = (w / jnp.linalg.norm(w), v / jnp.linalg.norm(v))
    if not problem.hopf:
        cusp = 0.5 * jnp.dot(w, derivative(problem.field(u), u[:-2], v, v))
        return jnp.stack([jnp.dot(w, v), cusp]), jnp.full((), jnp.nan, u.dtype), new_border
    kappa, _, l1 = hopf_point(problem.field(u), u[:-2], a)
    return jnp.stack([kappa, l1]), kappa, new_border


def init(problem: CurveProblem, h0, p0, settings: CurveSettings, direction) -> State:
    """Newton on ``G`` from ``(h0, p0, p2)`` at fixed ``p2 = param2.get(params)``; the tangent's ``p2`` (or, where that
    vanishes, ``p``) component has the sign of ``direction``. The driver's first pass fills in tests and borders."""
    u0 = jnp.concatenate([h0, jnp.stack([p0, problem.param2.get(problem.params)])]).astype(h0.dtype)
    left, _, right = jnp.linalg.svd(problem.matrix(u0)[1])      # borders: the smallest singular value's vectors
    border = (left[:, -1], right[-1])
    e_p2 = jnp.zeros_like(u0).at[-1].set(1.0)
    u, converged = newton(lambda v: problem.system(v, border), u0, settings.tol, 10 * settings.max_newton,
                          border=(e_p2, u0))[:2]
    value, jac = value_and_jac(augmented(problem, border), u)
    nan = jnp.full((), jnp.nan, u.dtype)
    return start_state(u, problem.residual(value), jac, converged, direction, settings, lambda t: jnp.stack([nan, nan]),
                       key=lambda t: jnp.where(jnp.abs(t[-1]) > 1e-6, t[-1], t[-2]), extra=(border, nan))


def locate(problem: CurveProblem, settings: CurveSettings, which, u_a, u_b, border, g_a, g_b) -> dict:
    """The fields of one ``Codim2Points`` slot: the sign change of test ``which`` (0 or 1) between consecutive points
    ``u_a``, ``u_b`` (d+2,) (test values ``g_a``, ``g_b``) bracketed on the curve with the borders stored at ``u_a``."""
    def probe(v, _):
        g = evaluate(problem, v, border)[0][which]
        return g, jnp.isfinite(g)
    u, located = bracket_on(augmented(problem, border), probe, u_a, u_b, g_a, g_b, settings)
    d = u.shape[0] - 2
    return dict(kind=jnp.asarray(EVENTS[problem.hopf], jnp.int32)[which], h=u[:d], p=u[d], p2=u[d + 1],
                located=located.astype(jnp.int32), residual=jnp.max(jnp.abs(problem.F(u))))


def run(problem: CurveProblem, state: State, settings: CurveSettings, max_points: int, max_special: int) -> dict:
    """Drive the curve until it ends, closes (``CLOSED_LOOP``) or fills ``max_points`` rows; then locate the first
    ``max_special`` detected codim-2 points. Returns the row buffers and the slot fields."""
    problem = eqx.tree_at(lambda q: q.params, problem, jax.lax.stop_gradient(problem.params))
    settings, state = jax.lax.stop_gradient(settings), jax.lax.stop_gradient(state)
    n, d, dtype = max_points, state.u.shape[0] - 2, state.u.dtype
    result = drive(problem, state, settings, max_points, max_special)
    rows, count, end = result.rows, result.count, result.end
    first = jnp.where(count > 0, BranchStatus.START, end)

    unused = {k: v for k, v in empty(d, dtype).items() if k not in ("omega", "l1")} | {"p2": empty(d, dtype)["p"]}

    def locate_event(ok, k, i):
        return locate(problem, settings, k, rows["u"][i], rows["u"][i + 1], tuple(rows["border"][i]),
                      rows["tests"][i, k], rows["tests"][i + 1, k])

    valid, special, _ = locate_slots(result, n, locate_event, unused)
    special.update(count=jnp.sum(valid).astype(jnp.int32), n_detected=result.detected)
    return dict(h=rows["u"][:, :d], p=rows["u"][:, d], p2=rows["u"][:, d + 1], kappa=rows["kappa"],
                tests=rows["tests"], residual=rows["residual"], count=count,
                status=jnp.stack([first, end]).astype(jnp.int32), special=special)
