"""Saddle-loop homoclinic orbits of planar systems: manifolds against scipy, the split function and its roots against
an independent scipy implementation (solve_ivp events + brentq), the Bogdanov-Takens asymptote b1 = -(6/25) b2^2,
a 2-D GRU with a saddle loop in bh[0], the IFT derivative against finite differences, vmap = loop, detection =
location, the homoclinic curve, and input checks.

One planar field (the BT normal form, its constants in the params) so that each entry point compiles once."""

from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import brentq, fsolve

import gru_jax as gj
from gru_jax.core._param import Param
from gru_jax.core._status import BranchStatus
from gru_jax.homoclinic._curve import continue_homoclinic
from gru_jax.homoclinic._detect import detect_homoclinic
from gru_jax.homoclinic._locate import HomoclinicStatus, _locate, locate_homoclinic
from gru_jax.homoclinic._manifolds import ManifoldStatus, saddle_manifolds
from gru_jax.homoclinic._split import SplitOptions

B1, B2 = Param("b1"), Param("b2")
BT_OPTS = dict(radius=0.03, delta=1e-7)

#: A 2-D reset-before GRU (Uz = Ur = 0, bz = br = 0, so z = r = 1/2) with a saddle-loop homoclinic bifurcation in
#: bh[0] near the Bogdanov-Takens point (bh0, bh1) = (-0.0848656728, -0.0123414448), h = (-1/sqrt5, 1/sqrt3), found
#: on its fold curve by ``continue_curve``; at bh[1] = -0.0163414448 the stable cycle born at the Hopf point
#: bh0 = -0.0815246 dies in the saddle loop at bh0 = HOMOCLINIC_BH0.
from conftest import HOMOCLINIC_BH0, HOMOCLINIC_GRU   # located below and checked against scipy to 1e-9

GRU_OPTS = dict(radius=0.002, delta=1e-6, t_max=20000.0)


def bt(h, c):
    """The Bogdanov-Takens normal form ``x' = y, y' = b1 + b2 x + x^2 + s x y``."""
    x, y = h[0], h[1]
    return jnp.stack([y, c["b1"] + c["b2"] * x + x**2 + c["s"] * x * y])


def bt_params(b1, b2, s=-1.0):
    return dict(b1=jnp.asarray(b1, float), b2=jnp.asarray(b2, float), s=jnp.asarray(s, float))


def bt_saddle(b1, b2):
    return np.array([(-b2 + np.sqrt(b2**2 - 4 * b1)) / 2, 0.0])


def bt_guess(b2):
    lo, hi = -0.3 * b2**2, -0.2 * b2**2
    return jnp.asarray(bt_saddle(lo, b2)), (lo, hi)


# ---- an independent split function: numpy/scipy only ----------------------------------------------------------

def scipy_split(f, p, saddle_guess, u_dir, s_dir, radius, delta, t_max):
    """Saddle by fsolve, eigenvectors by numpy, branches by DOP853 with events; same section as the library."""
    xs = fsolve(lambda x: f(x, p), saddle_guess, xtol=1e-12)
    eps = 1e-7
    jac = np.column_stack([(f(xs + eps * e, p) - f(xs - eps * e, p)) / (2 * eps) for e in np.eye(2)])
    w, v = np.linalg.eig(jac)
    vu, vs = v[:, np.argmax(w.real)].real, v[:, np.argmin(w.real)].real
    vu, vs = vu * np.sign(vu @ u_dir), vs * np.sign(vs @ s_dir)
    tol = dict(method="DOP853", rtol=1e-12, atol=1e-14)
    away = lambda t, x: np.sum((x - xs) ** 2) - radius**2
    away.terminal, away.direction = True, 1
    back = solve_ivp(lambda t, x: -f(x, p), (0, t_max), xs + delta * vs, events=away, **tol)
    q = back.y_events[0][0]
    fq = f(q, p)
    g = lambda t, x: (x - q) @ fq
    g.terminal, g.direction = True, 1
    fwd = solve_ivp(lambda t, x: f(x, p), (0, t_max), xs + delta * vu, events=g, **tol)
    return np.array([-fq[1], fq[0]]) @ (fwd.y_events[0][0] - q) / np.linalg.norm(fq)


def numpy_bt(x, b):
    b1, b2, s = b
    return np.array([x[1], b1 + b2 * x[0] + x[0] ** 2 + s * x[0] * x[1]])


