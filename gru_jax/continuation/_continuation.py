"""Public entry points ``continuation`` and ``continuation_both``: input checks before anything compiles, then
one jitted program (init, loop, location) per field, parameter and buffer sizes."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._validate import check_choice, check_finite, is_concrete
from ..models._field import VectorField, batch_shape, resolve_field, validate_params
from ._branch import Branch, join
from ._palc import Problem, Settings, init
from ._param import Param
from ._run import run

# The loop is latency bound (many small ops): LLVM optimisation level 0 cuts the CPU compile time by about 40%
# and ran no slower here (3-D GRU branch: 15 s instead of 25 s to compile, 7 ms vs 10 ms to run). JAX accepts
# compiler options only on a top-level jit, so inside a user's jit/grad trace the plain jit is used.
COMPILER_OPTIONS = {"xla_backend_optimization_level": 0}


def _top_level_or_nested(fn):
    top, nested = eqx.filter_jit(fn, compiler_options=COMPILER_OPTIONS), eqx.filter_jit(fn)

    def call(*args):
        try:
            return top(*args)
        except ValueError as err:
            if "compiler_options" not in str(err):
                raise
            return nested(*args)
    return call


def _from_start(problem, h0, settings, direction, max_points, max_special):
    state = init(problem.frozen(),
                 jax.lax.stop_gradient(h0), settings, direction)
    return run(problem, state, settings, max_points, max_special)


_one = _top_level_or_nested(_from_start)
METHODS = ("palc", "natural")
_join = _top_level_or_nested(join)


def _check_numbers(numbers: dict) -> None:
    """Scalars always; signs and orderings of the concrete ones."""
    for name, value in numbers.items():
        if np.ndim(value) != 0:
            raise ValueError(f"{name}: expected a scalar, got shape {np.shape(value)}.")
        if name not in ("p_min", "p_max"):
            check_finite(name, value)
    c = {k: float(v) for k, v in numbers.items() if is_concrete(v)}
    known = lambda *names: all(n in c for n in names)
    if known("direction") and c["direction"] not in (1.0, -1.0):
        raise ValueError(f"direction: must be +1 or -1, got {c['direction']}.")
    for name in ("ds", "ds_min", "tol", "hyperbolic_tol"):
        if known(name) and not c[name] > 0:
            raise ValueError(f"{name}: must be > 0, got {c[name]}.")
    if known("grow") and not c["grow"] >= 1:
        raise ValueError(f"grow: must be >= 1, got {c['grow']}.")
    if known("max_newton") and not (c["max_newton"] >= 1 and c["max_newton"] == int(c["max_newton"])):
        raise ValueError(f"max_newton: must be an integer >= 1, got {c['max_newton']}.")
    if known("ds", "ds_min", "ds_max") and not c["ds_min"] <= c["ds"] <= c["ds_max"]:
        raise ValueError(f"ds: must satisfy ds_min <= ds <= ds_max; got ds={c['ds']}, ds_min={c['ds_min']}, "
                         f"ds_max={c['ds_max']}.")
    if known("p_min", "p_max") and not c["p_min"] < c["p_max"]:
        raise ValueError(f"p_min: must be < p_max; got p_min={c['p_min']}, p_max={c['p_max']}.")


def check_sizes(max_points, max_special) -> None:
    """The static buffer sizes: ints, at least 2 rows and 1 slot."""
    for name, value, low in (("max_points", max_points, 2), ("max_special", max_special, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name}: expected an int >= {low} (a static buffer size), got {value!r}.")


def as_arrays(params):
    """Python scalars would be static under jit: make them arrays."""
    return jax.tree_util.tree_map(
        lambda x: jnp.asarray(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else x, params)


def one_problem(params, f, lenses, hint: str):
    """``(params, f)`` for one problem: Python scalars made arrays, the model's own checks, no batch (``hint``
    says what to do instead), each lens in ``lenses`` valid for the params, the vector field resolved."""
    params = as_arrays(params)
    validate_params(params)
    if batch_shape(params):
        raise ValueError(f"params holds a batch {batch_shape(params)}: {hint}")
    for lens in lenses:
        lens.validate(params)
    return params, resolve_field(params, f)


def check_field(f, h, params, name: str) -> None:
    """``f(h, params)`` must trace and return the shape of ``h`` (checked abstractly, nothing runs)."""
    spec = lambda x: jax.ShapeDtypeStruct(jnp.shape(x), jnp.result_type(x)) if hasattr(x, "dtype") else x
    try:
        out = jax.eval_shape(f, spec(h), jax.tree_util.tree_map(spec, params))
    except Exception as err:  # noqa: BLE001 - any failure of the user's field becomes a ValueError here
        raise ValueError(f"f({name}, params) failed for {name} of shape {h.shape}: {err}") from err
    if getattr(out, "shape", None) != h.shape:
        raise ValueError(f"f({name}, params) must return shape {h.shape} like {name}, got "
                         f"{getattr(out, 'shape', out)}.")


def _setup(params, param, h0, f, method, max_points, max_special, detect_hopf=True, **numbers):
    """Check everything (shapes always, values when concrete) before any compile; build problem and settings."""
    if not isinstance(param, Param):
        raise ValueError(f"param: expected a Param, e.g. Param('bh', 0), got {type(param).__name__}.")
    check_choice("method", method, METHODS)
    check_sizes(max_points, max_special)
    _check_numbers(numbers)
    params, f = one_problem(params, f, [param], "continue one problem at a time, or "
                            "jax.vmap(lambda p, h: continuation(p, param, h, ...))(params, h0s).")
    p0, lo, hi = param.get(params), numbers["p_min"], numbers["p_max"]
    if all(map(is_concrete, (p0, lo, hi))) and not float(lo) <= float(p0) <= float(hi):
        raise ValueError(f"{param!r}: the start value {float(p0)} lies outside the window [p_min, p_max] = "
                         f"[{float(lo)}, {float(hi)}].")
    h0 = h0 if isinstance(h0, jax.core.Tracer) else jnp.asarray(h0, float)
    if h0.ndim != 1:
        raise ValueError(f"h0: expected one start state of shape (d,), got {h0.shape}; vmap for many.")
    dim = getattr(params, "dim", None)
    if isinstance(dim, (int, np.integer)) and h0.shape != (dim,):
        raise ValueError(f"h0: expected shape ({dim},) for this {type(params).__name__}, got {h0.shape}.")
    check_finite("h0", h0)
    check_field(f, h0, params, "h0")
    numbers.pop("direction")
    settings = Settings(**{k: jnp.asarray(v, int if k == "max_newton" else float) for k, v in numbers.items()},
                        natural=jnp.asarray(method == "natural"))
    if not isinstance(detect_hopf, bool):
        raise ValueError(f"detect_hopf: expected True or False, got {detect_hopf!r}.")
    return Problem(f, params, param, detect_hopf), h0, settings


def continuation(params, param: Param, h0, *, f: VectorField | None = None, method: str = "palc",
                 direction=1, ds=0.01, ds_min=1e-6, ds_max=0.1, p_min=-np.inf, p_max=np.inf, tol=1e-10,
                 max_newton=10, grow=1.5, hyperbolic_tol=1e-8, max_points: int = 200,
                 max_special: int = 8, detect_hopf: bool = True) -> Branch:
    """Continue the equilibrium near ``h0`` (d,) of ``dh/dt = f(h, params)`` in the scalar ``param`` from its
    value in ``params``, in one direction (``direction=+1``: increasing ``p`` at the start).

    ``f`` defaults to ``params.vector_field``. ``method``: ``"palc"`` (pseudo-arclength) or ``"natural"``
    (natural parameter; stops at folds). ``ds`` first step, kept in ``[ds_min, ds_max]``; ``[p_min, p_max]``
    the parameter window; ``tol`` the Newton step tolerance. These, ``method``, ``direction``,
    ``max_newton``, ``grow`` and ``hyperbolic_tol`` are traced: changing them does not recompile (pass the
    same ``f`` object to reuse the compiled program). ``max_points`` rows and ``max_special`` special-point
    slots are static buffer sizes. Folds, branch points and Hopf points (and neutral saddles) are detected
    in the loop and located; ``detect_hopf=False`` (static) skips the Hopf test, whose cost grows like
    ``(d²/2)³`` (use it for large d: Hopf points then show only as ``n_unstable`` changing by 2). Works under ``jax.vmap``, ``jax.jit`` and ``jax.grad`` (of fold and Hopf
    locations); raises ``ValueError`` for bad input before compiling.
    """
    problem, h0, settings = _setup(params, param, h0, f, method, max_points, max_special, detect_hopf,
                                   direction=direction,
                                   ds=ds, ds_min=ds_min, ds_max=ds_max, p_min=p_min, p_max=p_max, tol=tol,
                                   max_newton=max_newton, grow=grow, hyperbolic_tol=hyperbolic_tol)
    return _one(problem, h0, settings, jnp.asarray(direction, float), max_points, max_special)


def continuation_both(params, param: Param, h0, *, f: VectorField | None = None,
                      method: str = "palc", ds=0.01, ds_min=1e-6, ds_max=0.1, p_min=-np.inf,
                      p_max=np.inf, tol=1e-10, max_newton=10, grow=1.5, hyperbolic_tol=1e-8,
                      max_points: int = 200, max_special: int = 8, detect_hopf: bool = True) -> Branch:
    """``continuation`` in both directions from the same start, joined into one branch that runs through the
    start in the direction of increasing ``p``: ``2 max_points - 1`` rows, ``2 max_special`` slots;
    ``status`` (2,) says how each end ended. A closed loop is traversed once each way."""
    problem, h0, settings = _setup(params, param, h0, f, method, max_points, max_special, detect_hopf, direction=1,
                                   ds=ds,
                                   ds_min=ds_min, ds_max=ds_max, p_min=p_min, p_max=p_max, tol=tol,
                                   max_newton=max_newton, grow=grow, hyperbolic_tol=hyperbolic_tol)
    backward, forward = (_one(problem, h0, settings, jnp.asarray(dr, float), max_points, max_special)
                         for dr in (-1.0, 1.0))       # one compiled program: the direction is traced
    return _join(backward, forward)
