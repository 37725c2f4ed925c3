"""Codimension-two curves seeded from the point clouds of a ``ContinuationEvents`` sweep."""

from __future__ import annotations

import numpy as np

from .._validate import check_choice
from ..continuation._codim2 import KINDS
from ..continuation._codim2_diagram import CurveDiagram, curves_through
from ..continuation._param import Param
from ..models._field import VectorField
from ._result import SweepResult


def codim2_curves_from_sweep(params, events: SweepResult, param: Param, *, kind: str = "fold", span=None,
                             f: VectorField | None = None, ds=0.01, ds_min=1e-6, ds_max=0.1, tol=1e-10,
                             max_points: int = 400, max_special: int = 8) -> CurveDiagram:
    """The fold (or Hopf) curves in ``(param, param2)`` through the points of a two-parameter map, each once.

    ``events``: a sweep of ``ContinuationEvents(param, span)`` over one grid axis ``param2`` with base
    ``params`` (outputs ``fold_p``/``fold_h`` or ``hopf_p``/``hopf_h``). Every cloud point starts a curve unless
    it already lies on one computed before, so a few continuations join the whole cloud and extend it past the
    slices (and report its cusps, Bogdanov-Takens and generalized Hopf points). The window is ``span`` (default:
    the cloud's parameter range) x the grid's range. Options as for ``continue_curve_both``.
    """
    check_choice("kind", kind, KINDS)
    if not isinstance(events, SweepResult) or events.kind != "grid" or len(events.axes) != 1:
        raise ValueError("events: expected the SweepResult of a ContinuationEvents sweep over one grid axis.")
    if not isinstance(param, Param):
        raise ValueError(f"param: expected a Param, e.g. Param('bh', 0), got {type(param).__name__}.")
    (label, grid), = events.axes.items()
    param2 = Param.from_label(label)
    if param2 == param:
        raise ValueError(f"param: must differ from the sweep's grid parameter {label}.")
    param.validate(params)
    param2.validate(params)
    try:
        ps, hs = events.values[f"{kind}_p"], events.values[f"{kind}_h"]
    except KeyError:
        raise ValueError(f"events: no {kind}_p / {kind}_h outputs; outputs are {list(events.values)} "
                         f"(a ContinuationEvents sweep has them).") from None
    found = np.isfinite(ps)
    if not found.any():
        return curves_through(params, [], param, param2, kind=kind, window=None, scale=np.ones(hs.shape[-1] + 2))
    if span is None:
        span = (float(ps[found].min()), float(ps[found].max()))
    lo, hi = (float(v) for v in span)
    if not lo < hi:
        raise ValueError(f"span: expected p_min < p_max, got {span!r}.")
    rows, cols = np.nonzero(found)
    starts = [(hs[i, j], float(ps[i, j]), float(grid[i])) for i, j in zip(rows, cols)]
    g_lo, g_hi = float(np.min(grid)), float(np.max(grid))
    scale = np.concatenate([np.maximum(np.ptp(hs[found], axis=0), 1.0), [hi - lo, max(g_hi - g_lo, 1e-12)]])
    return curves_through(params, starts, param, param2, kind=kind, window=((lo, hi), (g_lo, g_hi)), scale=scale,
                          f=f, ds=ds, ds_min=ds_min, ds_max=ds_max, tol=tol, max_points=max_points,
                          max_special=max_special)