def numpy_gru(h, bh0):
    uh = np.array(HOMOCLINIC_GRU["Uh"])
    bh = np.array([bh0, HOMOCLINIC_GRU["bh"][1]])
    return 0.5 * (np.tanh(uh @ (0.5 * h) + bh) - h)


# ---- fixtures ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bt_points():
    """Located homoclinic points of the BT normal form (s = -1) at several b2, and one with s = +1."""
    out = {}
    for b2 in (-0.1, -0.05, -0.025):
        saddle, bracket = bt_guess(b2)
        out[b2] = locate_homoclinic(bt_params(bracket[0], b2), B1, saddle, window=bracket, f=bt,
                                    **{**BT_OPTS, "radius": 0.3 * abs(b2)})
    saddle, bracket = bt_guess(-0.1)
    out["s+"] = locate_homoclinic(bt_params(bracket[0], -0.1, 1.0), B1, saddle, window=bracket, f=bt, **BT_OPTS)
    return out


@pytest.fixture(scope="module")
def gru_point():
    g = gj.GRUParams.from_dict(HOMOCLINIC_GRU)
    fp = gj.find_fixed_points(g, n_seeds=400, seeding="grid")
    saddle = fp.h[[i for i, k in enumerate(fp.kinds()) if k == "saddle"][0]]
    return g, saddle, locate_homoclinic(g, Param("bh", 0), saddle, window=(-0.081501, -0.081499), branches=(1, -1),
                                        **GRU_OPTS)


# ---- tests ------------------------------------------------------------------------------------------------------

def test_bogdanov_takens_asymptote_saddle_and_saddle_quantity(bt_points):
    ratios = {}
    for b2 in (-0.1, -0.05, -0.025):
        pt = bt_points[b2]
        assert int(pt.status) == HomoclinicStatus.CONVERGED and abs(float(pt.residual)) < 2e-12   # measured 2.3e-13
        b1 = float(pt.p)
        np.testing.assert_allclose(np.asarray(pt.saddle), bt_saddle(b1, b2), atol=1e-12)
        x = bt_saddle(b1, b2)[0]
        # Jacobian [[0, 1], [b2 + 2x, s x]]: trace s x, det -(b2 + 2x)
        lam = np.sort(np.roots([1.0, x, -(b2 + 2 * x)]))[::-1]
        np.testing.assert_allclose(np.asarray(pt.lam), lam, atol=1e-12)
        np.testing.assert_allclose(float(pt.saddle_quantity), -x, atol=1e-12)    # negative: a stable cycle
        ratios[b2] = b1 / b2**2
    err = {b2: ratios[b2] + 6 / 25 for b2 in ratios}
    assert all(abs(e) < 0.004 for e in err.values())
    # an O(b2) error: halving b2 halves it
    assert 0.45 < err[-0.05] / err[-0.1] < 0.55 and 0.45 < err[-0.025] / err[-0.05] < 0.55
    plus = bt_points["s+"]
    assert float(plus.saddle_quantity) > 0 and abs(float(plus.p) / 0.01 + 6 / 25) < 0.004


def test_bt_root_matches_an_independent_scipy_split(bt_points):
    b2 = -0.1
    pt = bt_points[b2]
    u, s = np.asarray(pt.unstable), np.asarray(pt.stable)
    S = lambda b1: scipy_split(numpy_bt, (b1, b2, -1.0), bt_saddle(b1, b2), u, s, 0.03, 1e-7, 1000.0)
    ref = brentq(S, -0.003, -0.002, xtol=1e-15, rtol=1e-14)
    assert abs(float(pt.p) - ref) < 3e-12                   # measured 3.1e-13


@pytest.mark.slow
def test_gru_saddle_loop_matches_scipy(gru_point, auto_reference):
    g, saddle, pt = gru_point
    assert int(pt.status) == HomoclinicStatus.CONVERGED, pt
    assert abs(float(pt.p) - HOMOCLINIC_BH0) < 5e-11        # the constant's 10 digits; measured 2.6e-11
    # AUTO-07p's saddle loop -0.081500780574 (tests/data/auto07p.json: its period 1e3 cycle): measured 2.8e-13
    assert abs(float(pt.p) - auto_reference["cycles/homoclinic_gru/bh0"][1]) < 3e-12
    assert float(pt.saddle_quantity) < 0 and float(pt.lam[0]) > 0 > float(pt.lam[1])
    assert np.max(np.abs(numpy_gru(np.asarray(pt.saddle), float(pt.p)))) < 1e-15      # measured 2.8e-17
    u, s = np.asarray(pt.unstable), np.asarray(pt.stable)
    S = lambda b: scipy_split(numpy_gru, b, np.asarray(pt.saddle), u, s, 0.002, 1e-6, 20000.0)
    ref = brentq(S, -0.081501, -0.081499, xtol=1e-14, rtol=1e-13)
    assert abs(float(pt.p) - ref) < 2e-12                   # measured 1.7e-13 (README: "scipy agrees to 1e-9")


