import jax

jax.config.update("jax_enable_x64", True)

import matplotlib
import numpy as np
import pytest

import gru_jax
from gru_jax.plot import phase_portrait

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
    np.testing.assert_allclose(np.sort(fixed_point_offsets(ax), axis=0), np.sort(np.asarray(fp.trim().h), axis=0))
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
