"""Drawing a ``bifurcation_diagram`` result: branches against the parameter, stability by line style, special
points by marker (matplotlib, headless without a display)."""

from __future__ import annotations

import numpy as np

from ..core._status import SpecialKind
from ._mpl import plt

#: marker style per special-point type: (marker, face colour, edge colour, legend label)
SPECIAL_STYLE = {
    "fold": ("o", "#111111", "#111111", "fold"),
    "branch point": ("s", "white", "#7b3fa0", "branch point"),
    "hopf super": ("^", "#2ca02c", "#2ca02c", "Hopf, supercritical ($l_1 < 0$)"),
    "hopf sub": ("v", "#d62728", "#d62728", "Hopf, subcritical ($l_1 > 0$)"),
    "hopf": ("D", "white", "#2ca02c", "Hopf ($l_1$ unknown)"),
}
BRANCH_COLOURS = ("#1f4e9c", "#c0282d", "#2a9d8f", "#e9a13b", "#6a4c93", "#8d6e63", "#3d5a80", "#b5179e")


def bifurcation_diagram(diag, *, coordinate=0, ax=None):
    """Draw ``diag`` (a ``Diagram``) on ``ax`` (a new figure if ``None``): every branch against the parameter,
    solid where stable (no unstable eigenvalue) and dashed where unstable, one colour per branch; folds, branch
    points and Hopf points (super- and subcritical told apart by the sign of ``l1``) marked, with a legend.

    ``coordinate``: the index of the state component to plot, or a callable ``h (d,) -> float``. Returns the
    Axes. Raises ``ValueError`` for a bad ``coordinate``."""
    y_of, y_label = _coordinate(coordinate, diag)
    if ax is None:
        _, ax = plt.subplots(figsize=(7.6, 4.4), layout="constrained")
    for i, br in enumerate(diag.branches):
        _draw_branch(ax, np.asarray(br.p), y_of(np.asarray(br.h)), np.asarray(br.n_unstable) == 0,
                     BRANCH_COLOURS[i % len(BRANCH_COLOURS)])
    ax.plot([], [], color="#444444", lw=1.6, label="stable")
    ax.plot([], [], color="#444444", lw=1.2, ls="--", label="unstable")
    sp = diag.special_points
    if len(sp):
        types = np.array([_type(int(k), float(l1)) for k, l1 in zip(sp.kind, sp.l1)])
        y = y_of(sp.h)
        for name, (marker, face, edge, label) in SPECIAL_STYLE.items():
            sel = types == name
            if sel.any():
                ax.scatter(sp.p[sel], y[sel], marker=marker, s=46, facecolors=face, edgecolors=edge, linewidths=1.4,
                           zorder=5, label=f"{label} ({int(sel.sum())})", gid=f"special-{name.replace(' ', '-')}")
    ax.set(xlabel=diag.param.label, ylabel=y_label, xlim=diag.span)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False, borderaxespad=0.0)
    return ax


def _coordinate(coordinate, diag):
    """``(y_of, label)``: ``y_of`` maps states (N, d) to (N,)."""
    if callable(coordinate):
        return (lambda h: np.array([float(coordinate(row)) for row in h], float).reshape(len(h))), "y"
    d = diag.special_points.h.shape[1] if not diag.branches else np.shape(diag.branches[0].h)[1]
    if isinstance(coordinate, bool) or not isinstance(coordinate, (int, np.integer)) or not -d <= coordinate < d:
        raise ValueError(f"coordinate: expected an int in [{-d}, {d}) or a callable h -> float, got {coordinate!r}.")
    return (lambda h: np.asarray(h, float).reshape(-1, d)[:, coordinate]), f"$h_{{{coordinate % d + 1}}}$"


def _draw_branch(ax, p, y, stable, colour) -> None:
    """Runs of equal stability as separate lines, each sharing its end row with the next so the curve is unbroken."""
    cuts = np.flatnonzero(stable[1:] != stable[:-1]) + 1
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(p)]):
        end = min(hi + 1, len(p))
        ax.plot(p[lo:end], y[lo:end], color=colour, lw=1.6 if stable[lo] else 1.2, ls="-" if stable[lo] else "--",
                zorder=3)


def _type(kind: int, l1: float) -> str:
    if kind != SpecialKind.HOPF:
        return SpecialKind(kind).label
    return "hopf" if not np.isfinite(l1) else ("hopf super" if l1 < 0 else "hopf sub")
