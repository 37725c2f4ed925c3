"""The ``gru-jax demo``: fixed points, trajectories and phase portraits along the 2-D rotation family.

``Uh = gain · R(alpha)``, everything else zero (model.md §3): 9 fixed points at ``alpha = 0``; a SNIC near 0.148; one
unstable focus and a stable limit cycle up to the Hopf point ``arccos(2/gain) ≈ 0.841``; a stable focus at the origin
above it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._fixed_points import find_fixed_points
from ._integrate import simulate
from .models._gru import GRUParams


def ring(n: int = 8, radii=(0.95, 0.15)) -> np.ndarray:
    """``n`` initial states (n, 2) at evenly spaced angles, cycling through ``radii``."""
    angles = 2 * np.pi * (np.arange(n) + 0.5) / n
    r = np.resize(np.asarray(radii, float), n)
    return np.stack([r * np.cos(angles), r * np.sin(angles)], axis=-1)


def run_demo(out_dir, alphas=(0.0, 0.3, 0.84, 1.2), gain: float = 3.0, *, n_seeds: int = 4096,
             t1: float = 150.0) -> list[Path]:
    """For each ``alpha``: print the fixed-point table, simulate 8 trajectories from a ring of initial
    states and write ``<out_dir>/rotation_alpha_<alpha>.png``. Returns the written paths."""
    import matplotlib.pyplot as plt

    from .plot import phase_portrait

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for alpha in alphas:
        params = GRUParams.rotation(float(alpha), float(gain))
        fp = find_fixed_points(params, n_seeds=n_seeds, seeding="grid")
        print(f"rotation family: alpha = {alpha:g}, gain = {gain:g}")
        print(fp, end="\n\n")
        traj = simulate(params, ring(), t1=t1, n_save=1501)
        ax = phase_portrait(params, fixed_points=fp, trajectories=traj)
        ax.set_title(f"CT-GRU rotation family: $U_h = {gain:g}\\,R(\\alpha)$, $\\alpha = {alpha:g}$", fontsize=10)
        path = out_dir / f"rotation_alpha_{alpha:.2f}.png"
        ax.figure.savefig(path, dpi=120, bbox_inches="tight")
        plt.close(ax.figure)
        paths.append(path)
    return paths
