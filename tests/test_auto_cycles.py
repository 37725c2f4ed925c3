"""Reference limit-cycle families from AUTO-07p (through bifpy), checked against closed forms and against
independent scipy computations (``solve_ivp`` periods, extrema and monodromy matrices; a fold of equilibria
by ``fsolve``; a saddle-loop splitting function by ``brentq``).

* Stuart-Landau ``z' = (mu + i w) z - |z|^2 z``: Hopf at 0, radius sqrt(mu), period 2 pi / w, Floquet
  multiplier exp(-2 mu T) (the reading code: parameter, period, L2 norm, amplitude, multipliers).
* Bautin normal form ``r' = r (mu + r^2 - r^4)``: subcritical Hopf, fold of cycles (LP) at mu = -1/4,
  r^2 = 1/2, the cycles turn stable there, multiplier exp((2 r^2 - 4 r^4) T).
* The GRU rotation family of model.md section 3 (``Uh = 3 R(alpha)``, ``z = r = 1/2``; alpha = PAR(1)):
  Hopf at arccos(2/3), periods at alpha = 0.8, 0.5, 0.2 and multipliers against ``solve_ivp``, the SNIC
  at the fold of equilibria alpha* = 0.1478221 (scipy) approached by the period blow-up.
* Bogdanov-Takens normal form ``x' = y, y' = b1 + b2 x + x^2 - x y`` at b2 = -0.5 (and -0.25): the
  saddle-loop homoclinic parameter b1 from the period 1e3 cycle against a splitting-function root.
* Rossler (b = 0.2, c = 5.7) in a: a period doubling (PD) against scipy shooting with a monodromy matrix.
* The GRU path (``_auto.make_func``) on ``GRUParams.rotation(0.5)`` in ``bh[0]``: its cycle at bh[0] = 0
  is the rotation family's cycle at alpha = 0.5.

The AUTO-07p values that gru_jax's fast tests compare with are checked here against the stored ones
(``tests/data/auto07p.json``). Slow tier; skipped when bifpy or gfortran is missing (a failure under
``GRU_JAX_REQUIRE_AUTO=1``). Each family: sympy tracing + gfortran + AUTO, 1-5 s here.
"""

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import brentq, fsolve

from conftest import require_auto
from gru_jax._auto07p import cycles as ac
from gru_jax._auto07p import equilibria as _auto

require_auto()
pytestmark = pytest.mark.slow

W_SL, W_BAUTIN = 1.3, 2.0
ROT_P = [0.8, 0.5, 0.2]


# ---------------------------------------------------------------- vector fields, AUTO style (math, lists)
def stuart_landau(u, par):
    x, y = u[0], u[1]
    g = par[0] - (x * x + y * y)
    return [g * x - W_SL * y, W_SL * x + g * y]


def bautin(u, par):
    x, y = u[0], u[1]
    rho = x * x + y * y
    g = par[0] + rho - rho * rho
    return [g * x - W_BAUTIN * y, W_BAUTIN * x + g * y]


def rotation_gru(u, par):
    """The CT-GRU field with Uz = Ur = 0, zero biases (z = r = sigmoid(0)) and Uh = 3 R(par[0])."""
    c, s = math.cos(par[0]), math.sin(par[0])
    Uh = [[3.0 * c, -3.0 * s], [3.0 * s, 3.0 * c]]
    sig = lambda x: 1.0 / (1.0 + math.exp(-x))
    z = [sig(0.0 * u[i]) for i in range(2)]
    r = [sig(0.0 * u[i]) for i in range(2)]
    n = [math.tanh(sum(Uh[i][j] * r[j] * u[j] for j in range(2))) for i in range(2)]
    return [(1.0 - z[i]) * (n[i] - u[i]) for i in range(2)]


def rossler(u, par):
    """Rossler with b = 0.2, c = 5.7 and a = par[0]: the cycle from the Hopf point doubles its period."""
    return [-u[1] - u[2], u[0] + par[0] * u[1], 0.2 + u[2] * (u[0] - 5.7)]


def bogdanov_takens(b2):
    def f(u, par):
        return [u[1], par[0] + b2 * u[0] + u[0] * u[0] - u[0] * u[1]]
    return f


# ---------------------------------------------------------------- independent scipy references
def _rot_np(a):
    R = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    f = lambda t, h: 0.5 * (np.tanh(1.5 * R @ h) - h)
    J = lambda h: 0.5 * ((1 - np.tanh(1.5 * R @ h) ** 2)[:, None] * 1.5 * R - np.eye(2))
    return f, J


