"""Fold and Hopf curves of equilibria in two parameters as pure functions: the minimally augmented system,
its test functions for codimension-two points, one PALC step, the jitted driver and the location of the
detected points.

A point on the curve is ``u = (h, p, p2)`` (d+2,). The curve is the zero set of ``G(u) = (f(h, params(p, p2)),
g(u))`` (d+1,), ``g`` the last entry of the solution of the bordered system ``[[M, b], [c^T, 0]] [v; g] = e``
with ``M = f_h`` (fold curve) or ``M = 2 f_h ⊙ I`` (Hopf curve; it also holds neutral saddles). The borders are
replaced by the normalised null vectors ``(ŵ, v̂)`` of ``M`` at every accepted point, so they never degenerate
and the null vectors ``v`` (``c·v = 1``) and ``w`` (``b·w = 1``) keep their orientation along the curve.

Test functions (``tests`` (2,)): on fold curves ``w·v`` (zero at Bogdanov-Takens points, where the null
vectors become orthogonal) and the normal-form coefficient ``a = w·B(v, v)/2`` (zero at cusps); on Hopf
curves ``κ = ω²``, the determinant of ``f_h`` on the critical eigenvalue pair's plane (zero at
Bogdanov-Takens points; ``κ < 0`` is the neutral-saddle part), and the first Lyapunov coefficient ``l1``
(zero at generalized Hopf points; NaN where ``κ <= 0``).
"""

from __future__ import annotations

from typing import Any, Callable

import equinox as eqx
import jax
import jax.numpy as jnp

from .._linalg import solve
from ._corrector import correct, value_and_jac
from ._locate import bracket_on
from ._lyapunov import derivative, hopf_point
from ._param import Param
from ._run import _passes
from ._status import BranchStatus, Codim2Kind
from ._testfns import bialternate, crossed, tangent

MAX_ATTEMPTS = 64        # safety cap on corrector attempts per step (ds halves each time)
#: ``Codim2Kind`` of a sign change of test 0 and test 1, on fold and on Hopf curves
EVENTS = {False: (Codim2Kind.BOGDANOV_TAKENS, Codim2Kind.CUSP),
          True: (Codim2Kind.BOGDANOV_TAKENS, Codim2Kind.GENERALIZED_HOPF)}


def _array(x):
    return jnp.asarray(x)


class CurveProblem(eqx.Module):
    """Fold (``hopf=False``) or Hopf curve of ``f(h, params)`` in ``param`` and ``param2``; ``f``, the params
    lenses and ``hopf`` are static (reuse the same objects to reuse compiles)."""

    f: Callable = eqx.field(static=True)
    params: Any
    param: Param = eqx.field(static=True)
    param2: Param = eqx.field(static=True)
    hopf: bool = eqx.field(static=True)

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


class CurveSettings(eqx.Module):
    """Step sizes, window ``[lo, hi]`` (2,) for ``(p, p2)``, tolerances: array leaves (no recompiles)."""

    ds: jax.Array = eqx.field(converter=_array)
    ds_min: jax.Array = eqx.field(converter=_array)
    ds_max: jax.Array = eqx.field(converter=_array)
    lo: jax.Array = eqx.field(converter=_array)
    hi: jax.Array = eqx.field(converter=_array)
    tol: jax.Array = eqx.field(converter=_array)
    max_newton: jax.Array = eqx.field(converter=_array)
    grow: jax.Array = eqx.field(converter=_array)


