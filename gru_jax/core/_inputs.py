"""The checks every entry point runs on its input before anything compiles: one problem (not a batch), the vector
field's shape, a start state or located start point, the static buffer sizes, the step numbers."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .._validate import check_finite, deprecated, is_concrete
from ..models._field import batch_shape, resolve_field, validate_params
from ._param import Param

def check_numbers(numbers: dict) -> None:
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


def one_problem(params, f, lenses, hint: str):
    """``(params, f)`` for one problem: Python scalars made arrays, the model's own checks, no batch (``hint`` says what
    to do instead), each lens in ``lenses`` valid for the params, the vector field resolved."""
    params = jax.tree_util.tree_map(      # Python scalars would be static under jit
        lambda x: jnp.asarray(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else x, params)
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
    """``(params, h)`` from the ``start`` of a ``continue_*``/``locate_*`` call: a state ``h0`` (d,) at the parameter
    values in ``params``, or a located point with ``.h``, ``.p`` (and ``.p2`` with ``param2``, e.g. a ``Codim2Point``)
    set into ``params``. With ``pair`` also the old ``(h, p)`` (``DeprecationWarning``). ``h`` is returned unchecked."""
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
