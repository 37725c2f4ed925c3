"""Codimension-two continuation: fold and Hopf curves of the cusp, Bogdanov-Takens and Bautin normal forms
against their closed forms, located cusp / Bogdanov-Takens / generalized Hopf points, a planted 2-D GRU fold
curve checked in numpy, vmap = loop, no recompiles, input checks, the two-parameter diagram.

One planar polynomial field whose params carry every constant, so each curve kind compiles once."""

import json
from types import SimpleNamespace

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import fsolve

import gru_jax as gj
from gru_jax.continuation import BranchStatus, LocateStatus, Param
from gru_jax.codim2._codim2 import Codim2Kind, Curve, continue_curve, continue_curve_both

TRACES = {"planar": 0}
B1, B2 = Param("b1"), Param("b2")
OPTS = dict(f=None, window=((-1.0, 1.0), (-1.0, 1.0)), ds=0.05, ds_max=0.1, max_points=100, max_special=4)


def planar(h, c):
    """``dh/dt = (A + b1 B1 + b2 B2) h + b1 e1 + Q (x², xy, x³) + (b2 s2 + s4 |h|²) |h|² h``."""
    TRACES["planar"] += 1
    b1, b2, x, y = c["b1"], c["b2"], h[0], h[1]
    r2 = h @ h
    return ((c["A"] + b1 * c["B1"] + b2 * c["B2"]) @ h + b1 * c["e1"] + c["Q"] @ jnp.stack([x**2, x * y, x**3])
            + (b2 * c["s2"] + c["s4"] * r2) * r2 * h)


def planar_params(b1, b2, A=np.zeros((2, 2)), B1=np.zeros((2, 2)), B2=np.zeros((2, 2)), e1=(0.0, 0.0),
                  Q=np.zeros((2, 3)), s2=0.0, s4=0.0):
    f = lambda x: jnp.asarray(x, float)
    return dict(b1=f(b1), b2=f(b2), A=f(A), B1=f(B1), B2=f(B2), e1=f(e1), Q=f(Q), s2=f(s2), s4=f(s4))


def cusp(b1, b2):
    """``dx/dt = b1 + b2 x - x³``, ``dy/dt = -y``: folds on ``b2 = 3x²``, ``b1 = -2x³``, cusp at 0."""
    return planar_params(b1, b2, A=np.diag([0.0, -1.0]), B2=np.diag([1.0, 0.0]), e1=(1.0, 0.0),
                         Q=[[0.0, 0.0, -1.0], [0.0, 0.0, 0.0]])


def bogdanov_takens(b1, b2, s):
    """``dx/dt = y``, ``dy/dt = b1 + b2 x + x² + s x y``: folds on ``b1 = b2²/4``, Hopf on ``b1 = 0, b2 < 0``."""
    return planar_params(b1, b2, A=[[0.0, 1.0], [0.0, 0.0]], B2=[[0.0, 0.0], [1.0, 0.0]], e1=(0.0, 1.0),
                         Q=[[0.0, 0.0, 0.0], [1.0, s, 0.0]])


def bautin(b1, b2):
    """``dz/dt = (b1 + i) z + b2 z|z|² - z|z|⁴``: Hopf on ``b1 = 0`` with ``l1 = 2 b2`` (``<q, q> = 1``)."""
    return planar_params(b1, b2, A=[[0.0, -1.0], [1.0, 0.0]], B1=np.eye(2), s2=1.0, s4=-1.0)


def both(params, start, kind="fold", **kwargs):
    return continue_curve_both(params, B1, B2, start, kind=kind, **{**OPTS, "f": planar, **kwargs})


def single_special(curve: Curve, kind: Codim2Kind):
    sp = curve.special.trim()
    assert curve.labels() == [kind.label]
    assert int(sp.located[0]) == LocateStatus.CONVERGED and float(sp.residual[0]) < 1e-12   # measured <= 3e-52
    return np.array([float(sp.p[0]), float(sp.p2[0]), *np.asarray(sp.h[0])])


@pytest.fixture(scope="module")
def curves():
    """The normal-form curves, computed once for the tests and the diagram."""
    x = 0.5
    return dict(cusp=both(cusp(-2 * x**3 + 0.01, 3 * x**2), jnp.array([x + 0.01, 0.0])),     # (b1, b2) in the params
                bt_fold=both(bogdanov_takens(0.09 / 4, 0.3, 1.0), jnp.array([-0.15, 0.0])),
                bt_hopf=both(bogdanov_takens(0.01, -0.5, -1.0), jnp.array([0.01, 0.0]), kind="hopf"),
                bautin=both(bautin(0.02, -0.5), jnp.array([0.0, 0.0]), kind="hopf"))


