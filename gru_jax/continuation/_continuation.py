"""Public entry points ``continue_equilibria`` and ``continue_equilibria_both``: input checks before anything
compiles, then one jitted program (init, loop, location) per field, parameter and buffer sizes."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._validate import Alias, check_choice, check_finite, check_window, deprecated, is_concrete, renamed
from ..models._field import VectorField, batch_shape, resolve_field, validate_params
from ._branch import Branch, join
from ._palc import Problem, Settings, init
from ._param import Param, as_param
from ._run import run

# The loop is latency bound (many small ops): LLVM optimisation level 0 cuts the CPU compile time by about 40%
# and ran no slower here (3-D GRU branch: 15 s instead of 25 s to compile, 7 ms vs 10 ms to run). JAX accepts
# compiler options only on a top-level jit, so inside a user's jit/grad trace the plain jit is used.
COMPILER_OPTIONS = {"xla_backend_optimization_level": 0}

try:    # JAX's trace context (private in jax 0.10.2; jax.core exports only Trace and Tracer)
    from jax._src.core import EvalTrace as _EvalTrace, trace_ctx as _trace_ctx
    from jax._src.interpreters.ad import JVPTrace as _JVPTrace
    from jax._src.interpreters.batching import BatchTrace as _BatchTrace
    _EAGER = (_EvalTrace, _BatchTrace, _JVPTrace)
except ImportError:  # pragma: no cover - a JAX that moved them: every call takes the plain jit
    _trace_ctx, _EAGER = None, ()


def compiles_at_top_level() -> bool:
    """Whether a jit called now compiles its own XLA program, so that it may carry ``compiler_options``: true
    outside any trace and under transformations that call it eagerly (``vmap``, ``jvp``, any nesting of them);
    false where the call is staged into an enclosing program (``jit``, ``grad``/``vjp``/``linearize``,
    ``lax.scan``, ``checkpoint``, ``eval_shape``, and any trace not known here). Read from the chain of current
    traces, not from the arguments: under ``vmap`` they are tracers too, and a ``jit`` may close over constants."""
    trace = _trace_ctx.trace if _trace_ctx is not None else None
    if trace is None:
        return False
    while isinstance(trace, _EAGER):
        trace = getattr(trace, "parent_trace", None)
    return trace is None


def _top_level_or_nested(fn):
    """``fn`` jitted twice: with ``COMPILER_OPTIONS`` where it compiles at top level, plainly where it is nested
    in an enclosing trace (``compiles_at_top_level``)."""
    top, nested = eqx.filter_jit(fn, compiler_options=COMPILER_OPTIONS), eqx.filter_jit(fn)

    def call(*args):
        return (top if compiles_at_top_level() else nested)(*args)
    return call


def _from_start(problem, h0, settings, direction, max_points, max_special):
    state = init(problem.frozen(), jax.lax.stop_gradient(h0), settings, direction)
    return run(problem, state, settings, max_points, max_special)


_one = _top_level_or_nested(_from_start)
METHODS = ("palc", "natural")
_join = _top_level_or_nested(join)


def _check_numbers(numbers: dict) -> None:
    """Scalars always; signs and orderings of the concrete ones."""
    for name, value in numbers.items():
        if np.ndim(value) != 0:
            raise ValueError(f"{name}: expected a scalar, got shape {np.shape(value)}.")
        if name not in ("p_min", "p_max"):       # the window, checked by check_window (may be infinite)
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


def start_point(start, params, param: Param, param2: Param | None = None, *, pair: bool = False):
    """``(params, h)`` from the ``start`` of a ``continue_*``/``locate_*`` call: a state ``h0`` (d,) at the
    parameter values in ``params``, or a located point object with ``.h`` and ``.p`` (and ``.p2`` where
    ``param2`` is given, e.g. a ``Codim2Point``), whose values are set into ``params``. With ``pair``, the old
    shape ``(h, p)`` is still accepted, with a ``DeprecationWarning``. ``h`` is returned as given (checked by the
    caller)."""
    names = ("h", "p", "p2") if param2 is not None else ("h", "p")
    if all(hasattr(start, k) for k in ("h", "p")) and not isinstance(start, (jax.Array, np.ndarray)):
        values = [getattr(start, k) for k in names if hasattr(start, k)]
    elif (pair and isinstance(start, (tuple, list)) and len(start) == 2 and np.ndim(start[0]) == 1
          and np.ndim(start[1]) == 0):
        deprecated("start=(h, p) is deprecated; pass start=h with p set in params (param.set(params, p)), or a "
                   "located point with .h and .p.")
        values = list(start)
    else:
        return params, start
    for lens, value, name in zip((param, param2), values[1:], names[1:]):
        if np.ndim(value) != 0:
            raise ValueError(f"start: expected a scalar .{name}, got shape {np.shape(value)}.")
        check_finite(f"start.{name}", value)
        params = lens.validate(params).set(params, value)
    return params, values[0]


def check_state(h0, params, name: str = "start"):
    """One start state (d,) as an array (a tracer is kept): shape, the model's dimension, finite."""
    h0 = h0 if isinstance(h0, jax.core.Tracer) else jnp.asarray(h0, float)
    if h0.ndim != 1:
        raise ValueError(f"{name}: expected one state of shape (d,), got {h0.shape}; vmap for many.")
    dim = getattr(params, "dim", None)
    if isinstance(dim, (int, np.integer)) and h0.shape != (dim,):
        raise ValueError(f"{name}: expected shape ({dim},) for this {type(params).__name__}, got {h0.shape}.")
    check_finite(name, h0)
    return h0


