"""Continuation of equilibria: planted folds, branch points and Hopf points (normal forms and the GRU cases
of model.md), first Lyapunov coefficients, statuses, vmap = loop, no recompiles, input checks, gradients.

Fields are module-level functions whose params carry every constant, so each shape compiles once."""

from types import SimpleNamespace

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import brentq, minimize_scalar

import gru_jax as gj
from gru_jax.continuation import (Branch, BranchStatus, LocateStatus, Param, Problem, Settings, SpecialKind,
                                  bialternate, continue_equilibria, continue_equilibria_both, critical_pair,
                                  first_lyapunov, hopf_vectors, init, step)
from gru_jax.core._compile import COMPILER_OPTIONS

TRACES = {"normal_form": 0}


def normal_form(h, c):
    """Planar normal forms as one field (one compile): ``dh/dt = A h + μ B h + c |h|² h + e_1 s(x, μ)`` with
    ``s = k0 μ + k1 x² + k2 x³ + k3`` (NaN where ``μ > cut``); ``μ = c["mu"]`` is continued."""
    TRACES["normal_form"] += 1
    mu, k, x = c["mu"], c["k"], h[0]
    s = k[0] * mu + k[1] * x**2 + k[2] * x**3 + k[3] + jnp.where(mu <= c["cut"], 0.0, jnp.nan)
    return c["A"] @ h + mu * (c["B"] @ h) + c["c"] * (h @ h) * h + jnp.array([1.0, 0.0]) * s


def normal_form_params(mu, A=np.diag([0.0, -1.0]), B=np.zeros((2, 2)), c=0.0, k=(0.0, 0.0, 0.0, 0.0), cut=np.inf):
    f = lambda x: jnp.asarray(x, float)
    return dict(mu=f(mu), A=f(A), B=f(B), c=f(c), k=f(k), cut=f(cut))


def saddle_node(mu, shift=0.0, cut=np.inf):
    """``dx/dt = μ - x² + shift``, ``dy/dt = -y``: folds at ``μ = -shift``."""
    return normal_form_params(mu, k=(1.0, -1.0, 0.0, shift), cut=cut)


def pitchfork(mu):
    """``dx/dt = μ x - x³``, ``dy/dt = -y``: branch point of the trivial branch at ``μ = 0``."""
    return normal_form_params(mu, B=np.diag([1.0, 0.0]), k=(0.0, 0.0, -1.0, 0.0))


def stuart_landau(mu, omega, c):
    """``dz/dt = (μ + iω) z + c |z|² z`` in real coordinates."""
    return normal_form_params(mu, A=omega * np.array([[0.0, -1.0], [1.0, 0.0]]), B=np.eye(2), c=c)


def rot(angle):
    c, s = jnp.cos(angle), jnp.sin(angle)
    return jnp.array([[c, -s], [s, c]])


BASE1, BASE2 = gj.GRUParams.zeros(1), gj.GRUParams.zeros(2)


def gru1(h, q):
    """Scalar CT-GRU on a line in parameter space: ``Uh = a0 + s a1``, ``bh = b0 + s b1``, biases ``bz``, ``br``."""
    s = q["s"]
    model = eqx.tree_at(lambda m: (m.Uh, m.bh, m.bz, m.br), BASE1,
                        ((q["a0"] + s * q["a1"]).reshape(1, 1), (q["b0"] + s * q["b1"]).reshape(1),
                         q["bz"].reshape(1), q["br"].reshape(1)))
    return model.vector_field(h)


def gru2(h, q):
    """2-D CT-GRU with ``Uh = (g0 + s g1) R(θ0 + s θ1) + D0 + s D1``, ``bh``, uniform gate biases ``bz``, ``br``."""
    s = q["s"]
    uh = (q["g0"] + s * q["g1"]) * rot(q["t0"] + s * q["t1"]) + q["D0"] + s * q["D1"]
    model = eqx.tree_at(lambda m: (m.Uh, m.bh, m.bz, m.br), BASE2,
                        (uh, q["bh"], jnp.full(2, q["bz"]), jnp.full(2, q["br"])))
    return model.vector_field(h)


def gru2_params(s, g=(0.0, 0.0), t=(0.0, 0.0), D0=np.zeros((2, 2)), D1=np.zeros((2, 2)), bh=(0.0, 0.0), bz=0.0,
                br=0.0):
    f = lambda x: jnp.asarray(x, float)
    return dict(s=f(s), g0=f(g[0]), g1=f(g[1]), t0=f(t[0]), t1=f(t[1]), D0=f(D0), D1=f(D1), bh=f(bh), bz=f(bz),
                br=f(br))


sigmoid = lambda x: 1 / (1 + np.exp(-x))
BZ, BR = 0.3, -0.4
Z, R = sigmoid(BZ), sigmoid(BR)


def specials(branch: Branch, kind: SpecialKind):
    sp = branch.special.trim()
    idx = branch.special.of_kind(kind)
    return np.asarray(sp.p)[idx], np.asarray(sp.h)[idx], sp, idx


