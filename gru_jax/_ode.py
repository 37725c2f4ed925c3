"""``diffeqsolve``: diffrax's, traced so that its programs can be kept in JAX's persistent compilation cache."""

from __future__ import annotations

import diffrax
import equinox._errors as _eqx_errors


def diffeqsolve(*args, **kwargs):
    """``diffrax.diffeqsolve(*args, **kwargs)`` with equinox's runtime checks inside it (e.g. "saveat.ts must be
    increasing") traced as NaN instead of a host callback. A program with a host callback gets a new persistent
    cache key in every process, so it would be compiled again by each one. Every caller passes ``throw=False``,
    reads ``sol.result`` and builds valid inputs itself (user inputs are checked before tracing)."""
    before = _eqx_errors.EQX_ON_ERROR
    _eqx_errors.EQX_ON_ERROR = "nan"
    try:
        return diffrax.diffeqsolve(*args, **kwargs)
    finally:
        _eqx_errors.EQX_ON_ERROR = before
