"""``codim2_curves``: the fold (or Hopf) curves through every fold (Hopf) point of a ``bifurcation_diagram``,
each curve once, and their codimension-two points, each once."""

from __future__ import annotations

import dataclasses

import numpy as np

from .._validate import Alias, check_choice, check_window, renamed
from ..models._field import VectorField
from ..core._result import ResultMixin
from ._codim2 import KINDS, Curve, continue_curve_both, points_json
from ..equilibria._diagram import Diagram
from ..core._param import Param, as_param
from ..core._status import BranchStatus, Codim2Kind, LocateStatus, SpecialKind

SAME_CURVE = 1e-3     # a start within this scaled distance of a computed curve lies on it
SAME_POINT = 1e-5     # codimension-two points within this scaled distance are one


@dataclasses.dataclass(repr=False)
class CurvePoints(ResultMixin):
    """Codimension-two points of several curves, one row each (numpy columns, K rows): ``kind`` ``Codim2Kind`` code,
    ``p``, ``p2``, ``h`` (K, d), ``located`` ``LocateStatus`` code, ``curve`` index."""

    kind: np.ndarray
    p: np.ndarray
    p2: np.ndarray
    h: np.ndarray
    located: np.ndarray
    curve: np.ndarray

    # labels(): "cusp", "bogdanov-takens" or "generalized hopf" per row
    _rows = ("kind", "p", "p2", "h", "located", "curve")
    _kinds = Codim2Kind