@pytest.mark.slow
def test_manifolds_follow_the_flow_and_leave_along_eigenvectors():
    b1, b2 = -0.0024, -0.1
    m = saddle_manifolds(bt_params(b1, b2), bt_saddle(b1, b2) + 1e-3, f=bt, T=20.0, n=9, delta=1e-6)
    assert int(m.status) == ManifoldStatus.OK and bool(np.all(np.asarray(m.branch_ok)))
    xs = bt_saddle(b1, b2)
    np.testing.assert_allclose(np.asarray(m.saddle), xs, atol=1e-14)
    for row, (branches, sign) in enumerate(((m.unstable, 1.0), (m.stable, -1.0))):
        v = np.asarray(m.vectors[row])
        lam = float(m.lam[row])
        jac = np.array([[0.0, 1.0], [b2 + 2 * xs[0], -xs[0]]])
        np.testing.assert_allclose(jac @ v, lam * v, atol=1e-12)              # an eigenvector
        for k, pm in enumerate((1.0, -1.0)):
            pts = np.asarray(branches[k])
            np.testing.assert_allclose(pts[0], xs + 1e-6 * pm * v, atol=1e-15)
            ref = solve_ivp(lambda t, x: sign * numpy_bt(x, (b1, b2, -1.0)), (0, 20.0), pts[0], method="DOP853",
                            rtol=1e-12, atol=1e-14, t_eval=np.asarray(m.t)).y.T
            np.testing.assert_allclose(pts, ref, rtol=1e-6, atol=1e-12)   # solver rtol 1e-10, grown by exp(lam t)
            # first samples: still along the eigenvector, grown by exp(lam t)
            grow = np.exp(lam * float(m.t[1]) * sign)
            np.testing.assert_allclose(pts[1] - xs, grow * 1e-6 * pm * v, rtol=1e-4, atol=1e-12)   # measured 1.1e-5


@pytest.mark.slow
def test_ift_gradient_matches_finite_differences(bt_points):
    """d b1*/d b2 along the homoclinic curve (the derivative of the located parameter in another parameter)."""
    b2 = -0.1
    pt = bt_points[b2]
    saddle = jnp.asarray(pt.saddle)
    opts = SplitOptions(radius=0.03, delta=1e-7)

    def located(b2_value):
        params = bt_params(pt.p, b2_value)
        return _locate(bt, opts, B1, params, saddle, pt.p - 1e-5, pt.p + 1e-5, jnp.asarray(True),
                       jnp.full(2, jnp.nan), jnp.asarray(1e-12), jnp.asarray(1e-8), 60).p

    grad = float(jax.jit(jax.grad(located))(b2))
    h = 1e-5
    bracket = (float(pt.p) - 1e-4, float(pt.p) + 1e-4)
    fd = (float(locate_homoclinic(bt_params(pt.p, b2 + h), B1, saddle, window=bracket, f=bt, **BT_OPTS).p)
          - float(locate_homoclinic(bt_params(pt.p, b2 - h), B1, saddle, window=bracket, f=bt, **BT_OPTS).p)) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=2e-9)                  # measured 1.9e-10
    assert abs(grad - 2 * (-6 / 25) * b2) < 0.01          # the asymptote's slope -12/25 b2, up to O(b2)


@pytest.mark.slow
def test_vmap_equals_loop(bt_points):
    b2s = jnp.array([-0.1, -0.05])

    def one(b2):
        opts = SplitOptions(radius=0.3 * jnp.abs(b2), delta=1e-7)
        lo, hi = -0.3 * b2**2, -0.2 * b2**2
        saddle = jnp.stack([(-b2 + jnp.sqrt(b2**2 - 4 * lo)) / 2, 0.0])
        return _locate(bt, opts, B1, bt_params(lo, b2), saddle, lo, hi, jnp.asarray(True), jnp.full(2, jnp.nan),
                       jnp.asarray(1e-12), jnp.asarray(1e-8), 60)

    batched = jax.jit(jax.vmap(one))(b2s)
    for i, b2 in enumerate(np.asarray(b2s)):
        single = bt_points[float(b2)]
        assert int(batched.status[i]) == HomoclinicStatus.CONVERGED
        np.testing.assert_allclose(float(batched.p[i]), float(single.p), atol=1e-13)
        np.testing.assert_allclose(np.asarray(batched.saddle[i]), np.asarray(single.saddle), atol=1e-13)


