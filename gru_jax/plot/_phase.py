"""Phase portraits of 2-D systems with matplotlib."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._linalg import Kind
from ._mpl import plt
from ._cycles import draw_cycles, draw_manifolds
from ..models._field import VectorField, batch_shape, resolve_field, validate_params

#: ``Kind`` code -> (colour, marker, filled); ``-1`` is an unclassified point.
KIND_STYLE = {
    Kind.STABLE_NODE: ("#1f4e9c", "o", True),
    Kind.STABLE_FOCUS: ("#6a8dd6", "o", True),
    Kind.UNSTABLE_NODE: ("#c0282d", "o", False),
    Kind.UNSTABLE_FOCUS: ("#f28e2b", "o", False),
    Kind.SADDLE: ("#7b3fa0", "X", True),
    Kind.NON_HYPERBOLIC: ("#111111", "D", False),
    -1: ("#9a9a9a", "s", False),
}
NULLCLINE_COLOURS = ("#2ca02c", "#1f9bd1")


def phase_portrait(params, *, f: VectorField | None = None, fixed_points=None, trajectories=None, cycles=None,
                   manifolds=None, ax=None, lim=(-1.05, 1.05), density: float = 1.2, n_grid: int = 301,
                   legend: bool = True):
    """Draw the phase portrait of a 2-D system ``dh/dt = f(h, params)`` on ``ax`` (a new figure if ``None``). Layers:
    streamlines of ``f`` (light), both nullclines (zero contours of ``f_1`` and ``f_2`` on an ``n_grid``×``n_grid``
    grid over ``lim``², which is a pair or a pair of pairs), ``fixed_points`` (a single-problem ``FixedPoints``)
    coloured by kind (``KIND_STYLE``), and ``trajectories`` (a ``Trajectory`` or an array (N, T, 2)) as thin lines with
    start markers, limit ``cycles`` (a ``LimitCycles``, a ``PeriodicOrbit`` or orbits (K, n, 2); stable solid, unstable
    dashed) and a saddle's ``manifolds`` (a ``Manifolds``: at a homoclinic parameter they draw the loop). ``f`` defaults
    to the params' own vector field. Returns the Axes. Raises ``ValueError`` unless the system is 2-D and unbatched."""
    validate_params(params)
    f = resolve_field(params, f)
    if getattr(params, "dim", 2) != 2 or batch_shape(params):
        raise ValueError(f"phase_portrait: needs one 2-D system; got d={getattr(params, 'dim', '?')}, "
                         f"batch {batch_shape(params)}.")
    (x0, x1), (y0, y1) = np.broadcast_to(np.asarray(lim, float), (2, 2))
    xs, ys = np.linspace(x0, x1, n_grid), np.linspace(y0, y1, n_grid)
    grid = jnp.stack(jnp.meshgrid(jnp.asarray(xs), jnp.asarray(ys), indexing="xy"), axis=-1)
    field = np.asarray(_field_on_grid(f, params, grid))
    if field.shape != (n_grid, n_grid, 2):
        raise ValueError(f"phase_portrait: f must map a state (2,) to (2,), got output shape {field.shape[2:]}.")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.0, 5.2))

    ax.streamplot(xs, ys, field[..., 0], field[..., 1], density=density, color="#b8b8b8", linewidth=0.6,
                  arrowsize=0.7, zorder=1)
    for i, colour in enumerate(NULLCLINE_COLOURS):
        ax.contour(xs, ys, field[..., i], levels=[0.0], colors=colour, linewidths=1.6, zorder=2).set_gid(
            f"nullcline-{i + 1}")
        ax.plot([], [], color=colour, lw=1.6, label=f"$\\dot h_{i + 1} = 0$")
    if trajectories is not None:
        _draw_trajectories(ax, trajectories)
    if manifolds is not None:
        draw_manifolds(ax, manifolds)
    if cycles is not None:
        draw_cycles(ax, params, cycles, f)
    if fixed_points is not None:
        _draw_fixed_points(ax, fixed_points)
    ax.set(xlim=(x0, x1), ylim=(y0, y1), xlabel="$h_1$", ylabel="$h_2$", aspect="equal")
    if legend:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False, borderaxespad=0.0)
    return ax


@eqx.filter_jit
def _field_on_grid(f, params, grid):
    """``f`` at every point of ``grid`` (n, n, 2)."""
    return jax.vmap(jax.vmap(lambda h: f(h, params)))(grid)


def _draw_trajectories(ax, trajectories) -> None:
    hs = np.asarray(getattr(trajectories, "hs", trajectories), float)
    hs = hs[None] if hs.ndim == 2 else hs
    if hs.ndim != 3 or hs.shape[-1] != 2:
        raise ValueError(f"phase_portrait: trajectories must have shape (N, T, 2), got {hs.shape}.")
    for k, path in enumerate(hs):
        ax.plot(path[:, 0], path[:, 1], color="#333333", lw=0.8, alpha=0.85, zorder=3,
                label="trajectories" if k == 0 else None)
    ax.scatter(hs[:, 0, 0], hs[:, 0, 1], s=14, facecolors="white", edgecolors="#333333", linewidths=0.8,
               zorder=4, label="initial states")


def _draw_fixed_points(ax, fixed_points) -> None:
    fp = fixed_points.trim()
    h, kinds = np.asarray(fp.h), np.asarray(fp.kind)
    for code, (colour, marker, filled) in KIND_STYLE.items():
        sel = kinds == int(code)
        if not sel.any():
            continue
        label = Kind(code).label if code >= 0 else "unclassified"
        ax.scatter(h[sel, 0], h[sel, 1], s=60, marker=marker, facecolors=colour if filled else "white",
                   edgecolors=colour, linewidths=1.6, zorder=5, label=f"{label} ({int(sel.sum())})",
                   gid="fixed-points", clip_on=False)