# ---- normal forms -------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_saddle_node_fold_located_and_branch_turns():
    b = continue_equilibria(saddle_node(1.0), Param("mu"), jnp.array([1.0, 0.0]), f=normal_form, direction=-1,
                            window=(-1.0, 2.0), ds=0.05, ds_max=0.2)
    t = b.trim()
    p_fold, h_fold, sp, idx = specials(b, SpecialKind.FOLD)
    # closed forms; measured errors 0 (fold), 2.2e-16 (branch), 4.4e-16 (row residuals), 0 (neutral saddle):
    # atol 1e-12 is float64 roundoff with margin
    assert len(p_fold) == 1 and abs(p_fold[0]) < 1e-12 and np.max(np.abs(h_fold[0])) < 1e-12
    assert int(sp.located[idx[0]]) == LocateStatus.CONVERGED and float(sp.residual[idx[0]]) < 1e-12
    lo, hi = np.asarray(sp.interval[idx[0]])
    assert hi == lo + 1 and float(b.h[lo, 0]) > 0 > float(b.h[hi, 0])      # the two rows around the fold
    np.testing.assert_allclose(np.asarray(sp.p_interval[idx[0]]), np.asarray(b.p)[[lo, hi]])
    # upper branch x = sqrt(p) is stable, lower branch x = -sqrt(p) is a saddle; ends on the window edge
    h, p = np.asarray(t.h), np.asarray(t.p)
    np.testing.assert_allclose(np.abs(h[:, 0]), np.sqrt(np.maximum(p, 0)), atol=1e-12)
    np.testing.assert_array_equal(np.asarray(t.n_unstable), np.where(h[:, 0] > 0, 0, 1))
    assert tuple(np.asarray(b.status)) == (BranchStatus.START, BranchStatus.LEFT_WINDOW) and p[-1] == 2.0
    assert np.all(np.asarray(t.residual) < 1e-12)
    assert np.count_nonzero(np.diff(np.sign(np.asarray(t.tangent)[:, -1]))) == 1     # t_p changes sign once
    # on the saddle branch the eigenvalues -2x and -1 sum to zero at p = 1/4: a neutral saddle, not a Hopf point
    p_ns, h_ns, sp, idx = specials(b, SpecialKind.NEUTRAL_SADDLE)
    np.testing.assert_allclose(p_ns, [0.25], atol=1e-12)
    np.testing.assert_allclose(h_ns[0], [-0.5, 0.0], atol=1e-12)
    assert np.isnan(sp.omega[idx[0]]) and np.isnan(sp.l1[idx[0]])
    assert not len(b.special.of_kind(SpecialKind.HOPF))


def test_pitchfork_branch_point_on_the_trivial_branch():
    b = continue_equilibria(pitchfork(-1.0), Param("mu"), jnp.zeros(2), f=normal_form, window=(-np.inf, 0.8), ds=0.05,
                            ds_max=0.2)
    p_bp, h_bp, sp, idx = specials(b, SpecialKind.BRANCH_POINT)
    assert b.special.labels() == ["branch point"]
    assert abs(p_bp[0]) < 1e-12 and int(sp.located[0]) == LocateStatus.CONVERGED      # closed form 0; measured 0
    t = b.trim()
    np.testing.assert_array_equal(np.asarray(t.n_unstable), (np.asarray(t.p) > 0).astype(int))
    np.testing.assert_array_equal(np.asarray(t.h), 0.0)


def test_natural_parameter_continuation_stops_at_the_fold():
    continue_equilibria(saddle_node(1.0), Param("mu"), jnp.array([1.0, 0.0]), f=normal_form)   # compiled once for both
    before = TRACES["normal_form"]
    b = continue_equilibria(saddle_node(1.0), Param("mu"), jnp.array([1.0, 0.0]), f=normal_form, method="natural",
                            direction=-1, window=(-1.0, 2.0), ds=0.05, ds_max=0.2)
    t = b.trim()
    p, x = np.asarray(t.p), np.asarray(t.h)[:, 0]
    np.testing.assert_allclose(x, np.sqrt(p), atol=1e-10)
    np.testing.assert_allclose(p[:3], [1.0, 0.95, 0.875], atol=1e-14)   # steps of ds, grown by 1.5 once easy
    assert int(b.status[1]) == BranchStatus.STEP_TOO_SMALL and 0 < p[-1] < 1e-4
    assert TRACES["normal_form"] == before                                  # the method is a traced switch


def test_step_from_python_gives_the_driver_points():
    params, settings = saddle_node(0.5), Settings(ds=0.1, ds_max=0.3, p_min=-1.0, p_max=1.0)
    b = continue_equilibria(params, Param("mu"), jnp.array([0.7, 0.1]), f=normal_form, direction=-1, ds=0.1, ds_max=0.3,
                            window=(-1.0, 1.0))
    problem = Problem(normal_form, params, Param("mu"))
    state = eqx.filter_jit(init)(problem, jnp.array([0.7, 0.1]), settings, -1.0)
    do_step = eqx.filter_jit(step)
    points, events = [state.u], []
    while int(state.status) == BranchStatus.RUNNING:
        state = do_step(problem, state, settings)
        if bool(state.accepted):
            points.append(state.u)
            events.append(np.asarray(state.events))
    t = b.trim()
    assert len(points) == int(b.count) and int(state.status) == int(b.status[1]) == BranchStatus.LEFT_WINDOW
    np.testing.assert_allclose(np.stack(points), np.column_stack([t.h, t.p]), atol=1e-12)
    fold_rows = np.flatnonzero(np.stack(events)[:, 0]) + 1
    np.testing.assert_array_equal(fold_rows, np.asarray(b.special.interval[b.special.of_kind(SpecialKind.FOLD), 1]))


def test_failed_corrector_ends_the_branch_with_a_status():
    # the field is NaN for p > 0.5: the branch must stop there with NONFINITE, keeping only finite rows
    b = continue_equilibria(saddle_node(0.1, cut=0.5), Param("mu"), jnp.array([np.sqrt(0.1), 0.0]), f=normal_form,
                            window=(-1.0, 2.0), ds=0.05, ds_max=0.2)
    t = b.trim()
    assert int(b.status[1]) == BranchStatus.NONFINITE and "non-finite" in b.messages()[1]
    assert int(b.count) > 3 and np.all(np.isfinite(np.asarray(t.h))) and np.all(np.isfinite(np.asarray(t.tangent)))
    assert 0.5 - 1e-4 < float(t.p[-1]) <= 0.5
    assert np.all(np.isnan(np.asarray(b.p[int(b.count):])))


def test_changing_steps_tolerances_window_and_values_does_not_recompile():
    kwargs = dict(f=normal_form, direction=-1, window=(-1.0, 2.0), ds=0.05, ds_max=0.2)
    continue_equilibria(saddle_node(1.0), Param("mu"), jnp.array([1.0, 0.0]), **kwargs)
    before = TRACES["normal_form"]
    kwargs.update(ds=0.02, ds_min=1e-7, ds_max=0.1, tol=1e-11, max_newton=7, grow=1.3, window=(-0.5, 3.0))
    b = continue_equilibria(saddle_node(1.2, shift=0.1), Param("mu"), jnp.array([1.0, 0.0]), **kwargs)
    assert TRACES["normal_form"] == before
    p_fold, *_ = specials(b, SpecialKind.FOLD)
    np.testing.assert_allclose(p_fold, [-0.1], atol=1e-10)          # the new values were used
    assert float(b.trim().p[-1]) == 3.0


