"""Equilibrium branches from the core driver; afterwards one batched eigenvalue call for the stability of every row, and
the location of every recorded sign change of a test function. Rows and located folds / Hopf points are differentiable
in the params by the implicit function theorem, one bordered solve per row (never through the loop)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .._linalg import classify, eigvals, n_unstable, solve
from ..core._driver import locate_slots, run as drive
from ..core._newton import bordered, value_and_jac
from ..core._status import BranchStatus, SpecialKind
from ._branch import Branch, SpecialPoints
from ._locate import empty, locate
from ._palc import Problem, Settings, State


def run(problem: Problem, state: State, settings: Settings, max_points: int, max_special: int) -> Branch:
    """Drive ``step`` from ``state`` (an ``init`` result) until the branch ends, returns to its start (``CLOSED_LOOP``)
    or fills ``max_points`` rows; then locate the recorded events (at most ``max_special``). Pure: jit and vmap freely.
    Gradients flow into the rows (each moves with the params inside its hyperplane, normal to its tangent, or at fixed
    ``p`` for natural continuation) and into the located fold and Hopf points; not into branch points."""
    frozen = problem.frozen()
    settings, state = jax.lax.stop_gradient(settings), jax.lax.stop_gradient(state)
    n, d1, dtype = max_points, state.u.shape[0], state.u.dtype
    result = drive(frozen, state, settings, max_points, max_special)
    rows, count, end = result.rows, result.count, result.end
    first = jnp.where(state.accepted, BranchStatus.START, state.status)

    # stability of every stored point: one batched eigenvalue call after the loop
    used = jnp.arange(n) < count
    safe_u, safe_t = (jnp.where(used[:, None], rows[k], x) for k, x in (("u", state.u), ("tangent", state.t)))
    jac = jax.vmap(lambda u: value_and_jac(frozen.F, u)[1])(safe_u)
    ev, ev_ok = eigvals(jnp.where(used[:, None, None], jac[:, :, :-1], -jnp.eye(d1 - 1, dtype=dtype)))
    ev = jnp.where(ev_ok[:, None], ev, jnp.nan)
    n_unst = jnp.where(used, n_unstable(ev, settings.hyperbolic_tol), -1)
    stability = jnp.where(used, classify(ev, settings.hyperbolic_tol), -1)

    def locate_event(ok, k, i):
        u_a, t_a, t_b = rows["u"][i], rows["tangent"][i], rows["tangent"][i + 1]
        u_b = jnp.where(ok, rows["u"][i + 1], u_a + 1e-3 * t_a)    # a finite stand-in for unused slots
        chord = u_b - u_a
        orient = lambda t: jnp.where(k == SpecialKind.HOPF, 1.0, jnp.sign(jnp.dot(t, chord)))
        g_a, g_b = rows["tests"][i, k] * orient(t_a), rows["tests"][i + 1, k] * orient(t_b)
        return locate(problem, settings, k, u_a, u_b, g_a, g_b)

    valid, found, i0 = locate_slots(result, n, locate_event, empty(d1 - 1, dtype))
    # order along the branch: several events inside one step are detected in kind order, not in branch order
    chord = rows["u"][i0 + 1] - rows["u"][i0]
    u_found = jnp.concatenate([found["h"], found["p"][:, None]], axis=1)
    s = jnp.sum((u_found - rows["u"][i0]) * chord, axis=1) / jnp.sum(chord * chord, axis=1)
    order = jnp.argsort(jnp.where(valid, i0 + jnp.clip(jnp.nan_to_num(s), 0.0, 1.0), jnp.inf))
    found, a, valid = jax.tree_util.tree_map(lambda x: x[order], found), i0[order], valid[order]
    mask = lambda x, fill: jnp.where(valid.reshape(valid.shape + (1,) * (x.ndim - 1)), x, fill)
    interval = jnp.stack([a, a + 1], axis=1)
    special = SpecialPoints(
        **found, interval=mask(interval, -1).astype(jnp.int32), p_interval=mask(rows["u"][interval, -1], jnp.nan),
        n_unstable=mask(jnp.minimum(n_unst[interval[:, 0]], n_unst[interval[:, 1]]), -1),   # the critical
        count=jnp.sum(valid).astype(jnp.int32), n_detected=result.detected)                  # ones count as stable
    u = jax.vmap(lambda u, t, j: implicit_row(problem, u, t, j, settings.natural))(safe_u, safe_t, jac)
    u = jnp.where(used[:, None], u, jnp.nan)     # padding rows: finite stand-ins above keep NaN out of gradients
    return Branch(h=u[:, :-1], p=u[:, -1], tangent=rows["tangent"], ds=rows["ds"], n_unstable=n_unst,
                  stability=stability, residual=rows["residual"], newton=rows["newton"], tests=rows["tests"],
                  count=count, status=jnp.stack([first, end]).astype(jnp.int32), special=special)


def implicit_row(problem: Problem, u, t, jac, natural) -> jax.Array:
    """``u`` (d+1,) unchanged in value, with the implicit-function derivative in ``problem.params`` of the root of
    ``[F(v); n·(v - u)] = 0``, ``n`` the tangent ``t`` (or ``e_p`` when ``natural``); ``jac`` the (d, d+1)
    Jacobian of ``F`` at ``u``. A singular system gets no derivative."""
    u = jax.lax.stop_gradient(u)
    normal = jnp.where(natural, jnp.zeros_like(u).at[-1].set(1.0), jax.lax.stop_gradient(t))
    m = jax.lax.stop_gradient(bordered(jac, normal))
    du = solve(m, jnp.append(problem.F(u), 0.0))
    du = jnp.where(jnp.all(jnp.isfinite(du)), du, 0.0)
    return u - (du - jax.lax.stop_gradient(du))
