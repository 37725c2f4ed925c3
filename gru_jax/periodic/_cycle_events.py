"""Bifurcations of cycles along a family: the location of a sign change of a test function (``_cycle_palc.tests``)
between two rows by the Illinois (modified regula falsi) method along the chord, each trial point corrected onto
the family."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ..core._newton import illinois
from ..core._step import tangent
from ._cycle_branch import CycleKind
from ._cycle_palc import CycleProblem, CycleSettings, _ns_pairs, correct, multipliers, own_section, tests

MAX_LOCATE = 40         # Illinois iterations per special point
FOCUS_TOL = 1e-8        # |Im μ| above this (relative) makes a Neimark-Sacker-test zero a Neimark-Sacker point


def locate(problem: CycleProblem, s: CycleSettings, kind, u_a, u_b, mu_a, mu_b, g_a, g_b) -> dict:
    """The zero of test ``kind`` between rows ``u_a`` and ``u_b`` (multipliers ``mu_a``, ``mu_b``, tests ``g_a``,
    ``g_b`` of opposite signs): ``core.illinois`` on the chord fraction ``x`` in [0, 1] until the bracket is at
    most ``10 tol`` long. Returns ``kind`` (NS demoted to NEUTRAL_SADDLE when the critical pair is real), the
    cycle ``u``, its ``multipliers`` and ``located`` (``LocateStatus`` code)."""
    chord = u_b - u_a
    length = jnp.linalg.norm(chord)
    direction = chord / length

    def probe(x):     # the cycle on the hyperplane normal to the chord through u_a + x chord, and its test value
        v, conv, _, _, (_, jac) = correct(problem, u_a + x * chord, direction, problem.reference(u_a), length,
                                          s.tol, s.max_newton)
        mu = multipliers(problem, v, jac)
        g = tests(tangent(own_section(problem, v, jac), direction), mu)[kind]
        return (v, mu), g, conv & jnp.isfinite(g)

    (v, mu), located, _ = illinois(probe, (u_a, mu_a), g_a, (u_b, mu_b), g_b, length, 10 * s.tol, MAX_LOCATE)
    kind = jnp.asarray(kind, jnp.int32)
    if problem.d >= 3:
        rest = mu[1:]
        i, j = np.triu_indices(rest.shape[0], 1)
        critical = jnp.argmin(jnp.abs(_ns_pairs(rest)))
        real_pair = jnp.abs(rest[i][critical].imag) <= FOCUS_TOL * jnp.maximum(1.0, jnp.abs(rest[i][critical]))
        kind = jnp.where((kind == CycleKind.NS) & real_pair, CycleKind.NEUTRAL_SADDLE, kind).astype(jnp.int32)
    return dict(kind=kind, u=v, multipliers=mu, located=located.astype(jnp.int32))


def empty(n: int, d: int, dtype) -> dict:
    """The result of ``locate`` for an unused slot."""
    return dict(kind=jnp.asarray(-1, jnp.int32), u=jnp.full(n, jnp.nan, dtype), multipliers=jnp.full(d, jnp.nan + 0j),
                located=jnp.asarray(-1, jnp.int32))