@pytest.mark.parametrize("bad, message", [
    (dict(ds=-0.1), "ds: must be > 0"),
    (dict(ds=0.5, ds_max=0.1), "ds_min <= ds <= ds_max"),
    (dict(window=(1.0, 0.0)), "window: each pair must satisfy lo < hi"),
    (dict(direction=2), "direction: must be \\+1 or -1"),
    (dict(tol=0.0), "tol: must be > 0"),
    (dict(max_newton=2.5), "max_newton: must be an integer"),
    (dict(max_points=1), "max_points: expected an int >= 2"),
    (dict(max_special=0), "max_special: expected an int >= 1"),
    (dict(method="arclength"), "method: unknown option 'arclength'"),
    (dict(param=Param("q")), "no key 'q'"),
    (dict(param=Param("k")), "give exactly 1 index"),
    (dict(param=Param("A", 0, 2)), "index 2 is out of range for axis 1"),
    (dict(window=(2.0, 3.0)), "outside the window"),
    (dict(ds=np.ones(2)), "ds: expected a scalar"),
    (dict(start=np.zeros((1, 2))), "start: expected one state"),
    (dict(start=np.array([np.nan, 0.0])), "start: 1 non-finite"),
])
def test_bad_input_raises_before_compiling(bad, message):
    args = dict(param=Param("mu"), start=np.array([1.0, 0.0]), f=normal_form)
    args.update(bad)
    before = TRACES["normal_form"]
    with pytest.raises(ValueError, match=message):
        continue_equilibria(saddle_node(1.0), args.pop("param"), args.pop("start"), **args)
    assert TRACES["normal_form"] == before


def test_bad_state_shape_for_a_model_raises():
    with pytest.raises(ValueError, match=r"start: expected shape \(2,\)"):
        continue_equilibria(gj.GRUParams.zeros(2), Param("bh", 0), np.zeros(3))
    with pytest.raises(ValueError, match=r"params holds a batch \(4,\)"):
        continue_equilibria(gj.GRUParams.random(jax.random.key(0), 2, batch=(4,)), Param("bh", 0), np.zeros(2))
    with pytest.raises(ValueError, match="must return shape"):
        continue_equilibria(jnp.asarray(0.0), Param(), np.zeros(2), f=lambda h, s: jnp.sum(h))


@pytest.mark.slow
def test_fold_and_hopf_locations_are_differentiable():
    # implicit-function gradients of (p, omega, l1) of the first special point, in one jitted reverse pass
    @jax.jit
    def first_special(params, h0, direction):
        b = continue_equilibria(params, Param("mu"), h0, f=normal_form, direction=direction, window=(-1.0, 2.0),
                                ds=0.05, ds_max=0.2)
        return jnp.stack([b.special.p[0], b.special.omega[0], b.special.l1[0]])

    jac = jax.jit(jax.jacrev(first_special), compiler_options=COMPILER_OPTIONS)
    # saddle node k0 mu + k1 x^2 + k3 (k = 1, -1, 0, 0.3): fold at x = 0, mu = -k3/k0
    g = jac(saddle_node(1.0, shift=0.3), jnp.array([np.sqrt(1.3), 0.0]), -1.0)
    np.testing.assert_allclose(np.asarray(g["k"][0]), [0.3, 0.0, 0.0, -1.0], atol=1e-12)       # measured 0
    # Stuart-Landau (A + mu I) h + c|h|^2 h: the Hopf point has trace(A) + 2 mu = 0, omega^2 = det(A + mu I)
    # and l1 = 2 c / omega (Kuznetsov's normalisation), so d mu/dA00 = -1/2, d omega/dA10 = 1/2, d omega/dA01 = -1/2,
    # d l1/dc = 2
    g = jac(stuart_landau(-0.5, 1.0, -1.0), jnp.zeros(2), 1.0)
    # measured 0, 3.6e-18, 0: atol 1e-12 is float64 roundoff with margin
    np.testing.assert_allclose(np.asarray(g["A"][0]), [[-0.5, 0.0], [0.0, -0.5]], atol=1e-12)
    np.testing.assert_allclose(np.asarray(g["A"][1]), [[0.0, -0.5], [0.5, 0.0]], atol=1e-12)
    np.testing.assert_allclose(np.asarray(g["c"]), [0.0, 0.0, 2.0], atol=1e-12)


# ---- Hopf points and first Lyapunov coefficients ---------------------------------------------------------------

@pytest.mark.parametrize("omega, c", [(1.0, -1.0), (1.0, 1.0), (2.0, -1.0)])
def test_stuart_landau_hopf_and_first_lyapunov_coefficient(omega, c):
    # dz/dt = (mu + i omega) z + c |z|^2 z: Hopf at mu = 0 with frequency omega and l1 = 2 Re(c)/omega in Kuznetsov's
    # and MatCont's normalisation <q, q> = 1 (model.md §3)
    b = continue_equilibria(stuart_landau(-0.5, omega, c), Param("mu"), jnp.zeros(2), f=normal_form,
                            window=(-np.inf, 0.5), ds=0.05, ds_max=0.2)
    p_h, h_h, sp, idx = specials(b, SpecialKind.HOPF)
    assert b.special.labels() == ["Hopf"] and int(sp.located[0]) == LocateStatus.CONVERGED
    assert abs(p_h[0]) < 1e-12 and np.max(np.abs(h_h[0])) < 1e-12
    np.testing.assert_allclose(float(sp.omega[0]), omega, atol=1e-12)
    np.testing.assert_allclose(float(sp.l1[0]), 2 * c / omega, atol=1e-12)  # closed form; measured 0
    assert int(sp.n_unstable[0]) == 0
    np.testing.assert_array_equal(np.asarray(b.trim().n_unstable), 2 * (np.asarray(b.trim().p) > 0))


