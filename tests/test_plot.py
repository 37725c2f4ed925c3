import jax

jax.config.update("jax_enable_x64", True)

import matplotlib
import numpy as np
import pytest

import gru_jax
from gru_jax.plot import phase_portrait
from conftest import H_STAR

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def fixed_point_offsets(ax):
    return np.concatenate([c.get_offsets() for c in ax.collections if c.get_gid() == "fixed-points"])


def nullclines(ax):
    return {c.get_gid(): c for c in ax.collections if str(c.get_gid()).startswith("nullcline")}


def test_rotation_portrait():
    params = gru_jax.GRUParams.rotation(0.0)
    fp = gru_jax.find_fixed_points(params, n_seeds=4096, seeding="grid")
    hs = np.stack([np.linspace([0.1, 0.2], [0.8, 0.8], 30), np.linspace([-0.1, 0.05], [-0.8, 0.0], 30)])
    ax = phase_portrait(params, fixed_points=fp, trajectories=hs)
    assert isinstance(ax, matplotlib.axes.Axes)
    lines = nullclines(ax)
    assert set(lines) == {"nullcline-1", "nullcline-2"} and all(len(c.get_paths()[0].vertices) for c in lines.values())
    # the plotted points are the fixed points (with zero coordinates: compared with atol, never rtol alone)
    np.testing.assert_allclose(np.sort(fixed_point_offsets(ax), axis=0), np.sort(np.asarray(fp.trim().h), axis=0),
                               rtol=0, atol=1e-15)
    labels = ax.get_legend_handles_labels()[1]
    assert {"stable node (4)", "saddle (4)", "unstable node (1)", "trajectories", "initial states"} <= set(labels)
    assert sum(1 for line in ax.lines if line.get_label() == "trajectories") == 1 and len(ax.lines) >= 2 + 2


def test_custom_field_and_existing_axes():
    _, ax = plt.subplots()
    out = phase_portrait(gru_jax.GRUParams.zeros(2), f=lambda h, p: jax.numpy.array([h[1], -h[0] - h[1]]),
                         ax=ax, lim=((-2, 2), (-1, 1)), n_grid=51)
    assert out is ax and ax.get_xlim() == (-2, 2) and ax.get_ylim() == (-1, 1)
    # f_1 = h_2 vanishes on the h_1 axis
    v = nullclines(ax)["nullcline-1"].get_paths()[0].vertices
    np.testing.assert_allclose(v[:, 1], 0.0, atol=1e-12)


@pytest.mark.parametrize("d", [1, 3])
def test_not_two_dimensional_raises(d):
    with pytest.raises(ValueError, match="2-D"):
        phase_portrait(gru_jax.GRUParams.zeros(d))


@pytest.mark.slow
def test_cycles_and_saddle_manifolds_on_a_portrait():
    from gru_jax.homoclinic._manifolds import saddle_manifolds

    params = gru_jax.GRUParams.rotation(0.5)
    cycles = gru_jax.find_limit_cycles(params, n_seeds=4)
    ax = phase_portrait(params, cycles=cycles, n_grid=51)
    (cycle,) = [line for line in ax.lines if line.get_gid() == "cycle"]
    xy = cycle.get_xydata()
    assert cycle.get_linestyle() == "-" and np.ptp(xy, axis=0).min() > 1.0      # the stable cycle, solid
    np.testing.assert_allclose(xy[0], xy[-1], atol=5e-10)                         # closed; measured 5.7e-11
    assert "stable cycle" in ax.get_legend_handles_labels()[1]

    rotation0 = gru_jax.GRUParams.rotation(0.0)             # saddle at (h*, 0), stable nodes at (h*, ±h*)
    manifolds = saddle_manifolds(rotation0, jax.numpy.array([H_STAR, 0.0]), T=100.0)   # e^{0.25 T} delta >> 1
    ax = phase_portrait(rotation0, manifolds=manifolds, n_grid=51)
    unstable = [line.get_xydata() for line in ax.lines if line.get_gid() == "unstable-manifold"]
    stable = [line.get_xydata() for line in ax.lines if line.get_gid() == "stable-manifold"]
    assert len(unstable) == 2 and len(stable) == 2
    ends = np.sort(np.stack([path[-1] for path in unstable]), axis=0)
    # into the two nodes, after T = 100 at the rate 0.3028 (eigenvalue at the nodes): measured 4.7e-7
    np.testing.assert_allclose(ends, [[H_STAR, -H_STAR], [H_STAR, H_STAR]], atol=3e-6)


@pytest.mark.slow
def test_cycle_family_plot_marks_folds_and_the_end():
    from types import SimpleNamespace

    from gru_jax.plot import cycle_family

    def bautin(x, p):      # r' = r (b + r^2 - r^4), theta' = 1: Hopf at b = 0, fold of cycles at b = -1/4
        r2 = x[0] ** 2 + x[1] ** 2
        g = p["b"] + r2 - r2 ** 2
        return jax.numpy.array([g * x[0] - x[1], x[0] + g * x[1]])

    family = gru_jax.continue_cycles({"b": jax.numpy.array(0.0)}, gru_jax.Param("b"),
                                     SimpleNamespace(h=jax.numpy.zeros(2), p=0.0), f=bautin, window=(-0.5, 0.5),
                                     ds=0.02, ds_max=0.1, n_segments=2, max_points=80)
    ax = cycle_family(family, y="amplitude", xlabel="b")
    labels = ax.get_legend_handles_labels()[1]
    assert "LPC (1)" in labels and f"ends: {family.end}" in labels
    assert {"cycles, stable", "cycles, unstable"} <= set(labels) and ax.get_xlabel() == "b"
    (fold,) = [c for c in ax.collections if c.get_label() == "LPC (1)"]
    assert fold.get_offsets()[0][0] == pytest.approx(-0.25, abs=1e-8)
