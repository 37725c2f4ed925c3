"""``continue_cycles``: a family of periodic orbits in one parameter, from a Hopf point or from a given cycle.

One jitted program per field, parameter and buffer sizes: the first cycle, the core driver (fixed-size
NaN-padded rows, recorded sign changes of the cycle test functions), then the location of every recorded event
and the classification of the family's end. Pure and vmappable over params."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .._validate import check_finite, check_window, deprecated, is_concrete, renamed
from ..core._compile import top_level_or_nested
from ..core._inputs import check_field, check_sizes, one_problem
from ..core._param import Param, as_param
from ..models._field import VectorField
from ._cycle_branch import CycleBranch, CyclePoints, FamilyEndKind
from ..core._driver import locate_slots, run as drive
from ..core._status import BranchStatus
from ..core._step import State
from ._cycle_events import empty, locate
from ._detect import pad
from ._cycle_palc import (TP_FLOOR, CycleProblem, CycleSettings, amplitude, ends_by_itself, n_unstable,
                          start_from_hopf, start_from_orbit)
from ._family_end import hopf_end, infinite_period, no_end
from ._flow import FlowOptions


def run(problem: CycleProblem, state: State, s: CycleSettings, max_points: int, max_special: int) -> CycleBranch:
    """Drive the family from a first cycle until it ends or ``max_points`` rows are filled; locate the recorded
    events (at most ``max_special``) and classify the end. Pure: jit and vmap freely."""
    n_rows, n, d, dtype = max_points, state.u.shape[0], problem.d, state.u.dtype
    result = drive(problem, state, s, max_points, max_special)
    rows, count, status = result.rows, result.count, result.end

    used = jnp.arange(n_rows) < count
    X = rows["u"][:, : n - 2].reshape(n_rows, problem.n_segments, d)
    amp = jnp.where(used, jax.vmap(amplitude)(X), jnp.nan)
    n_unst = jnp.where(used, jax.vmap(lambda m: n_unstable(m, s.floquet_tol))(rows["mu"]), -1)

    def locate_event(ok, k, i):
        u_a = rows["u"][i]
        u_b = jnp.where(ok, rows["u"][i + 1], u_a + 1e-3 * rows["t"][i])
        g_a, g_b = rows["tests"][i, k], rows["tests"][i + 1, k]
        return locate(problem, s, k, u_a, u_b, rows["mu"][i], rows["mu"][i + 1], g_a, g_b)

    valid, found, i0 = locate_slots(result, n_rows, locate_event, empty(n, d, dtype))
    chord = rows["u"][i0 + 1] - rows["u"][i0]
    frac = jnp.sum((found["u"] - rows["u"][i0]) * chord, axis=1) / jnp.sum(chord * chord, axis=1)
    order = jnp.argsort(jnp.where(valid, i0 + jnp.clip(jnp.nan_to_num(frac), 0.0, 1.0), jnp.inf))
    i0, valid = i0[order], valid[order]
    found = jax.tree_util.tree_map(lambda x: pad(x[order], valid), found)
    u_found = found["u"]
    special = CyclePoints(kind=found["kind"], p=u_found[:, -1], period=u_found[:, -2],
                          X=u_found[:, :-2].reshape(max_special, problem.n_segments, d),
                          multipliers=found["multipliers"], interval=pad(jnp.stack([i0, i0 + 1], 1), valid),
                          located=found["located"], count=jnp.sum(valid).astype(jnp.int32), n_detected=result.detected)

    # how the family ended by itself: at infinite period if its last cycle says so, else at a Hopf point
    ended = status == BranchStatus.ENDED
    infinite = ended & ends_by_itself(*problem.split(result.final.u)[:2], s)[1]
    hopf = ended & ~infinite & (count >= 2)
    safe_u = jnp.where(used[:, None], rows["u"], rows["u"][0])
    end = jax.lax.cond(infinite, lambda: infinite_period(problem, safe_u, rows["t"], used, TP_FLOOR * s.tol),
                       lambda: no_end(d, dtype, jnp.where(ended, FamilyEndKind.HOPF, -1)))
    end = jax.lax.cond(hopf, lambda: hopf_end(problem, safe_u[jnp.maximum(count - 3 + jnp.arange(3), 0)], count),
                       lambda: end)
    return CycleBranch(p=rows["u"][:, -1], period=rows["u"][:, -2], X=X, multipliers=rows["mu"], n_unstable=n_unst,
                       stable=used & (n_unst == 0), amplitude=amp, tangent=rows["t"], ds=rows["ds"],
                       residual=rows["residual"], newton=rows["newton"], tests=rows["tests"],
                       count=count.astype(jnp.int32), status=status.astype(jnp.int32), special=special,
                       family_end=end)


def _from_hopf(problem, s, h, p, max_points, max_special):
    return run(problem, start_from_hopf(problem, s, h, p), s, max_points, max_special)


def _from_orbit(problem, s, x0, period, direction, max_points, max_special):
    return run(problem, start_from_orbit(problem, s, x0, period, direction), s, max_points, max_special)


_hopf_program = top_level_or_nested(_from_hopf)
_orbit_program = top_level_or_nested(_from_orbit)


def _scalar(name, value, positive=False, allow_inf=False):
    if np.ndim(value) != 0:
        raise ValueError(f"{name}: expected a scalar, got shape {np.shape(value)}.")
    if not allow_inf:
        check_finite(name, value)
    if positive and is_concrete(value) and not float(value) > 0:
        raise ValueError(f"{name}: must be > 0, got {float(value)}.")
    return jnp.asarray(value, float)


def _window(window, p0):
    """``(lo, hi)`` from ``window = (lo, hi)`` (``None``: unbounded) or the deprecated half-width around ``p0``."""
    if window is not None and not isinstance(window, (tuple, list)) and np.ndim(window) == 0:
        deprecated("continue_cycles: window=w (a half-width around the start) is deprecated; use "
                   "window=(p0 - w, p0 + w).")
        span = _scalar("window", window, positive=True, allow_inf=True)
        return p0 - span, p0 + span
    return check_window(window)


def _start(start):
    """The start: ``("hopf", h, p)`` or ``("orbit", x0, period)``, shapes checked."""
    if hasattr(start, "X") and hasattr(start, "period"):
        x0, period = jnp.asarray(start.X, float), start.period
        x0 = x0[0] if x0.ndim == 2 else x0
    elif hasattr(start, "h") and hasattr(start, "p"):
        h, p = jnp.asarray(start.h, float), jnp.asarray(start.p, float)
        if h.ndim != 1 or h.shape[0] < 2 or p.ndim != 0:
            raise ValueError(f"start: expected a Hopf point with .h of shape (d,), d >= 2, and a scalar .p; got "
                             f"{h.shape} and {p.shape}.")
        check_finite("start.h", h)
        check_finite("start.p", p)
        return "hopf", h, p
    else:
        try:
            x0, period = start
        except (TypeError, ValueError):
            raise ValueError(f"start: expected a Hopf point (with .h and .p, e.g. gru_jax.locate_hopf(...)), a cycle "
                             f"(with .X and .period) or (x0, period); got {type(start).__name__}.") from None
        x0 = jnp.asarray(x0, float)
    if x0.ndim != 1:
        raise ValueError(f"start: expected a point x0 of shape (d,) on the orbit, got shape {x0.shape}.")
    check_finite("start x0", x0)
    return "orbit", x0, _scalar("start period", period, positive=True)


@renamed(from_hopf="start", from_orbit="start", period_max="max_period", amp_min="min_amplitude")
def continue_cycles(params, param: Param, start, *, f: VectorField | None = None,
                    n_segments: int = 10, direction=1, ds=0.01, ds_min=1e-6, ds_max=0.5, window=None,
                    max_period=np.inf, min_amplitude=1e-4, tol=1e-8, max_newton=8, grow=1.5, floquet_tol=1e-6,
                    max_points: int = 200, max_special: int = 6, opts: FlowOptions = FlowOptions()) -> CycleBranch:
    """Continue a family of periodic orbits of ``dh/dt = f(h, params)`` in the scalar ``param``.

    ``start``: a Hopf point (an object with ``.h`` (d,) and ``.p`` (), e.g. ``gru_jax.locate_hopf(...)``: the first
    cycle has amplitude ``ds`` on the side of the Hopf point given by the first Lyapunov coefficient and the
    transversality; ``direction`` is ignored), or a cycle at the parameter value in ``params``: an object with ``.X``
    and ``.period`` (a ``PeriodicOrbit``) or ``(x0, period)`` with ``x0`` (d,) on it (``direction=±1`` the sign of the
    first change of ``p``). ``n_segments`` shooting nodes (static). Pseudo-arclength in ``(X, T, p)``: first step ``ds``
    in ``[ds_min, ds_max]``; ``window=(lo, hi)`` the parameter window (default unbounded); ``max_period`` ends the
    family as infinite-period (then classified: ``"homoclinic (saddle-loop)"`` or ``"SNIC"``); ``min_amplitude`` ends it
    at a Hopf point; ``tol`` the Newton step tolerance; ``floquet_tol`` for counting unstable multipliers. All of these
    numbers are traced (changing them does not recompile; pass the same ``f`` object to reuse the program);
    ``max_points`` rows and ``max_special`` special-point slots are static. ``opts`` the ODE solver settings of the
    shooting (``FlowOptions``; rtol 1e-10 by default: rtol 1e-8 was 2.5x faster on a long family, periods still to 1e-9
    relative). Folds of cycles, period doublings and Neimark-Sacker points are detected and located. Works under
    ``jax.vmap`` and ``jax.jit``; raises ``ValueError`` for bad input before compiling."""
    as_param(param)
    check_sizes(max_points, max_special)
    if isinstance(n_segments, bool) or not isinstance(n_segments, (int, np.integer)) or n_segments < 1:
        raise ValueError(f"n_segments: expected an int >= 1 (static), got {n_segments!r}.")
    if not isinstance(opts, FlowOptions):
        raise ValueError(f"opts: expected a gru_jax.periodic FlowOptions, got {type(opts).__name__}.")
    params, f = one_problem(params, f, [param], "continue one problem at a time, or "
                            "jax.vmap(lambda p: continue_cycles(p, param, ...))(params).")
    kind, a, b = _start(start)
    dim = getattr(params, "dim", None)
    if isinstance(dim, (int, np.integer)) and a.shape != (dim,):
        raise ValueError(f"the start state has shape {a.shape}; this {type(params).__name__} has dimension {dim}.")
    check_field(f, a, params, "h")
    if is_concrete(direction) and float(direction) not in (1.0, -1.0):
        raise ValueError(f"direction: must be +1 or -1, got {direction}.")
    numbers = dict(ds=_scalar("ds", ds, True), ds_min=_scalar("ds_min", ds_min, True),
                   ds_max=_scalar("ds_max", ds_max, True), period_max=_scalar("max_period", max_period, True, True),
                   amp_min=_scalar("min_amplitude", min_amplitude, True), tol=_scalar("tol", tol, True),
                   grow=_scalar("grow", grow, True), floquet_tol=_scalar("floquet_tol", floquet_tol, True))
    c = {k: float(v) for k, v in numbers.items() if is_concrete(v)}
    if {"ds", "ds_min", "ds_max"} <= set(c) and not c["ds_min"] <= c["ds"] <= c["ds_max"]:
        raise ValueError(f"ds: must satisfy ds_min <= ds <= ds_max; got {c['ds']}, {c['ds_min']}, {c['ds_max']}.")
    if "grow" in c and c["grow"] < 1:
        raise ValueError(f"grow: must be >= 1, got {c['grow']}.")
    if is_concrete(max_newton) and not (float(max_newton) >= 1 and float(max_newton) == int(max_newton)):
        raise ValueError(f"max_newton: must be an integer >= 1, got {max_newton}.")
    p_start = b if kind == "hopf" else param.get(params)
    p_min, p_max = _window(window, p_start)
    if all(map(is_concrete, (p_start, p_min, p_max))) and not float(p_min) <= float(p_start) <= float(p_max):
        raise ValueError(f"window: the start value {float(p_start)} lies outside ({float(p_min)}, {float(p_max)}).")
    settings = CycleSettings(**numbers, p_min=p_min, p_max=p_max, max_newton=jnp.asarray(max_newton, int))
    problem = CycleProblem(f, params, param, n_segments, a.shape[0], opts)
    if kind == "hopf":
        return _hopf_program(problem, settings, a, b, max_points, max_special)
    return _orbit_program(problem, settings, a, b, jnp.asarray(direction, float), max_points, max_special)