def test_neutral_saddle_is_not_reported_as_hopf():
    # eigenvalues mu + 1 and mu - 1: the Hopf test (trace) vanishes at mu = 0, where they are +1 and -1
    params = normal_form_params(-0.5, A=np.diag([1.0, -1.0]), B=np.eye(2), c=-1.0)
    b = continue_equilibria(params, Param("mu"), jnp.zeros(2), f=normal_form, window=(-np.inf, 0.5), ds=0.05,
                            ds_max=0.2)
    assert b.special.labels() == ["neutral saddle"]
    assert abs(float(b.special.p[0])) < 1e-12 and np.isnan(float(b.special.omega[0]))
    assert int(b.special.n_unstable[0]) == 1


def test_first_lyapunov_matches_the_planar_formula(rng):
    # dx/dt = -w y + f(x, y), dy/dt = w x + g(x, y) with random quadratic and cubic terms: Guckenheimer-Holmes
    # a = [f_xxx + f_xyy + g_xxy + g_yyy]/16 + [f_xy (f_xx + f_yy) - g_xy (g_xx + g_yy) - f_xx g_xx + f_yy g_yy]/(16 w)
    w = 1.7
    cf, cg = rng.normal(size=7), rng.normal(size=7)     # coefficients of x², xy, y², x³, x²y, xy², y³

    def poly(cc, x, y):
        monomials = (x * x, x * y, y * y, x**3, x * x * y, x * y * y, y**3)
        return sum(c * m for c, m in zip(cc, monomials))

    g = lambda h: jnp.stack([-w * h[1] + poly(cf, *h), w * h[0] + poly(cg, *h)])
    fxx, fxy, fyy, fxxx, fxyy = 2 * cf[0], cf[1], 2 * cf[2], 6 * cf[3], 2 * cf[5]
    gxx, gxy, gyy, gxxy, gyyy = 2 * cg[0], cg[1], 2 * cg[2], 2 * cg[4], 6 * cg[6]
    a_gh = (fxxx + fxyy + gxxy + gyyy) / 16 + (fxy * (fxx + fyy) - gxy * (gxx + gyy) - fxx * gxx + fyy * gyy) / (16 * w)
    h0 = jnp.zeros(2)
    a = jax.jacfwd(g)(h0)

    @jax.jit
    def hopf(a):
        omega, q, p = hopf_vectors(a, w * (1 + 1e-9))
        return omega, q, p, first_lyapunov(g, h0, a, omega, q, p)

    omega, q, p, l1 = hopf(a)
    np.testing.assert_allclose(float(omega), w, rtol=1e-14)
    np.testing.assert_allclose(a @ q, 1j * w * q, atol=1e-14)
    np.testing.assert_allclose([jnp.vdot(p, q), jnp.vdot(q, q)], [1.0, 1.0], atol=1e-14)     # Kuznetsov's normalisation
    np.testing.assert_allclose(float(l1), 2 * a_gh / w, rtol=1e-10)        # there l1 = 2 a / omega (model.md §3)


def test_bialternate_product_and_critical_pair(rng):
    for d in (2, 3, 5):
        a = rng.normal(size=(d, d))
        lam = np.linalg.eigvals(a)
        i, j = np.triu_indices(d, 1)
        sums = np.sort_complex(lam[i] + lam[j])
        np.testing.assert_allclose(np.sort_complex(np.linalg.eigvals(np.asarray(jax.jit(bialternate)(a)))),
                                   sums, atol=1e-10)
    # a 4x4 with eigenvalues ±2i (Hopf pair), -1, -3 in a random basis; and ±1.5 (neutral saddle), -1, -3
    basis = rng.normal(size=(4, 4))
    for block, det in (([[0, -2], [2, 0]], 4.0), ([[1.5, 0], [0, -1.5]], -2.25)):
        core = np.zeros((4, 4))
        core[:2, :2], core[2, 2], core[3, 3] = block, -1.0, -3.0
        tr, dt = jax.jit(critical_pair)(basis @ core @ np.linalg.inv(basis))
        np.testing.assert_allclose([float(tr), float(dt)], [0.0, det], atol=1e-10)


# ---- planted GRU bifurcations (model.md §2.5) ------------------------------------------------------------------

def gru1_params(s, a, b):
    f = lambda x: jnp.asarray(x, float)
    return dict(s=f(s), a0=f(a[0]), a1=f(a[1]), b0=f(b[0]), b1=f(b[1]), bz=f(BZ), br=f(BR))


def test_scalar_gru_pitchfork_at_one_over_r():
    b = continue_equilibria(gru1_params(0.5, (0.0, 1.0), (0.0, 0.0)), Param("s"), jnp.zeros(1), f=gru1,
                            window=(-np.inf, 4.0), ds=0.1)
    p_bp, *_ = specials(b, SpecialKind.BRANCH_POINT)
    assert b.special.labels() == ["branch point"]
    np.testing.assert_allclose(p_bp, [1 / R], atol=1e-12)                    # closed form; measured 0


def test_scalar_gru_folds_in_the_candidate_bias():
    u = 2.0                                  # effective gain r * Uh; reset-before: Uh = u / r
    b = continue_equilibria(gru1_params(0.0, (u / R, 0.0), (0.0, 1.0)), Param("s"), jnp.array([0.95]), f=gru1,
                            direction=-1, window=(-1.0, 1.0), ds=0.05, ds_max=0.2)
    p_fold, h_fold, sp, idx = specials(b, SpecialKind.FOLD)
    h_f = np.sqrt(1 - 1 / u)
    b_f = np.arctanh(h_f) - u * h_f
    np.testing.assert_allclose(p_fold, [b_f, -b_f], atol=1e-12)              # closed forms; measured 1.1e-16
    np.testing.assert_allclose(h_fold[:, 0], [h_f, -h_f], atol=1e-12)
    assert np.all(np.asarray(sp.located) == LocateStatus.CONVERGED)
    # upper branch down, middle branch up, lower branch down to the window's edge
    assert tuple(np.asarray(b.status)) == (BranchStatus.START, BranchStatus.LEFT_WINDOW)
    assert float(b.trim().p[-1]) == -1.0
    np.testing.assert_array_equal(np.unique(np.asarray(b.trim().n_unstable)), [0, 1])