def ivp_cycle(f, J, h0, t_settle):
    """Period, (d,) max - min and Floquet multipliers of the stable cycle reached from h0 (solve_ivp, DOP853,
    rtol 1e-12): period between two upward crossings of u[1] = 0, extrema at the zeros of f_i, multipliers
    from the monodromy matrix (variational equations over one period)."""
    opts = dict(method="DOP853", rtol=1e-12, atol=1e-13)
    h = solve_ivp(f, (0, t_settle), h0, **opts).y[:, -1]
    up = lambda t, u: u[1]
    up.direction, up.terminal = 1, 3                                                # stop at the 3rd
    cross = solve_ivp(f, (0, 1e4), h, events=[up], **opts)
    _, t1, t2 = cross.t_events[0][:3]
    period = t2 - t1
    h = solve_ivp(f, (0, period / 3), cross.y_events[0][1], **opts).y[:, -1]     # not at an extremum
    ext = [lambda t, u, i=i: f(t, u)[i] for i in range(len(h))]
    one = solve_ivp(f, (0, period), h, events=ext, **opts)
    vals = [one.y_events[i][:, i] for i in range(len(h))]
    amp = np.array([v.max() - v.min() for v in vals])
    d = len(h)
    var = lambda t, y: np.concatenate([f(t, y[:d]), (J(y[:d]) @ y[d:].reshape(d, d)).ravel()])
    M = solve_ivp(var, (0, period), np.concatenate([h, np.eye(d).ravel()]), **opts).y[d:, -1].reshape(d, d)
    return period, amp, np.sort(np.abs(np.linalg.eigvals(M)))


def rotation_fold():
    """The fold of equilibria of the rotation family (where the SNIC happens): F = 0, det J = 0."""
    def F(x):
        f, J = _rot_np(x[2])
        return np.r_[f(0, x[:2]), np.linalg.det(J(x[:2]))]
    x = fsolve(F, [0.5655, 0.8968, 0.148], xtol=1e-14)
    assert np.max(np.abs(F(x))) < 1e-14
    return x[2]


def bt_homoclinic(b2, eps=1e-8):
    """b1 of the saddle loop: root of (x where the left unstable branch of the saddle first reaches y = 0)
    minus (the same for the stable branch in backward time)."""
    def split(b1):
        xs = (-b2 + math.sqrt(b2 * b2 - 4 * b1)) / 2
        lu, ls = np.sort(np.roots([1.0, xs, -(b2 + 2 * xs)]))[::-1]
        f = lambda t, u: [u[1], b1 + b2 * u[0] + u[0] ** 2 - u[0] * u[1]]
        back = lambda t, u: [-v for v in f(t, u)]
        ends = []
        for rhs, lam, sgn in ((f, lu, 1), (back, ls, -1)):
            ev = lambda t, u: u[1]
            ev.terminal, ev.direction = True, sgn
            s = solve_ivp(rhs, (0, 500), [xs - eps, -eps * lam], method="DOP853", rtol=1e-13, atol=1e-15,
                          events=ev)
            ends.append(s.y_events[0][0][0])
        return ends[0] - ends[1]
    b = -6 / 25 * b2 * b2
    return brentq(split, 1.5 * b, 0.5 * b, xtol=1e-15)


def rossler_period_doubling(guess_a=0.1):
    """(a, T) where the Rossler cycle has a Floquet multiplier -1: Newton shooting (fsolve) on the section
    y = 0 and monodromy matrices, then brentq in a."""
    opts = dict(method="DOP853", rtol=1e-12, atol=1e-13)
    f = lambda a: (lambda t, u: rossler(u, [a]))
    up = lambda t, u: u[1]
    up.direction = 1
    s = solve_ivp(f(guess_a), (0, 300), [1.0, 0.0, 0.0], events=up, **opts)
    guess = [s.y_events[0][-1][0], s.y_events[0][-1][2], np.diff(s.t_events[0])[-1]]
    found = {}

    def mu_plus_one(a):
        res = lambda v: solve_ivp(f(a), (0, v[2]), [v[0], 0, v[1]], **opts).y[:, -1] - [v[0], 0, v[1]]
        v = fsolve(res, guess, xtol=1e-13)
        J = lambda u: np.array([[0, -1, -1], [1, a, 0], [u[2], 0, u[0] - 5.7]])
        var = lambda t, y: np.concatenate([f(a)(t, y[:3]), (J(y[:3]) @ y[3:].reshape(3, 3)).ravel()])
        M = solve_ivp(var, (0, v[2]), np.r_[v[0], 0, v[1], np.eye(3).ravel()], **opts).y[3:, -1].reshape(3, 3)
        found[a] = v[2]
        return np.min(np.linalg.eigvals(M).real) + 1
    a = brentq(mu_plus_one, 0.1, 0.12, xtol=1e-11)
    return a, found[a]