@pytest.mark.slow
def test_detection_finds_the_located_point(bt_points):
    d = detect_homoclinic(bt_params(0.0, -0.1), B1, np.linspace(-0.004, -0.0015, 26), bt_saddle(-0.0024, -0.1),
                          f=bt, max_points=3, **BT_OPTS)
    assert int(d.count) == 1 and int(d.n_brackets) == 1
    assert int(d.points.status[0]) == HomoclinicStatus.CONVERGED
    np.testing.assert_allclose(float(d.points.p[0]), float(bt_points[-0.1].p), atol=1e-13)
    assert np.all(np.isnan(np.asarray(d.points.p[1:])))
    # only one branch pair reaches the section at all: the other three are flagged, not NaN-compared
    assert int(np.sum(np.all(np.asarray(d.split_status) == 0, axis=1))) == 1


@pytest.mark.slow
def test_homoclinic_curve_follows_the_asymptote(bt_points):
    pt = bt_points[-0.1]
    c = continue_homoclinic(bt_params(pt.p, -0.1), B1, B2, pt, f=bt, radius=0.02, delta=1e-7, ds=0.005,
                            ds_max=0.02, max_points=30, direction=-1, window=((-1, 1), (-0.3, -0.02)))
    t = c.trim()
    assert tuple(np.asarray(c.status)) == (BranchStatus.START, BranchStatus.LEFT_WINDOW)
    b1, b2 = np.asarray(t.p), np.asarray(t.p2)
    assert b2[-1] < -0.29 and np.all(np.diff(b2) < 0)
    err = b1 / b2**2 + 6 / 25
    # the O(b2) correction, linear in b2 (measured 0.017)
    np.testing.assert_allclose(err / b2, err[0] / b2[0], rtol=0.05)
    np.testing.assert_allclose(np.asarray(t.saddle_quantity), -np.asarray(t.saddle)[:, 0], atol=1e-12)


def _through(curve, p2, field="p"):
    """A curve's ``field`` at ``param2 = p2``: the quadratic through the three rows nearest it."""
    near = np.argsort(np.abs(np.asarray(curve.p2) - p2))[:3]
    return np.polyval(np.polyfit(np.asarray(curve.p2)[near], np.asarray(getattr(curve, field))[near], 2), p2)


@pytest.mark.slow
def test_curve_from_the_bogdanov_takens_point_of_the_normal_form(bt_points):
    r = gj.homoclinic_from_bt(bt_params(0.0, 0.0), B1, B2, np.zeros(2), distance=0.1, f=bt,     # (b1, b2) = (0, 0)
                              max_points=30, window=((-1, 1), (-0.3, 0.1)))
    assert r.ok, r.message
    np.testing.assert_allclose([float(r.hopf.p), r.hopf_p2], [0.0, -0.1], atol=1e-12)   # the Hopf curve is b1 = 0
    assert r.family.end == "homoclinic (saddle-loop)"
    c = r.curve
    assert tuple(np.asarray(c.status)) == (BranchStatus.STEP_TOO_SMALL, BranchStatus.LEFT_WINDOW)
    b1, b2 = np.asarray(c.p), np.asarray(c.p2)
    assert np.all(np.diff(b2) < 0) and b2[0] > -0.02 and b2[-1] < -0.2     # from near BT past the start, in order
    err = b1 / b2**2 + 6 / 25
    np.testing.assert_allclose(err / b2, err[0] / b2[0], rtol=0.05)         # b1 = -6/25 b2^2 + O(b2^3) towards BT
    np.testing.assert_allclose(_through(c, -0.1), float(bt_points[-0.1].p), atol=1e-12)    # measured 1.4e-15
    assert np.max(np.abs(np.asarray(c.residual))) < 1e-8 * 0.1 * float(np.max(r.family.amplitude))   # measured 3.4e-11


