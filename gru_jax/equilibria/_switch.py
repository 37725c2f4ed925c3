"""Branch switching at a simple branch point, and the one compiled program that starts branches in batches.

At a simple branch point ``u*`` the (d, d+1) Jacobian ``[f_h, f_p]`` has a kernel ``span(φ1, φ2)`` (``φ1`` along the
old branch) and a left null vector ``ψ``. The tangents ``α φ1 + β φ2`` of the branches through ``u*`` are the roots
of the algebraic branching equation ``ψ·F''[αφ1 + βφ2, αφ1 + βφ2] = 0``; the root far from ``φ1`` is the new
branch's direction ``t2``. ``u* + eps t2``, corrected orthogonally to ``t2``, is continued both ways.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._branch import Branch, join
from .._validate import check_window, renamed
from ._continuation import WINDOW_ALIAS, _setup
from ..core._compile import top_level_or_nested
from ..core._newton import newton, system_of, value_and_jac
from ._lyapunov import derivative
from ._palc import Problem, Settings, init
from ..core._param import as_param
from ._run import run
from ..core._status import BranchStatus, Codes, SpecialKind

FLIP = jnp.array([-1.0, -1.0, 1.0])     # the fold and branch-point tests change sign with the tangent, Hopf's not
LANES = 16      # one-way branches traced together by one compiled program (``switch_branch`` uses two)


class SwitchStatus(Codes):
    """How the first point of a new branch came out (``.message`` says it in words)."""

    SWITCHED = 0, "converged onto a new branch"          # for a discovered start: converged
    NOT_CONVERGED = 1, "the corrector did not converge on the hyperplane"     # or met a non-finite value
    OLD_BRANCH = 2, "the corrector converged back onto the old branch"


def branching_directions(F, u: jax.Array, t_old: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(t2, φ1)`` (d+1,) each at a branch point ``u`` (d+1,): ``φ1`` the unit projection of ``t_old`` onto the
    kernel of ``[f_h, f_p]``, ``t2`` the other root of the algebraic branching equation (unit, ``φ2``-component
    positive). Falls back to ``φ2`` (orthogonal to ``φ1`` in the kernel) when the equation has no two real roots."""
    jac = value_and_jac(F, u)[1]
    left, _, right = jnp.linalg.svd(jac)
    psi, kernel = left[:, -1], right[-2:]
    c = kernel @ t_old
    c = c / jnp.linalg.norm(c)
    phi1, phi2 = kernel.T @ c, kernel.T @ jnp.array([-c[1], c[0]])
    second = lambda a, b: jnp.dot(psi, derivative(F, u, a, b))
    q = jnp.array([[second(phi1, phi1), second(phi1, phi2)], [second(phi1, phi2), second(phi2, phi2)]])
    lam, vec = jnp.linalg.eigh(q)
    x, y = jnp.sqrt(jnp.abs(lam[1])) * vec[:, 0], jnp.sqrt(jnp.abs(lam[0])) * vec[:, 1]
    roots = jnp.stack([x + y, x - y])                  # λ0 x² + λ1 y² = 0 when λ0 < 0 < λ1: both null directions
    roots = roots / jnp.linalg.norm(roots, axis=1, keepdims=True)
    ab = roots[jnp.argmin(jnp.abs(roots[:, 0]))]                         # the one farther from φ1
    real = (lam[0] < 0) & (lam[1] > 0) & jnp.all(jnp.isfinite(ab))
    ab = jnp.where(real, ab * jnp.where(ab[1] < 0, -1.0, 1.0), jnp.array([0.0, 1.0]))
    return ab[0] * phi1 + ab[1] * phi2, phi1


