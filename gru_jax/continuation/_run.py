"""The driver: a ``while_loop`` over ``step`` filling fixed-size, NaN-padded buffers and recording sign changes
of the test functions; afterwards one batched eigenvalue call for the stability of every row, and the location
of every recorded event. Rows and located folds / Hopf points are differentiable in the params by the implicit
function theorem, one bordered solve per row (never through the loop)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from .._linalg import classify, eigvals, n_unstable, solve
from ._branch import Branch, SpecialPoints
from ._corrector import value_and_jac
from ._locate import empty, locate
from ._palc import Problem, Settings, State, step
from ._status import SpecialKind, BranchStatus
from ._testfns import bordered


def run(problem: Problem, state: State, settings: Settings, max_points: int, max_special: int) -> Branch:
    """Iterate ``step`` from ``state`` (an ``init`` result) until the branch ends, returns to its start
    (``CLOSED_LOOP``) or fills ``max_points`` rows; locate the recorded events afterwards (at most
    ``max_special``). Pure: jit and vmap freely. Gradients flow into the rows (``h`` and ``p``: each row
    moves with the params inside its hyperplane, normal to its tangent, or at fixed ``p`` for natural
    continuation) and into the located fold and Hopf points; not into branch points."""
    frozen = problem.frozen()
    settings = jax.lax.stop_gradient(settings)
    state = jax.lax.stop_gradient(state)
    n, d1, dtype = max_points, state.u.shape[0], state.u.dtype
    rows = dict(u=jnp.full((n, d1), jnp.nan, dtype), tangent=jnp.full((n, d1), jnp.nan, dtype),
                ds=jnp.full(n, jnp.nan, dtype), residual=jnp.full(n, jnp.nan, dtype),
                newton=jnp.full(n, -1, jnp.int32), tests=jnp.full((n, 3), jnp.nan, dtype))

    def write(rows, s: State, i):
        new = dict(u=s.u, tangent=s.t, ds=s.last_ds, residual=s.residual, newton=s.newton, tests=s.tests)
        return {k: rows[k].at[i].set(jnp.where(s.accepted, new[k], rows[k][i])) for k in rows}

    rows = write(rows, state, 0)
    events = (jnp.full(max_special, -1, jnp.int32), jnp.full(max_special, -1, jnp.int32), jnp.asarray(0, jnp.int32))

    def cond(carry):
        s, _, _, i = carry
        return (s.status == BranchStatus.RUNNING) & (i < n)

    def body(carry):
        s, rows, (kind, at, detected), i = carry
        previous = s
        s = step(frozen, s, settings)
        closed = s.accepted & (i >= 3) & _passes(state.u, state.t, previous, s.u)
        s = eqx.tree_at(lambda x: x.status, s, jnp.where(closed, BranchStatus.CLOSED_LOOP, s.status).astype(jnp.int32))
        rows = write(rows, s, i)
        for k in (SpecialKind.FOLD, SpecialKind.BRANCH_POINT, SpecialKind.HOPF):
            hit = s.accepted & s.events[k]
            slot = jnp.where(hit & (detected < max_special), detected, max_special)   # out of range: dropped
            kind, at = kind.at[slot].set(k, mode="drop"), at.at[slot].set(i - 1, mode="drop")
            detected = detected + hit
        return s, rows, (kind, at, detected), i + s.accepted

    start = (state, rows, events, state.accepted.astype(jnp.int32))
    final, rows, (kind, at, detected), count = jax.lax.while_loop(cond, body, start)
    end = jnp.where(final.status == BranchStatus.RUNNING, BranchStatus.MAX_POINTS, final.status)
    first = jnp.where(state.accepted, BranchStatus.START, state.status)

    # stability of every stored point: one batched eigenvalue call after the loop
    used = jnp.arange(n) < count
    safe_u, safe_t = (jnp.where(used[:, None], rows[k], x) for k, x in (("u", state.u), ("tangent", state.t)))
    jac = jax.vmap(lambda u: value_and_jac(frozen.F, u)[1])(safe_u)
    jac_h = jac[:, :, :-1]
    ev, ev_ok = eigvals(jnp.where(used[:, None, None], jac_h, -jnp.eye(d1 - 1, dtype=dtype)))
    ev = jnp.where(ev_ok[:, None], ev, jnp.nan)
    n_unst = jnp.where(used, n_unstable(ev, settings.hyperbolic_tol), -1)
    stability = jnp.where(used, classify(ev, settings.hyperbolic_tol), -1)

    # locate the used slots one after another (lax.cond skips unused ones unless vmapped)
    valid = jnp.arange(max_special) < jnp.minimum(detected, max_special)
    a = jnp.where(valid, at, 0)

    def locate_slot(args):
        ok, k, i = args
        u_a, t_a, t_b = rows["u"][i], rows["tangent"][i], rows["tangent"][i + 1]
        u_b = jnp.where(ok, rows["u"][i + 1], u_a + 1e-3 * t_a)    # a finite stand-in for unused slots
        chord = u_b - u_a
        orient = lambda t: jnp.where(k == SpecialKind.HOPF, 1.0, jnp.sign(jnp.dot(t, chord)))
        g_a, g_b = rows["tests"][i, k] * orient(t_a), rows["tests"][i + 1, k] * orient(t_b)
        return jax.lax.cond(ok, lambda: locate(problem, settings, k, u_a, u_b, g_a, g_b),
                            lambda: empty(d1 - 1, dtype))

    found = jax.lax.map(locate_slot, (valid, jnp.where(valid, kind, 0), jnp.minimum(a, n - 2)))
    # order along the branch: several events inside one step are detected in kind order, not in branch order
    i0 = jnp.minimum(a, n - 2)
    chord = rows["u"][i0 + 1] - rows["u"][i0]
    u_found = jnp.concatenate([found["h"], found["p"][:, None]], axis=1)
    s = jnp.sum((u_found - rows["u"][i0]) * chord, axis=1) / jnp.sum(chord * chord, axis=1)
    order = jnp.argsort(jnp.where(valid, a + jnp.clip(jnp.nan_to_num(s), 0.0, 1.0), jnp.inf))
    found, a = jax.tree_util.tree_map(lambda x: x[order], found), a[order]
    mask = lambda x, fill: jnp.where(valid.reshape(valid.shape + (1,) * (x.ndim - 1)), x, fill)
    interval = jnp.stack([a, a + 1], axis=1)
    special = SpecialPoints(
        kind=mask(found["kind"], -1), p=mask(found["p"], jnp.nan), h=mask(found["h"], jnp.nan),
        interval=mask(interval, -1).astype(jnp.int32), p_interval=mask(rows["u"][interval, -1], jnp.nan),
        located=mask(found["located"], -1), residual=mask(found["residual"], jnp.nan),
        omega=mask(found["omega"], jnp.nan), l1=mask(found["l1"], jnp.nan),
        n_unstable=mask(jnp.minimum(n_unst[interval[:, 0]], n_unst[interval[:, 1]]), -1),   # the critical
        count=jnp.sum(valid).astype(jnp.int32), n_detected=detected.astype(jnp.int32))       # ones count as stable
    u = jax.vmap(lambda u, t, j: implicit_row(problem, u, t, j, settings.natural))(safe_u, safe_t, jac)
    u = jnp.where(used[:, None], u, jnp.nan)     # padding rows: finite stand-ins above keep NaN out of gradients
    return Branch(h=u[:, :-1], p=u[:, -1], tangent=rows["tangent"], ds=rows["ds"],
                  n_unstable=n_unst, stability=stability, residual=rows["residual"],
                  newton=rows["newton"], tests=rows["tests"], count=count.astype(jnp.int32),
                  status=jnp.stack([first, end]).astype(jnp.int32), special=special)


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


def _passes(u0, t0, previous: State, u1) -> jax.Array:
    """Whether the chord from ``previous.u`` to ``u1`` passes the start point ``u0`` in the start direction."""
    chord = u1 - previous.u
    s = jnp.dot(u0 - previous.u, chord) / jnp.dot(chord, chord)
    gap = jnp.linalg.norm(u0 - previous.u - jnp.clip(s, 0.0, 1.0) * chord)
    return (s >= 0) & (s < 1) & (gap <= 0.1 * jnp.linalg.norm(chord)) & (jnp.dot(previous.t, t0) > 0.5)