def _setup(params, param, h0, f, method, max_points, max_special, detect_hopf=True, **numbers):
    """Check everything (shapes always, values when concrete) before any compile; build problem and settings.
    ``numbers`` carry the window as ``p_min``, ``p_max`` (the ``Settings`` fields)."""
    as_param(param)
    check_choice("method", method, METHODS)
    check_sizes(max_points, max_special)
    _check_numbers(numbers)
    params, f = one_problem(params, f, [param], "continue one problem at a time, or "
                            "jax.vmap(lambda p, h: continue_equilibria(p, param, h, ...))(params, h0s).")
    p0, lo, hi = param.get(params), numbers["p_min"], numbers["p_max"]
    if all(map(is_concrete, (p0, lo, hi))) and not float(lo) <= float(p0) <= float(hi):
        raise ValueError(f"{param!r}: the start value {float(p0)} lies outside the window (lo, hi) = "
                         f"({float(lo)}, {float(hi)}).")
    h0 = check_state(h0, params)
    check_field(f, h0, params, "start")
    numbers.pop("direction")
    settings = Settings(**{k: jnp.asarray(v, int if k == "max_newton" else float) for k, v in numbers.items()},
                        natural=jnp.asarray(method == "natural"))
    if not isinstance(detect_hopf, bool):
        raise ValueError(f"detect_hopf: expected True or False, got {detect_hopf!r}.")
    return Problem(f, params, param, detect_hopf), h0, settings


def _p_window(given: dict, arguments: dict):
    """The deprecated ``p_min``/``p_max`` as ``window=(lo, hi)``."""
    return given.get("p_min", -np.inf), given.get("p_max", np.inf)


#: ``p_min=``/``p_max=`` -> ``window=(lo, hi)`` (one release), ``h0=`` -> ``start=``
WINDOW_ALIAS = Alias(("p_min", "p_max"), "window", _p_window, "window=(lo, hi)")


def window_numbers(window) -> dict:
    """``{"p_min": lo, "p_max": hi}`` (the ``Settings`` fields) from a checked one-parameter ``window``."""
    lo, hi = check_window(window)
    return {"p_min": lo, "p_max": hi}


@renamed(WINDOW_ALIAS, h0="start")
def continue_equilibria(params, param: Param, start, *, f: VectorField | None = None, method: str = "palc",
                        direction=1, ds=0.01, ds_min=1e-6, ds_max=0.1, window=None, tol=1e-10,
                        max_newton=10, grow=1.5, hyperbolic_tol=1e-8, max_points: int = 200,
                        max_special: int = 8, detect_hopf: bool = True) -> Branch:
    """Continue the equilibrium near ``start`` of ``dh/dt = f(h, params)`` in the scalar ``param`` from its
    value in ``params``, in one direction (``direction=+1``: increasing ``p`` at the start).

    ``start``: a state ``h0`` (d,) near an equilibrium at the parameter value in ``params``, or a located point
    with ``.h`` and ``.p`` (a ``SpecialPoint``; its ``p`` is used). ``f`` defaults to ``params.vector_field``.
    ``method``: ``"palc"`` (pseudo-arclength) or ``"natural"`` (natural parameter; stops at folds). ``ds`` first
    step, kept in ``[ds_min, ds_max]``; ``window=(lo, hi)`` the parameter window (default unbounded; may be
    traced); ``tol`` the Newton step tolerance. These, ``method``, ``direction``, ``max_newton``, ``grow`` and
    ``hyperbolic_tol`` are traced: changing them does not recompile (pass the same ``f`` object to reuse the
    compiled program). ``max_points`` rows and ``max_special`` special-point slots are static buffer sizes.
    Folds, branch points and Hopf points (and neutral saddles) are detected in the loop and located;
    ``detect_hopf=False`` (static) skips the Hopf test, whose cost grows like ``(d²/2)³`` (use it for large d:
    Hopf points then show only as ``n_unstable`` changing by 2). Works under ``jax.vmap``, ``jax.jit`` and
    ``jax.grad`` (of fold and Hopf locations); raises ``ValueError`` for bad input before compiling.
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
    """``continue_equilibria`` in both directions from the same start, joined into one branch that runs through
    the start in the direction of increasing ``p``: ``2 max_points - 1`` rows, ``2 max_special`` slots;
    ``status`` (2,) says how each end ended. A closed loop is traversed once each way."""
    params, h0 = start_point(start, params, as_param(param))
    problem, h0, settings = _setup(params, param, h0, f, method, max_points, max_special, detect_hopf, direction=1,
                                   ds=ds, ds_min=ds_min, ds_max=ds_max, **window_numbers(window), tol=tol,
                                   max_newton=max_newton, grow=grow, hyperbolic_tol=hyperbolic_tol)
    backward, forward = (_one(problem, h0, settings, jnp.asarray(dr, float), max_points, max_special)
                         for dr in (-1.0, 1.0))       # one compiled program: the direction is traced
    return _join(backward, forward)


def continuation(*args, **kwargs) -> Branch:
    """Deprecated name of ``continue_equilibria`` (one release)."""
    deprecated("gru_jax.continuation.continuation is deprecated; use gru_jax.continue_equilibria.")
    return continue_equilibria(*args, **kwargs)


def continuation_both(*args, **kwargs) -> Branch:
    """Deprecated name of ``continue_equilibria_both`` (one release)."""
    deprecated("gru_jax.continuation.continuation_both is deprecated; use gru_jax.continue_equilibria_both.")
    return continue_equilibria_both(*args, **kwargs)
