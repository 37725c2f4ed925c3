"""Where the cycle families of a planar system end, in one parameter: the ``gru-jax homoclinic`` report."""

from __future__ import annotations

import numpy as np

from ..equilibria._diagram import bifurcation_diagram
from ..core._param import Param
from ..core._status import LocateStatus, SpecialKind
from ..models._field import VectorField
from ..periodic._continue import continue_cycles
from ..periodic._cycle_branch import CycleKind, FamilyEndKind
from ._locate import HomoclinicPoint, HomoclinicStatus, locate_homoclinic

SAME = 1e-7      # two ends within this distance in the parameter are one point


def homoclinic_report(params, param: Param, window, *, f: VectorField | None = None, max_period: float = 500.0,
                      max_points: int = 400) -> dict:
    """Hopf points of the equilibria in ``window = (lo, hi)``, the cycle family born at each (continued inside the
    window until its period passes ``max_period``), its folds of cycles, and how it ends: a saddle-loop homoclinic point
    is located (``locate_homoclinic``, from the saddle the family ends at), a SNIC is placed at the fold of equilibria
    where it ends. JSON-ready: ``{"hopf": [{"param", "h", "omega", "l1", "family_end"}], "homoclinic": [{"param",
    "saddle", "saddle_quantity", "kind", "located"}], "cycle_folds": [{"param", "period"}]}``; ``saddle_quantity`` is
    None for a SNIC (whose ``saddle`` is the saddle-node)."""
    lo, hi = (float(v) for v in window)
    diagram = bifurcation_diagram(params, param, (lo, hi), f=f)
    sp = diagram.special_points
    folds = [k for k in range(len(sp)) if sp.kind[k] == SpecialKind.FOLD and sp.located[k] == LocateStatus.CONVERGED]
    report = {"hopf": [], "homoclinic": [], "cycle_folds": []}
    for k in range(len(sp)):
        if sp.kind[k] != SpecialKind.HOPF or sp.located[k] != LocateStatus.CONVERGED:
            continue
        family = continue_cycles(params, param, sp[k], f=f, window=(lo, hi), max_period=max_period,
                                 ds_max=max_period / 50, max_points=max_points).trim()   # near the end T dominates ds
        report["hopf"].append({"param": float(sp.p[k]), "h": sp.h[k].tolist(), "omega": float(sp.omega[k]),
                               "l1": float(sp.l1[k]), "family_end": family.end})
        points = family.special
        for i in range(int(points.count)):
            if int(points.kind[i]) == CycleKind.LPC:
                _add(report["cycle_folds"], {"param": float(points.p[i]), "period": float(points.period[i])})
        end = family.family_end
        if int(end.kind) == FamilyEndKind.HOMOCLINIC:
            found, _ = locate_family_end(params, param, family, f, max_period)
            ok = int(found.status) == HomoclinicStatus.CONVERGED
            _add(report["homoclinic"], {
                "param": float(found.p if ok else end.p_end),
                "saddle": np.asarray(found.saddle if ok else end.equilibrium).tolist(),
                "saddle_quantity": float(found.saddle_quantity if ok else end.saddle_quantity),
                "kind": "saddle-loop", "located": ok})
        elif int(end.kind) == FamilyEndKind.SNIC and folds:
            j = min(folds, key=lambda j: abs(sp.p[j] - float(end.p_end)))
            _add(report["homoclinic"], {"param": float(sp.p[j]), "saddle": sp.h[j].tolist(), "saddle_quantity": None,
                                        "kind": "SNIC", "located": True})
    return report


def locate_family_end(params, param: Param, family, f, max_period: float) -> tuple[HomoclinicPoint, float]:
    """The saddle loop where a (trimmed) cycle family ends, located from its saddle and extrapolated end, with the
    section inside the loop (``radius`` 0.1 x the last amplitude) and ``t_max = 10 max_period``; and that radius."""
    end = family.family_end
    radius = 0.1 * float(family.amplitude[-1])
    return locate_homoclinic(param.set(params, end.p_end), param, end.equilibrium, f=f, radius=radius,
                             t_max=10 * max_period), radius


def _add(rows: list, row: dict) -> None:
    """Append ``row`` unless a row of the same kind lies within ``SAME`` of it in the parameter."""
    if not any(r.get("kind") == row.get("kind") and abs(r["param"] - row["param"]) < SAME for r in rows):
        rows.append(row)
