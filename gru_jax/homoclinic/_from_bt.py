"""The saddle-loop homoclinic curve that starts at a Bogdanov-Takens point, in two parameters.

Near a Bogdanov-Takens (BT) point the Hopf curve, the homoclinic curve and the fold curve are tangent, and the
homoclinic curve lies in a wedge of width O(distance²) beside the Hopf curve. The curve is reached through the
cycles that connect them: follow the Hopf curve from BT (to the side where ω² > 0) a given ``distance`` in
``(p, p2)``, continue the cycle family born there in ``param`` until its period blows up at the saddle loop,
locate the loop with the split function, and continue it in ``(param, param2)`` both ways: towards BT (until the
loop gets too small for the section at ``radius``) and away from it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import jax
import numpy as np

from .._validate import check_finite, check_positive, deprecated, renamed
from ..codim2._codim2 import continue_curve
from ..core._param import Param, as_param
from ..equilibria._point import SpecialPoint, locate_hopf
from ..core._result import ResultMixin, join as _join
from ..core._status import BranchStatus, LocateStatus
from ..models._field import VectorField
from ..periodic._continue import continue_cycles
from ..periodic._cycle_branch import CycleBranch, FamilyEndKind
from ._curve import HomoclinicCurve, continue_homoclinic
from ._locate import HomoclinicPoint, HomoclinicStatus
from ._report import locate_family_end

HOPF_ROWS = 8      # rows of the Hopf curve per ``distance`` (the Hopf start is the first row at that distance)


@dataclass(frozen=True, repr=False)
class HomoclinicFromBT(ResultMixin):
    """Each stage of ``homoclinic_from_bt``; a stage that failed leaves the later ones ``None``.

    ``bt`` ``(h (d,), p, p2)`` the Bogdanov-Takens point; ``hopf`` the Hopf point (``SpecialPoint``) at
    ``distance`` along the Hopf curve, at ``p2 = hopf_p2``; ``family`` its cycle family (``CycleBranch``, trimmed);
    ``start`` the located saddle loop (``HomoclinicPoint``) at ``p2 = hopf_p2``; ``curve`` the homoclinic curve
    (``HomoclinicCurve``, trimmed): its first row is the one nearest BT, its ``status`` says how the end towards
    BT and the far end stopped. ``message`` says how it went, in words; ``ok`` whether a curve was computed."""

    bt: tuple
    hopf: SpecialPoint | None = None
    hopf_p2: float | None = None
    family: CycleBranch | None = None
    start: HomoclinicPoint | None = None
    curve: HomoclinicCurve | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.curve is not None

    def _repr_one(self) -> str:
        return f"HomoclinicFromBT({self.message})" + (f"\n  {self.curve!r}" if self.ok else "")


@renamed(bt="start", period_max="max_period")
def homoclinic_from_bt(params, param: Param, param2: Param, start, *, distance: float, f: VectorField | None = None,
                       amplitude=0.01, max_period=500.0, ds_max=None, window=None,
                       max_points: int = 100) -> HomoclinicFromBT:
    """The saddle-loop homoclinic curve of the planar ``dh/dt = f(h, params)`` in ``(param, param2)`` that starts at
    the Bogdanov-Takens point ``start``: a located point with ``.h``, ``.p``, ``.p2`` such as ``curve.special[k]``,
    a Bogdanov-Takens point of a fold or Hopf curve (``gru_jax.continue_curve``), or its state ``h`` (2,) with
    ``param`` and ``param2`` at their values in ``params`` (``(h, p, p2)`` is the deprecated form).

    ``distance`` (in ``(p, p2)``, model-dependent) how far along the Hopf curve from BT the cycle family is started:
    small enough that the family ends in the saddle loop near BT, large enough that the loop is resolved.
    ``amplitude`` the first cycle's; ``max_period`` the period at which the family counts as ended (the loop is
    then located from its saddle, with the section at 0.1 x the last cycle's amplitude and ``t_max = 10
    max_period``). The curve: steps from ``distance / 10`` up to ``ds_max`` (default ``distance``), ``window``
    ``((p_lo, p_hi), (p2_lo, p2_hi))``, ``max_points`` rows each way (static). A host-level driver of jitted stages;
    bad input raises ``ValueError`` before compiling, a failed stage is reported in the result, not raised."""
    as_param(param)
    as_param(param2, "param2", differs_from=param)
    h, p, p2 = _bt_point(start, params, param, param2)
    for name, value in (("distance", distance), ("amplitude", amplitude), ("max_period", max_period)):
        check_finite(name, value)
        check_positive(name, value)
    at_bt = param2.set(param.set(params, p), p2)
    out = dict(bt=(h, p, p2))

    row = _hopf_row(at_bt, param, param2, h, p, distance, f)
    if row is None:
        return HomoclinicFromBT(**out, message="no Hopf point (omega^2 > 0) along either side of the Hopf curve from "
                                              "the Bogdanov-Takens point")
    h_hopf, p_hopf, p2_hopf = row
    at_hopf = param2.set(params, p2_hopf)
    hopf = locate_hopf(param.set(at_hopf, p_hopf), param, h_hopf, f=f)
    out.update(hopf=hopf, hopf_p2=p2_hopf)
    if int(hopf.located) != LocateStatus.CONVERGED or not np.isfinite(float(hopf.l1)):
        return HomoclinicFromBT(**out, message=f"the Hopf point at {param2.label} = {p2_hopf:.10g} was not located")

    family = continue_cycles(at_hopf, param, hopf, f=f, ds=amplitude, max_period=max_period,
                             ds_max=max_period / 50, max_points=400).trim()
    out.update(family=family)
    if int(family.family_end.kind) != FamilyEndKind.HOMOCLINIC:
        return HomoclinicFromBT(**out, message=f"the cycle family from the Hopf point ended '{family.end}', not in a "
                                              "saddle loop: try another distance")
    start, radius = locate_family_end(at_hopf, param, family, f, max_period)
    out.update(start=start)
    if int(start.status) != HomoclinicStatus.CONVERGED:
        return HomoclinicFromBT(**out, message=f"the saddle loop was not located: {start.message}")

    at_loop = param.set(at_hopf, start.p)
    towards = 1 if p2 > p2_hopf else -1
    ds_max = float(distance if ds_max is None else ds_max)
    run = lambda direction: continue_homoclinic(
        at_loop, param, param2, start, f=f, direction=direction, ds=min(distance / 10, ds_max), ds_min=distance * 1e-6,
        ds_max=ds_max, window=window, radius=radius, t_max=10 * max_period, max_points=max_points).trim()
    curve = join(run(towards), run(-towards))
    return HomoclinicFromBT(**out, curve=curve, message=f"{int(curve.count)} saddle loops; ends: "
                                                        + " / ".join(curve.messages()))


def _bt_point(bt, params, param: Param, param2: Param) -> tuple[np.ndarray, float, float]:
    """``(h, p, p2)`` from an object with ``.h``, ``.p``, ``.p2``, a state with the values in ``params``, or the
    deprecated triple; checked."""
    if all(hasattr(bt, k) for k in ("h", "p", "p2")):
        bt = (bt.h, bt.p, bt.p2)
    elif isinstance(bt, (tuple, list)) and len(bt) == 3 and np.ndim(bt[0]) == 1:
        deprecated("homoclinic_from_bt: start=(h, p, p2) is deprecated; pass the Bogdanov-Takens point (with .h, "
                   ".p, .p2), or its state h with p and p2 set in params.")
    else:
        bt = (bt, param.validate(params).get(params), param2.validate(params).get(params))
    h, p, p2 = np.asarray(bt[0], float), np.asarray(bt[1], float), np.asarray(bt[2], float)
    if h.shape != (2,) or p.shape or p2.shape:
        raise ValueError(f"start: expected h of shape (2,) and scalar p, p2 (a planar system); got shapes {h.shape}, "
                         f"{p.shape}, {p2.shape}.")
    if not (np.all(np.isfinite(h)) and np.isfinite(p) and np.isfinite(p2)):
        raise ValueError("start: non-finite values.")
    return h, float(p), float(p2)


def _hopf_row(at_bt, param, param2, h, p, distance, f):
    """The first row of the Hopf curve from BT at ``distance`` in ``(p, p2)`` with ``ω² > 0``, as ``(h, p, p2)``;
    ``None`` if neither direction has one."""
    step = distance / HOPF_ROWS
    for direction in (1, -1):
        c = continue_curve(at_bt, param, param2, h, kind="hopf", f=f, direction=direction, ds=step,
                           ds_max=step, max_points=2 * HOPF_ROWS).trim()
        pp = np.stack([np.asarray(c.p), np.asarray(c.p2)], axis=1)
        far = np.flatnonzero(np.hypot(*(pp - pp[0]).T) >= (1 - 1e-6) * distance)
        if far.size and np.asarray(c.kappa)[far[0]] > 0:
            k = far[0]
            return np.asarray(c.h[k]), float(c.p[k]), float(c.p2[k])
    return None


def join(towards: HomoclinicCurve, away: HomoclinicCurve) -> HomoclinicCurve:
    """Two trimmed curves from the same start into one (``core.join``, trimmed, numpy leaves), ordered from the end
    of ``towards`` to the end of ``away``; ``status`` ``(towards' end, away's end)``, or the failed start twice."""
    curve = jax.tree_util.tree_map(np.asarray, _join(towards, away).trim())
    if int(towards.status[0]) == BranchStatus.START_FAILED:
        curve = dataclasses.replace(curve, status=np.array([towards.status[0]] * 2, np.int32))
    return curve