def test_cusp_fold_curve_and_cusp_point(curves):
    c = curves["cusp"]
    t = c.trim()
    x, b1, b2 = np.asarray(t.h)[:, 0], np.asarray(t.p), np.asarray(t.p2)
    # closed forms; measured 1.1e-16, 1.1e-16, 5.6e-17 (float64 roundoff: atol 1e-12 with margin)
    np.testing.assert_allclose(b2, 3 * x**2, atol=1e-12)                     # both fold conditions hold
    np.testing.assert_allclose(b1, -2 * x**3, atol=1e-12)
    np.testing.assert_allclose(np.abs(b1), 2 * (b2 / 3) ** 1.5, atol=1e-12)
    assert x.min() < -0.5 and x.max() > 0.5 and (np.all(np.diff(x) < 0) or np.all(np.diff(x) > 0))
    assert np.all(np.isnan(np.asarray(t.kappa))) and np.all(np.asarray(t.residual) < 1e-12)   # measured 5.6e-17
    assert tuple(np.asarray(c.status)) == (BranchStatus.LEFT_WINDOW,) * 2 and np.all(b2[[0, -1]] == 1.0)
    assert np.max(np.abs(single_special(c, Codim2Kind.CUSP))) < 1e-12                 # at 0; measured 7e-18
    # the cusp coefficient a = w·B(v, v)/2 is -3x (|v| = |w| = 1 here): it changes sign once, at the cusp (measured 0)
    np.testing.assert_allclose(np.abs(np.asarray(t.tests)[:, 1]), 3 * np.abs(x), atol=1e-12)


def test_bogdanov_takens_on_the_fold_curve(curves):
    c = curves["bt_fold"]
    t = c.trim()
    x, b1, b2 = np.asarray(t.h)[:, 0], np.asarray(t.p), np.asarray(t.p2)
    np.testing.assert_allclose(b1, b2**2 / 4, atol=1e-12)                    # closed forms; measured 2.8e-17, 0
    np.testing.assert_allclose(x, -b2 / 2, atol=1e-12)
    assert b2.min() == -1.0 and b2.max() == 1.0
    assert np.max(np.abs(single_special(c, Codim2Kind.BOGDANOV_TAKENS))) < 1e-12     # at 0; measured 2.6e-19
    bt = np.flatnonzero(np.diff(np.sign(np.asarray(t.tests)[:, 0])))
    assert len(bt) == 1 and b2[bt[0]] * b2[bt[0] + 1] < 0        # w·v changes sign between the rows around 0
    (k,) = c.special.of_kind(Codim2Kind.BOGDANOV_TAKENS)
    point = c.special[int(k)]                                     # one slot, e.g. to start homoclinic_from_bt
    assert "bogdanov-takens" in repr(point) and point.h.shape == (2,)
    np.testing.assert_allclose([float(point.p), float(point.p2), *np.asarray(point.h)], 0.0, atol=1e-12)
    with pytest.raises(IndexError, match="out of range"):
        c.special[int(c.special.count)]


def test_hopf_curve_turns_into_a_neutral_saddle_curve_at_bogdanov_takens(curves):
    c = curves["bt_hopf"]
    t = c.trim()
    b1, b2, kappa = np.asarray(t.p), np.asarray(t.p2), np.asarray(t.kappa)
    # closed forms; measured 0 (b1, h, kappa): atol 1e-12 is float64 roundoff with margin
    np.testing.assert_allclose(b1, 0.0, atol=1e-12)
    np.testing.assert_allclose(np.asarray(t.h), 0.0, atol=1e-12)
    np.testing.assert_allclose(kappa, -b2, atol=1e-12)                # det f_h = -b2 on the plane of the pair
    l1 = np.asarray(t.tests)[:, 1]
    assert np.all(np.isfinite(l1[kappa > 0])) and np.all(np.isnan(l1[kappa <= 0]))
    # closed form on the Hopf part (b1 = 0, b2 = -w^2 < 0, s = -1): Kuznetsov's formula with A = [[0, 1], [-w^2, 0]],
    # B(u, v) = (0, 2 u1 v1 + s (u1 v2 + u2 v1)), q = (1, i w)/sqrt(1 + w^2) (<q, q> = 1, Kuznetsov's and MatCont's
    # normalisation), worked out with sympy: l1 = s / (2 w^3 (1 + w^2)); measured relative error 8.9e-16 (with
    # <q, q> = 1/2: half of it)
    w = np.sqrt(-b2[kappa > 0])
    np.testing.assert_allclose(l1[kappa > 0], -1 / (2 * w**3 * (1 + w**2)), rtol=1e-12)
    assert b2.min() == -1.0 and b2.max() == 1.0
    assert np.max(np.abs(single_special(c, Codim2Kind.BOGDANOV_TAKENS))) < 1e-12     # at 0; measured 0


