"""Limit cycles, saddle manifolds and cycle families with matplotlib."""

from __future__ import annotations

import jax
import numpy as np

from ._mpl import plt

CYCLE_COLOUR = "#d62728"
MANIFOLD_COLOURS = {"unstable": "#e377c2", "stable": "#17becf"}
FAMILY_MARKERS = {"LPC": ("o", "#111111"), "PD": ("s", "#2ca02c"), "NS": ("D", "#9467bd")}


def draw_cycles(ax, params, cycles, f=None, n: int = 400) -> None:
    """Draw limit cycles on a phase portrait: a ``LimitCycles`` (one problem), a ``PeriodicOrbit`` (one or a
    batch (K,)), or sampled orbits (K, n, 2). Stable cycles solid, unstable dashed, as in the field's figures."""
    from ..periodic._detect import LimitCycles
    from ..periodic._shooting import OrbitStatus, PeriodicOrbit

    if isinstance(cycles, LimitCycles):
        cycles = cycles.trim().cycles
    if isinstance(cycles, PeriodicOrbit):
        if not cycles.batch_shape:
            cycles = jax.tree_util.tree_map(lambda a: a[None], cycles)
        keep = np.asarray(cycles.status) == OrbitStatus.CONVERGED
        paths = np.asarray(cycles.sample(params, n, f, by="arclength") if len(keep) else np.zeros((0, n, 2)))
        paths, stable = paths[keep], np.asarray(cycles.stable)[keep]
    else:
        paths = np.asarray(cycles, float)
        paths = paths[None] if paths.ndim == 2 else paths
        stable = np.ones(len(paths), bool)
    if paths.ndim != 3 or paths.shape[-1] != 2:
        raise ValueError(f"cycles: expected a LimitCycles, a PeriodicOrbit or orbits (K, n, 2), got {paths.shape}.")
    for k, (path, s) in enumerate(zip(paths, stable)):
        label = ("stable cycle" if s else "unstable cycle") if k == list(stable).index(s) else None
        ax.plot(path[:, 0], path[:, 1], color=CYCLE_COLOUR, lw=2.0, ls="-" if s else "--", zorder=4, label=label,
                gid="cycle")


def draw_manifolds(ax, manifolds) -> None:
    """Draw the unstable and stable manifold branches of a ``Manifolds`` (one saddle, 2-D)."""
    for name in ("unstable", "stable"):
        branches = np.asarray(getattr(manifolds, name))
        for k, path in enumerate(branches):
            ax.plot(path[:, 0], path[:, 1], color=MANIFOLD_COLOURS[name], lw=1.4, zorder=3, gid=f"{name}-manifold",
                    label=f"{name} manifold" if k == 0 and np.isfinite(path).any() else None)


def cycle_family(branch, ax=None, *, y: str = "period", label: str | None = None, xlabel: str | None = None):
    """Draw a family of cycles (a ``CycleBranch``): ``y`` (``"period"`` or ``"amplitude"``) against the parameter,
    stable parts solid, unstable dashed, folds of cycles (LPC), period doublings (PD) and Neimark-Sacker points
    (NS) marked, and the end of the family in the legend. Returns the Axes."""
    if y not in ("period", "amplitude"):
        raise ValueError(f"y: unknown option {y!r}; choose 'period' or 'amplitude'.")
    b = branch.trim()
    p, v, stable = np.asarray(b.p), np.asarray(getattr(b, y)), np.asarray(b.stable)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.0, 4.5))
    name = label or "cycles"
    for s in (True, False):
        ax.plot(p, np.where(stable == s, v, np.nan), color=CYCLE_COLOUR, lw=1.8, ls="-" if s else "--",
                label=f"{name}, {'stable' if s else 'unstable'}" if (stable == s).any() else None)
    points = b.special
    labels = points.labels()
    for kind, (marker, colour) in FAMILY_MARKERS.items():
        sel = np.array([lab == kind for lab in labels], bool)
        if sel.any():
            px = np.asarray(points.p)[sel]    # amplitude at a point: interpolated along the rows, for the marker
            values = np.asarray(points.period)[sel] if y == "period" else np.interp(px, np.sort(p), v[np.argsort(p)])
            ax.scatter(px, values, marker=marker, color=colour, zorder=5, s=40, label=f"{kind} ({int(sel.sum())})")
    ax.plot([], [], " ", label=f"ends: {b.end}")
    ax.set(ylabel=y, xlabel=xlabel if xlabel is not None else "parameter")
    ax.legend(fontsize=8, loc="best")
    return ax