@pytest.mark.slow
def test_gru_branch_point_when_one_gain_crosses_one_over_r():
    # Uh = diag(s, 0.7): only the first eigenvalue (1 - z)(r s - 1) crosses zero, at s = 1/r
    q = gru2_params(0.5, D0=np.diag([0.0, 0.7]), D1=np.diag([1.0, 0.0]), bz=BZ, br=BR)
    b = continue_equilibria(q, Param("s"), jnp.zeros(2), f=gru2, window=(-np.inf, 4.0), ds=0.1)
    p_bp, *_ = specials(b, SpecialKind.BRANCH_POINT)
    assert b.special.labels() == ["branch point"]
    np.testing.assert_allclose(p_bp, [1 / R], atol=1e-12)                    # closed form; measured 0


@pytest.mark.slow
def test_gru_uniform_gain_is_a_corank_two_crossing_seen_by_stability_only():
    # Uh = s I: both eigenvalues cross zero together at s = 1/r. The bordered determinant does not change sign,
    # so no branch point is reported; the stored number of unstable eigenvalues jumps from 0 to 2. The Hopf test
    # (trace) does vanish there, but the pair is not a rotation (not Hopf), and the augmented system is
    # singular at a double zero, so the point comes back with a failed location status
    q = gru2_params(0.5, g=(0.0, 1.0), bz=BZ, br=BR)
    b = continue_equilibria(q, Param("s"), jnp.zeros(2), f=gru2, window=(-np.inf, 4.0), ds=0.1)
    t = b.trim()
    np.testing.assert_array_equal(np.asarray(t.n_unstable), 2 * (np.asarray(t.p) > 1 / R))
    assert b.special.labels() == ["neutral saddle"] and int(b.special.located[0]) != LocateStatus.CONVERGED


def test_gru_rotation_gain_hopf_point_and_frequency():
    phi = 0.6
    q = gru2_params(0.5, g=(0.0, 1.0), t=(phi, 0.0), bz=BZ, br=BR)
    b = continue_equilibria(q, Param("s"), jnp.zeros(2), f=gru2, window=(-np.inf, 4.0), ds=0.1)
    p_h, _, sp, idx = specials(b, SpecialKind.HOPF)
    s_star = 1 / (R * np.cos(phi))
    # closed forms (model.md §2.5); measured errors 4e-16 and 1e-16: atol 1e-12 is float64 roundoff with margin
    np.testing.assert_allclose(p_h, [s_star], atol=1e-12)
    np.testing.assert_allclose(float(sp.omega[idx[0]]), (1 - Z) * R * s_star * np.sin(phi), atol=1e-12)
    # closed form of l1 (see rotation_l1): -1/sin(2 phi), whatever z and r; measured error 3e-16
    np.testing.assert_allclose(float(sp.l1[idx[0]]), rotation_l1(phi), atol=1e-12)


def rotation_l1(phi):
    """Closed-form l1 at the Hopf point of dh/dt = (1 - z)(tanh(A h) - h), A = R(phi)/cos(phi) (the rotation gain at
    s* = 1/(r cos phi)): J = (1 - z) tan(phi) [[0, -1], [1, 0]], so omega = (1 - z) tan(phi); no quadratic terms, cubic
    -(1 - z)/3 (A h)^3, so Guckenheimer-Holmes' a = (f_xxx + f_xyy + g_xxy + g_yyy)/16 = -(1 - z)/(4 cos^2 phi) and, in
    Kuznetsov's and MatCont's normalisation (<q, q> = 1, where Stuart-Landau gives 2 Re(c)/omega, model.md §3),
    l1 = 2 a/omega = -1/sin(2 phi), whatever z and r. At the rotation family's alpha_H = arccos(2/3) this is
    -9/(4 sqrt 5) = -1.0062306, model.md's -1.00623."""
    return -1 / np.sin(2 * phi)


def test_rotation_family_hopf_is_supercritical_at_arccos_two_thirds():
    b = continue_equilibria(gru2_params(0.0, g=(3.0, 0.0), t=(0.0, 1.0)), Param("s"), jnp.zeros(2), f=gru2,
                            window=(-np.inf, 1.5),
                            ds=0.1)
    p_h, _, sp, idx = specials(b, SpecialKind.HOPF)
    np.testing.assert_allclose(p_h, [np.arccos(2 / 3)], atol=1e-12)       # closed form; measured error 0
    # z = 1/2, Jacobian (1.5 R(a) - I)/2 at the origin: omega = 0.75 sin(a_H) = sqrt(5)/4 (measured error 1e-16)
    np.testing.assert_allclose(float(sp.omega[idx[0]]), 0.75 * np.sin(np.arccos(2 / 3)), atol=1e-12)
    # supercritical: l1 = -9/(4 sqrt 5) = -1.0062306 (closed form, rotation_l1); measured error 1e-16 (in the
    # <q, q> = 1/2 normalisation used before, half of it)
    assert float(sp.l1[idx[0]]) < 0
    np.testing.assert_allclose(float(sp.l1[idx[0]]), -9 / (4 * np.sqrt(5)), atol=1e-12)
    np.testing.assert_allclose(float(sp.l1[idx[0]]), rotation_l1(np.arccos(2 / 3)), atol=1e-12)
    assert abs(float(sp.l1[idx[0]]) + 1.00623) < 5e-6                          # model.md's value, to its digits
    # onset period 8 pi / sqrt(5) (closed form; measured error 2e-15); model.md quotes it as 11.24 (2 decimals)
    np.testing.assert_allclose(2 * np.pi / float(sp.omega[idx[0]]), 8 * np.pi / np.sqrt(5), rtol=1e-12)
    np.testing.assert_allclose(2 * np.pi / float(sp.omega[idx[0]]), 11.24, atol=5e-3)


def snic_reference() -> float:
    """The saddle-node angle from a scalar reduction (numpy/scipy only): equilibria satisfy h = tanh(1.5 R(a) h);
    row 1 gives h2(h1) explicitly, row 2 leaves phi(h1) = 0; the fold is where min phi touches zero."""
    def phi(h1, a):
        h2 = (1.5 * np.cos(a) * h1 - np.arctanh(h1)) / (1.5 * np.sin(a))
        return 1.5 * (np.sin(a) * h1 + np.cos(a) * h2) - np.arctanh(h2)
    lowest = lambda a: minimize_scalar(phi, bounds=(0.45, 0.7), args=(a,), method="bounded",
                                       options=dict(xatol=1e-12)).fun
    return brentq(lowest, 0.14, 0.16, xtol=1e-14)


