"""The CT-GRU model: exact facts 1-5 of model.md §2, both reset conventions, validation, a non-GRU model."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gru_jax as gj


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


@pytest.mark.parametrize("reset", ["before", "after"])
def test_discrete_step_is_one_euler_step(reset):  # fact 1
    p = gj.GRUParams.random(jax.random.key(1), 5, 3, scale=2.0, reset=reset, batch=(4,))
    h = jax.random.uniform(jax.random.key(2), (4, 5), minval=-1, maxval=1)
    step = jax.vmap(gj.discrete_step)(h, p)
    euler = h + jax.vmap(gj.vector_field)(h, p)
    np.testing.assert_allclose(step, euler, rtol=0, atol=1e-15)


def test_reset_before_by_hand(rng):
    d, m = 3, 2
    a = {k: rng.normal(size=s) for k, s in dict(Uz=(d, d), Ur=(d, d), Uh=(d, d), bz=(d,), br=(d,), bh=(d,),
                                                 Wz=(d, m), Wr=(d, m), Wh=(d, m), x=(m,)).items()}
    h = rng.uniform(-1, 1, d)
    z = sigmoid(a["Wz"] @ a["x"] + a["Uz"] @ h + a["bz"])
    r = sigmoid(a["Wr"] @ a["x"] + a["Ur"] @ h + a["br"])
    expected = (1 - z) * (np.tanh(a["Wh"] @ a["x"] + a["Uh"] @ (r * h) + a["bh"]) - h)
    np.testing.assert_allclose(gj.GRUParams.from_dict(a).vector_field(jnp.asarray(h)), expected, atol=1e-14)


def test_reset_after_matches_pytorch_cell_by_hand(rng):
    """torch.nn.GRUCell, written out: gates (r, z, n) stacked in weight_ih (3d, m), weight_hh (3d, d)."""
    d, m = 4, 3
    w_ih, w_hh = rng.normal(size=(3 * d, m)), rng.normal(size=(3 * d, d))
    b_ih, b_hh = rng.normal(size=3 * d), rng.normal(size=3 * d)
    x, h = rng.normal(size=m), rng.uniform(-1, 1, d)
    gi, gh = w_ih @ x + b_ih, w_hh @ h + b_hh
    r = sigmoid(gi[:d] + gh[:d])
    z = sigmoid(gi[d:2 * d] + gh[d:2 * d])
    n = np.tanh(gi[2 * d:] + r * gh[2 * d:])
    torch_step = (1 - z) * n + z * h
    p = gj.GRUParams.from_pytorch(w_ih, w_hh, b_ih, b_hh, x)
    assert p.reset == "after"
    np.testing.assert_allclose(p.discrete_step(jnp.asarray(h)), torch_step, atol=1e-14)


@pytest.mark.parametrize("use_bias", [True, False])
def test_equinox_cell_step_is_ours(rng, use_bias):
    """``GRUParams.from_equinox``: equinox's own ``GRUCell`` step equals our discrete step (float64, random weights)."""
    d, m = 5, 3
    cell = eqx.nn.GRUCell(m, d, use_bias=use_bias, dtype=jnp.float64, key=jax.random.key(7))
    if use_bias:        # equinox initialises biases uniformly; make bias_n clearly non-zero as well
        cell = eqx.tree_at(lambda c: c.bias_n, cell, jnp.asarray(rng.normal(size=d)))
    x, h = jnp.asarray(rng.normal(size=m)), jnp.asarray(rng.uniform(-1, 1, d))
    p = gj.GRUParams.from_equinox(cell, x)
    assert p.reset == "after"
    np.testing.assert_allclose(p.discrete_step(h), cell(x, h), rtol=0, atol=1e-12)


def test_conventions_agree_for_uniform_scalar_reset():
    """With Ur = 0 and a uniform br (the same scalar r in every unit) and bhn = 0 the conventions coincide."""
    p = gj.GRUParams.random(jax.random.key(3), 3, scale=2.0)
    p = eqx.tree_at(lambda q: (q.Ur, q.br), p, (jnp.zeros((3, 3)), jnp.full(3, 0.7)))
    q = gj.GRUParams(**{k: getattr(p, k) for k in gj.models._gru.FIELDS}, reset="after")
    h = jnp.array([0.3, -0.2, 0.9])
    np.testing.assert_allclose(p.vector_field(h), q.vector_field(h), atol=1e-15)


