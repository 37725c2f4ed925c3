"""Two-parameter bifurcation diagrams of fold and Hopf curves (``continue_curve`` results) and saddle-loop
homoclinic curves (``continue_homoclinic``, ``homoclinic_from_bt``) with matplotlib."""

from __future__ import annotations

import numpy as np

from ..codim2._codim2 import Curve
from ..core._status import Codim2Kind
from ..homoclinic._curve import HomoclinicCurve
from ._mpl import plt

#: curve kind -> (colour, linestyle)
CURVE_STYLE = {"fold": ("#1f4e9c", "-"), "hopf": ("#c0282d", "--"), "homoclinic": ("#2b8a3e", "-.")}
NEUTRAL_SADDLE_STYLE = ("#c0282d", ":", 0.45)
#: ``Codim2Kind`` -> (colour, marker)
POINT_STYLE = {Codim2Kind.CUSP: ("#2ca02c", "^"), Codim2Kind.BOGDANOV_TAKENS: ("#111111", "s"),
               Codim2Kind.GENERALIZED_HOPF: ("#9467bd", "D")}


def two_parameter_diagram(curves, *, ax=None, labels=None):
    """Draw fold and Hopf curves and saddle-loop homoclinic curves (a ``Curve`` or ``HomoclinicCurve``, or a
    sequence of single ones) in the (param, param2) plane on ``ax`` (a new figure if ``None``): folds solid, Hopf
    curves dashed, the neutral-saddle part of Hopf curves (``kappa <= 0``) dotted and faint, homoclinic curves
    dash-dotted; cusp, Bogdanov-Takens and generalized Hopf points as labelled markers. ``labels``: one legend
    label per curve (default: its kind). Axis labels are the ``Param`` reprs of the first curve. Returns the Axes.
    Raises ``ValueError`` for batched curves."""
    curves = [curves] if isinstance(curves, (Curve, HomoclinicCurve)) else list(curves)
    labels = [_kind(c) for c in curves] if labels is None else list(labels)
    if len(labels) != len(curves):
        raise ValueError(f"labels: expected {len(curves)} labels (one per curve), got {len(labels)}.")
    for c in curves:
        if not isinstance(c, (Curve, HomoclinicCurve)) or np.ndim(c.count):
            raise ValueError("two_parameter_diagram: expected single (unbatched) Curve or HomoclinicCurve results; "
                             "index a batch first.")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.0, 5.0))
    seen = set()
    for curve, label in zip(curves, labels):
        c = curve.trim()
        p, p2 = np.asarray(c.p), np.asarray(c.p2)
        colour, style = CURVE_STYLE[_kind(c)]
        focus = np.asarray(c.kappa) > 0 if _kind(c) == "hopf" else np.ones(p.shape, bool)
        focus, saddle = _widen(focus), _widen(~focus)       # the pieces meet at the Bogdanov-Takens point
        ax.plot(np.where(focus, p, np.nan), np.where(focus, p2, np.nan), color=colour, ls=style, lw=1.6, label=label)
        if saddle.any():
            colour, style, alpha = NEUTRAL_SADDLE_STYLE
            ax.plot(np.where(saddle, p, np.nan), np.where(saddle, p2, np.nan), color=colour, ls=style, lw=1.4,
                    alpha=alpha, label=f"{label} (neutral saddle)")
        if isinstance(c, HomoclinicCurve):
            continue
        sp = c.special
        for code, (colour, marker) in POINT_STYLE.items():
            sel = np.asarray(sp.kind) == int(code)
            if sel.any():
                ax.scatter(np.asarray(sp.p)[sel], np.asarray(sp.p2)[sel], s=55, marker=marker, color=colour,
                           zorder=5, label=None if code in seen else code.label)
                seen.add(code)
    ax.set(xlabel=curves[0].param_name if curves else "param", ylabel=curves[0].param2_name if curves else "param2")
    ax.legend(fontsize=8, frameon=False)
    return ax


def _kind(curve) -> str:
    return "homoclinic" if isinstance(curve, HomoclinicCurve) else curve.kind


def _widen(mask: np.ndarray) -> np.ndarray:
    """``mask`` grown by one row on each side."""
    out = mask.copy()
    out[1:] |= mask[:-1]
    out[:-1] |= mask[1:]
    return out