def test_rotation_family_saddle_node_loop_of_the_snic():
    # from the stable node at alpha = 0 the branch folds at ±alpha_SN, alternating node and saddle, and closes
    # after the four saddle-node pairs (eight folds)
    h_star = 0.8585596
    b = continue_equilibria(gru2_params(0.0, g=(3.0, 0.0), t=(0.0, 1.0)), Param("s"), jnp.array([h_star, h_star]),
                            f=gru2, window=(-0.3, 0.3), ds=0.02)
    p_fold, h_fold, sp, _ = specials(b, SpecialKind.FOLD)
    alpha_sn = snic_reference()
    # the stored value (this scipy computation, 0.14782207067906653; model.md ~0.1478) at its 12 digits
    np.testing.assert_allclose(alpha_sn, 0.147822070679, atol=1e-12)
    assert int(b.status[1]) == BranchStatus.CLOSED_LOOP and len(p_fold) == 8 and int(b.special.count) == 8
    np.testing.assert_allclose(np.abs(p_fold), alpha_sn, atol=1e-12)      # measured 1.4e-16
    np.testing.assert_allclose(np.sign(p_fold), [1, -1] * 4)
    assert set(np.unique(np.asarray(b.trim().n_unstable))) == {0, 1}


def test_both_directions_are_joined_in_order():
    phi = 0.6
    q = gru2_params(2.0, g=(0.0, 1.0), t=(phi, 0.0), bz=BZ, br=BR)
    one = continue_equilibria(q, Param("s"), jnp.zeros(2), f=gru2, window=(0.5, 4.0), ds=0.1)
    b = continue_equilibria_both(q, Param("s"), jnp.zeros(2), f=gru2, window=(0.5, 4.0), ds=0.1)
    t = b.trim()
    p = np.asarray(t.p)
    assert p[0] == 0.5 and p[-1] == 4.0 and np.all(np.diff(p) > 0)
    assert tuple(np.asarray(b.status)) == (BranchStatus.LEFT_WINDOW, BranchStatus.LEFT_WINDOW)
    assert np.all(np.asarray(t.tangent)[:, -1] > 0) and t.n_unstable.dtype == jnp.int32
    np.testing.assert_array_equal(np.asarray(t.n_unstable), 2 * (p > 1 / (R * np.cos(phi))))
    start = int(np.flatnonzero(p == 2.0)[0])
    np.testing.assert_allclose(p[start:], np.asarray(one.trim().p), atol=1e-12)
    assert b.special.labels() == ["Hopf"]
    lo, hi = np.asarray(b.special.interval[0])
    assert hi == lo + 1 and p[lo] < float(b.special.p[0]) < p[hi]
    np.testing.assert_allclose(float(b.special.p[0]), float(one.special.p[0]), atol=1e-12)


# ---- a random 3-D GRU -----------------------------------------------------------------------------------------

GRU3 = gj.GRUParams.random(jax.random.key(4), 3, scale=4.0)
GRU3_OPTS = dict(window=(-3.0, 3.0), ds=0.05, ds_max=0.2)
GRU3_START = jnp.array([-0.9885, -1.0, 0.9998])     # near its first equilibrium (find_fixed_points); init refines


def numpy_gru(params, h):
    """Reset-before CT-GRU without inputs in numpy (works on complex h, for complex-step derivatives)."""
    sig = lambda x: 1 / (1 + np.exp(-x))
    uz, ur, uh = (np.asarray(a) for a in (params.Uz, params.Ur, params.Uh))
    bz, br, bh = (np.asarray(a) for a in (params.bz, params.br, params.bh))
    z, r = sig(uz @ h + bz), sig(ur @ h + br)
    return (1 - z) * (np.tanh(uh @ (r * h) + bh) - h)


def numpy_jacobian(params, h):
    eps = 1e-30
    return np.column_stack([numpy_gru(params, h + 1j * eps * e).imag / eps for e in np.eye(len(h))])


@pytest.mark.slow
def test_random_gru_folds_satisfy_the_fold_conditions():
    b = continue_equilibria(GRU3, Param("bh", 0), GRU3_START, **GRU3_OPTS)
    p_fold, h_fold, sp, idx = specials(b, SpecialKind.FOLD)
    assert len(p_fold) >= 1 and np.all(np.asarray(sp.located)[idx] == LocateStatus.CONVERGED)
    for p, h in zip(p_fold, h_fold):
        params = Param("bh", 0).set(GRU3, p)
        assert np.max(np.abs(numpy_gru(params, h))) < 3e-15                 # measured 3.3e-16 (numpy field)
        assert abs(np.linalg.det(numpy_jacobian(params, h))) < 1e-14        # measured 8e-18 (complex-step Jacobian)
    t = b.trim()
    assert np.all(np.abs(np.diff(np.asarray(t.n_unstable))) <= 1)
    assert int(b.status[1]) == BranchStatus.LEFT_WINDOW


@pytest.mark.slow
def test_vmap_over_parameters_and_start_points_equals_a_loop():
    # the rotation family with a bias bh[1] that breaks its symmetry: 8 values, each from its own stable node
    values = jnp.linspace(-0.12, 0.12, 8)
    batch = jax.vmap(lambda v: gru2_params(0.0, g=(3.0, 0.0), t=(0.0, 1.0), bh=jnp.array([0.0, v])))(values)
    h0 = jnp.array([0.86, 0.86]) + jnp.outer(values, jnp.array([0.1, -0.2]))     # distinct start guesses
    run = lambda q, h: continue_equilibria(q, Param("s"), h, f=gru2, window=(-0.3, 0.3), ds=0.02)
    batched = jax.vmap(run)(batch, h0)
    assert np.unique(np.asarray(batched.count)).size > 1            # the batch members really differ
    for i in range(len(values)):
        one = run(jax.tree_util.tree_map(lambda a: a[i], batch), h0[i])
        assert int(one.count) == int(batched.count[i]) and int(one.special.count) == int(batched.special.count[i])
        np.testing.assert_array_equal(np.asarray(one.status), np.asarray(batched.status[i]))
        # the same computation batched: measured 0 (rows), <= 4.3e-16 (special points): float64 roundoff
        np.testing.assert_allclose(np.asarray(one.p), np.asarray(batched.p[i]), atol=1e-12)
        np.testing.assert_allclose(np.asarray(one.h), np.asarray(batched.h[i]), atol=1e-12)
        np.testing.assert_array_equal(np.asarray(one.n_unstable), np.asarray(batched.n_unstable[i]))
        np.testing.assert_array_equal(np.asarray(one.special.kind), np.asarray(batched.special.kind[i]))
        np.testing.assert_allclose(np.asarray(one.special.p), np.asarray(batched.special.p[i]), atol=1e-12)