def test_fixed_points_do_not_depend_on_update_gate():  # fact 2
    base = gj.GRUParams.random(jax.random.key(4), 2, scale=4.0, bias_scale=0.3)
    base = eqx.tree_at(lambda q: (q.Uz, q.bz), base, (jnp.zeros((2, 2)), jnp.zeros(2)))
    gated = eqx.tree_at(lambda q: (q.Uz, q.bz), base, (jnp.array([[3.0, -2.0], [1.0, 4.0]]), jnp.array([2.0, -1.5])))
    biased = eqx.tree_at(lambda q: q.bz, base, jnp.array([2.0, -1.5]))
    a, b, c = (gj.find_fixed_points(q, n_seeds=400, seeding="grid") for q in (base, gated, biased))
    assert int(a.count) == int(b.count) == int(c.count) >= 3
    np.testing.assert_allclose(a.trim().h, b.trim().h, atol=1e-10)
    np.testing.assert_allclose(a.trim().h, c.trim().h, atol=1e-10)
    # with Uz = 0 the Jacobian is diag(1 - z) times that of tanh(...) - h: kinds are unchanged
    assert a.kinds() == c.kinds()
    g = lambda y: jnp.tanh(biased.Uh @ (jax.nn.sigmoid(biased.Ur @ y + biased.br) * y) + biased.bh) - y
    for h in c.trim().h:
        _, jac = gj.value_and_jacobian(gj.vector_field, h, biased)
        np.testing.assert_allclose(jac, (1 - jax.nn.sigmoid(biased.bz))[:, None] * jax.jacfwd(g)(h), atol=1e-13)


@pytest.mark.slow
def test_box_is_forward_invariant():  # fact 3
    p = gj.GRUParams.random(jax.random.key(5), 3, scale=3.0, batch=(50,))
    faces = jnp.eye(3)[None] * jnp.ones((50, 1, 1))              # h = e_i, on the face h_i = 1
    inward = jax.vmap(lambda q, hs: jax.vmap(q.vector_field)(hs))(p, faces)
    assert np.all(np.diagonal(np.asarray(inward), axis1=1, axis2=2) < 0)
    inward = jax.vmap(lambda q, hs: jax.vmap(q.vector_field)(hs))(p, -faces)
    assert np.all(np.diagonal(np.asarray(inward), axis1=1, axis2=2) > 0)
    fps = gj.find_fixed_points(p, n_seeds=64)
    h = np.asarray(fps.h)
    assert np.all(np.abs(h[np.isfinite(h)]) < 1)


def test_no_reset_gate_is_a_tanh_rnn():  # fact 4
    p = gj.GRUParams.random(jax.random.key(6), 4, scale=2.0)
    p = eqx.tree_at(lambda q: q.Ur, p, jnp.zeros((4, 4)))
    h = jnp.array([0.1, -0.5, 0.7, 0.2])
    z = jax.nn.sigmoid(p.Uz @ h + p.bz)
    rnn = (1 - z) * (jnp.tanh(p.Uh @ jnp.diag(jax.nn.sigmoid(p.br)) @ h + p.bh) - h)
    np.testing.assert_allclose(p.vector_field(h), rnn, atol=1e-15)


def planted(Uh, bz=0.4, br=-0.3):
    p = gj.GRUParams.zeros(Uh.shape[0])
    d = Uh.shape[0]
    return eqx.tree_at(lambda q: (q.Uh, q.bz, q.br), p, (Uh, jnp.full(d, bz), jnp.full(d, br)))


def test_planted_origin_jacobian():  # fact 5
    Uh = jnp.array([[1.3, -0.4], [0.8, 0.2]])
    p = planted(Uh)
    z, r = jax.nn.sigmoid(0.4), jax.nn.sigmoid(-0.3)
    value, jac = gj.value_and_jacobian(gj.vector_field, jnp.zeros(2), p)
    np.testing.assert_array_equal(value, 0.0)
    np.testing.assert_allclose(jac, (1 - z) * (r * Uh - jnp.eye(2)), atol=1e-15)


def test_planted_pitchfork():
    r = jax.nn.sigmoid(-0.3)
    below = gj.find_fixed_points(planted(0.95 / r * jnp.eye(2)), n_seeds=400, seeding="grid")
    above = gj.find_fixed_points(planted(1.05 / r * jnp.eye(2)), n_seeds=400, seeding="grid")
    assert below.kinds() == ["stable node"]
    assert int(above.count) == 9 and above.kinds().count("stable node") == 4
    at = gj.find_fixed_points(planted(1 / r * jnp.eye(2)), seeds=jnp.zeros((1, 2)))
    assert at.kinds() == ["non-hyperbolic"]
    np.testing.assert_allclose(at.eigenvalues[0], 0.0, atol=1e-15)


def test_planted_hopf():
    phi, bz = 0.6, 0.4
    z, r = jax.nn.sigmoid(bz), jax.nn.sigmoid(-0.3)
    s_star = 1 / (r * np.cos(phi))
    rot = jnp.array([[np.cos(phi), -np.sin(phi)], [np.sin(phi), np.cos(phi)]])
    at = gj.find_fixed_points(planted(s_star * rot, bz=bz), seeds=jnp.zeros((1, 2)))
    assert at.kinds() == ["non-hyperbolic"]
    ev = np.sort_complex(np.asarray(at.eigenvalues[0]))
    np.testing.assert_allclose(ev.real, 0.0, atol=1e-14)
    np.testing.assert_allclose(np.abs(ev.imag), (1 - z) * r * s_star * np.sin(phi), rtol=1e-13)
    for factor, kind in ((0.97, "stable focus"), (1.03, "unstable focus")):
        q = gj.find_fixed_points(planted(factor * s_star * rot, bz=bz), seeds=jnp.zeros((1, 2)))
        assert q.kinds() == [kind]