# ---------------------------------------------------------------- AUTO families (one run each)
@pytest.fixture(scope="module")
def sl_run():
    run = ac.CycleRun(stuart_landau, 2, [0.0, 0.0], -0.5, par_window=(-1.0, 1.0), direction=1,
                      p_values=[0.25, 0.5], ntst=20)
    yield run
    run.close()


@pytest.fixture(scope="module")
def rotation():
    return ac.auto_homoclinic_estimate(rotation_gru, 2, [0.0, 0.0], 1.0, par_window=(0.0, 1.2), direction=-1,
                                       period_max=3e3, ntst=120, p_values=ROT_P)


@pytest.fixture(scope="module")
def rotation_ivp():
    out = {}
    for a in ROT_P:
        f, J = _rot_np(a)
        out[a] = ivp_cycle(f, J, np.array([0.9, 0.0]), t_settle=800.0)
    return out


def test_stuart_landau_closed_forms(sl_run):
    fam = sl_run.family
    mu, T = fam.p[1:], fam.period[1:]
    assert abs(fam.hopf[0]) < 1e-8 and fam.hopf[1] == pytest.approx(2 * math.pi / W_SL, rel=1e-10)
    assert fam.p[0] == pytest.approx(fam.hopf[0]) and fam.p.max() >= 1.0 and np.all(mu > 0)
    np.testing.assert_allclose(fam.period, 2 * math.pi / W_SL, rtol=1e-10)
    np.testing.assert_allclose(fam.l2[1:], np.sqrt(mu), rtol=1e-7)
    np.testing.assert_allclose(fam.amplitude[1:], np.repeat(2 * np.sqrt(mu)[:, None], 2, 1), rtol=1e-7)
    m = np.sort(np.abs(fam.multipliers[1:]), axis=1)
    np.testing.assert_allclose(m[:, 1], 1.0, atol=2e-6)                              # the trivial one
    np.testing.assert_allclose(m[:, 0], np.exp(-2 * mu * T), rtol=1e-5, atol=2e-6)
    assert np.all(fam.stable[1:])
    assert [k for k, _, _ in fam.special] == ["UZ", "UZ", "EP"]
    np.testing.assert_allclose(ac.period_at_user_points(fam, [0.25, 0.5, 2.0]),
                               [2 * math.pi / W_SL] * 2 + [np.nan], rtol=1e-10)


def test_rerun_reproduces_the_run_and_cleans_up(sl_run):
    fort7 = sl_run.dirs[1] / "fort.7"
    before = fort7.read_text()
    t_eq, t_po = sl_run.rerun()
    assert 0 < t_eq < 5 and 0 < t_po < 5
    assert fort7.read_text() == before
    assert sl_run.root.name.startswith("gj-autocyc-") and sl_run.dirs[1].parent == sl_run.root
    print(f"[Stuart-Landau: AUTO-07p alone {1e3 * t_eq:.1f} ms + {1e3 * t_po:.1f} ms]", end=" ")


def test_bautin_fold_of_cycles():
    with ac.CycleRun(bautin, 2, [0.0, 0.0], -0.5, par_window=(-1.0, 0.5), direction=1) as run:
        fam = run.family
    assert not run.root.exists()                                                   # scratch removed
    assert abs(fam.hopf[0]) < 1e-8
    lp = [(p, t) for k, p, t in fam.special if k == "LP"]
    assert len(lp) == 1 and lp[0][0] == pytest.approx(-0.25, abs=1e-9)
    i = int(np.flatnonzero(fam.kind == "LP")[0])
    assert fam.l2[i] == pytest.approx(math.sqrt(0.5), rel=1e-8)
    assert not np.any(fam.stable[1:i]) and np.all(fam.stable[i + 1:])           # turns stable at the LP
    rho = fam.l2[1:] ** 2
    np.testing.assert_allclose(fam.p[1:], rho ** 2 - rho, atol=1e-9)               # mu = r^4 - r^2
    m = np.abs(fam.multipliers[1:])
    nontrivial = m[np.arange(len(m)), np.argmax(np.abs(m - 1), axis=1)]
    np.testing.assert_allclose(nontrivial, np.exp((2 * rho - 4 * rho ** 2) * fam.period[1:]), rtol=1e-5,
                               atol=2e-6)