# ---- gradients of a loss over a branch (implicit function theorem per row) --------------------------------------

def _row_on_hyperplane(params, u_i, normal):
    """Root of ``[f(h, params(p)); normal·(u - u_i)] = 0`` near ``u_i`` by Newton in numpy (complex-step Jacobian)."""
    u = np.array(u_i, float)
    for _ in range(20):
        q = Param("bh", 0).set(params, u[-1])
        value = numpy_gru(q, u[:-1])
        jac_h = numpy_jacobian(q, u[:-1])
        jac_p = (1 - 1 / (1 + np.exp(-(np.asarray(q.Uz) @ u[:-1] + np.asarray(q.bz))))) * (
            1 - np.tanh(np.asarray(q.Uh) @ (1 / (1 + np.exp(-(np.asarray(q.Ur) @ u[:-1] + np.asarray(q.br)))) * u[:-1])
                        + np.asarray(q.bh)) ** 2) * np.eye(len(value))[0]
        m = np.vstack([np.column_stack([jac_h, jac_p]), normal])
        du = np.linalg.solve(m, -np.append(value, normal @ (u - u_i)))
        u = u + du
        if np.max(np.abs(du)) < 1e-14:
            break
    return u


@pytest.mark.parametrize("method", ["palc", "natural"])
@pytest.mark.slow
def test_reverse_mode_gradient_of_a_loss_over_branch_points(method):
    # each row moves with the weights inside its own hyperplane (normal to its tangent; p fixed for natural):
    # jax.grad of a loss over all rows against central differences of those rows, solved independently in numpy
    # natural continuation stops within ~1e-6 of the fold at 1.18017, where central differences are useless
    opts = dict(window=(-3.0, 3.0 if method == "palc" else 1.1), ds=0.05, ds_max=0.1, max_points=40,
                method=method)
    weights = jnp.asarray(np.random.default_rng(3).normal(size=(40, 3)))

    def loss(params):
        b = continue_equilibria(params, Param("bh", 0), GRU3_START, **opts)
        rows = jnp.concatenate([b.h, b.p[:, None]], axis=1)
        return jnp.sum(jnp.where(jnp.isfinite(rows), rows * weights[:, :1] + rows**2 * weights[:, 1:2], 0.0))

    grad = jax.grad(loss)(GRU3)
    b = continue_equilibria(GRU3, Param("bh", 0), GRU3_START, **opts)
    k = int(b.count)
    assert k > 8
    rows = np.column_stack([np.asarray(b.h[:k]), np.asarray(b.p[:k])])
    normals = (np.asarray(b.tangent[:k]) if method == "palc" else np.tile(np.eye(4)[3], (k, 1)))
    rng = np.random.default_rng(4)
    for _ in range(2):
        direction = jax.tree_util.tree_map(jnp.zeros_like, GRU3)
        fields = lambda m: (m.Uz, m.Ur, m.Uh, m.bz, m.br, m.bh)       # the ones numpy_gru uses
        direction = eqx.tree_at(fields, direction, tuple(jnp.asarray(rng.normal(size=a.shape)) for a in fields(GRU3)))
        direction = eqx.tree_at(lambda m: m.bh, direction, direction.bh.at[0].set(0.0))   # the continued entry
        eps = 1e-6
        moved = [np.array([_row_on_hyperplane(jax.tree_util.tree_map(lambda a, v: a + s * eps * v, GRU3, direction),
                                              u, n) for u, n in zip(rows, normals)]) for s in (1, -1)]
        d_rows = (moved[0] - moved[1]) / (2 * eps)
        w = np.asarray(weights[:k])
        expected = np.sum(d_rows * (w[:, :1] + 2 * rows * w[:, 1:2]))
        got = sum(float(jnp.vdot(g, v)) for g, v in zip(jax.tree_util.tree_leaves(grad),
                                                         jax.tree_util.tree_leaves(direction)))
        # central differences with eps 1e-6 (roundoff ~1e-10 relative): measured 9.6e-10 / 2.2e-11 (palc),
        # 1.4e-8 / 4.0e-10 (natural, closer to the fold)
        np.testing.assert_allclose(got, expected, rtol=1e-7)


# ---- locate_fold / locate_hopf from a guess ---------------------------------------------------------------------