def test_generalized_hopf_point_and_first_lyapunov_coefficient(curves):
    c = curves["bautin"]
    t = c.trim()
    b2 = np.asarray(t.p2)
    # closed forms; measured 0 for all four: atol 1e-12 is float64 roundoff with margin
    np.testing.assert_allclose(np.asarray(t.p), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.asarray(t.kappa), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.asarray(t.tests)[:, 1], 2 * b2, atol=1e-12)    # l1 = 2 Re(c)/ω = 2 b2 (model.md §3)
    assert np.max(np.abs(single_special(c, Codim2Kind.GENERALIZED_HOPF))) < 1e-12
    data = c.to_dict()
    json.dumps(data, allow_nan=False)
    assert data["kind"] == "hopf" and len(data["param"]) == int(c.count) == len(data["h"])
    assert [p["type"] for p in data["special_points"]] == ["generalized hopf"] and data["special_points"][0]["located"]
    assert "generalized hopf" in repr(c) and "curve in (b1, b2)" in repr(c)


def test_steps_and_window_are_traced_and_update_the_result(curves):
    before = TRACES["planar"]
    c = continue_curve(cusp(-0.25, 0.75), B1, B2, jnp.array([0.5, 0.0]), **{
        **OPTS, "f": planar, "window": ((-0.5, 0.5), (0.1, 0.8)), "ds": 0.02, "ds_max": 0.05, "tol": 1e-11,
        "grow": 1.2, "direction": -1})
    assert TRACES["planar"] == before
    t = c.trim()
    assert int(c.status[1]) == BranchStatus.LEFT_WINDOW and float(t.p2[-1]) == 0.1 and np.all(np.asarray(t.p2) <= 0.75)
    assert np.all(np.diff(np.asarray(t.p2)) < 0) and np.max(np.diff(np.asarray(t.p2))) > -0.05 - 1e-12


def test_no_fold_near_the_guess_is_a_failed_start(curves):
    # b2 = -0.5 < 0: dx/dt = b1 + b2 x - x³ is monotone, so there is no fold at this b2 at all
    c = continue_curve(cusp(0.0, -0.5), B1, B2, jnp.array([0.3, 0.0]), **{**OPTS, "f": planar})
    assert int(c.count) == 0 and tuple(np.asarray(c.status)) == (BranchStatus.START_FAILED,) * 2
    assert "did not converge" in c.messages()[0] and np.all(np.isnan(np.asarray(c.p)))
    assert c.to_dict()["param"] == [] and "0 points" in repr(c)


@pytest.mark.parametrize("bad, message", [
    (dict(kind="flip"), "kind: unknown option 'flip'"),
    (dict(ds=-0.1), "ds: must be > 0"),
    (dict(direction=0), "direction: must be \\+1 or -1"),
    (dict(window=((1.0, 0.0), (-1.0, 1.0))), "lo < hi"),
    (dict(window=(0.0, 1.0)), "shape \\(2, 2\\)"),
    (dict(window=((-1.0, 1.0), (2.0, 3.0))), "outside the window"),
    (dict(start=np.zeros((1, 2))), "start: expected one state"),
    (dict(start=SimpleNamespace(h=np.zeros(2), p=np.zeros(2))), r"start: expected a scalar \.p"),
    (dict(start=np.array([np.nan, 0.0])), "non-finite"),
    (dict(param2=B1), "param2: must differ"),
    (dict(param2=Param("q")), "no key 'q'"),
    (dict(max_points=1), "max_points: expected an int >= 2"),
])
def test_bad_input_raises_before_compiling(bad, message):
    args = dict(param2=B2, start=np.zeros(2), f=planar)
    args.update(bad)
    before = TRACES["planar"]
    with pytest.raises(ValueError, match=message):
        continue_curve(cusp(0.0, 0.0), B1, args.pop("param2"), args.pop("start"), **args)
    assert TRACES["planar"] == before


# ---- a planted 2-D GRU: Uh = [[g, 0.6], [-0.5, 1]], r = z = 1/2, odd in h: cusp at bh0 = 0, g = 2.3 ----------

GRU = eqx.tree_at(lambda m: m.Uh, gj.GRUParams.zeros(2), jnp.array([[3.0, 0.6], [-0.5, 1.0]]))
BH0, GAIN = Param("bh", 0), Param("Uh", 0, 0)
CUSP = (0.0, 2.3)        # det(Uh/2 - I) = 0 at h = 0: (g/2 - 1)(1/2 - 1) + 0.3 * 0.5 / 2 = 0


