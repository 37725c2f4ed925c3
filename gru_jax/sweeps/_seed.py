"""Codimension-two curves seeded from the point clouds of a ``ContinuationEvents`` sweep."""

from __future__ import annotations

import numpy as np

from .._validate import Alias, check_choice, check_window, renamed
from ..codim2._codim2 import KINDS
from ..codim2._codim2_diagram import CurveDiagram, curves_through
from ..core._param import Param, as_param
from ..models._field import VectorField
from ._result import SweepResult


def _grid_range(events) -> tuple[float, float]:
    """The range of a one-axis grid sweep's values."""
    (grid,) = events.axes.values()
    return float(np.min(grid)), float(np.max(grid))


def _sweep_window(given: dict, arguments: dict):
    """The deprecated ``span=(lo, hi)`` as ``window=((lo, hi), the grid's range)``."""
    return tuple(given["span"]), _grid_range(arguments["events"])


@renamed(Alias(("span",), "window", _sweep_window, "window=((lo, hi), (lo2, hi2))"))
def codim2_curves_from_sweep(params, events: SweepResult, param: Param, *, kind: str = "fold", window=None,
                             f: VectorField | None = None, ds=0.01, ds_min=1e-6, ds_max=0.1, tol=1e-10,
                             max_points: int = 400, max_special: int = 8) -> CurveDiagram:
    """The fold (or Hopf) curves in ``(param, param2)`` through the points of a two-parameter map, each once.

    ``events``: a sweep of ``ContinuationEvents(param, span)`` over one grid axis ``param2`` with base ``params``
    (outputs ``fold_p``/``fold_h`` or ``hopf_p``/``hopf_h``). Every cloud point starts a curve unless it already lies on
    one computed before, so a few continuations join the whole cloud and extend it past the slices (and report its
    cusps, Bogdanov-Takens and generalized Hopf points). ``window = ((lo, hi), (lo2, hi2))`` in ``(param, param2)``,
    default: the cloud's range of ``param`` x the grid's range. Options as for ``continue_curve_both``."""
    check_choice("kind", kind, KINDS)
    if not isinstance(events, SweepResult) or events.kind != "grid" or len(events.axes) != 1:
        raise ValueError("events: expected the SweepResult of a ContinuationEvents sweep over one grid axis.")
    as_param(param)
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
    if window is not None:
        check_window(window, 2)
    if not found.any():
        return curves_through(params, [], param, param2, kind=kind, window=None, scale=np.ones(hs.shape[-1] + 2))
    cloud, grid_range = (float(ps[found].min()), float(ps[found].max())), _grid_range(events)
    if window is None:
        window = (cloud, grid_range)
    (lo, hi), (g_lo, g_hi) = (tuple(float(v) for v in row) for row in zip(*check_window(window, 2)))
    rows, cols = np.nonzero(found)
    starts = [(hs[i, j], float(ps[i, j]), float(grid[i])) for i, j in zip(rows, cols)]
    extent = lambda a, b, fallback: b - a if np.isfinite(b - a) else fallback[1] - fallback[0]   # infinite windows
    scale = np.concatenate([np.maximum(np.ptp(hs[found], axis=0), 1.0),
                            [extent(lo, hi, cloud), max(extent(g_lo, g_hi, grid_range), 1e-12)]])
    return curves_through(params, starts, param, param2, kind=kind, window=((lo, hi), (g_lo, g_hi)), scale=scale,
                          f=f, ds=ds, ds_min=ds_min, ds_max=ds_max, tol=tol, max_points=max_points,
                          max_special=max_special)
