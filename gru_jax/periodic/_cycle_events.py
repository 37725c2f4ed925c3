"""Bifurcations of cycles along a family: test functions evaluated at every row, and their location between two
rows by the Illinois (modified regula falsi) method along the chord, each trial point corrected onto the family.

Tests (``CycleKind`` order): fold of cycles ``t_p`` (the tangent's parameter component); period doubling
``Π (μ + 1)`` over the non-trivial multipliers; Neimark-Sacker ``Π_{i<j} (μ_i μ_j - 1)`` over pairs of non-trivial
multipliers (the eigenvalues of the bialternate square; ``1`` for d < 3).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..continuation._status import LocateStatus
from ..continuation._testfns import tangent
from ._cycle_branch import CycleKind
from ._cycle_palc import CycleProblem, CycleSettings, correct, multipliers, own_section

MAX_LOCATE = 40         # Illinois iterations per special point
FOCUS_TOL = 1e-8        # |Im μ| above this (relative) makes a Neimark-Sacker-test zero a Neimark-Sacker point


def nontrivial(mu: jax.Array) -> jax.Array:
    """The non-trivial multipliers (d - 1,) of ``mu`` (d,) (the trivial one comes first, see ``multipliers``)."""
    return mu[1:]


def n_unstable(mu: jax.Array, floquet_tol) -> jax.Array:
    """Non-trivial multipliers with ``|μ| > 1 + floquet_tol`` (int32; -1 if any is NaN)."""
    rest = nontrivial(mu)
    count = jnp.sum(jnp.abs(rest) > 1.0 + floquet_tol).astype(jnp.int32)
    return jnp.where(jnp.all(jnp.isfinite(mu)), count, -1)


def _ns_pairs(rest: jax.Array) -> jax.Array:
    i, j = np.triu_indices(rest.shape[0], 1)
    return rest[i] * rest[j] - 1.0


def tests(t: jax.Array, mu: jax.Array) -> jax.Array:
    """The three test values (3,) at a row with unit tangent ``t`` and multipliers ``mu`` (d,)."""
    rest = nontrivial(mu)
    pd = jnp.prod(rest + 1.0).real
    ns = jnp.prod(_ns_pairs(rest)).real if rest.shape[0] >= 2 else jnp.ones((), t.dtype)
    return jnp.stack([t[-1], pd, ns])


def crossed(before: jax.Array, after: jax.Array) -> jax.Array:
    """Which tests (3,) changed sign between two rows (a new exact zero counts)."""
    sa, sb = jnp.sign(after), jnp.sign(before)
    return (sa * sb < 0) | ((sa == 0) & (sb != 0))


def _evaluate(problem: CycleProblem, s: CycleSettings, kind, u_a, chord, x):
    """The cycle on the hyperplane normal to ``chord`` through ``u_a + x chord`` and its test value of ``kind``."""
    length = jnp.linalg.norm(chord)
    direction = chord / length
    v, conv, _, _, (_, jac) = correct(problem, u_a + x * chord, direction, problem.reference(u_a), length,
                                            s.tol, s.max_newton)
    mu = multipliers(problem, v, jac)
    g = tests(tangent(own_section(problem, v, jac), direction), mu)[kind]
    return g, v, mu, conv & jnp.isfinite(g)


def locate(problem: CycleProblem, s: CycleSettings, kind, u_a, u_b, g_a, g_b) -> dict:
    """The zero of test ``kind`` between rows ``u_a`` and ``u_b`` (tests ``g_a``, ``g_b`` of opposite signs):
    Illinois iterations on the chord fraction ``x`` in [0, 1] until a step in ``x`` times the chord length is
    below ``10 tol``. Returns ``kind`` (NS demoted to NEUTRAL_SADDLE when the critical pair is real), the cycle
    ``u``, its ``multipliers`` and ``located`` (``LocateStatus`` code)."""
    chord = u_b - u_a
    length = jnp.linalg.norm(chord)

    def cond(c):
        *_, k, done, _ = c
        return ~done & (k < MAX_LOCATE)

    def body(c):
        lo, g_lo, hi, g_hi, side, x_old, v, mu, k, done, failed = c
        x = jnp.clip((lo * g_hi - hi * g_lo) / (g_hi - g_lo), lo, hi)
        x = jnp.where(jnp.isfinite(x), x, 0.5 * (lo + hi))
        g, v, mu, ok = _evaluate(problem, s, kind, u_a, chord, x)
        same_as_hi = jnp.sign(g) == jnp.sign(g_hi)
        lo, g_lo, hi, g_hi = (jnp.where(same_as_hi, lo, x), jnp.where(same_as_hi, g_lo, g),
                              jnp.where(same_as_hi, x, hi), jnp.where(same_as_hi, g, g_hi))
        g_lo = jnp.where(same_as_hi & (side > 0), 0.5 * g_lo, g_lo)     # Illinois: halve the stale end
        g_hi = jnp.where(~same_as_hi & (side < 0), 0.5 * g_hi, g_hi)
        side = jnp.where(same_as_hi, 1, -1)
        done = ~ok | (g == 0) | (jnp.abs(x - x_old) * length <= 10 * s.tol)
        return lo, g_lo, hi, g_hi, side, x, v, mu, k + 1, done, ~ok

    mu0 = jnp.full(problem.d, jnp.nan + 0j)
    start = (jnp.zeros((), u_a.dtype), g_a, jnp.ones((), u_a.dtype), g_b, jnp.asarray(0), jnp.asarray(-1.0, u_a.dtype),
             u_a, mu0, jnp.asarray(0), jnp.asarray(False), jnp.asarray(False))
    *_, v, mu, k, done, failed = jax.lax.while_loop(cond, body, start)
    located = jnp.select([failed, ~(g_a * g_b <= 0), ~done], [LocateStatus.NONFINITE, LocateStatus.NO_SIGN_CHANGE,
                                                              LocateStatus.MAX_STEPS], LocateStatus.CONVERGED)
    kind = jnp.asarray(kind, jnp.int32)
    if problem.d >= 3:
        rest = nontrivial(mu)
        i, j = np.triu_indices(rest.shape[0], 1)
        critical = jnp.argmin(jnp.abs(_ns_pairs(rest)))
        real_pair = jnp.abs(rest[i][critical].imag) <= FOCUS_TOL * jnp.maximum(1.0, jnp.abs(rest[i][critical]))
        kind = jnp.where((kind == CycleKind.NS) & real_pair, CycleKind.NEUTRAL_SADDLE, kind).astype(jnp.int32)
    return dict(kind=kind, u=v, multipliers=mu, located=located.astype(jnp.int32))


def empty(n: int, d: int, dtype) -> dict:
    """The result of ``locate`` for an unused slot."""
    return dict(kind=jnp.asarray(-1, jnp.int32), u=jnp.full(n, jnp.nan, dtype), multipliers=jnp.full(d, jnp.nan + 0j),
                located=jnp.asarray(-1, jnp.int32))