def test_rotation_hopf_point(rotation, auto_reference):
    fam = rotation.family
    auto_reference.check("cycles/rotation/hopf", fam.hopf, atol=1e-9)
    aH = math.acos(2 / 3)
    assert fam.hopf[0] == pytest.approx(aH, abs=1e-9)
    assert fam.hopf[1] == pytest.approx(2 * math.pi / (0.75 * math.sin(aH)), rel=1e-9)   # model.md: 11.24


def test_rotation_periods_against_solve_ivp(rotation, rotation_ivp, auto_reference):
    fam = rotation.family
    T = ac.period_at_user_points(fam, ROT_P)
    auto_reference.check("cycles/rotation/periods", T, atol=1e-8)     # alpha = ROT_P; 11 digits up to 96.3
    for a, t in zip(ROT_P, T):
        period, amp, mult = rotation_ivp[a]
        assert t == pytest.approx(period, rel=1e-8), a
        i = int(np.argmin(np.abs(np.where(fam.kind == "UZ", fam.p, np.inf) - a)))
        np.testing.assert_allclose(fam.amplitude[i], amp, rtol=1e-7)
        np.testing.assert_allclose(np.sort(np.abs(fam.multipliers[i])), mult, atol=2e-6)
        print(f"[alpha={a}: T AUTO {t:.10f} scipy {period:.10f}]", end=" ")
    assert T[0] == pytest.approx(12.2, abs=0.05) and T[2] == pytest.approx(96.3, abs=0.05)   # model.md
    assert np.all(fam.stable[1:]) and np.all(np.diff(fam.p) < 0) and np.all(np.diff(fam.period) > 0)


def test_auto_period_at_against_solve_ivp():
    T = ac.auto_period_at(rotation_gru, 2, [0.0, 0.0], 1.0, [0.6, 0.3, 0.1], par_window=(0.25, 1.2), direction=-1,
                          ntst=40, every=10 ** 6)
    assert np.isnan(T[2])                                                          # outside the window
    for a, t in zip([0.6, 0.3], T[:2]):
        f, J = _rot_np(a)
        assert t == pytest.approx(ivp_cycle(f, J, np.array([0.9, 0.0]), t_settle=800.0)[0], rel=1e-8), a


def test_rotation_snic(rotation, auto_reference):
    auto_reference.check("cycles/rotation/end", [rotation.p_end, rotation.p_snic], atol=1e-10)
    a_star = rotation_fold()
    assert a_star == pytest.approx(0.1478, abs=1e-4)                                # model.md
    assert rotation.period_end == pytest.approx(3e3, rel=1e-6)
    gap = rotation.p_end - a_star                                                   # C^2 / T^2
    assert gap == pytest.approx(rotation.C ** 2 / rotation.period_end ** 2, rel=0.05)
    assert abs(rotation.p_snic - a_star) < 1e-6
    print(f"[SNIC: fold {a_star:.10f}, AUTO T=3e3 at {rotation.p_end:.10f}, fit {rotation.p_snic:.10f}]",
          end=" ")


@pytest.mark.parametrize("b2", [-0.5, -0.25])
def test_bogdanov_takens_homoclinic(b2, auto_reference):
    f = bogdanov_takens(b2)
    b1, b1_cycle = 0.05 * (b2 / 0.5) ** 2, -0.03 * (b2 / 0.5) ** 2
    x0 = (-b2 - math.sqrt(b2 * b2 - 4 * b1)) / 2                                  # stable focus/node
    est = ac.auto_homoclinic_estimate(f, 2, [x0, 0.0], b1, par_window=(-0.5, 0.5), direction=-1,
                                      period_max=1e3, ntst=160, p_values=[b1_cycle])
    assert abs(est.family.hopf[0]) < 1e-8
    assert est.family.hopf[1] == pytest.approx(2 * math.pi / math.sqrt(-b2), rel=1e-9)
    auto_reference.check(f"cycles/bogdanov_takens/b2={b2}/b1_homoclinic", est.p_end, atol=1e-11)
    ref = bt_homoclinic(b2)
    assert est.p_end == pytest.approx(ref, abs=1e-9)
    third = (est.p_end + 6 / 25 * b2 ** 2) / b2 ** 3                              # the O(b2^3) remainder
    assert -0.05 < third < -0.01
    rhs = lambda t, u: f(u, [b1_cycle])
    J = lambda u: np.array([[0.0, 1.0], [b2 + 2 * u[0] - u[1], -u[0]]])
    xf = (-b2 - math.sqrt(b2 * b2 - 4 * b1_cycle)) / 2                             # the unstable focus
    period, amp, mult = ivp_cycle(rhs, J, np.array([xf + 0.01, 0.0]), t_settle=2000.0)
    i = int(np.flatnonzero(est.family.kind == "UZ")[0])
    assert est.family.p[i] == pytest.approx(b1_cycle, abs=1e-9)
    assert ac.period_at_user_points(est.family, [b1_cycle])[0] == pytest.approx(period, rel=1e-8)
    np.testing.assert_allclose(est.family.amplitude[i], amp, rtol=1e-7)
    np.testing.assert_allclose(np.sort(np.abs(est.family.multipliers[i])), mult, atol=2e-6)
    print(f"[b2={b2}: homoclinic AUTO {est.p_end:.12f} scipy {ref:.12f}; (b1 + 6/25 b2^2)/b2^3 = "
          f"{third:.4f}; T(b1={b1_cycle}) AUTO {est.family.period[i]:.9f} scipy {period:.9f}]", end=" ")


