"""Built-in sweep analyses (census, stability, continuation events), ensembles, topology atlas and search."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import fsolve

import gru_jax as gj
from gru_jax.sweeps._analyses import (ANALYSES, KIND_KEYS, Census, ContinuationEvents, Cycles, HomoclinicEvents,
                                     Stability,
                                     decode_topology, describe_topology, encode_topology, random_grus)
from gru_jax.sweeps._seed import codim2_curves_from_sweep
from gru_jax.sweeps._atlas import max_fixed_points_search, topology_atlas, verify_fixed_points
from gru_jax.sweeps._sweep import sweep

from conftest import ELEVEN, ROTATION_PERIODS

B = 60   # ensemble size shared by the cheap tests (one compile of the 64-seed census and of Stability)


def stack(*params):
    return jax.tree_util.tree_map(lambda *a: jnp.stack(a), *params)


def member(params, i):
    return jax.tree_util.tree_map(lambda a: a[i], params)


def rotation_node() -> float:
    """h* > 0 with tanh(1.5 h*) = h* (z = r = 1/2), by bisection."""
    lo, hi = 0.1, 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if np.tanh(1.5 * mid) > mid else (lo, mid)
    return 0.5 * (lo + hi)


@pytest.fixture(scope="module")
def ensemble():
    return random_grus(jax.random.key(11), B, 2, 6.0)


# ---- census -----------------------------------------------------------------------------------------------

def test_census_rotation_and_eleven_batched():
    both = stack(gj.GRUParams.rotation(alpha=0.0, gain=3.0), gj.GRUParams.from_dict(ELEVEN))
    out = {k: np.asarray(v) for k, v in Census(n_seeds=4096)(both).items()}
    assert out["n_fixed"].tolist() == [9, 11]
    assert out["n_stable_node"].tolist() == [4, 5]
    assert out["n_saddle"].tolist() == [4, 5]
    assert out["n_unstable_node"].tolist() == [1, 1]
    assert out["n_stable"].tolist() == [4, 5]
    for key in ("n_stable_focus", "n_unstable_focus", "n_non_hyperbolic"):
        assert out[key].tolist() == [0, 0]
    assert out["all_converged"].all()
    assert sum(out[k] for k in KIND_KEYS).tolist() == [9, 11]
    assert out["topology"].tolist() == [4_00_01_00_04_00, 5_00_01_00_05_00]
    assert describe_topology(int(out["topology"][1])) == "11 points: 5 stable node, 1 unstable node, 5 saddle"


def test_topology_code_round_trip(rng):
    counts = rng.integers(0, 100, size=(50, len(KIND_KEYS)))
    decoded = decode_topology(np.asarray(encode_topology(jnp.asarray(counts))))
    np.testing.assert_array_equal(np.stack([decoded[k] for k in KIND_KEYS], -1), counts)
    counts[0, 2] = 100                                        # not encodable
    code = np.asarray(encode_topology(jnp.asarray(counts)))
    assert code[0] == -1 and code[1] >= 0
    assert all(v == -1 for v in decode_topology(-1).values())
    assert decode_topology(4_00_01_00_04_00)["n_saddle"] == 4


def test_census_batch_equals_loop_and_jit(ensemble):
    census = Census()
    batched = census(ensemble)
    jitted = jax.jit(census)(ensemble)
    for i in range(6):
        one = census(stack(member(ensemble, i)))
        for k in batched:
            assert np.asarray(one[k])[0] == np.asarray(batched[k])[i], (k, i)
    for k in batched:
        np.testing.assert_array_equal(np.asarray(jitted[k]), np.asarray(batched[k]))
        assert batched[k].shape == (B,)


def test_census_through_sweep_engine(ensemble):
    direct = Census()(ensemble)
    res = sweep(Census(), ensemble=ensemble, chunk=32, progress=False)
    for k, v in direct.items():
        np.testing.assert_array_equal(res.values[k], np.asarray(v))


def test_census_random_seeding_finds_same_points_on_rotation():
    rot = stack(gj.GRUParams.rotation(alpha=0.0, gain=3.0))
    out = Census(n_seeds=256, seeding="random", key=jax.random.key(7))(rot)
    assert int(out["topology"][0]) == 4_00_01_00_04_00 and bool(out["all_converged"][0])


# ---- stability --------------------------------------------------------------------------------------------

def test_stability_rotation_node_saddle_origin():
    hs = rotation_node()
    rot = stack(*[gj.GRUParams.rotation(alpha=0.0, gain=3.0)] * B)
    node = Stability(h0=[0.8, 0.8])(rot)
    np.testing.assert_allclose(np.asarray(node["h"]), hs, atol=1e-12)
    expected = 0.5 * (1.5 * (1 - hs**2) - 1.0)                 # (1-z)(r Uh sech^2 - 1), double
    np.testing.assert_allclose(np.asarray(node["max_real"]), expected, atol=1e-12)     # measured 5.6e-17
    assert abs(expected + 0.302843) < 5e-7                     # model.md's six digits (closed form: -0.3028434873)
    assert np.asarray(node["kind"]).tolist() == [gj.Kind.STABLE_NODE] * B and np.asarray(node["converged"]).all()
    saddle = Stability(h0=[0.8, 0.05])(rot)
    assert np.asarray(saddle["kind"]).tolist() == [gj.Kind.SADDLE] * B
    assert np.asarray(saddle["n_unstable"]).tolist() == [1] * B
    origin = Stability()(rot)
    np.testing.assert_allclose(np.asarray(origin["max_real"]), 0.25, atol=1e-12)
    assert np.asarray(origin["kind"]).tolist() == [gj.Kind.UNSTABLE_NODE] * B


# ---- continuation events ----------------------------------------------------------------------------------

def test_continuation_events_folds_of_s_curve():
    # dh/dt = (1/2)(tanh(u h + b) - h) with u = r Uh = 1.5: folds at h = ±sqrt(1 - 1/u), b = ∓(artanh(h) - u h)
    u = 1.5
    hf = np.sqrt(1 - 1 / u)
    bf = np.arctanh(hf) - u * hf
    grus = stack(gj.GRUParams.from_dict({"Uh": [[2 * u]]}), gj.GRUParams.from_dict({"Uh": [[1.0]]}))
    out = ContinuationEvents("bh[0]", (-2.0, 2.0), start=[-1.0])(grus)
    assert np.asarray(out["n_fold"]).tolist() == [2, 0]
    np.testing.assert_allclose(np.sort(np.asarray(out["fold_p"][0, :2])), [bf, -bf], atol=1e-12)   # measured 1.9e-16
    assert np.isnan(np.asarray(out["fold_p"][0, 2:])).all() and np.isnan(np.asarray(out["fold_p"][1])).all()
    assert np.asarray(out["n_hopf"]).tolist() == [0, 0] and np.asarray(out["converged"]).all()
    assert np.asarray(out["end_status"]).tolist() == [gj.BranchStatus.LEFT_WINDOW] * 2


@pytest.mark.slow
def test_fold_curve_by_batched_slices_and_seeded_codim2_curve():
    # one continuation in bh[0] per value of Uh[0,0] = 2u (a grid sweep): the fold curve b = ±(artanh h - u h),
    # h = ±sqrt(1 - 1/u), for u > 1; the cloud then seeds one fold curve through the cusp at (b, u) = (0, 1)
    us = np.array([0.8, 1.25, 1.5, 2.0, 3.0])
    base = gj.GRUParams.from_dict({"Uh": [[3.0]]})
    res = sweep(ContinuationEvents("bh[0]", (-4.0, 4.0), start=[-1.0]), grid={"Uh[0,0]": 2 * us}, base=base,
                progress=False)
    hf = np.sqrt(1 - 1 / us[1:])
    bf = np.arctanh(hf) - us[1:] * hf
    assert res.values["n_fold"].tolist() == [0] + [2] * len(hf) and res.values["converged"].all()
    order = np.argsort(res.values["fold_p"][1:, :2], axis=1)
    # closed forms; measured 4.4e-16 (p), 2.2e-16 (h): atol 1e-12 is float64 roundoff with margin
    np.testing.assert_allclose(np.take_along_axis(res.values["fold_p"][1:, :2], order, 1), np.stack([bf, -bf], 1),
                               atol=1e-12)
    fold_h = np.take_along_axis(res.values["fold_h"][1:, :2, 0], order, 1)
    np.testing.assert_allclose(fold_h, np.stack([hf, -hf], 1), atol=1e-12)

    diagram = codim2_curves_from_sweep(base, res, gj.Param("bh", 0), window=((-4.0, 4.0), (2 * us.min(), 2 * us.max())),
                                       ds_max=0.05)
    assert len(diagram.curves) == 1                          # eight cloud points, one curve
    c = diagram.curves[0]
    u, h, b = np.asarray(c.p2) / 2, np.asarray(c.h)[:, 0], np.asarray(c.p)
    np.testing.assert_allclose(b, np.arctanh(h) - u * h, atol=1e-12)       # closed forms; measured 8.9e-16
    np.testing.assert_allclose(h**2, 1 - 1 / u, atol=1e-12)                 # measured 2.2e-16
    assert u.min() < 1.0 + 1e-3 and u.max() == pytest.approx(3.0)
    sp = diagram.special_points
    assert sp.labels() == ["cusp"]
    np.testing.assert_allclose([sp.p[0], sp.p2[0]], [0.0, 2.0], atol=1e-12)  # closed form; measured 1.3e-32


@pytest.mark.slow
def test_cycles_column_of_a_bias_sweep():
    # GRUParams.rotation(0.5): Hopf points of the origin at bh[0] = ±0.5216 (AUTO-07p); at bh[0] = 0 the cycle is
    # the rotation family's at alpha = 0.5, period 23.67402637 (scipy solve_ivp and AUTO-07p agree to 1e-9)
    res = sweep(Cycles(n_seeds=4), grid={"bh[0]": np.array([-0.8, -0.3, 0.0, 0.3, 0.8])},
                base=gj.GRUParams.rotation(alpha=0.5, gain=3.0), progress=False)
    v = res.values
    assert v["n_cycles"].tolist() == [0, 1, 1, 1, 0] and v["n_stable_cycles"].tolist() == [0, 1, 1, 1, 0]
    assert v["n_fixed_point_seeds"][[0, 4]].tolist() == [4, 4] and v["n_not_settled_seeds"].sum() == 0
    # the scipy DOP853 period (ROTATION_PERIODS: conftest); measured 1.6e-10
    assert v["period"][2, 0] == pytest.approx(ROTATION_PERIODS[0.5], abs=1e-9)
    # bh -> -bh, h -> -h symmetry; measured 3.5e-13
    np.testing.assert_allclose(v["period"][1, 0], v["period"][3, 0], rtol=3e-12)
    assert v["period"][1, 0] > v["period"][2, 0] and np.isnan(v["period"][:, 1:]).all()
    assert np.all(v["amplitude"][1:4, 0] > 1.0) and v["stable"][1:4, 0].all()


@pytest.mark.slow
def test_homoclinic_cloud_of_a_two_parameter_map():
    # conftest's GRU has a saddle loop at bh0 = HOMOCLINIC_BH0 (scipy, AUTO-07p); one slice per bh[1] value
    from conftest import HOMOCLINIC_BH0, HOMOCLINIC_GRU

    base = gj.GRUParams.from_dict(HOMOCLINIC_GRU)
    bh1 = HOMOCLINIC_GRU["bh"][1] + np.array([-1e-6, 0.0, 1e-6])
    events = HomoclinicEvents("bh[0]", np.linspace(-0.081502, -0.0814995, 16), [-0.4666, 0.5939], branches=(1, -1),
                              radius=0.002, t_max=2e4)
    res = sweep(events, grid={"bh[1]": bh1}, base=base, progress=False)
    v = res.values
    assert v["n_homoclinic"].tolist() == [1, 1, 1] and v["n_brackets"].tolist() == [1, 1, 1]
    p = v["homoclinic_p"][:, 0]
    assert p[1] == pytest.approx(HOMOCLINIC_BH0, abs=5e-11)        # the constant's 10 digits; measured 2.6e-11
    # AUTO-07p's -0.081500780574 (tests/test_auto_cycles.py); measured 2.8e-13
    assert p[1] == pytest.approx(-0.081500780574, abs=3e-12)
    assert abs(p[0] + p[2] - 2 * p[1]) < 1e-11 and abs(p[2] - p[0]) > 1e-8     # a smooth curve through the cloud
    assert np.all(v["saddle_quantity"][:, 0] < 0) and np.isnan(v["homoclinic_p"][:, 1:]).all()
    # the saddle at the located parameter, independently: scipy fsolve on the numpy field (xtol 1e-14); it is
    # (-0.46652378, 0.59375395) to 8 digits; measured 2.2e-14
    uh, bh = np.array(HOMOCLINIC_GRU["Uh"]), np.array([p[1], HOMOCLINIC_GRU["bh"][1]])
    saddle = fsolve(lambda h: 0.5 * (np.tanh(uh @ (0.5 * h) + bh) - h), [-0.4666, 0.5939], xtol=1e-14)
    np.testing.assert_allclose(saddle, [-0.46652378, 0.59375395], atol=5e-9)
    np.testing.assert_allclose(v["homoclinic_h"][1, 0], saddle, atol=1e-12)


def test_codim2_from_sweep_bad_input():
    res = gj.SweepResult({"fold_p": np.full((2, 1), np.nan)}, {"Uh[0,0]": np.array([1.0, 2.0])}, kind="grid",
                         analysis="continuation_events")
    base = gj.GRUParams.from_dict({"Uh": [[3.0]]})
    with pytest.raises(ValueError, match="fold_h"):
        codim2_curves_from_sweep(base, res, gj.Param("bh", 0))
    with pytest.raises(ValueError, match="differ"):
        codim2_curves_from_sweep(base, res, gj.Param("Uh", 0, 0))
    with pytest.raises(ValueError, match="kind"):
        codim2_curves_from_sweep(base, res, gj.Param("bh", 0), kind="pitchfork")


@pytest.mark.slow
def test_continuation_events_hopf_at_origin():
    # origin, Uh = [[a, -2], [2, 2]], z = r = 1/2: J = (1/2)(Uh/2 - I), trace 0 at a = 2, det > 0: Hopf at a = 2
    grus = stack(*[gj.GRUParams.from_dict({"Uh": [[0.0, -2.0], [2.0, 2.0]]})] * 2)
    out = ContinuationEvents(gj.Param("Uh", 0, 0), (0.0, 3.0), max_special=4)(grus)
    assert np.asarray(out["n_hopf"]).tolist() == [1, 1] and np.asarray(out["n_fold"]).tolist() == [0, 0]
    np.testing.assert_allclose(np.asarray(out["hopf_p"][:, 0]), 2.0, atol=1e-12)       # measured 0
    # r Uh = sqrt 2 R(pi/4) = R(phi)/cos(phi) with phi = pi/4, z = 1/2: the closed form of
    # tests/test_continuation.py::rotation_l1, l1 = -1/sin(2 phi) = -1 (Kuznetsov's normalisation); measured 5.6e-17
    assert out["hopf_p"].shape == (2, 4)
    np.testing.assert_allclose(np.asarray(out["hopf_l1"][:, 0]), -1.0, atol=1e-12)


# ---- ensembles and registry -------------------------------------------------------------------------------

def test_random_grus_gate_options():
    key = jax.random.key(5)
    full = random_grus(key, 4, 3, 2.0)
    no_reset = random_grus(key, 4, 3, 2.0, reset=False)
    no_update = random_grus(key, 4, 3, 2.0, update=False)
    assert full.batch_shape == (4,) and full.dim == 3
    assert not np.any(np.asarray(no_reset.Ur)) and not np.any(np.asarray(no_reset.br))
    np.testing.assert_array_equal(np.asarray(no_reset.Uh), 2 * np.asarray(full.Uh))
    assert not np.any(np.asarray(no_update.Uz)) and not np.any(np.asarray(no_update.bz))
    np.testing.assert_array_equal(np.asarray(no_update.Uh), np.asarray(full.Uh))
    h = jnp.array([0.3, -0.2, 0.1])          # r = 1/2 and doubled Uh: same candidate as a reset gate fixed at 1
    p = member(no_reset, 0)
    expected = jnp.tanh(p.Uh @ (0.5 * h) + p.bh)
    np.testing.assert_allclose(np.asarray(p.gates(h)[2]), np.asarray(expected), atol=1e-15)


@pytest.mark.slow
def test_registry_factories(ensemble):
    for name, make in ANALYSES.items():
        analysis = make()
        assert analysis.name == name
        out = analysis(ensemble)
        assert all(v.shape[0] == B for v in out.values())


# ---- atlas ------------------------------------------------------------------------------------------------

def test_topology_atlas_counts_and_examples(ensemble):
    pop = ensemble
    values = Census()(pop)
    atlas = topology_atlas(values, pop)
    assert atlas.n_members.sum() + atlas.n_excluded == 60 == atlas.n_total
    assert len(set(atlas.topology.tolist())) == len(atlas.topology)
    assert np.all(np.diff(atlas.n_members) <= 0)
    codes = np.asarray(values["topology"])
    for code, m, ex in zip(atlas.topology, atlas.n_members, atlas.example):
        assert codes[ex] == code and np.sum(codes[np.asarray(values["all_converged"])] == code) == m
    np.testing.assert_array_equal(np.asarray(atlas.examples.Uh), np.asarray(pop.Uh)[atlas.example])
    np.testing.assert_array_equal(atlas.counts.sum(-1), [int(describe_topology(int(c)).split()[0]) for c in atlas.topology])
    assert "configurations in 60 GRUs" in atlas.table()


def test_verify_merges_blocks(eleven):
    v = verify_fixed_points(eleven, 4096, block=1024)
    assert v.count == 11 and v.converged and v.n_seeds == 4096
    assert v.describe() == "11 points: 5 stable node, 1 unstable node, 5 saddle"


@pytest.mark.slow
def test_max_fixed_points_search_small():
    r = max_fixed_points_search(jax.random.key(1), 200, generations=1, top_k=4, n_children=4, n_verify=2,
                                screen_seeds=256, verify_grids=(1024, 4096), chunk=64)
    assert r.n_evaluated == 200 + 16 and len(r.history) == 2 and r.history[1] >= r.history[0]
    assert r.verified.count == r.counts_by_grid[4096] >= 1 and r.best.batch_shape == ()
    assert r.verified.count == int(Census(n_seeds=4096)(stack(r.best))["n_fixed"][0])


# ---- bad options ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: Census(n_seeds=0), lambda: Census(seeding="sobol"), lambda: Census(hyperbolic_tol=-1.0),
    lambda: Census(max_newton=2.5), lambda: Stability(h0=[[0.0]]), lambda: Stability(h0=[np.nan, 0.0]),
    lambda: Stability(tol=0.0), lambda: ContinuationEvents("bh[0]", (1.0, -1.0)),
    lambda: ContinuationEvents("bh[0]", (0.0, 1.0), max_special=0), lambda: ContinuationEvents(3, (0.0, 1.0)),
    lambda: ContinuationEvents("bh[0]", 1.0), lambda: ContinuationEvents("bh[0]", (0.0, 1.0), ds=0.5),
    lambda: random_grus(jax.random.key(0), 0, 2), lambda: random_grus(jax.random.key(0), 3, 2, reset_mode="x"),
    lambda: topology_atlas({"topology": np.zeros(3)}),
    lambda: max_fixed_points_search(jax.random.key(0), 0),
])
def test_bad_options_raise(make):
    with pytest.raises(ValueError):
        make()


def test_bad_batch_raises():
    one = gj.GRUParams.rotation(alpha=0.0)
    with pytest.raises(ValueError, match="one leading batch axis"):
        Census()(one)
    with pytest.raises(ValueError, match="d=2"):
        Stability(h0=[0.0, 0.0, 0.0])(stack(one))