def first_point(F, settings: Settings, u0, t_old, eps, switching):
    """The corrected first point (d+1,) of a branch, its reference direction (d+1,) and a ``SwitchStatus`` code.
    ``switching``: ``u0`` is a branch point and ``t_old`` the old branch's direction there; ``u0 + eps t2`` is
    corrected orthogonally to ``t2``. Otherwise ``u0`` is an equilibrium guess, corrected at fixed ``p`` (``e_p``)."""
    e_p = jnp.zeros_like(u0).at[-1].set(1.0)
    t2, phi1 = branching_directions(F, u0, t_old)
    row = jnp.where(switching, t2, e_p)
    target = u0 + jnp.where(switching, eps, 0.0) * row
    res = newton(system_of(F), target, settings.tol, settings.max_newton, border=(row, target),
                 cap=jnp.where(switching, eps, jnp.inf))
    w = res.v - u0
    off = jnp.linalg.norm(w - jnp.dot(w, phi1) * phi1)                  # distance from the old branch's line
    sine = jnp.sqrt(jnp.maximum(0.0, 1.0 - jnp.dot(t2, phi1) ** 2))
    old = switching & ~(off > 0.5 * eps * sine)
    status = jnp.where(res.converged, jnp.where(old, SwitchStatus.OLD_BRANCH, SwitchStatus.SWITCHED),
                       SwitchStatus.NOT_CONVERGED)
    return res.v, row, status.astype(jnp.int32)


def trace(problem: Problem, settings: Settings, u0, t_old, eps, switching, valid, direction, max_points: int,
          max_special: int) -> tuple[Branch, jax.Array]:
    """One way (``direction`` ±1 along the reference direction) of a branch from a discovered equilibrium or a branch
    point (see ``first_point``): ``(branch, SwitchStatus code)``; a failed or invalid (``valid`` False) lane gives an
    empty branch with status ``START_FAILED``. Pure: jit and vmap freely; ``join`` the two ways."""
    frozen = problem.frozen()
    v, row, status = first_point(frozen.F, settings, u0, t_old, eps, switching)
    launch = valid & (status == SwitchStatus.SWITCHED)
    state = init(eqx.tree_at(lambda q: q.params, frozen, problem.param.set(frozen.params, v[-1])), v[:-1], settings,
                 direction)
    flip = jnp.dot(state.t, row) * direction < 0                           # orient along direction * row
    state = eqx.tree_at(lambda s: (s.t, s.tests, s.accepted, s.status), state,
                        (jnp.where(flip, -state.t, state.t), state.tests * jnp.where(flip, FLIP, 1.0),
                         state.accepted & launch,
                         jnp.where(launch, state.status, BranchStatus.START_FAILED).astype(jnp.int32)))
    return run(problem, state, settings, max_points, max_special), status


def _pairs(problem, settings, u0, t_old, eps, switching, valid, max_points, max_special):
    """``trace`` both ways for a batch of starts (P, d+1) as 2P one-way lanes of one vmap, joined pairwise."""
    both = lambda a: jnp.repeat(a, 2, axis=0)                            # lane 2i: backward, 2i + 1: forward
    direction = jnp.tile(jnp.array([-1.0, 1.0]), u0.shape[0])
    one = lambda *a: trace(problem, settings, *a, max_points, max_special)
    ways, status = jax.vmap(one)(both(u0), both(t_old), both(eps), both(switching), both(valid), direction)
    backward, forward = (jax.tree_util.tree_map(lambda a: a[i::2], ways) for i in (0, 1))
    return jax.vmap(join)(backward, forward), status[::2], jnp.maximum(backward.count - 1, 0)


trace_pairs = top_level_or_nested(_pairs)


def run_lanes(problem: Problem, settings: Settings, u0: np.ndarray, t_old: np.ndarray, eps, switching: np.ndarray,
              max_points: int, max_special: int, lanes: int = LANES):
    """Branches from K starts (``u0``, ``t_old`` (K, d+1), ``switching`` (K,), see ``first_point``), each traced both
    ways, ``lanes // 2`` starts at a time in one compiled program (padding masked). Returns the joined branches (a batch
    of K, ``2 max_points - 1`` rows), SwitchStatus codes (K,) and the row of each first point (K,), all numpy."""
    k, size = u0.shape[0], lanes // 2
    outs = []
    for lo in range(0, k, size):
        n = min(size, k - lo)
        pad = lambda a, fill: jnp.asarray(np.concatenate([a[lo:lo + n], np.full((size - n,) + a.shape[1:], fill)]))
        outs.append(trace_pairs(problem, settings, pad(u0, 0.0), pad(t_old, 1.0), jnp.full(size, eps, float),
                                pad(switching, False), jnp.arange(size) < n, max_points, max_special))
    return jax.tree_util.tree_map(lambda *a: np.concatenate([np.asarray(x) for x in a])[:k], *outs)


