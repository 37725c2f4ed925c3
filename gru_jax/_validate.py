"""Input checks that run before anything is traced or compiled.

Shapes are checked always (they are static, even under ``vmap``); values are checked for finiteness only
when they are concrete, so the same checks are safe inside ``jit``/``vmap`` where they become no-ops.
"""

from __future__ import annotations

import numpy as np
import jax


def is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def check_finite(name: str, x) -> None:
    """Raise ``ValueError`` if a concrete array ``x`` holds NaN or inf."""
    if is_concrete(x):
        a = np.asarray(x)
        if a.size and not np.all(np.isfinite(a)):
            bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
            raise ValueError(f"{name}: {bad} non-finite value(s) (NaN or inf); all entries must be finite.")


def check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{name}: unknown option {value!r}; choose one of {sorted(choices)}.")


def check_positive(name: str, value) -> None:
    if is_concrete(value) and not np.all(np.asarray(value) > 0):
        raise ValueError(f"{name}: must be > 0, got {value!r}.")
