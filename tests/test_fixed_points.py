"""Fixed points: checkable numbers of model.md §3, batching, gradients, statuses, compilation."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import minimize_scalar

import gru_jax as gj

from conftest import H_STAR, LAMBDA_NODE


def test_rotation_alpha0_nine_points():
    fps = gj.find_fixed_points(gj.GRUParams.rotation(alpha=0.0, gain=3.0), key=jax.random.key(0))
    assert int(fps.count) == 9
    t = fps.trim()
    h, ev, kinds = np.asarray(t.h), np.asarray(t.eigenvalues), fps.kinds()
    assert kinds.count("stable node") == 4 and kinds.count("saddle") == 4 and kinds.count("unstable node") == 1
    np.testing.assert_allclose(np.tanh(1.5 * H_STAR), H_STAR, atol=1e-15)
    assert abs(H_STAR - 0.8585596) < 5e-8 and abs(LAMBDA_NODE + 0.302843) < 5e-7      # model.md's rounded values
    # measured errors: points 2.2e-16, eigenvalues 1.7e-16 (float64 roundoff; atol 1e-12 with margin)
    for hi, evi, kind in zip(h, ev, kinds):
        np.testing.assert_allclose(np.sort(np.abs(hi)), {"stable node": [H_STAR] * 2, "saddle": [0, H_STAR],
                                                         "unstable node": [0, 0]}[kind], atol=1e-12)
        expected = {"stable node": [LAMBDA_NODE] * 2, "saddle": [0.25, LAMBDA_NODE], "unstable node": [0.25] * 2}
        np.testing.assert_allclose(evi.real, expected[kind], atol=1e-12)
        np.testing.assert_array_equal(evi.imag, 0.0)
    assert np.all(np.asarray(t.residual) < 1e-14)
    assert np.sum(np.asarray(t.multiplicity)) == np.sum(np.asarray(fps.seed_status) == 0)


def test_eleven_point_example(eleven):
    fps = gj.find_fixed_points(eleven, n_seeds=4096, seeding="grid")
    kinds = fps.kinds()
    assert int(fps.count) == 11
    assert kinds.count("stable node") == 5 and kinds.count("saddle") == 5 and kinds.count("unstable node") == 1
    h = np.asarray(fps.trim().h)
    assert np.sum(np.abs(h) > 1 - 1e-8) >= 8        # several coordinates at |h_i| ~ 1 to double precision
    distinct = np.max(np.abs(h[:, None] - h[None]), axis=-1) + np.eye(11)
    assert distinct.min() > 1e-3
    # each point is a root of the field, independently of our Newton: check with numpy
    for hi in h:
        r = 1 / (1 + np.exp(-(np.asarray(eleven.Ur) @ hi + np.asarray(eleven.br))))
        assert np.max(np.abs(np.tanh(np.asarray(eleven.Uh) @ (r * hi) + np.asarray(eleven.bh)) - hi)) < 1e-12


THIRTEEN = dict(  # found by gj.max_fixed_points_search (benchmarks/results/sweep_search_cpu_2026-11-27_long.json)
    Ur=[[-16.024899545974876, -12.166825696465835], [-40.887520529830965, -31.01114420217572]],
    Uh=[[30.246107041688013, 25.80553487750776], [-14.470237962054824, 60.68810974306284]],
    br=[17.192079576153922, 12.65648483396512], bh=[0.05410065276751019, 13.959973729526968])


def test_a_two_dimensional_gru_with_thirteen_fixed_points():
    # more than model.md's 11: 6 stable nodes, 6 saddles, 1 unstable focus; each a root checked in numpy, and the
    # index sum over the trapping box is +1 (nodes and foci +1, saddles -1)
    q = gj.GRUParams.from_dict(THIRTEEN)
    fps = gj.find_fixed_points(q, n_seeds=4096, seeding="grid")
    kinds = fps.kinds()
    assert int(fps.count) == 13 and kinds.count("stable node") == 6 and kinds.count("saddle") == 6
    assert kinds.count("unstable focus") == 1
    assert len(kinds) - 2 * kinds.count("saddle") == 1                      # the index sum
    h = np.asarray(fps.trim().h)
    assert (np.max(np.abs(h[:, None] - h[None]), axis=-1) + np.eye(13)).min() > 1e-3
    for hi in h:
        r = 1 / (1 + np.exp(-(np.asarray(q.Ur) @ hi + np.asarray(q.br))))
        assert np.max(np.abs(np.tanh(np.asarray(q.Uh) @ (r * hi) + np.asarray(q.bh)) - hi)) < 1e-12


def test_one_dimensional_grus_have_at_most_three_fixed_points():
    p = gj.GRUParams.random(jax.random.key(7), 1, scale=6.0, bias_scale=2.0, batch=(3000,))
    fps = gj.find_fixed_points(p, n_seeds=128, seeding="grid")
    counts = np.asarray(fps.count)
    assert counts.max() == 3 and counts.min() >= 1
    assert np.sum(counts == 3) > 50          # the draw does reach multistability


def test_batch_equals_loop():
    p = gj.GRUParams.random(jax.random.key(8), 3, scale=4.0, batch=(6,), reset="after")
    seeds = gj.make_seeds(-np.ones(3), np.ones(3), 48, key=jax.random.key(1))
    batched = gj.find_fixed_points(p, seeds=seeds)
    for i in range(6):
        one = gj.find_fixed_points(jax.tree_util.tree_map(lambda a: a[i], p), seeds=seeds)
        for a, b in zip(jax.tree_util.tree_leaves(one), jax.tree_util.tree_leaves(batched)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b)[i], rtol=1e-12, atol=1e-14)


@pytest.mark.slow
def test_eigenvalues_match_numpy_for_larger_d():
    p = gj.GRUParams.random(jax.random.key(9), 8, scale=3.0, batch=(4,))
    fps = gj.find_fixed_points(p, n_seeds=32)
    checked = 0
    for b in range(4):
        for i in range(int(fps.count[b])):
            h = fps.h[b, i]
            q = jax.tree_util.tree_map(lambda a: a[b], p)
            _, jac = gj.value_and_jacobian(gj.vector_field, h, q)
            ref = np.sort_complex(np.linalg.eigvals(np.asarray(jac)))
            ours = np.sort_complex(np.asarray(fps.eigenvalues[b, i]))
            np.testing.assert_allclose(ours, ref, atol=1e-10)
            assert bool(fps.eig_converged[b, i])
            checked += 1
    assert checked >= 4


def test_seed_status_is_reported():
    p = gj.GRUParams.rotation(0.0)
    fps = gj.find_fixed_points(p, n_seeds=16, max_newton=1)
    assert np.all(np.asarray(fps.seed_status) == gj.SeedStatus.MAX_STEPS) and int(fps.count) == 0
    assert np.all(np.isnan(np.asarray(fps.h)))


def test_under_vmap_a_bad_member_gives_status_not_exception():
    p = gj.GRUParams.rotation(0.0)
    seeds = gj.make_seeds(-np.ones(2), np.ones(2), 64, seeding="grid")
    uh = jnp.stack([p.Uh, p.Uh.at[0, 0].set(jnp.nan)])
    out = jax.vmap(lambda u: gj.find_fixed_points(eqx.tree_at(lambda q: q.Uh, p, u), seeds=seeds))(uh)
    assert int(out.count[0]) == 9 and int(out.count[1]) == 0
    assert np.all(np.asarray(out.seed_status[1]) != gj.SeedStatus.CONVERGED)


def _central_difference(fun, x, eps=1e-6):
    return (fun(x + eps) - fun(x - eps)) / (2 * eps)


@pytest.mark.slow
@pytest.mark.parametrize("reset", ["before", "after"])
def test_fixed_point_gradient_matches_finite_differences(reset):
    p = gj.GRUParams.random(jax.random.key(10), 3, 2, scale=3.0, reset=reset)
    fps = gj.find_fixed_points(p, n_seeds=64)
    guess = fps.h[0]

    def loss(q):
        h, status = gj.fixed_point(q, guess)
        return jnp.sum(jnp.sin(h)) + h[0] ** 2

    grad = jax.grad(loss)(p)
    for name, index in (("Uh", (0, 1)), ("br", (2,)), ("Wh", (1, 0)), ("x", (1,)), ("bz", (0,))):
        shift = lambda e: loss(eqx.tree_at(lambda q: getattr(q, name), p, getattr(p, name).at[index].add(e)))
        fd = _central_difference(shift, 0.0)
        # central differences, eps 1e-6: roundoff ~ 1e-16/1e-6 on an O(1) loss; measured |grad - fd| <= 3.6e-10
        np.testing.assert_allclose(getattr(grad, name)[index], fd, rtol=1e-8, atol=1e-9)
    assert abs(float(getattr(grad, "bz")[0])) < 1e-12     # fact 2: fixed points ignore the update gate


def test_find_fixed_points_is_differentiable_implicitly():
    p = gj.GRUParams.rotation(0.0)

    def outermost(gain):
        q = eqx.tree_at(lambda r: r.Uh, p, gain * jnp.eye(2))
        fps = gj.find_fixed_points(q, n_seeds=64, seeding="grid")
        return fps.h[fps.count - 1, 0]       # the largest point, (h*, h*)

    d_fwd = jax.jacfwd(outermost)(3.0)
    d_rev = jax.grad(outermost)(3.0)
    fd = _central_difference(outermost, 3.0)
    np.testing.assert_allclose(d_fwd, fd, rtol=5e-9)            # central differences: measured 9.3e-10 relative
    np.testing.assert_allclose(d_rev, fd, rtol=5e-9)
    # closed form: h = tanh(g h / 2)  =>  dh/dg = (1 - h^2) h / 2 / (1 - (1 - h^2) g / 2); measured 1.3e-15 relative
    h = float(outermost(3.0))
    np.testing.assert_allclose(h, H_STAR, atol=1e-12)           # the outermost point is (h*, h*); measured 0
    np.testing.assert_allclose([d_fwd, d_rev], (1 - h**2) * h / 2 / (1 - (1 - h**2) * 1.5), rtol=1e-12)


def test_second_call_with_new_values_does_not_recompile():
    traces = []

    def f(h, params):
        traces.append(1)
        return params.vector_field(h)

    for alpha in (0.0, 0.3, 0.9):
        gj.find_fixed_points(gj.GRUParams.rotation(alpha), f=f, n_seeds=32, tol=1e-10 * (1 + alpha),
                             dedup_tol=1e-7 * (1 + alpha))
    first = len(traces)
    gj.find_fixed_points(gj.GRUParams.rotation(1.3), f=f, n_seeds=32, tol=3e-10)
    assert first > 0 and len(traces) == first


def test_slow_point_at_the_ghost_of_a_saddle_node():
    u = 2.5
    h_f = np.sqrt(1 - 1 / u)
    b_f = np.arctanh(h_f) - u * h_f
    p = eqx.tree_at(lambda q: (q.Uh, q.bh), gj.GRUParams.zeros(1), (jnp.array([[2 * u]]), jnp.array([b_f - 1e-3])))
    fps = gj.find_fixed_points(p, n_seeds=64, seeding="grid")
    assert int(fps.count) == 1                          # past the fold only one fixed point is left ...
    slow = gj.find_slow_points(p, seeds=jnp.array([[0.6], [0.9]]), steps=3000, learning_rate=1e-2)
    # ... and the ghost of the other two: the minimum of q = f^2/2, f = (tanh(u h + b) - h)/2, b = b_f - 1e-3. There
    # q' = f f' = 0 with f != 0, so f' = 0: tanh(u h + b) = h_f, i.e. h = (artanh(h_f) - b)/u = h_f + 1e-3/u (closed
    # form), 4e-4 from the fold's h_f; q there is (1e-3/(2u))^2/2 = 2e-8
    ghost = h_f + 1e-3 / u
    reference = minimize_scalar(lambda x: (0.5 * (np.tanh(u * x + b_f - 1e-3) - x)) ** 2 / 2, bounds=(0.6, 0.9),
                                method="bounded", options=dict(xatol=1e-12)).x
    assert abs(reference - ghost) < 2e-9                # scipy's bounded Brent: measured 1.9e-10 (q is flat there)
    np.testing.assert_allclose(slow.h[:, 0], ghost, atol=1e-12)          # measured 4e-16, 1.9e-15
    np.testing.assert_allclose(slow.q, (1e-3 / (2 * u)) ** 2 / 2, rtol=1e-9)
    np.testing.assert_allclose(np.abs(slow.slow_directions[:, 0, 0]), 1.0)


def test_slow_directions_of_a_pseudo_line_attractor():
    """dh/dt = (-(h0 - h1)^2... ): a 2-D field with a slow line along (1, 1)."""
    f = lambda h, p: jnp.array([-(h[0] - h[1]) + p * h[0], (h[0] - h[1]) + p * h[1]])
    slow = gj.find_slow_points(jnp.asarray(1e-4), f=f, seeds=jnp.array([[0.3, 0.2]]), steps=500)
    direction = np.asarray(slow.slow_directions[0, :, 0])
    # the Jacobian [[p - 1, 1], [1, p - 1]] is constant and symmetric: eigenvectors (1, ±1)/sqrt 2 exactly, singular
    # values |p| = 1e-4 and 2 - p (closed forms); measured direction error 1.1e-16
    np.testing.assert_allclose(np.abs(direction), [2**-0.5] * 2, atol=1e-12)
    np.testing.assert_allclose(np.asarray(slow.singular_values[0]), [1e-4, 2 - 1e-4], rtol=2e-8)   # measured 3e-9


def test_result_saves_and_loads(tmp_path):
    p = gj.GRUParams.random(jax.random.key(11), 2, scale=4.0, batch=(3,))
    fps = gj.find_fixed_points(p, n_seeds=64)
    fps.save(tmp_path / "fps.npz")
    back = gj.FixedPoints.load(tmp_path / "fps.npz")
    for name, value in fps.to_numpy().items():
        np.testing.assert_array_equal(np.asarray(getattr(back, name)), value)
    assert repr(back) == repr(fps)
    np.savez(tmp_path / "other.npz", h=np.zeros(3))
    with pytest.raises(ValueError, match="not a saved FixedPoints result"):
        gj.FixedPoints.load(tmp_path / "other.npz")
