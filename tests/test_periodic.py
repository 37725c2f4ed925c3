"""Periodic orbits by shooting, Floquet multipliers and limit cycles found by simulation: closed forms
(Stuart-Landau), the rotation family of model.md §3 cross-checked with scipy, gradients, batches, bad input."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp

import gru_jax as gj
from conftest import H_STAR, ROTATION_PERIODS
from gru_jax.periodic._detect import TrajectoryEnd, find_limit_cycles
from gru_jax.periodic._shooting import OrbitStatus, periodic_orbit

ALPHA_H = float(np.arccos(2 / 3))
T_HOPF = 2 * np.pi / (0.75 * np.sin(ALPHA_H))   # 2 pi / omega_H, omega = (1 - z) r s sin(alpha) = 0.75 sin(alpha)


def stuart_landau(h, p):
    x, y = h[0], h[1]
    r2 = x * x + y * y
    return jnp.array([p["mu"] * x - p["w"] * y - r2 * x, p["w"] * x + p["mu"] * y - r2 * y])


def stuart_landau_3d(h, p):   # Stuart-Landau times a linear direction z' = lam z
    return jnp.append(stuart_landau(h[:2], p), p["lam"] * h[2])


def rotation(h, p):           # the rotation GRU (Uh = 3 R(alpha), z = r = 1/2) as a user field
    c, s = jnp.cos(p["alpha"]), jnp.sin(p["alpha"])
    return 0.5 * (jnp.tanh(1.5 * jnp.array([[c, -s], [s, c]]) @ h) - h)


def rotation_np(t, h, alpha):
    c, s = np.cos(alpha), np.sin(alpha)
    return 0.5 * (np.tanh(1.5 * np.array([[c, -s], [s, c]]) @ h) - h)


def scipy_period(alpha: float) -> float:
    """Independent period: DOP853 at rtol 1e-12, the time between upward crossings of h_2 = 0 after a transient."""
    cross = lambda t, h, a: h[1]
    cross.direction = 1.0
    sol = solve_ivp(rotation_np, (0, 1500), [0.5, 0.0], method="DOP853", rtol=1e-12, atol=1e-14, args=(alpha,),
                    events=cross)
    times = sol.t_events[0]
    return float(times[-1] - times[-2])


def sl_params(mu=0.5, w=2.0, **extra):
    return {"mu": jnp.asarray(mu), "w": jnp.asarray(w), **{k: jnp.asarray(v) for k, v in extra.items()}}


def rot(alpha):
    return {"alpha": jnp.asarray(float(alpha))}


def rotation_guess(alpha):
    """A rough guess (x0, period), as read off a simulation; a guess near twice the period converges to the
    doubly traversed orbit, one far too short collapses (period -> 0)."""
    return {0.8: (jnp.array([0.3, 0.0]), 12.0), 0.5: (jnp.array([0.7, 0.0]), 20.0),
            0.2: (jnp.array([0.85, 0.0]), 90.0)}[alpha]


# ---- shooting: closed forms -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stuart_landau_orbit():
    return periodic_orbit(sl_params(0.5, 2.0), jnp.array([0.9, 0.1]), 3.5, f=stuart_landau)


def test_stuart_landau_closed_forms(stuart_landau_orbit):
    mu, w, o = 0.5, 2.0, stuart_landau_orbit
    assert int(o.status) == OrbitStatus.CONVERGED and o.X.shape == (1, 2)
    np.testing.assert_allclose(float(o.period), 2 * np.pi / w, rtol=1e-10)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(o.X), axis=-1), np.sqrt(mu), rtol=1e-10)
    # closed forms; measured: period, radius 5e-12, 8e-12 relative; multipliers 7e-12; trivial error 7e-16;
    # residual 5e-12
    np.testing.assert_allclose(np.asarray(o.multipliers), [1.0, np.exp(-4 * np.pi * mu / w)], atol=5e-11)
    assert float(o.trivial_error) < 1e-11 and int(o.n_unstable) == 0 and bool(o.stable)
    assert float(o.residual) < 5e-11
    np.testing.assert_allclose(float(o.amplitude), 2 * np.sqrt(mu), rtol=2e-3)   # from 64 samples
    # the phase condition: x0 on the section through the guess normal to f(guess)
    g = jnp.array([0.9, 0.1])
    assert abs(float(jnp.dot(o.x0 - g, stuart_landau(g, sl_params(mu, w))))) < 1e-12
    assert "stable" in repr(o) and "converged" in repr(o)


def test_stuart_landau_samples(stuart_landau_orbit):
    p, o = sl_params(0.5, 2.0), stuart_landau_orbit
    for by in ("time", "arclength"):
        xs = np.asarray(o.sample(p, 9, stuart_landau, by=by))
        assert xs.shape == (9, 2)
        # closed forms; measured (time / arclength): radius 9e-12 / 1.5e-11 relative, angles 9e-12 / 1.8e-11,
        # closure 3e-16 / 3.5e-11
        np.testing.assert_allclose(np.linalg.norm(xs, axis=-1), np.sqrt(0.5), rtol=1e-10)
        np.testing.assert_allclose(np.mod(np.diff(np.angle(xs @ np.array([1, 1j]))), 2 * np.pi), np.pi / 4,
                                   atol=1e-10)   # uniform speed: time and arclength agree
        np.testing.assert_allclose(xs[0], xs[-1], atol=2e-10)
    with pytest.raises(ValueError, match="by"):
        o.sample(p, 9, stuart_landau, by="angle")


@pytest.mark.parametrize("lam", [0.3, -0.3])
@pytest.mark.slow
def test_three_dimensional_multipliers_with_three_segments(lam):
    mu, w = 0.5, 2.0
    o = periodic_orbit(sl_params(mu, w, lam=lam), jnp.array([0.8, 0.1, 0.05]), 3.3, f=stuart_landau_3d,
                       n_segments=3)
    assert int(o.status) == OrbitStatus.CONVERGED and o.X.shape == (3, 3)
    T = 2 * np.pi / w
    np.testing.assert_allclose(float(o.period), T, rtol=1e-10)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(o.X[:, :2]), axis=-1), np.sqrt(mu), rtol=1e-10)
    np.testing.assert_allclose(np.asarray(o.X[:, 2]), 0.0, atol=1e-10)
    # X holds the orbit at times 0, T/3, 2T/3: rotated by 2 pi / 3
    angles = np.angle(np.asarray(o.X[:, :2]) @ np.array([1, 1j]))
    np.testing.assert_allclose(np.mod(np.diff(angles), 2 * np.pi), 2 * np.pi / 3, atol=5e-12)   # measured 8.5e-13
    expected = sorted([1.0, np.exp(-2 * mu * T), np.exp(lam * T)], key=lambda m: -abs(m))
    np.testing.assert_allclose(np.asarray(o.multipliers), expected, atol=5e-11)                   # measured 8e-12
    assert int(o.n_unstable) == (lam > 0) and bool(o.stable) == (lam < 0)


# ---- shooting: the rotation family ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def rotation_orbits():
    return {a: periodic_orbit(rot(a), *rotation_guess(a), f=rotation) for a in (0.8, 0.5, 0.2)}


@pytest.mark.parametrize("alpha, model_md", [(0.8, 12.2), (0.2, 96.3)])
def test_rotation_family_period_against_scipy(rotation_orbits, alpha, model_md):
    o = rotation_orbits[alpha]
    assert int(o.status) == OrbitStatus.CONVERGED and bool(o.stable)
    T = float(o.period)
    assert abs(T - model_md) < 0.05                 # model.md quotes the periods to one decimal
    # scipy DOP853 at rtol 1e-12: measured relative differences 3.9e-12 (0.8) and 7.0e-12 (0.2)
    np.testing.assert_allclose(T, scipy_period(alpha), rtol=5e-11)
    assert float(o.trivial_error) < 3e-11           # measured 3.7e-12 (0.8), 7e-16 (0.2)
    # the state returns to itself after one period (independent integration); measured 5e-12 (0.8), 8.6e-11 (0.2)
    sol = solve_ivp(rotation_np, (0, T), np.asarray(o.x0), method="DOP853", rtol=1e-12, atol=1e-14, args=(alpha,))
    np.testing.assert_allclose(sol.y[:, -1], np.asarray(o.x0), atol=5e-10)


def test_rotation_family_periods_measured(rotation_orbits, auto_reference):
    # against the stored scipy periods: measured relative differences 3.9e-12, 7.0e-12, 7.0e-12
    got = {a: float(o.period) for a, o in rotation_orbits.items()}
    np.testing.assert_allclose([got[a] for a in (0.8, 0.5, 0.2)], [ROTATION_PERIODS[a] for a in (0.8, 0.5, 0.2)],
                               rtol=5e-11)
    # against AUTO-07p's (tests/data/auto07p.json, NTST 120, 11 digits): its own error is 5.6e-11 relative at 0.2
    np.testing.assert_allclose([got[a] for a in (0.8, 0.5, 0.2)], auto_reference["cycles/rotation/periods"],
                               rtol=1e-10)
    # the README's quoted period at alpha = 0.5 (find_limit_cycles example), to its 10 digits
    assert abs(got[0.5] - 23.67402637) < 5e-9


def test_period_tends_to_the_hopf_onset_period():
    eps = np.array([4e-3, 1e-3])
    periods = [float(periodic_orbit(rot(ALPHA_H - e), jnp.array([0.05 * np.sqrt(e / 1e-3), 0.0]), 11.2,
                                    f=rotation).period) for e in eps]
    errors = np.array(periods) - T_HOPF
    assert abs(T_HOPF - 11.24) < 5e-3 and np.all(errors > 0) and errors[1] < 0.03
    assert 3.0 < errors[0] / errors[1] < 5.0   # linear in the distance to the Hopf point


@pytest.mark.slow
def test_vmap_equals_loop():
    alphas = [0.45, 0.5, 0.55]
    x0, T = rotation_guess(0.5)
    batch = jax.vmap(lambda a: periodic_orbit({"alpha": a}, x0, T, f=rotation))(jnp.array(alphas))
    assert batch.batch_shape == (3,) and np.all(np.asarray(batch.status) == OrbitStatus.CONVERGED)
    for i, a in enumerate(alphas):
        one = periodic_orbit(rot(a), x0, T, f=rotation)
        np.testing.assert_allclose(float(batch.period[i]), float(one.period), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(batch.X[i]), np.asarray(one.X), atol=1e-12)
        np.testing.assert_allclose(np.asarray(batch.multipliers[i]), np.asarray(one.multipliers), atol=1e-10)
    assert "batch (3,)" in repr(batch)


@pytest.mark.slow
def test_batched_gru_orbits(rotation_orbits):
    # a batch of GRUs, one guess each, in one call: equal to the hand-written field up to rounding
    alphas = (0.8, 0.5)
    guesses = [rotation_guess(a) for a in alphas]
    grus = rotation_grus(alphas)
    batch = periodic_orbit(grus, jnp.stack([g[0] for g in guesses]), jnp.array([g[1] for g in guesses]))
    assert batch.batch_shape == (2,) and np.all(np.asarray(batch.status) == OrbitStatus.CONVERGED)
    for i, a in enumerate(alphas):
        # the same computation batched: measured 4.4e-16 (period, relative), 1.8e-15 (multipliers)
        np.testing.assert_allclose(float(batch.period[i]), float(rotation_orbits[a].period), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(batch.multipliers[i]), np.asarray(rotation_orbits[a].multipliers),
                                   atol=1e-12)
    xs = np.asarray(batch.sample(grus, 5))
    assert xs.shape == (2, 5, 2)
    np.testing.assert_allclose(xs[:, 0], np.asarray(batch.x0), atol=1e-12)
    np.testing.assert_allclose(xs[:, -1], np.asarray(batch.x0), atol=1e-12)         # measured 1.0e-15
    with pytest.raises(ValueError, match="batch"):
        batch.sample(rotation_grus((0.8, 0.5, 0.2)), 5)


@pytest.mark.slow
def test_period_gradient_matches_finite_differences():
    # implicit-function derivatives of the period and of the section point x0 vs central differences
    x0, T = rotation_guess(0.5)

    def period_and_x0(a):
        o = periodic_orbit({"alpha": a}, x0, T, f=rotation)
        return jnp.append(o.period, o.x0)

    grad = np.asarray(jax.jacrev(period_and_x0)(jnp.asarray(0.5)))
    h = 1e-4
    fd = (np.asarray(period_and_x0(jnp.asarray(0.5 + h))) - np.asarray(period_and_x0(jnp.asarray(0.5 - h)))) / (2 * h)
    # central differences with h = 1e-4 (truncation ~h^2): measured 5.4e-8, 1.2e-8, 5.2e-8 relative
    np.testing.assert_allclose(grad, fd, rtol=3e-7, atol=1e-8)
    assert grad[0] < 0   # the period grows towards the SNIC at smaller alpha


def test_failures_are_statuses(stuart_landau_orbit):
    # a stable focus (alpha above the Hopf point): Newton from a small "orbit" finds no cycle
    o = periodic_orbit(rot(1.2), jnp.array([0.05, 0.0]), 9.0, f=rotation)
    assert int(o.status) in (OrbitStatus.MAX_ITER, OrbitStatus.COLLAPSED) and not bool(o.stable)
    assert "not converged" in repr(o)
    # a guess far too short: the period shrinks to the trivial solution T -> 0
    o = periodic_orbit(rot(0.2), jnp.array([0.7, 0.0]), 20.0, f=rotation)
    assert int(o.status) == OrbitStatus.COLLAPSED and float(o.amplitude) < 1e-6
    # a guess at the equilibrium: f(x0) = 0 leaves no phase condition, the system is singular
    o = periodic_orbit(sl_params(), jnp.zeros(2), 3.0, f=stuart_landau)
    assert int(o.status) == OrbitStatus.NONFINITE
    assert all(s.message for s in OrbitStatus) and all(e.message for e in TrajectoryEnd)


def test_bad_inputs_raise():
    p, x0 = sl_params(), jnp.array([0.9, 0.1])
    with pytest.raises(ValueError, match="x0"):
        periodic_orbit(p, jnp.asarray(1.0), 3.0, f=stuart_landau)
    with pytest.raises(ValueError, match="x0"):
        periodic_orbit(p, jnp.array([np.nan, 0.0]), 3.0, f=stuart_landau)
    with pytest.raises(ValueError, match="period"):
        periodic_orbit(p, x0, -1.0, f=stuart_landau)
    with pytest.raises(ValueError, match="n_segments"):
        periodic_orbit(p, x0, 3.0, f=stuart_landau, n_segments=0)
    with pytest.raises(ValueError, match="tol"):
        periodic_orbit(p, x0, 3.0, f=stuart_landau, tol=0.0)
    with pytest.raises(ValueError, match="no vector field"):
        periodic_orbit(p, x0, 3.0)
    with pytest.raises(ValueError, match="batch"):
        periodic_orbit(p, jnp.zeros((3, 2)), jnp.ones(2), f=stuart_landau)
    gru = gj.GRUParams.rotation(0.5)
    with pytest.raises(ValueError, match="x0"):
        periodic_orbit(gru, jnp.zeros(3), 20.0)
    with pytest.raises(ValueError, match="box"):
        find_limit_cycles(p, f=stuart_landau)
    with pytest.raises(ValueError, match="seeds"):
        find_limit_cycles(gru, seeds=jnp.zeros((4, 3)))
    with pytest.raises(ValueError, match="max_cycles"):
        find_limit_cycles(gru, max_cycles=0)
    with pytest.raises(ValueError, match="t_transient"):
        find_limit_cycles(gru, t_transient=-1.0)
    with pytest.raises(ValueError, match="seeding"):
        find_limit_cycles(gru, seeding="sobol")


# ---- limit cycles from simulation ---------------------------------------------------------------------------

SEEDS = jax.random.uniform(jax.random.key(1), (12, 2), minval=-1.0, maxval=1.0).at[0].set(0.0)


ALPHAS = (0.5, 0.0)


def rotation_grus(alphas):
    return jax.tree_util.tree_map(lambda *a: jnp.stack(a), *[gj.GRUParams.rotation(a) for a in alphas])


@pytest.fixture(scope="module")
def detected():
    """The rotation GRU at alpha = 0.5 (a stable cycle) and 0 (nine fixed points) in one batched call."""
    return find_limit_cycles(rotation_grus(ALPHAS), seeds=SEEDS)


def member(result, i):
    return jax.tree_util.tree_map(lambda a: a[i], result)


def test_detect_one_stable_cycle(detected, rotation_orbits):
    r = member(detected, 0)
    assert int(r.count) == 1 and int(r.n_stable) == 1
    c = r.trim().cycles
    assert int(c.status[0]) == OrbitStatus.CONVERGED
    # the same shooting refines the detected cycle: measured relative difference 6e-14
    np.testing.assert_allclose(float(c.period[0]), float(rotation_orbits[0.5].period), rtol=1e-12)
    np.testing.assert_allclose(float(c.period[0]), ROTATION_PERIODS[0.5], rtol=5e-11)    # scipy reference
    # amplitudes from 64 samples at different phases: measured relative difference 1.4e-4
    np.testing.assert_allclose(float(c.amplitude[0]), float(rotation_orbits[0.5].amplitude), rtol=1e-3)
    ends, cycle = np.asarray(r.seed_end), np.asarray(r.seed_cycle)
    assert ends[0] == TrajectoryEnd.FIXED_POINT and cycle[0] == -1          # the seed at the origin stays there
    assert np.all(ends[1:] == TrajectoryEnd.LIMIT_CYCLE) and np.all(cycle[1:] == 0)
    assert int(r.n_seeds[0]) == len(SEEDS) - 1 and np.all(np.asarray(r.n_seeds[1:]) == 0)
    np.testing.assert_allclose(np.asarray(r.seed_period[1:]), float(c.period[0]), rtol=5e-10)   # measured 4e-11
    assert "LimitCycles: 1" in repr(r) and "batch (2,)" in repr(detected)
    out = json.loads(json.dumps(r.to_dict(gj.GRUParams.rotation(0.5), n=16)))
    assert out["seeds"] == {"fixed_point": 1, "limit_cycle": len(SEEDS) - 1, "not_settled": 0, "failed": 0}
    (row,) = out["cycles"]
    assert row["stable"] and row["status"] == "converged" and row["n_seeds"] == len(SEEDS) - 1
    np.testing.assert_allclose(row["period"], float(c.period[0]))
    assert np.asarray(row["orbit"]).shape == (16, 2)
    np.testing.assert_allclose(row["orbit"][0], row["x0"], atol=1e-12)


def test_detect_no_cycle_below_the_snic(detected):
    r = member(detected, 1)
    assert int(r.count) == 0 and np.all(np.asarray(r.seed_end) == TrajectoryEnd.FIXED_POINT)
    assert np.all(np.isnan(np.asarray(r.cycles.period))) and np.all(np.asarray(r.cycles.status) == -1)
    # seeds away from the axes end at the stable nodes (+-h*, +-h*) (H_STAR: conftest); measured error 7.9e-11
    off_axes = np.all(np.abs(np.asarray(SEEDS)) > 1e-3, axis=1)
    np.testing.assert_allclose(np.abs(np.asarray(r.seed_state)[off_axes]), H_STAR, atol=5e-10)


def test_detect_batch_equals_one_at_a_time(detected):
    # each member alone (paired with itself: same shapes, no recompile) gives the same result as in the batch
    for i, a in enumerate(ALPHAS):
        alone = member(find_limit_cycles(rotation_grus((a, a)), seeds=SEEDS), 0)
        jax.tree_util.tree_map(lambda x, y: np.testing.assert_array_equal(np.asarray(x), np.asarray(y)),
                               alone, member(detected, i))


@pytest.mark.slow
def test_detect_with_a_user_field(detected):
    # the same rotation family written by hand, one problem: equal to the GRU up to rounding
    for i, a in enumerate(ALPHAS):
        r, gru = find_limit_cycles(rot(a), f=rotation, seeds=SEEDS), member(detected, i)
        np.testing.assert_array_equal(np.asarray(r.seed_end), np.asarray(gru.seed_end))
        np.testing.assert_array_equal(np.asarray(r.seed_cycle), np.asarray(gru.seed_cycle))
        # up to rounding: measured 0 (periods) and 5.6e-15 (states)
        np.testing.assert_allclose(np.asarray(r.cycles.period), np.asarray(gru.cycles.period), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(r.seed_state), np.asarray(gru.seed_state), atol=1e-12)