def numpy_gru(h, b0, g):
    uh = np.array([[g, 0.6], [-0.5, 1.0]])
    return 0.5 * (np.tanh(uh @ (0.5 * h) + np.array([b0, 0.0])) - h)


def numpy_jacobian(h, b0, g):
    eps = 1e-30
    return np.column_stack([numpy_gru(h + 1j * eps * e, b0, g).imag / eps for e in np.eye(2)])


def gru_folds():
    """The two folds in ``bh0`` at ``g = 3``, found in numpy: ``(h (2,), bh0)`` each."""
    def conditions(x):
        return [*numpy_gru(x[:2], x[2], 3.0), np.linalg.det(numpy_jacobian(x[:2], x[2], 3.0))]
    return [(lambda x: (x[:2], x[2]))(fsolve(conditions, [s * 0.6, s * 0.2, -s * 0.3], xtol=1e-12))
            for s in (1.0, -1.0)]


def gru_curve(h, p):
    return continue_curve(BH0.set(GRU, p), BH0, GAIN, h, direction=-1, window=((-2.0, 2.0), (2.0, 3.5)), ds=0.05,
                          ds_max=0.2, max_points=100, max_special=4)


@pytest.mark.slow
def test_gru_fold_curve_through_a_cusp_checked_in_numpy_and_vmap_equals_a_loop():
    folds = gru_folds()
    hs, ps = jnp.asarray(np.stack([h for h, _ in folds])), jnp.asarray([p for _, p in folds])
    batched = jax.vmap(lambda h, p: gru_curve(h + 0.01, p - 0.01))(hs, ps)
    for i, (h0, p0) in enumerate(folds):
        c = gru_curve(hs[i] + 0.01, ps[i] - 0.01)
        t = c.trim()
        assert tuple(np.asarray(c.status)) == (BranchStatus.START, BranchStatus.LEFT_WINDOW)
        # against the numpy fsolve folds (their residual 1.4e-17); measured 3.9e-16: float64 roundoff, atol 1e-12
        np.testing.assert_allclose([*np.asarray(t.h[0]), float(t.p[0]), float(t.p2[0])], [*h0, p0, 3.0], atol=1e-12)
        for h, b0, g in zip(np.asarray(t.h), np.asarray(t.p), np.asarray(t.p2)):
            assert np.max(np.abs(numpy_gru(h, b0, g))) < 1e-12                         # measured 1.7e-16
            assert abs(np.linalg.det(numpy_jacobian(h, b0, g))) < 1e-12                # measured 5.9e-17
        assert float(t.p2.min()) < CUSP[1] + 0.05 and float(t.p2[-1]) == 3.5           # turned at the cusp
        assert np.sign(float(t.p[-1])) == -np.sign(p0)                                  # onto the other fold
        cusp = single_special(c, Codim2Kind.CUSP)
        np.testing.assert_allclose(cusp, [*CUSP, 0.0, 0.0], atol=1e-12)        # closed form; measured 1.3e-16
        assert int(batched.count[i]) == int(c.count) and int(batched.special.count[i]) == 1
        np.testing.assert_array_equal(np.asarray(batched.status[i]), np.asarray(c.status))
        # the same computation batched: measured <= 5e-16 (float64 roundoff)
        np.testing.assert_allclose(np.asarray(batched.p[i]), np.asarray(c.p), atol=1e-12)
        np.testing.assert_allclose(np.asarray(batched.h[i]), np.asarray(c.h), atol=1e-12)
        np.testing.assert_allclose(np.asarray(batched.special.p2[i, 0]), cusp[1], atol=1e-12)


def test_two_parameter_diagram_renders(curves, tmp_path):
    from gru_jax.plot._curves import two_parameter_diagram

    b2 = np.linspace(-0.3, -0.05, 6)      # a homoclinic curve beside the Hopf curve (rows need no compile here)
    rows = dict(p=-6 / 25 * b2**2, p2=b2, saddle=np.zeros((6, 2)), lam=np.zeros((6, 2)), saddle_quantity=np.zeros(6),
                residual=np.zeros(6))
    loops = gj.HomoclinicCurve(**rows, count=np.int32(6), status=np.zeros(2, np.int32), param_name="b1",
                               param2_name="b2")
    ax = two_parameter_diagram([curves["bt_fold"], curves["bt_hopf"], curves["cusp"], loops],
                               labels=["BT fold", "BT Hopf", "cusp fold", "BT saddle loop"])
    path = tmp_path / "diagram.png"
    ax.figure.savefig(path)
    assert path.stat().st_size > 1000 and ax.get_xlabel() == "b1"
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "bogdanov-takens" in texts and "cusp" in texts and "BT Hopf (neutral saddle)" in texts
    assert "BT saddle loop" in texts and ax.get_lines()[-1].get_linestyle() == "-."