def test_scalar_gru_folds():
    u = 2.5
    h_f = np.sqrt(1 - 1 / u)
    b_f = np.arctanh(h_f) - u * h_f            # the fold at h = +h_f (b_f < 0)
    # r = sigmoid(0) = 1/2 multiplies h inside tanh, so Uh = 2u gives tanh(u h + b)
    scalar = lambda b: eqx.tree_at(lambda q: (q.Uh, q.bh), gj.GRUParams.zeros(1), (jnp.array([[2 * u]]), jnp.array([b])))
    inside = gj.find_fixed_points(scalar(b_f + 1e-3), n_seeds=200, seeding="grid")
    outside = gj.find_fixed_points(scalar(b_f - 1e-3), n_seeds=200, seeding="grid")
    assert int(inside.count) == 3 and int(outside.count) == 1
    at = gj.fixed_point(scalar(b_f), jnp.array([h_f + 1e-3]), tol=1e-7)[0]
    # Newton converges only linearly at a fold (a double root), stopping at steps < tol = 1e-7: measured 3.0e-8
    np.testing.assert_allclose(at, h_f, atol=3e-7)


def test_validation_errors_name_field_and_shape():
    p = gj.GRUParams.zeros(2)
    with pytest.raises(ValueError, match=r"GRUParams.Ur: expected shape \(2, 2\)"):
        eqx.tree_at(lambda q: q.Ur, p, jnp.zeros((3, 2))).validate()
    with pytest.raises(ValueError, match="GRUParams.bh: 1 non-finite"):
        gj.find_fixed_points(eqx.tree_at(lambda q: q.bh, p, jnp.array([0.0, np.nan])))
    with pytest.raises(ValueError, match="unknown option 'sideways'"):
        gj.GRUParams.zeros(2, reset="sideways")
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['Ux'\]"):
        gj.GRUParams.from_dict({"Uh": np.eye(2), "Ux": np.eye(2)})
    with pytest.raises(ValueError, match="Uh: expected a square"):
        gj.GRUParams.from_dict({"Uh": np.ones((2, 3))})
    with pytest.raises(ValueError, match="seeding: unknown option"):
        gj.find_fixed_points(p, seeding="sobol")
    with pytest.raises(ValueError, match=r"seeds: expected shape \(n, 2\)"):
        gj.find_fixed_points(p, seeds=np.zeros((5, 3)))
    with pytest.raises(ValueError, match="tol: must be > 0"):
        gj.find_fixed_points(p, tol=-1.0)


def test_ctrnn_through_the_same_engine():
    """A non-GRU model: uncoupled CTRNN units, h = w tanh(h) + b per unit; compare with scipy's brentq."""
    from scipy.optimize import brentq

    w, b = np.array([2.0, 3.0]), np.array([0.1, -0.2])
    p = gj.CTRNNParams.create(np.diag(w), b, tau=[1.0, 0.5])
    fps = gj.find_fixed_points(p, n_seeds=900, seeding="grid")
    roots = []
    for wi, bi in zip(w, b):
        g = lambda x: -x + wi * np.tanh(x) + bi
        grid = np.linspace(-abs(wi) - abs(bi) - 1, abs(wi) + abs(bi) + 1, 20001)
        sign = np.nonzero(np.diff(np.sign(g(grid))))[0]
        roots.append([brentq(g, grid[i], grid[i + 1], xtol=1e-15) for i in sign])
    expected = np.array(sorted([(x, y) for x in roots[0] for y in roots[1]]))
    assert int(fps.count) == 9
    np.testing.assert_allclose(fps.trim().h, expected, atol=1e-10)
    assert fps.kinds().count("stable node") == 4 and fps.kinds().count("saddle") == 4


def test_plain_function_and_dict_params():
    """Any f(h, params) with any pytree params: dh/dt = a - h^2 in a given box."""
    f = lambda h, p: p["a"] - h**2
    fps = gj.find_fixed_points({"a": jnp.array([4.0])}, f=f, box=(-5.0, 5.0), n_seeds=32, seeding="grid")
    np.testing.assert_allclose(fps.trim().h[:, 0], [-2.0, 2.0], atol=1e-12)
    assert fps.kinds() == ["unstable node", "stable node"]
    with pytest.raises(ValueError, match="no vector field"):
        gj.find_fixed_points({"a": jnp.array([4.0])})
    with pytest.raises(ValueError, match="box"):
        gj.find_fixed_points({"a": jnp.array([4.0])}, f=f)
