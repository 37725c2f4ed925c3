"""Trajectories: closed forms, batching, statuses, and the cycle periods of model.md §3."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gru_jax as gj
from conftest import H_STAR, ROTATION_PERIODS


def relaxation(bz=0.7, bh=0.4):
    """d = 1, Uh = Uz = 0: dh/dt = (1 - z)(tanh(bh) - h), z = sigmoid(bz): exponential relaxation."""
    return eqx.tree_at(lambda q: (q.bz, q.bh), gj.GRUParams.zeros(1), (jnp.array([bz]), jnp.array([bh])))


def test_closed_form_relaxation():
    p = relaxation()
    traj = gj.simulate(p, jnp.array([[-0.9], [0.5]]), t1=10.0, n_save=11)
    rate, target = 1 - jax.nn.sigmoid(0.7), np.tanh(0.4)
    exact = target + (np.array([[-0.9], [0.5]])[:, None, :] - target) * np.exp(-rate * np.asarray(traj.ts))[None, :, None]
    np.testing.assert_allclose(traj.hs, exact, atol=1e-8)
    assert traj.hs.shape == (2, 11, 1) and np.all(np.asarray(traj.status) == gj.TrajectoryStatus.SUCCESS)


def test_batched_over_params_and_states_equals_loop():
    p = gj.GRUParams.random(jax.random.key(0), 2, scale=3.0, batch=(3,))
    h0 = jax.random.uniform(jax.random.key(1), (4, 2), minval=-1, maxval=1)
    batch = gj.simulate(p, h0, t1=20.0, n_save=5)
    assert batch.hs.shape == (3, 4, 5, 2) and batch.status.shape == (3, 4)
    for i in range(3):
        for j in range(4):
            one = gj.simulate(jax.tree_util.tree_map(lambda a: a[i], p), h0[j], t1=20.0, n_save=5)
            np.testing.assert_allclose(one.hs, batch.hs[i, j], rtol=1e-12, atol=1e-14)


def test_trajectories_settle_on_the_stable_nodes():
    p = gj.GRUParams.rotation(0.0)
    h0 = jnp.array([[0.2, 0.3], [-0.5, 0.1], [-0.1, -0.4], [0.6, -0.05]])
    traj = gj.simulate(p, h0, t1=200.0, n_save=3)
    # the stable nodes (+-h*, +-h*) (H_STAR: conftest); measured 5.6e-9 at the default ODE tolerances
    np.testing.assert_allclose(np.abs(traj.final), H_STAR, atol=5e-8)


@pytest.mark.slow
def test_solvers_agree_and_fixed_step_needs_dt0():
    p = gj.GRUParams.rotation(0.5)
    h0 = jnp.array([0.3, -0.2])
    ref = gj.simulate(p, h0, t1=30.0, n_save=4, rtol=1e-10, atol=1e-12)
    for solver in ("dopri5", "dopri8", "kvaerno5"):
        np.testing.assert_allclose(gj.simulate(p, h0, t1=30.0, n_save=4, solver=solver, rtol=1e-10,
                                               atol=1e-12).hs, ref.hs, atol=1e-9)   # measured <= 1.4e-10
    heun = gj.simulate(p, h0, t1=30.0, n_save=4, solver="heun", dt0=1e-3)
    np.testing.assert_allclose(heun.hs, ref.hs, atol=1e-7)       # second order, dt 1e-3: measured 9.5e-9
    with pytest.raises(ValueError, match="needs a step size dt0"):
        gj.simulate(p, h0, solver="euler")


def test_max_steps_is_a_status_not_an_exception():
    traj = gj.simulate(gj.GRUParams.rotation(0.5), jnp.array([[0.3, -0.2]]), t1=500.0, max_steps=5)
    assert np.asarray(traj.status).tolist() == [gj.TrajectoryStatus.MAX_STEPS]


def test_bad_input_is_rejected_before_compiling():
    p = gj.GRUParams.rotation(0.5)
    with pytest.raises(ValueError, match=r"h0: expected shape \(\.\.\., 2\)"):
        gj.simulate(p, jnp.zeros((4, 3)))
    with pytest.raises(ValueError, match="h0: 1 non-finite"):
        gj.simulate(p, jnp.array([0.0, jnp.nan]))
    with pytest.raises(ValueError, match="solver: unknown option 'rk4'"):
        gj.simulate(p, jnp.zeros(2), solver="rk4")
    with pytest.raises(ValueError, match="ts: expected an increasing"):
        gj.simulate(p, jnp.zeros(2), ts=jnp.array([0.0, 2.0, 1.0]))


def _period(p, t1):
    """Period of the attracting cycle from upward crossings of h_0 = 0 (linearly interpolated)."""
    traj = gj.simulate(p, jnp.array([0.5, 0.0]), t0=0.0, t1=t1, n_save=int(t1 * 20) + 1)
    t, x = np.asarray(traj.ts), np.asarray(traj.hs[:, 0])
    late = t > t1 / 2
    i = np.nonzero(late[:-1] & (x[:-1] < 0) & (x[1:] >= 0))[0]
    crossings = t[i] - x[i] * (t[i + 1] - t[i]) / (x[i + 1] - x[i])
    return np.mean(np.diff(crossings))


@pytest.mark.slow
def test_rotation_cycle_periods():
    """model.md §3: period ~ 12.2 at alpha = 0.8 and ~ 96.3 at alpha = 0.2 (towards the SNIC)."""
    t08, t02 = _period(gj.GRUParams.rotation(0.8), 300.0), _period(gj.GRUParams.rotation(0.2), 1500.0)
    np.testing.assert_allclose([t08, t02], [12.2, 96.3], atol=0.05)        # model.md's one decimal
    # the scipy DOP853 periods (ROTATION_PERIODS: conftest); crossings interpolated linearly between samples 0.05
    # apart limit this estimate: measured 8.6e-5 and 2.8e-6
    np.testing.assert_allclose(t08, ROTATION_PERIODS[0.8], atol=5e-4)
    np.testing.assert_allclose(t02, ROTATION_PERIODS[0.2], atol=2e-5)