def null_vectors(m: jax.Array, border) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(v, w, g)`` from ``[[M, b], [c^T, 0]] [v; g] = e`` and its transpose ``[[M^T, c], [b^T, 0]] [w; g] = e``:
    ``M v = -g b``, ``c·v = 1``, ``w^T M = -g c^T``, ``b·w = 1``; ``g = 0`` exactly when ``M`` is singular."""
    b, c = border
    k = m.shape[0]
    e = jnp.zeros(k + 1, m.dtype).at[-1].set(1.0)
    big = jnp.concatenate([jnp.concatenate([m, b[:, None]], axis=1), jnp.append(c, 0.0)[None]], axis=0)
    x, y = solve(big, e), solve(big.T, e)
    return x[:k], y[:k], x[k]


def svd_border(problem: CurveProblem, u: jax.Array):
    """Borders ``(b, c)`` from the singular vectors of the smallest singular value of ``M`` at ``u``."""
    left, _, right = jnp.linalg.svd(problem.matrix(u)[1])
    return left[:, -1], right[-1]


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


class CurveState(eqx.Module):
    """The last accepted point: ``u`` (d+2,), unit tangent ``t``, next step ``ds``, ``border`` (b, c) for the
    next step, ``tests`` (2,) and ``kappa`` at ``u``, ``events`` (2,) sign changes on the last step,
    ``residual`` ``max|f|``, ``accepted`` whether the last step added ``u``, ``status`` a ``BranchStatus``."""

    u: jax.Array
    t: jax.Array
    ds: jax.Array
    border: tuple
    tests: jax.Array
    kappa: jax.Array
    events: jax.Array
    residual: jax.Array
    accepted: jax.Array
    status: jax.Array


def _inside(u, settings) -> jax.Array:
    return jnp.all((u[-2:] >= settings.lo) & (u[-2:] <= settings.hi))


def init(problem: CurveProblem, h0, p0, settings: CurveSettings, direction) -> CurveState:
    """Newton on ``G`` from ``(h0, p0, p2)`` at fixed ``p2 = param2.get(params)``; tangent oriented so its ``p2``
    component (its ``p`` component where that one vanishes) has the sign of ``direction``. The test values and
    borders of the start point are filled in by the driver's first ``advance``."""
    p2 = problem.param2.get(problem.params)
    u0 = jnp.concatenate([h0, jnp.stack([p0, p2])]).astype(h0.dtype)
    border = svd_border(problem, u0)
    G = augmented(problem, border)
    e_p2 = jnp.zeros_like(u0).at[-1].set(1.0)
    u, converged, _, _ = correct(G, u0, e_p2, jnp.inf, settings.tol, 10 * settings.max_newton)
    value, jac = value_and_jac(G, u)
    t = jnp.linalg.svd(jac)[2][-1]
    key = jnp.where(jnp.abs(t[-1]) > 1e-6, t[-1], t[-2])
    t = jnp.where(key * direction < 0, -t, t)
    ok = converged & jnp.all(jnp.isfinite(jac)) & jnp.all(jnp.isfinite(t))
    inside = _inside(u, settings)
    status = jnp.where(ok & inside, BranchStatus.RUNNING, jnp.where(ok, BranchStatus.LEFT_WINDOW,
                                                                      BranchStatus.START_FAILED))
    nan = jnp.full((), jnp.nan, u.dtype)
    return CurveState(u=u, t=t, ds=jnp.asarray(settings.ds, u.dtype), border=border, tests=jnp.stack([nan, nan]),
                      kappa=nan, events=jnp.zeros(2, bool), residual=jnp.max(jnp.abs(value[:-1])),
                      accepted=ok & inside, status=status.astype(jnp.int32))


def _exit(u, end, settings):
    """Where the segment ``u → end`` first leaves the window: ``(index into u or -1, fraction, edge value)``."""
    x0, x1 = u[-2:], end[-2:]
    span = jnp.where(x1 != x0, x1 - x0, 1.0)
    frac = jnp.stack([jnp.where(x1 > settings.hi, (settings.hi - x0) / span, jnp.inf),
                      jnp.where(x1 < settings.lo, (settings.lo - x0) / span, jnp.inf)])     # (2 sides, 2 params)
    k = jnp.argmin(jnp.min(frac, axis=0))
    side = jnp.argmin(frac[:, k])
    first = frac[side, k]
    edge = jnp.where(side == 0, settings.hi, settings.lo)[k]
    return jnp.where(jnp.isfinite(first), u.shape[0] - 2 + k, -1), jnp.clip(first, 0.0, 1.0), edge


