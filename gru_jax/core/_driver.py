"""The one driver: a jitted ``while_loop`` over ``step`` that fills fixed-size, NaN-padded row buffers, records the sign
changes of the test functions in fixed-size event slots, and notices a curve that closes; then ``locate_slots`` maps a
problem's locator over the recorded events. Pure: jit and vmap freely."""

from __future__ import annotations

from typing import Callable, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from ._newton import blank
from ._status import BranchStatus
from ._step import ContinuationProblem, State, conclude, move, step


class Run(NamedTuple):
    """What ``run`` returns: the ``final`` state, the ``rows`` (dict of (max_points, ...) buffers, NaN or -1 beyond
    ``count``), the recorded events ``kind`` and ``at`` (max_special,) (event ``j`` lies between rows ``at[j]`` and
    ``at[j] + 1``; -1 padding) and ``detected`` (how many there were, also beyond the slots)."""

    final: State
    rows: dict
    count: jax.Array
    kind: jax.Array
    at: jax.Array
    detected: jax.Array

    @property
    def end(self) -> jax.Array:
        """The final status, ``MAX_POINTS`` where the rows ran out while the curve was still running."""
        status = self.final.status
        return jnp.where(status == BranchStatus.RUNNING, BranchStatus.MAX_POINTS, status).astype(jnp.int32)


def run(problem: ContinuationProblem, state: State, settings, max_points: int, max_special: int) -> Run:
    """Iterate ``step`` from ``state`` (a problem's ``init``) until the curve ends, comes back to its start
    (``CLOSED_LOOP``, if ``closes``) or fills ``max_points`` rows (start observed first if ``observe_start``)."""
    rows = {k: jnp.full((max_points,) + x.shape, jnp.nan if jnp.issubdtype(x.dtype, jnp.inexact) else -1, x.dtype)
            for k, x in jax.eval_shape(problem.row, state).items()}

    def write(rows, s: State, i):
        new = problem.row(s)
        return {k: rows[k].at[i].set(jnp.where(s.accepted, new[k], rows[k][i])) for k in rows}

    def advance(s: State, first) -> State:
        if not problem.observe_start:
            return step(problem, s, settings)

        def start():       # the start point itself; it has no corrector evaluation (NaN value and Jacobian)
            return s, *blank(s.u, True, jnp.nan), problem.context(s)
        moved, value, jac, context = jax.lax.cond(first, start, lambda: move(problem, s, settings))
        observed = problem.observe(s, moved, value, jac, context, settings)
        rejected = first & s.accepted & ~observed.accepted       # a start the problem cannot observe
        observed = eqx.tree_at(lambda x: (x.events, x.status), observed,
                               (observed.events & ~first, jnp.where(rejected, BranchStatus.START_FAILED,
                                                                    observed.status).astype(jnp.int32)))
        return jax.lax.cond(first, lambda: observed, lambda: conclude(s, observed))

    def cond(carry):
        s, _, _, i, first = carry
        return first | ((s.status == BranchStatus.RUNNING) & (i < max_points))

    def body(carry):
        s, rows, (kind, at, detected), i, first = carry
        previous = s
        s = advance(s, first)
        if problem.closes:
            closed = s.accepted & (i >= 3) & _passes(state.u, state.t, previous, s.u)
            s = eqx.tree_at(lambda x: x.status, s,
                            jnp.where(closed, BranchStatus.CLOSED_LOOP, s.status).astype(jnp.int32))
        rows = write(rows, s, i)
        for k in range(s.events.shape[0]):
            hit = s.accepted & s.events[k]
            slot = jnp.where(hit & (detected < max_special), detected, max_special)   # out of range: dropped
            kind, at = kind.at[slot].set(k, mode="drop"), at.at[slot].set(i - 1, mode="drop")
            detected = detected + hit
        return s, rows, (kind, at, detected), i + s.accepted, jnp.asarray(False)

    events = (jnp.full(max_special, -1, jnp.int32), jnp.full(max_special, -1, jnp.int32), jnp.asarray(0, jnp.int32))
    if problem.observe_start:
        start = (state, rows, events, jnp.asarray(0, jnp.int32), jnp.asarray(True))
    else:
        start = (state, write(rows, state, 0), events, state.accepted.astype(jnp.int32), jnp.asarray(False))
    final, rows, (kind, at, detected), count, _ = jax.lax.while_loop(cond, body, start)
    return Run(final, rows, count.astype(jnp.int32), kind, at, detected.astype(jnp.int32))


def locate_slots(result: Run, max_points: int, locate: Callable, empty) -> tuple[jax.Array, dict, jax.Array]:
    """``locate(ok, kind, i)`` for every used event slot (the event lies between rows ``i`` and ``i + 1``), one after
    another (``lax.cond`` skips unused slots unless vmapped: then ``ok`` is False and the locator should keep its inputs
    finite). Returns ``(valid (max_special,), found, i)``: used slots, fields (``empty`` if unused), clipped rows."""
    max_special = result.kind.shape[0]
    valid = jnp.arange(max_special) < jnp.minimum(result.detected, max_special)
    i0 = jnp.clip(jnp.where(valid, result.at, 0), 0, max_points - 2)

    def slot(args):
        ok, k, i = args
        return jax.lax.cond(ok, lambda: locate(ok, k, i), lambda: empty)

    found = jax.lax.map(slot, (valid, jnp.where(valid, result.kind, 0), i0))
    found = {k: jnp.where(valid.reshape(valid.shape + (1,) * (v.ndim - 1)), v, empty[k]) for k, v in found.items()}
    return valid, found, i0


def _passes(u0, t0, previous: State, u1) -> jax.Array:
    """Whether the chord from ``previous.u`` to ``u1`` passes the start point ``u0`` in the start direction."""
    chord = u1 - previous.u
    s = jnp.dot(u0 - previous.u, chord) / jnp.dot(chord, chord)
    gap = jnp.linalg.norm(u0 - previous.u - jnp.clip(s, 0.0, 1.0) * chord)
    return (s >= 0) & (s < 1) & (gap <= 0.1 * jnp.linalg.norm(chord)) & (jnp.dot(previous.t, t0) > 0.5)