@dataclasses.dataclass(repr=False)
class CurveDiagram(ResultMixin):
    """Distinct fold or Hopf ``curves`` (trimmed ``Curve``s) in ``(param, param2)`` and their ``special_points``."""

    curves: list[Curve]
    special_points: CurvePoints
    param: Param
    param2: Param
    kind: str

    def _repr_one(self) -> str:
        lines = [f"CurveDiagram: {len(self.curves)} {self.kind} curve(s) in ({self.param!r}, {self.param2!r})"]
        for i, c in enumerate(self.curves):
            ends = " / ".join(BranchStatus(int(e)).name for e in np.asarray(c.status))
            lines.append(f"  {i:>2} {int(c.count):>4} points  p in [{np.min(c.p):+.6g}, {np.max(c.p):+.6g}]  "
                         f"p2 in [{np.min(c.p2):+.6g}, {np.max(c.p2):+.6g}]  ends {ends}")
        sp = self.special_points
        lines.append(f"{len(sp.kind)} codimension-two point(s)")
        for i, label in enumerate(sp.labels()):
            lines.append(f"  {i:>2} {label:<16} p={sp.p[i]:+.10f} p2={sp.p2[i]:+.10f}  "
                         f"{LocateStatus(int(sp.located[i])).name.lower()}  curve {sp.curve[i]}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON-ready: ``{"curves": [Curve.to_dict() without its points], "special_points": [{"type", "param",
        "param2", "h", "located"}]}``."""
        curves = [{k: v for k, v in c.to_dict().items() if k != "special_points"} for c in self.curves]
        return {"curves": curves, "special_points": points_json(self.special_points)}


def _scaled(h, p, p2, scale) -> np.ndarray:
    return np.column_stack([np.atleast_2d(h), np.atleast_1d(p), np.atleast_1d(p2)]) / scale


def _distance_to_polyline(q: np.ndarray, rows: np.ndarray) -> float:
    """Euclidean distance from ``q`` (n,) to the polyline through ``rows`` (k, n)."""
    if len(rows) == 1:
        return float(np.linalg.norm(q - rows[0]))
    a, b = rows[:-1], rows[1:]
    seg = b - a
    s = np.clip(np.einsum("ij,ij->i", q - a, seg) / np.maximum(np.einsum("ij,ij->i", seg, seg), 1e-300), 0, 1)
    return float(np.min(np.linalg.norm(a + s[:, None] * seg - q, axis=1)))


#: the deprecated ``window2=(lo2, hi2)`` -> ``window=(diagram's window, (lo2, hi2))``
@renamed(Alias(("window2",), "window", lambda given, args: (tuple(args["diagram"].span), tuple(given["window2"])),
               "window=((lo, hi), (lo2, hi2))"))
def codim2_curves(params, diagram: Diagram, param2: Param, *, kind: str = "fold", window=None,
                  f: VectorField | None = None, ds=0.01, ds_min=1e-6, ds_max=0.1, tol=1e-10, max_points: int = 400,
                  max_special: int = 8) -> CurveDiagram:
    """Continue the ``kind`` (``"fold"`` or ``"hopf"``) curve through each located fold (Hopf) point of ``diagram``
    (computed for ``params`` and ``f``) in ``(diagram.param, param2)``, inside ``window = ((lo, hi), (lo2, hi2))``
    (default: the diagram's window x unbounded); a point already on a computed curve starts none. Codimension-two
    points met on several curves are listed once. Options as for ``continue_curve_both``."""
    check_choice("kind", kind, KINDS)
    as_param(param2, "param2")
    param2.validate(params)
    if param2 == diagram.param:
        raise ValueError(f"param2: must differ from the diagram's parameter {diagram.param!r}.")
    lo, hi = check_window(((*diagram.span,), (-np.inf, np.inf)) if window is None else window, 2)
    p2_0 = float(param2.get(params))
    wanted = SpecialKind.FOLD if kind == "fold" else SpecialKind.HOPF
    sp = diagram.special_points
    starts = [(sp.h[i], sp.p[i], p2_0) for i in range(len(sp.kind))
              if sp.kind[i] == wanted and sp.located[i] == LocateStatus.CONVERGED]
    d = sp.h.shape[1]
    box = np.ptp(np.concatenate([np.asarray(b.h) for b in diagram.branches]), axis=0) if diagram.branches else 0
    scale = np.concatenate([np.maximum(box, 1.0) * np.ones(d), [diagram.span[1] - diagram.span[0]] * 2])
    window = tuple((float(a), float(b)) for a, b in zip(np.asarray(lo), np.asarray(hi)))
    return curves_through(params, starts, diagram.param, param2, kind=kind, window=window, scale=scale, f=f,
                          ds=ds, ds_min=ds_min, ds_max=ds_max, tol=tol, max_points=max_points, max_special=max_special)


def curves_through(params, starts, param: Param, param2: Param, *, kind: str, window, scale: np.ndarray,
                   f: VectorField | None = None, **options) -> CurveDiagram:
    """The ``kind`` curve through each start ``(h (d,), p, p2)`` in turn (``params`` with ``param2`` set to the
    start's ``p2``), skipping a start within ``SAME_CURVE`` (distances divided by ``scale`` (d+2,)) of a curve
    already computed. ``options`` go to ``continue_curve_both``."""
    curves, paths = [], []
    for h, p, p2 in starts:
        q = _scaled(h, p, p2, scale)[0]
        if any(_distance_to_polyline(q, path) < SAME_CURVE for path in paths):
            continue
        curve = continue_curve_both(param2.set(param.set(params, p), p2), param, param2, h, kind=kind, f=f,
                                    window=window, **options)
        if int(curve.count) > 0:
            curves.append(curve.trim())
            paths.append(_scaled(np.asarray(curves[-1].h), np.asarray(curves[-1].p), np.asarray(curves[-1].p2), scale))
    return CurveDiagram(curves, _merged_points(curves, scale), param, param2, kind)


def _merged_points(curves: list[Curve], scale: np.ndarray) -> CurvePoints:
    rows, seen = [], []
    for c_index, c in enumerate(curves):
        sp = c.special
        for i in range(int(sp.count)):
            q = _scaled(np.asarray(sp.h[i]), float(sp.p[i]), float(sp.p2[i]), scale)[0]
            if any(int(sp.kind[i]) == k and np.max(np.abs(q - other)) < SAME_POINT for k, other in seen):
                continue
            seen.append((int(sp.kind[i]), q))
            rows.append((int(sp.kind[i]), float(sp.p[i]), float(sp.p2[i]), np.asarray(sp.h[i]),
                         int(sp.located[i]), c_index))
    kind, p, p2, h, located, curve = zip(*rows) if rows else [()] * 6
    return CurvePoints(np.array(kind, int), np.array(p, float), np.array(p2, float),
                       np.array(h, float).reshape(-1, len(scale) - 2), np.array(located, int), np.array(curve, int))
