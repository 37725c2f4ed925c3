"""``continue_equilibria`` and ``continue_equilibria_both``: input checks before anything compiles, then one jitted
program (init, loop, location) per field, parameter and buffer sizes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .._validate import Alias, check_choice, check_window, deprecated, is_concrete, renamed
from ..core._compile import top_level_or_nested
from ..core._inputs import check_field, check_numbers, check_sizes, check_state, one_problem, start_point
from ..core._param import Param, as_param
from ..models._field import VectorField
from ._branch import Branch, join
from ._palc import Problem, Settings, init
from ._run import run


def _from_start(problem, h0, settings, direction, max_points, max_special):
    state = init(problem.frozen(), jax.lax.stop_gradient(h0), settings, direction)
    return run(problem, state, settings, max_points, max_special)


_one = top_level_or_nested(_from_start)
METHODS = ("palc", "natural")
_join = top_level_or_nested(join)


def _setup(params, param, h0, f, method, max_points, max_special, detect_hopf=True, **numbers):
    """Check everything (shapes always, values when concrete) before any compile; build problem and settings.
    ``numbers`` carry the window as ``p_min``, ``p_max`` (the ``Settings`` fields)."""
    as_param(param)
    check_choice("method", method, METHODS)
    check_sizes(max_points, max_special)
    check_numbers(numbers)
    params, f = one_problem(params, f, [param], "continue one problem at a time, or "
                            "jax.vmap(lambda p, h: continue_equilibria(p, param, h, ...))(params, h0s).")
    p0, lo, hi = param.get(params), numbers["p_min"], numbers["p_max"]
    if all(map(is_concrete, (p0, lo, hi))) and not float(lo) <= float(p0) <= float(hi):
        raise ValueError(f"{param!r}: the start value {float(p0)} lies outside the window (lo, hi) = "
                         f"({float(lo)}, {float(hi)}).")
    h0 = check_state(h0, params)
    check_field(f, h0, params, "start")
    settings = Settings(**{k: jnp.asarray(v, int if k == "max_newton" else float) for k, v in numbers.items()
                           if k != "direction"}, natural=jnp.asarray(method == "natural"))
    if not isinstance(detect_hopf, bool):
        raise ValueError(f"detect_hopf: expected True or False, got {detect_hopf!r}.")
    return Problem(f, params, param, detect_hopf), h0, settings


#: the deprecated ``p_min=``/``p_max=`` -> ``window=(lo, hi)`` (one release)
WINDOW_ALIAS = Alias(("p_min", "p_max"), "window", lambda given, _: (given.get("p_min", -np.inf),
                                                                    given.get("p_max", np.inf)), "window=(lo, hi)")


def window_numbers(window) -> dict:
    """``{"p_min": lo, "p_max": hi}`` (the ``Settings`` fields) from a checked one-parameter ``window``."""
    lo, hi = check_window(window)
    return {"p_min": lo, "p_max": hi}


@renamed(WINDOW_ALIAS, h0="start")
def continue_equilibria(params, param: Param, start, *, f: VectorField | None = None, method: str = "palc",
                        direction=1, ds=0.01, ds_min=1e-6, ds_max=0.1, window=None, tol=1e-10,
                        max_newton=10, grow=1.5, hyperbolic_tol=1e-8, max_points: int = 200,
                        max_special: int = 8, detect_hopf: bool = True) -> Branch:
    """Continue the equilibrium near ``start`` of ``dh/dt = f(h, params)`` in the scalar ``param`` from its value in
    ``params``, one way (``direction=+1``: increasing ``p`` at the start).

    ``start``: a state ``h0`` (d,) near an equilibrium at that value, or a located point with ``.h`` and ``.p`` (a
    ``SpecialPoint``; its ``p`` is used). ``f`` defaults to ``params.vector_field``. ``method``: ``"palc"``
    (pseudo-arclength) or ``"natural"`` (natural parameter; stops at folds). ``ds`` first step, kept in ``[ds_min,
    ds_max]``; ``window=(lo, hi)`` the parameter window (default unbounded); ``tol`` the Newton step tolerance. These,
    ``method``, ``direction``, ``max_newton``, ``grow`` and ``hyperbolic_tol`` are traced (no recompiles; pass the same
    ``f`` object to reuse the program); ``max_points`` rows and ``max_special`` slots are static buffer sizes. Folds,
    branch points and Hopf points (and neutral saddles) are detected and located; ``detect_hopf=False`` (static) skips
    the Hopf test, whose cost grows like ``(d²/2)³`` (Hopf points then show only as ``n_unstable`` changing by 2).
    Works under ``jax.vmap``, ``jax.jit`` and ``jax.grad`` (of fold and Hopf locations); raises ``ValueError`` for bad
    input before compiling.
    """
    params, h0 = start_point(start, params, as_param(param))
    problem, h0, settings = _setup(params, param, h0, f, method, max_points, max_special, detect_hopf,
                                   direction=direction, ds=ds, ds_min=ds_min, ds_max=ds_max, **window_numbers(window),
                                   tol=tol, max_newton=max_newton, grow=grow, hyperbolic_tol=hyperbolic_tol)
    return _one(problem, h0, settings, jnp.asarray(direction, float), max_points, max_special)


@renamed(WINDOW_ALIAS, h0="start")
def continue_equilibria_both(params, param: Param, start, *, f: VectorField | None = None,
                             method: str = "palc", ds=0.01, ds_min=1e-6, ds_max=0.1, window=None, tol=1e-10,
                             max_newton=10, grow=1.5, hyperbolic_tol=1e-8, max_points: int = 200,
                             max_special: int = 8, detect_hopf: bool = True) -> Branch:
    """``continue_equilibria`` both ways, joined into one branch through ``start`` towards increasing ``p``: ``2
    max_points - 1`` rows, ``2 max_special`` slots, ``status`` (2,) of each end (a closed loop: once each way)."""
    params, h0 = start_point(start, params, as_param(param))
    problem, h0, settings = _setup(params, param, h0, f, method, max_points, max_special, detect_hopf, direction=1,
                                   ds=ds, ds_min=ds_min, ds_max=ds_max, **window_numbers(window), tol=tol,
                                   max_newton=max_newton, grow=grow, hyperbolic_tol=hyperbolic_tol)
    # backward, forward: one compiled program (the direction is traced)
    return _join(*(_one(problem, h0, settings, jnp.asarray(dr, float), max_points, max_special) for dr in (-1.0, 1.0)))


def continuation(*args, **kwargs) -> Branch:
    """Deprecated name of ``continue_equilibria`` (one release)."""
    deprecated("gru_jax.continuation.continuation is deprecated; use gru_jax.continue_equilibria.")
    return continue_equilibria(*args, **kwargs)


def continuation_both(*args, **kwargs) -> Branch:
    """Deprecated name of ``continue_equilibria_both`` (one release)."""
    deprecated("gru_jax.continuation.continuation_both is deprecated; use gru_jax.continue_equilibria_both.")
    return continue_equilibria_both(*args, **kwargs)
