"""The engine's one interface to a model: a vector field ``f(h, params) -> dh/dt``.

Any callable ``f(h, params)`` mapping a state (d,) and a params pytree to (d,) works with every solver, passed as
``f=``. A params object may instead carry the field itself: a ``vector_field(h)`` method, and optionally ``state_box()``
(a forward-invariant box ``(lo, hi)`` used to place seeds), ``validate()`` and ``batch_shape``. ``GRUParams`` and
``CTRNNParams`` do."""

from __future__ import annotations

from typing import Callable, Protocol

import jax
import numpy as np

VectorField = Callable[[jax.Array, object], jax.Array]


class Model(Protocol):
    def vector_field(self, h: jax.Array) -> jax.Array: ...


def _method_field(h, params):
    return params.vector_field(h)


def resolve_field(params, f: VectorField | None) -> VectorField:
    """The vector field to use: ``f`` if given, else ``params.vector_field``. Raises ``ValueError``."""
    if f is not None:
        if not callable(f):
            raise ValueError(f"f: expected a callable f(h, params), got {type(f).__name__}.")
        return f
    if hasattr(params, "vector_field"):
        return _method_field
    raise ValueError(f"no vector field: {type(params).__name__} has no vector_field method; pass f=f(h, params).")


def validate_params(params) -> None:
    if hasattr(params, "validate"):
        params.validate()


def batch_shape(params) -> tuple[int, ...]:
    """Leading batch dims of a params object (``()`` for one problem or an object without the attribute)."""
    return tuple(getattr(params, "batch_shape", ()))


def resolve_box(params, box, d: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The seeding box ``(lo, hi)``, each (d,): ``box`` if given, else ``params.state_box()``. A batched ``state_box()``
    is reduced to the box that holds every member. Raises ``ValueError`` when neither is available or shapes
    disagree."""
    if box is None:
        if not hasattr(params, "state_box"):
            raise ValueError("box: this model has no state_box(); pass box=(lo, hi) or seeds=array (n, d).")
        lo, hi = params.state_box()
    else:
        try:
            lo, hi = box
        except (TypeError, ValueError):
            raise ValueError(f"box: expected a pair (lo, hi), got {box!r}.") from None
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    if lo.ndim > 1:  # a batch of boxes: take the one that holds them all
        lo, hi = lo.reshape(-1, lo.shape[-1]).min(0), hi.reshape(-1, hi.shape[-1]).max(0)
    dim = d if d is not None else lo.size
    lo, hi = (np.broadcast_to(a, (dim,)).copy() if a.ndim == 0 else a for a in (lo, hi))
    if lo.shape != (dim,) or hi.shape != (dim,) or not np.all(hi > lo):
        raise ValueError(f"box: expected lo < hi, each of shape ({dim},); got {lo} and {hi}.")
    return lo, hi