def check_lanes(lanes, eps) -> None:
    if isinstance(lanes, bool) or not isinstance(lanes, (int, np.integer)) or lanes < 2 or lanes % 2:
        raise ValueError(f"lanes: expected an even int >= 2 (a static batch size), got {lanes!r}.")
    if not (isinstance(eps, (int, float, np.floating)) and np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps: expected a finite float > 0, got {eps!r}.")


def old_direction(branch: Branch, slot: int) -> np.ndarray:
    """The old branch's direction (d+1,) at special-point ``slot``: the chord of its two bracketing rows."""
    i, j = (int(x) for x in np.asarray(branch.special.interval[slot]))
    u = lambda r: np.append(np.asarray(branch.h[r]), float(branch.p[r]))
    chord = u(j) - u(i)
    return chord / np.linalg.norm(chord)


@renamed(WINDOW_ALIAS)
def switch_branch(params, param, branch: Branch, slot: int, *, f=None, eps=1e-3, method: str = "palc",
                  ds=0.01, ds_min=1e-6, ds_max=0.1, window=None, tol=1e-10, max_newton=10,
                  grow=1.5, hyperbolic_tol=1e-8, max_points: int = 200, max_special: int = 8,
                  lanes: int = LANES) -> Branch:
    """Continue the other branch through the branch point in slot ``slot`` of ``branch.special`` (a single ``Branch``
    from ``continue_equilibria``, ``continue_equilibria_both`` or a diagram), both ways from ``eps`` along it. The
    options are those of ``continue_equilibria_both``; the result has ``2 max_points - 1`` rows and runs through the
    branch point. A failed switch (the corrector did not converge, or
    converged back onto the old branch) is data: an empty branch (``count`` 0) with ``status`` ``START_FAILED`` at both
    ends. It runs in the program that ``bifurcation_diagram`` compiles (``lanes`` one-way lanes, two used), so the two
    share one compile; the pure core is ``trace`` (jit/vmap it; ``join`` its two ways). Raises ``ValueError`` for bad
    input (e.g. a slot that is not a branch point) before compiling."""
    as_param(param)
    if np.ndim(branch.count):
        raise ValueError(f"branch: holds a batch {np.shape(branch.count)}; pass one branch.")
    count = int(branch.special.count)
    if isinstance(slot, bool) or not isinstance(slot, (int, np.integer)) or not 0 <= slot < count:
        raise ValueError(f"slot: expected an int in [0, {count}) (a used special-point slot), got {slot!r}.")
    if int(branch.special.kind[slot]) != SpecialKind.BRANCH_POINT:
        raise ValueError(f"slot {slot}: is a {SpecialKind(int(branch.special.kind[slot])).label}, not a branch point.")
    h_bp, p_bp = np.asarray(branch.special.h[slot], float), float(branch.special.p[slot])
    if not np.all(np.isfinite(h_bp)) or not np.isfinite(p_bp):
        raise ValueError(f"slot {slot}: the branch point is not finite (location failed).")
    check_lanes(lanes, eps)
    lo, hi = (float(x) for x in check_window(window))
    problem, _, settings = _setup(param.set(params, min(max(p_bp, lo), hi)), param, h_bp, f, method, max_points,
                                  max_special, direction=1, ds=ds, ds_min=ds_min, ds_max=ds_max, p_min=lo, p_max=hi,
                                  tol=tol, max_newton=max_newton, grow=grow, hyperbolic_tol=hyperbolic_tol)
    branches, _, _ = run_lanes(problem, settings, np.append(h_bp, p_bp)[None], old_direction(branch, slot)[None], eps,
                               np.array([True]), max_points, max_special, lanes)
    return jax.tree_util.tree_map(lambda a: jnp.asarray(a[0]), branches)