def test_locate_hopf_from_a_guess_with_gradients():
    # rotation gain s R(phi) with gate biases: Hopf at s* = 1/(r cos phi), omega = (1-z) r s* sin phi (closed form)
    from gru_jax.continuation import locate_hopf
    phi = 0.6
    q = gru2_params(2.0, g=(0.0, 1.0), t=(phi, 0.0), bz=BZ, br=BR)      # the guess s = 2 in the params
    point = locate_hopf(q, Param("s"), jnp.array([0.01, -0.02]), f=gru2)
    s_star = 1 / (R * np.cos(phi))
    assert int(point.located) == LocateStatus.CONVERGED and int(point.kind) == SpecialKind.HOPF
    # closed forms; measured errors 0: atol 1e-12 is float64 roundoff with margin
    np.testing.assert_allclose(float(point.param), s_star, atol=1e-12)
    np.testing.assert_allclose(float(point.omega), (1 - Z) * R * s_star * np.sin(phi), atol=1e-12)
    np.testing.assert_allclose(float(point.l1), rotation_l1(phi), atol=1e-12)      # measured error 1e-16
    assert "Hopf" in repr(point)
    # d s*/d t0 = s* tan(phi); d s*/d br = -s* (1 - r) (from r' = r (1 - r)); measured relative errors 0
    grad = jax.grad(lambda c: locate_hopf(c, Param("s"), jnp.zeros(2), f=gru2).param)(q)
    np.testing.assert_allclose(float(grad["t0"]), s_star * np.tan(phi), rtol=1e-12)
    np.testing.assert_allclose(float(grad["br"]), -s_star * (1 - R), rtol=1e-12)
    l1 = lambda c: float(locate_hopf(c, Param("s"), jnp.zeros(2), f=gru2).l1)
    dl1 = jax.grad(lambda c: locate_hopf(c, Param("s"), jnp.zeros(2), f=gru2).l1)(q)
    # l1 = -1/sin(2 t0) (rotation_l1) does not depend on bz (z only rescales time) nor on br (s* r = 1/cos t0 is
    # fixed): both derivatives are exactly zero, computed as 1.1e-16 (roundoff), so they are compared with atol, never
    # rtol; 1e-12 is float64 roundoff of an O(1) quantity with margin
    np.testing.assert_allclose([float(dl1["bz"]), float(dl1["br"])], [0.0, 0.0], rtol=0, atol=1e-12)
    # d l1 / d t0 = 2 cos(2 t0) / sin(2 t0)^2 (closed form; measured relative error 1.6e-15)
    np.testing.assert_allclose(float(dl1["t0"]), 2 * np.cos(2 * phi) / np.sin(2 * phi) ** 2, rtol=1e-12)
    # and against central differences of the located l1 (eps 1e-5: truncation ~ eps^2, measured relative error 4e-10)
    eps = 1e-5
    fd = (l1({**q, "t0": q["t0"] + eps}) - l1({**q, "t0": q["t0"] - eps})) / (2 * eps)
    np.testing.assert_allclose(float(dl1["t0"]), fd, rtol=3e-9)


def test_locate_fold_vmaps_and_rejects_bad_guesses():
    from gru_jax.continuation import locate_fold
    # dx/dt = k0 mu - x^2 + k3: fold at mu = -k3/k0 for each shift
    shifts = jnp.array([0.1, 0.3, -0.2])
    batch = jax.vmap(lambda s: saddle_node(0.5, shift=s))(shifts)      # the guess mu = 0.5 in the params
    points = jax.vmap(lambda c: locate_fold(c, Param("mu"), jnp.array([0.2, 0.1]), f=normal_form))(batch)
    np.testing.assert_allclose(np.asarray(points.p), -np.asarray(shifts), atol=1e-12)
    np.testing.assert_array_equal(np.asarray(points.located), LocateStatus.CONVERGED)
    with pytest.raises(ValueError, match="start: expected one state"):
        locate_fold(saddle_node(0.0), Param("mu"), jnp.zeros((2, 2)), f=normal_form)
    with pytest.raises(ValueError, match="start"):
        locate_fold(saddle_node(0.0), Param("mu"), jnp.zeros(3), f=normal_form)
    with pytest.raises(ValueError, match=r"start: expected a scalar \.p"):
        locate_fold(saddle_node(0.0), Param("mu"), SimpleNamespace(h=jnp.zeros(2), p=jnp.zeros(2)), f=normal_form)


@pytest.mark.slow
def test_hopf_detection_can_be_switched_off_for_large_systems():
    # detect_hopf=False skips the (d^2/2)^3 bialternate test: no Hopf point, but n_unstable still jumps by 2
    b = continue_equilibria(stuart_landau(-0.5, 1.0, -1.0), Param("mu"), jnp.zeros(2), f=normal_form,
                            window=(-np.inf, 0.5), ds=0.05, ds_max=0.2, detect_hopf=False)
    assert int(b.special.count) == 0 and np.all(np.asarray(b.trim().tests)[:, SpecialKind.HOPF] == 1.0)
    np.testing.assert_array_equal(np.asarray(b.trim().n_unstable), 2 * (np.asarray(b.trim().p) > 0))
    # folds are still detected and located (without the bialternate product in the augmented system)
    b = continue_equilibria(saddle_node(1.0, shift=0.3), Param("mu"), jnp.array([np.sqrt(1.3), 0.0]), f=normal_form,
                            direction=-1, window=(-1.0, 2.0), ds=0.05, ds_max=0.2, detect_hopf=False)
    assert b.special.labels() == ["fold"] and int(b.special.located[0]) == LocateStatus.CONVERGED
    np.testing.assert_allclose(float(b.special.p[0]), -0.3, atol=1e-12)
    with pytest.raises(ValueError, match="detect_hopf"):
        continue_equilibria(stuart_landau(-0.5, 1.0, -1.0), Param("mu"), jnp.zeros(2), f=normal_form, detect_hopf=1)


@pytest.mark.slow
def test_special_points_inside_one_step_are_listed_in_branch_order():
    # a Hopf point 4.6e-4 before a fold (in bh[0]), both inside one step of ds_max = 0.05 (found by tests/test_auto.py)
    p = Param("bh", 0).set(gj.GRUParams.random(jax.random.key(0), 2, scale=4.0, bias_scale=1.0), -4.0)
    b = continue_equilibria(p, Param("bh", 0), jnp.array([-0.9996, 0.9953]), window=(-4.0, 4.0), ds_max=0.05,
                            max_points=400)
    sp = b.special.trim()
    assert b.special.labels() == ["Hopf", "fold", "fold", "Hopf"]
    assert int(sp.interval[0, 0]) == int(sp.interval[1, 0])                  # the same step
    rows = np.column_stack([np.asarray(b.h[: int(b.count)]), np.asarray(b.p[: int(b.count)])])
    arclength = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(rows, axis=0), axis=1))])
    positions = [arclength[i] + np.linalg.norm(np.append(h, q) - rows[i])
                 for i, h, q in zip(np.asarray(sp.interval[:, 0]), np.asarray(sp.h), np.asarray(sp.p))]
    assert np.all(np.diff(positions) > 0)
