"""Input checks that run before anything is traced or compiled. Shapes are checked always (static, even under
``vmap``); values only where concrete, so the checks are no-ops (and safe) inside ``jit``/``vmap``."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
import sys
import warnings
from typing import Any, Callable

import numpy as np
import jax
import jax.numpy as jnp


def is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def check_finite(name: str, x) -> None:
    """Raise ``ValueError`` if a concrete array ``x`` holds NaN or inf."""
    a = np.asarray(x) if is_concrete(x) else np.zeros(0)
    if a.size and not np.all(np.isfinite(a)):
        bad = int(a.size - np.count_nonzero(np.isfinite(a)))
        raise ValueError(f"{name}: {bad} non-finite value(s) (NaN or inf); all entries must be finite.")


def check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{name}: unknown option {value!r}; choose one of {sorted(choices)}.")


def check_positive(name: str, value) -> None:
    if is_concrete(value) and not np.all(np.asarray(value) > 0):
        raise ValueError(f"{name}: must be > 0, got {value!r}.")


def check_window(window, n: int = 1, *, name: str = "window", finite: bool = False):
    """The window ``(lo, hi)`` from ``window = (lo, hi)`` (scalars) or, for ``n`` parameters, a ``(n, 2)`` array-like
    ``((lo, hi), (lo2, hi2))`` (``lo``, ``hi`` of shape ``(n,)``); ``None``: unbounded unless ``finite``. ``ValueError``
    for a wrong shape, NaN, ``lo >= hi`` or (``finite``) infinite bounds (values only where concrete)."""
    form, shape = ("(lo, hi)", (2,)) if n == 1 else ("((lo, hi), (lo2, hi2))", (n, 2))
    if window is None:
        if finite:
            raise ValueError(f"{name}: expected finite bounds {form}, got None.")
        return jnp.full(shape[:-1], -jnp.inf), jnp.full(shape[:-1], jnp.inf)
    traced = any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves(window))
    try:
        bounds = jnp.asarray(window, float) if traced else np.asarray(window, float)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected {form}, got {window!r}.") from None
    if bounds.shape != shape:
        hint = " (a half-width is no longer accepted)" if bounds.shape == () else ""
        raise ValueError(f"{name}: expected {form}, an array-like of shape {shape}, got shape {bounds.shape}{hint}.")
    if not traced:
        if np.any(np.isnan(bounds)):
            raise ValueError(f"{name}: NaN bounds in {bounds.tolist()}.")
        if finite and not np.all(np.isfinite(bounds)):
            raise ValueError(f"{name}: expected finite bounds {form}, got {bounds.tolist()}.")
        for lo, hi in bounds.reshape(-1, 2):
            if not lo < hi:
                raise ValueError(f"{name}: each pair must satisfy lo < hi, got ({lo}, {hi}).")
        bounds = jnp.asarray(bounds)
    return bounds[..., 0], bounds[..., 1]


# ---- deprecated spellings -----------------------------------------------------------------------------------

_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def deprecated(message: str) -> None:
    """Emit a ``DeprecationWarning`` ``message`` attributed to the first caller outside gru_jax."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(f"{message} The old spelling still works in this release and will be removed in the next one.",
                  DeprecationWarning, stacklevel=level)


@dataclasses.dataclass(frozen=True)
class Alias:
    """A deprecated spelling for ``renamed``: the keyword(s) ``old`` are now written ``new``. ``convert(given,
    arguments)`` builds the new value from the old keywords given and the call's explicit arguments (dicts by name);
    without it the one old value is passed on. ``spelling``: the new form in the warning (default ``new=``)."""

    old: tuple[str, ...]
    new: str
    convert: Callable[[dict, dict], Any] | None = None
    spelling: str | None = None


def renamed(*aliases: Alias, **simple: str):
    """Decorator: keep old keyword names of a function (or ``__init__``) for one release. ``@renamed(xtol="tol",
    max_steps="max_newton")`` maps old keywords to new names; ``Alias`` objects cover several old keywords for one new
    argument or a change of shape (``p_min``/``p_max`` -> ``window``). A call with an old name warns once
    (``DeprecationWarning``) and runs as if given the new name. Giving an old name together with its new one (by keyword
    or position), or two old names for one argument, raises ``TypeError``. Calls without old names cost one set test."""
    table = list(aliases) + [Alias((old,), new) for old, new in simple.items()]
    olds = {o for a in table for o in a.old}

    def wrap(fn):
        name = fn.__qualname__.removesuffix(".__init__")
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def call(*args, **kwargs):
            if olds.isdisjoint(kwargs):
                return fn(*args, **kwargs)
            given = {k: kwargs.pop(k) for k in list(kwargs) if k in olds}
            try:
                arguments = dict(signature.bind_partial(*args, **kwargs).arguments)
            except TypeError:
                arguments = dict(kwargs)        # the call itself will say what is wrong
            for alias in table:
                used = {o: given[o] for o in alias.old if o in given}
                if not used:
                    continue
                spelled = alias.spelling or f"{alias.new}="
                if alias.new in arguments:
                    raise TypeError(f"{name}: got both {alias.new} and its deprecated spelling "
                                    f"{'/'.join(o + '=' for o in used)}; pass {spelled} only.")
                if alias.convert is None and len(used) > 1:
                    raise TypeError(f"{name}: got {' and '.join(o + '=' for o in used)}, two deprecated spellings "
                                    f"of one argument; pass {spelled} only.")
                for other in table:       # two aliases for the same new argument (e.g. from_hopf, from_orbit)
                    if other is not alias and other.new == alias.new and any(o in given for o in other.old):
                        both = [o for o in given if o in alias.old or o in other.old]
                        raise TypeError(f"{name}: got {' and '.join(o + '=' for o in both)}, deprecated spellings "
                                        f"of one argument; pass {spelled} only.")
                deprecated(f"{name}: {', '.join(o + '=' for o in used)} is deprecated; use {spelled}.")
                value = next(iter(used.values())) if alias.convert is None else alias.convert(used, arguments)
                kwargs[alias.new] = arguments[alias.new] = value
            return fn(*args, **kwargs)

        call.__signature__ = signature       # help() and inspect show the new names only
        return call
    return wrap