def step(problem: CurveProblem, state: CurveState, settings: CurveSettings) -> CurveState:
    """One accepted point of the curve (or its end): PALC predictor, corrector on ``G`` with the state's
    borders, ``ds`` halved on failure. A step that would leave the window lands on its edge (that parameter
    fixed by the corrector) and ends the curve with ``LEFT_WINDOW``. Finished states come back unchanged. The
    test values, events and borders are those of the old point: ``advance`` updates them."""
    s, u, t = settings, state.u, state.t
    G = augmented(problem, state.border)
    running = state.status == BranchStatus.RUNNING

    def attempt(carry):
        ds, land, toward, *_, k = carry
        pred = u + ds * t
        index, frac, edge = _exit(u, jnp.where(land, toward, pred), s)
        landing = index >= 0
        row = jnp.where(landing, jnp.zeros_like(u).at[index].set(1.0), t)
        target = jnp.where(landing, u + frac * (jnp.where(land, toward, pred) - u), pred)
        target = jnp.where(landing, target.at[index].set(edge), target)
        cap = jnp.linalg.norm(pred - u)
        v, converged, iters, finite = correct(G, target, row, cap, s.tol, s.max_newton)
        value, jac = value_and_jac(G, v)
        t_new = tangent(jac, t)
        finite = finite & jnp.all(jnp.isfinite(jac)) & jnp.all(jnp.isfinite(t_new))
        converged = converged & finite & (jnp.linalg.norm(v - target) <= cap + s.tol)
        overshoot = converged & ~landing & ~_inside(v, s)
        ok = converged & ~overshoot
        ds = jnp.where(converged, ds, 0.5 * ds)
        return ds, overshoot, v, ok, landing, value, t_new, iters, finite, k + 1

    def cond(carry):
        ds, ok, k = carry[0], carry[3], carry[-1]
        return running & ~ok & (ds >= s.ds_min) & (k < MAX_ATTEMPTS)

    n1 = u.shape[0] - 1
    start = (state.ds, jnp.asarray(False), u, jnp.asarray(False), jnp.asarray(False), jnp.zeros(n1, u.dtype), t,
             jnp.asarray(0, jnp.int32), jnp.asarray(True), jnp.asarray(0))
    ds, _, v, ok, landing, value, t_new, iters, finite, _ = jax.lax.while_loop(cond, attempt, start)

    ds_next = jnp.where(iters <= s.max_newton // 2, jnp.minimum(ds * s.grow, s.ds_max), ds)
    status = jnp.where(ok, jnp.where(landing, BranchStatus.LEFT_WINDOW, BranchStatus.RUNNING),
                       jnp.where(finite, BranchStatus.STEP_TOO_SMALL, BranchStatus.NONFINITE))
    new = eqx.tree_at(lambda x: (x.u, x.t, x.ds, x.residual, x.accepted, x.status), state,
                      (v, t_new, ds_next, jnp.max(jnp.abs(value[:-1])), ok, status.astype(jnp.int32)))
    failed = eqx.tree_at(lambda x: (x.accepted, x.status, x.events, x.ds), state,
                         (jnp.asarray(False), jnp.where(running, new.status, state.status), jnp.zeros(2, bool), ds))
    return jax.tree_util.tree_map(lambda a, b: jnp.where(ok & running, a, b), new, failed)


def advance(problem: CurveProblem, state: CurveState, settings: CurveSettings, first) -> CurveState:
    """``step`` (or, when ``first``, the start point itself), then its test values, events and new borders: the
    one place the test functions are traced in the loop. Non-finite borders reject the point (``NONFINITE``,
    or ``START_FAILED`` for the start)."""
    new = jax.lax.cond(first, lambda: state, lambda: step(problem, state, settings))
    tests, kappa, border = evaluate(problem, new.u, new.border)
    good = jnp.all(jnp.isfinite(border[0])) & jnp.all(jnp.isfinite(border[1]))
    accepted = new.accepted & good
    failed = jnp.where(first, BranchStatus.START_FAILED, BranchStatus.NONFINITE)
    events = crossed(state.tests, tests) & accepted & ~first
    return eqx.tree_at(lambda x: (x.border, x.tests, x.kappa, x.events, x.accepted, x.status), new,
                       (jax.tree_util.tree_map(lambda a, b: jnp.where(accepted, a, b), border, new.border),
                        jnp.where(accepted, tests, new.tests), jnp.where(accepted, kappa, new.kappa), events,
                        accepted, jnp.where(new.accepted & ~good, failed, new.status).astype(jnp.int32)))


def locate(problem: CurveProblem, settings: CurveSettings, which, u_a, u_b, border, g_a, g_b) -> dict:
    """Locate the sign change of test ``which`` (0 or 1) between consecutive curve points ``u_a``, ``u_b``
    (d+2,) with test values ``g_a``, ``g_b``, by bracketing on the curve with the borders stored at ``u_a``.
    Returns the fields of one ``Codim2Points`` slot."""
    def probe(v, _):
        g = evaluate(problem, v, border)[0][which]
        return g, jnp.isfinite(g)
    u, located = bracket_on(augmented(problem, border), probe, u_a, u_b, g_a, g_b, settings)
    d = u.shape[0] - 2
    return dict(kind=jnp.asarray(EVENTS[problem.hopf], jnp.int32)[which], h=u[:d], p=u[d], p2=u[d + 1],
                located=located.astype(jnp.int32), residual=jnp.max(jnp.abs(problem.F(u))))


def run(problem: CurveProblem, state: CurveState, settings: CurveSettings, max_points: int,
        max_special: int) -> dict:
    """Iterate ``advance`` until the curve ends, closes (``CLOSED_LOOP``) or fills ``max_points`` rows; then
    locate the first ``max_special`` detected codim-2 points. Returns the row buffers and the slot fields."""
    problem = CurveProblem(problem.f, jax.lax.stop_gradient(problem.params), problem.param, problem.param2,
                           problem.hopf)
    settings, state = jax.lax.stop_gradient(settings), jax.lax.stop_gradient(state)
    n, n2, dtype = max_points, state.u.shape[0], state.u.dtype
    m = state.border[0].shape[0]
    rows = dict(u=jnp.full((n, n2), jnp.nan, dtype), tests=jnp.full((n, 2), jnp.nan, dtype),
                kappa=jnp.full(n, jnp.nan, dtype), residual=jnp.full(n, jnp.nan, dtype),
                border=jnp.full((n, 2, m), jnp.nan, dtype))

    def write(rows, s: CurveState, i):
        new = dict(u=s.u, tests=s.tests, kappa=s.kappa, residual=s.residual, border=jnp.stack(s.border))
        return {k: rows[k].at[i].set(jnp.where(s.accepted, new[k], rows[k][i])) for k in rows}

    def cond(carry):
        s, _, _, i, first = carry
        return first | ((s.status == BranchStatus.RUNNING) & (i < n))

    def body(carry):
        s, rows, (which, at, detected), i, first = carry
        previous = s
        s = advance(problem, s, settings, first)
        closed = s.accepted & (i >= 3) & _passes(state.u, state.t, previous, s.u)
        s = eqx.tree_at(lambda x: x.status, s, jnp.where(closed, BranchStatus.CLOSED_LOOP, s.status).astype(jnp.int32))
        rows = write(rows, s, i)
        for k in (0, 1):
            hit = s.accepted & s.events[k]
            slot = jnp.where(hit & (detected < max_special), detected, max_special)      # out of range: dropped
            which, at = which.at[slot].set(k, mode="drop"), at.at[slot].set(i - 1, mode="drop")
            detected = detected + hit
        return s, rows, (which, at, detected), i + s.accepted, jnp.asarray(False)

    events = (jnp.zeros(max_special, jnp.int32), jnp.zeros(max_special, jnp.int32), jnp.asarray(0, jnp.int32))
    start = (state, rows, events, jnp.asarray(0, jnp.int32), jnp.asarray(True))
    final, rows, (which, at, detected), count, _ = jax.lax.while_loop(cond, body, start)
    end = jnp.where(final.status == BranchStatus.RUNNING, BranchStatus.MAX_POINTS, final.status)
    first = jnp.where(count > 0, BranchStatus.START, end)

    valid = jnp.arange(max_special) < jnp.minimum(detected, max_special)
    d = n2 - 2
    empty = dict(kind=jnp.asarray(-1, jnp.int32), h=jnp.full(d, jnp.nan, dtype), p=jnp.full((), jnp.nan, dtype),
                 p2=jnp.full((), jnp.nan, dtype), located=jnp.asarray(-1, jnp.int32),
                 residual=jnp.full((), jnp.nan, dtype))

    def locate_slot(args):
        ok, k, i = args
        b, c = rows["border"][i]
        g_a, g_b = rows["tests"][i, k], rows["tests"][i + 1, k]
        return jax.lax.cond(ok, lambda: locate(problem, settings, k, rows["u"][i], rows["u"][i + 1], (b, c), g_a, g_b),
                            lambda: empty)

    found = jax.lax.map(locate_slot, (valid, which, jnp.clip(at, 0, n - 2)))
    special = {k: jnp.where(valid.reshape(valid.shape + (1,) * (v.ndim - 1)), v, empty[k]) for k, v in found.items()}
    special.update(count=jnp.sum(valid).astype(jnp.int32), n_detected=detected.astype(jnp.int32))
    return dict(h=rows["u"][:, :d], p=rows["u"][:, d], p2=rows["u"][:, d + 1], kappa=rows["kappa"],
                tests=rows["tests"], residual=rows["residual"], count=count.astype(jnp.int32),
                status=jnp.stack([first, end]).astype(jnp.int32), special=special)