def test_rossler_period_doubling(auto_reference):
    a0 = -0.1
    z = (5.7 - math.sqrt(5.7 ** 2 - 4 * a0 * 0.2)) / (2 * a0)
    fam = ac.auto_cycle_family(rossler, 3, [a0 * z, -z, z], a0, par_window=(-0.2, 0.25), direction=1,
                               max_points=400, ds_max=0.1, every=10 ** 6)
    pd = [(p, t) for k, p, t in fam.special if k == "PD"]
    assert len(pd) == 1 and not any(k in ("LP", "TR") for k, _, _ in fam.special)
    i = int(np.flatnonzero(fam.kind == "PD")[0])
    assert np.min(fam.multipliers[i].real) == pytest.approx(-1.0, abs=2e-6)
    assert np.all(fam.stable[1:i]) and not np.any(fam.stable[i + 1:])
    auto_reference.check("cycles/rossler/period_doubling", pd[0], atol=1e-8)
    a, T = rossler_period_doubling()
    assert pd[0][0] == pytest.approx(a, abs=1e-8) and pd[0][1] == pytest.approx(T, rel=1e-8)
    print(f"[Rossler PD: AUTO a={pd[0][0]:.10f} T={pd[0][1]:.9f}; scipy a={a:.10f} T={T:.9f}]", end=" ")


def test_gru_path_matches_the_rotation_family(rotation):
    import equinox as eqx
    import jax.numpy as jnp
    import gru_jax as gj
    params = eqx.tree_at(lambda q: q.bh, gj.GRUParams.rotation(0.5), jnp.array([1.5, 0.0]))
    h0 = _auto.equilibrium(params)
    fam = ac.auto_cycle_family_gru(params, "bh", 0, h0, par_window=(-3.0, 3.0), direction=-1, p_values=[0.0],
                                   max_points=150)
    t_bias = ac.period_at_user_points(fam, [0.0])[0]
    t_alpha = ac.period_at_user_points(rotation.family, [0.5])[0]
    assert t_bias == pytest.approx(t_alpha, rel=1e-8)


def test_constructed_gru_saddle_loop_agrees_with_gru_jax(auto_reference):
    # the GRU of conftest: gru_jax's locate_homoclinic gives HOMOCLINIC_BH0 (tests/test_homoclinic.py checks it
    # to 1e-9, against scipy too); AUTO-07p's cycle family from the Hopf point reaches period 1e3 at the loop
    import gru_jax as gj
    from conftest import HOMOCLINIC_BH0, HOMOCLINIC_GRU

    g = gj.GRUParams.from_dict(HOMOCLINIC_GRU)
    func = _auto.make_func(_auto.gru_arrays(g), "bh", 0)
    saddle = [-0.46662309, 0.59385038]                   # at bh0 = -0.0815 (gj.find_fixed_points)
    est = ac.auto_homoclinic_estimate(func, 2, saddle, -0.0815, par_window=(-0.1, -0.07), direction=-1,
                                      period_max=1e3, ntst=160)
    assert est.family.hopf[0] == pytest.approx(-0.081524641491, abs=1e-10)     # gj.locate_hopf's value
    assert abs(est.p_end - HOMOCLINIC_BH0) < 1e-9
    auto_reference.check("cycles/homoclinic_gru/bh0", [est.family.hopf[0], est.p_end], atol=1e-11)


def test_bad_input_raises_before_any_run():
    with pytest.raises(ValueError, match="par_window"):
        ac.CycleRun(stuart_landau, 2, [0.0, 0.0], 2.0, par_window=(-1.0, 1.0))
    with pytest.raises(ValueError, match="finite"):
        ac.CycleRun(stuart_landau, 2, [0.0, np.nan], 0.0, par_window=(-1.0, 1.0))
    with pytest.raises(ValueError, match="finite"):
        ac.CycleRun(stuart_landau, 2, [0.0], 0.0, par_window=(-1.0, 1.0))