@pytest.mark.slow
def test_gru_curve_from_its_bogdanov_takens_point_passes_the_constructed_loop(gru_point):
    g, _, point = gru_point
    P0, P1 = Param("bh", 0), Param("bh", 1)
    near_bt = gj.GRUParams.from_dict({**HOMOCLINIC_GRU, "bh": [-0.0848656728, -0.0113414448]})
    fold = gj.continue_curve(near_bt, P0, P1, [-1 / np.sqrt(5), 1 / np.sqrt(3)], kind="fold",
                             direction=-1, ds=0.001, ds_max=0.002, max_points=10).special
    assert fold.labels() == ["bogdanov-takens"]
    r = gj.homoclinic_from_bt(near_bt, P0, P1, fold[0], distance=0.003,
                              max_points=30, window=((-0.2, 0.2), (-0.0175, -0.013)))
    assert r.ok, r.message
    c = r.curve
    assert tuple(np.asarray(c.status)) == (BranchStatus.LEFT_WINDOW,) * 2
    assert np.all(np.diff(np.asarray(c.p2)) < 0)
    bh1 = HOMOCLINIC_GRU["bh"][1]
    # AUTO-07p: -0.081500780574; measured 6.5e-9 from HOMOCLINIC_BH0 and from the located point (the quadratic
    # interpolation between curve rows)
    np.testing.assert_allclose(_through(c, bh1), HOMOCLINIC_BH0, atol=1e-8)
    np.testing.assert_allclose(_through(c, bh1, "saddle_quantity"), float(point.saddle_quantity), rtol=1e-4)   # 2.7e-5


@pytest.mark.parametrize("call, message", [
    (lambda: locate_homoclinic(bt_params(0, -0.1), B1, jnp.zeros(3), window=(-0.003, -0.002), f=bt), "shape \\(2,\\)"),
    (lambda: locate_homoclinic(bt_params(0, -0.1), B1, jnp.zeros(2), window=(-0.003, -0.003), f=bt), "lo < hi"),
    (lambda: locate_homoclinic(bt_params(0, -0.1), B1, jnp.zeros(2), window=(-0.003, np.nan), f=bt), "NaN"),
    (lambda: locate_homoclinic(bt_params(0, -0.1), B1, jnp.zeros(2), f=bt, branches=(1, 0)), "branches"),
    (lambda: locate_homoclinic(bt_params(0, -0.1), B1, jnp.zeros(2), f=bt, delta=0.5), "delta"),
    (lambda: locate_homoclinic(bt_params(0, -0.1), Param("c"), jnp.zeros(2), f=bt), "no key"),
    (lambda: locate_homoclinic(bt_params(0, -0.1), B1, jnp.zeros((2, 2)), f=bt), "start"),
    (lambda: detect_homoclinic(bt_params(0, -0.1), B1, [0.0, -1.0], jnp.zeros(2), f=bt), "increasing"),
    (lambda: detect_homoclinic(bt_params(0, -0.1), B1, [0.0, 1.0], jnp.zeros(2), f=bt, max_points=0), "max_points"),
    (lambda: saddle_manifolds(bt_params(0, -0.1), jnp.zeros(2), f=bt, n=1), "n:"),
    (lambda: saddle_manifolds(bt_params(0, -0.1), jnp.zeros(2), f=bt, T=-1.0), "T:"),
    (lambda: continue_homoclinic(bt_params(0, -0.1), B1, B1, None, f=bt), "start"),
    (lambda: gj.homoclinic_from_bt(bt_params(0, 0), B1, B2, np.zeros(3), distance=0.1, f=bt), "start:"),
    (lambda: gj.homoclinic_from_bt(bt_params(0, 0), B1, B2, SimpleNamespace(h=np.zeros(2), p=0.0, p2=np.zeros(2)),
                                   distance=0.1, f=bt), "start:"),
    (lambda: gj.homoclinic_from_bt(bt_params(0, 0), B1, B2, np.array([0.0, np.nan]), distance=0.1, f=bt),
     "non-finite"),
    (lambda: gj.homoclinic_from_bt(bt_params(0, 0), B1, B2, np.zeros(2), distance=-0.1, f=bt), "distance"),
    (lambda: gj.homoclinic_from_bt(bt_params(0, 0), B1, B1, np.zeros(2), distance=0.1, f=bt), "param2"),
])
def test_bad_input_raises_before_compiling(call, message):
    with pytest.raises(ValueError, match=message):
        call()
