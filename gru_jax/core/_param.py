"""``Param``: the continued parameter, one scalar entry of a params pytree (a lens)."""

from __future__ import annotations

import dataclasses
import re
from typing import Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np


class Param(eqx.Module):
    """One scalar entry ``params.<field>[index]`` of a params pytree: ``Param("bh", 0)`` is ``params.bh[0]``,
    ``Param("Uh", 0, 1)`` is ``params.Uh[0, 1]``, ``Param("x", 0)`` the first input amplitude. ``field`` names an
    attribute of a model (``eqx.Module``, dataclass, ``NamedTuple``) or a dict key; ``field=None`` (``Param()``): params
    is itself the scalar (or array, with ``index``). One index per axis of the leaf. ``get``/``set`` are pure and
    differentiable in both the value and the params."""

    field: str | None = eqx.field(static=True)
    index: tuple[int, ...] = eqx.field(static=True)

    def __init__(self, field: str | None = None, *index: int):
        if field is not None and not isinstance(field, str):
            raise ValueError(f"Param: field must be a str (or None for a scalar params), got {field!r}.")
        for i in index:
            if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
                raise ValueError(f"Param({field!r}, ...): indices must be ints, got {i!r}.")
        self.field = field
        self.index = tuple(int(i) for i in index)

    def __repr__(self) -> str:
        return f"Param({', '.join([repr(self.field)] + [str(i) for i in self.index])})"

    @property
    def label(self) -> str:
        """A short name for axes and tables: ``bh[0]``, ``Uh[0,1]``, ``p`` for a scalar params."""
        index = f"[{','.join(map(str, self.index))}]" if self.index else ""
        return f"{'p' if self.field is None else self.field}{index}"

    @classmethod
    def from_label(cls, text: str) -> "Param":
        """The inverse of ``label``: ``"bh[0]"`` -> ``Param("bh", 0)``, ``"Uh[0,1]"``, ``"alpha"``; else ValueError."""
        match = re.fullmatch(r"\s*([A-Za-z_]\w*)\s*(?:\[\s*(-?\d+(?:\s*,\s*-?\d+)*)\s*\])?\s*", text)
        if match is None:
            raise ValueError(f"expected a parameter label like bh[0], Uh[0,1] or alpha, got {text!r}.")
        name, index = match.groups()
        return cls(name, *(int(i) for i in index.split(",")) if index else ())

    def _leaf(self, params):
        if self.field is None:
            return params
        if isinstance(params, Mapping):
            return params[self.field]
        return getattr(params, self.field)

    def get(self, params) -> jax.Array:
        """The scalar value () of the parameter in ``params``."""
        return jnp.asarray(self._leaf(params))[self.index]

    def set(self, params, value):
        """A copy of ``params`` with the parameter set to ``value`` (a scalar)."""
        new = jnp.asarray(self._leaf(params)).at[self.index].set(value)
        if self.field is None:
            return new
        if isinstance(params, Mapping):
            return {**params, self.field: new}
        return eqx.tree_at(lambda p: getattr(p, self.field), params, new)

    def validate(self, params) -> "Param":
        """Check that the entry exists and is a floating scalar slot; return ``self``. Raises ``ValueError``."""
        owner = type(params).__name__
        if self.field is None:
            leaf, where = params, f"{self!r}: the params ({owner})"
        elif isinstance(params, Mapping):
            if self.field not in params:
                raise ValueError(f"{self!r}: no key {self.field!r} in the params dict; keys are {sorted(params)}.")
            leaf, where = params[self.field], f"{self!r}: params[{self.field!r}]"
        else:
            if not hasattr(params, self.field):
                raise ValueError(f"{self!r}: {owner} has no field {self.field!r}; fields are {_fields(params)}.")
            leaf, where = getattr(params, self.field), f"{self!r}: {owner}.{self.field}"
        if not isinstance(leaf, (jax.Array, np.ndarray, np.generic, float)):
            raise ValueError(f"{where} is a {type(leaf).__name__}, not an array; name an array leaf"
                             + (", e.g. Param('bh', 0)." if self.field is None else "."))
        shape = tuple(np.shape(leaf))
        if not jnp.issubdtype(jnp.result_type(leaf), jnp.floating):
            raise ValueError(f"{where} has dtype {jnp.result_type(leaf)}; the continued entry must be floating.")
        if len(self.index) != len(shape):
            raise ValueError(f"{where} has shape {shape}: give exactly {len(shape)} index(es) to pick one scalar, "
                             f"got {len(self.index)} ({self.index}).")
        for axis, (i, n) in enumerate(zip(self.index, shape)):
            if not -n <= i < n:
                raise ValueError(f"{where} has shape {shape}: index {i} is out of range for axis {axis} (size {n}).")
        return self


def as_param(value, name: str = "param", *, labels: bool = False, differs_from: Param | None = None) -> Param:
    """``value`` checked to be a ``Param`` (with ``labels``, a label such as ``"bh[0]"`` is parsed into one), different
    from ``differs_from`` where given; raises ``ValueError`` naming the argument ``name`` otherwise (the one check of
    every public ``param``/``param2``)."""
    if labels and isinstance(value, str):
        value = Param.from_label(value)
    if not isinstance(value, Param):
        accepted = "a Param or a label like 'bh[0]'" if labels else "a Param"
        raise ValueError(f"{name}: expected {accepted}, e.g. Param('bh', {int(name == 'param2')}), got "
                         f"{value!r} ({type(value).__name__}).")
    if differs_from is not None and value == differs_from:
        raise ValueError(f"{name}: must differ from param, both are {value!r}; continue in two different entries.")
    return value


def _fields(params) -> list[str]:
    if dataclasses.is_dataclass(params):
        return [f.name for f in dataclasses.fields(params)]
    if hasattr(params, "_fields"):
        return list(params._fields)
    return sorted(k for k in vars(params) if not k.startswith("_")) if hasattr(params, "__dict__") else []
