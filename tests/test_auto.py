"""Independent check against AUTO-07p (through bifpy, compiled with gfortran): folds and Hopf points of
equilibrium branches of random CT-GRUs.

For each GRU (2-D and 3-D, paper convention, all of Uz, Ur, Uh, bz, br, bh non-zero) the equilibrium at
``bh[0] = P_MIN`` is continued in ``bh[0]`` up to ``P_MAX`` by gru_jax and by AUTO-07p from the same start
point and in the same window. Every AUTO fold ("LP") and Hopf point ("HB") must be found by gru_jax (kinds
FOLD and HOPF) at the same parameter and state, Hopf points within 2e-10 and folds within 1e-8 (measured: 5e-11
and 2.2e-9; AUTO-07p writes 11 significant digits, and at a fold the state is sensitive to the location's
tolerance), and the counts must agree (branch points too). gru_jax's neutral saddles are not compared: AUTO does not report them.

Step sizes: both runs use ``ds_max = 0.005``. With coarser steps both codes can step over a fold and a Hopf
point (or a Hopf point and a neutral saddle) in one step, where the test functions' sign changes cancel
(seen here for both codes at ds_max = 0.05: the (3, 9) Hopf point at bh[0] = -1.37108 is 0.0017 from a
fold), and AUTO's secant location mislocated the sharp second fold of (2, 1) by 9e-3 at ds_max = 0.05.

AUTO is driven through ``gru_jax/_auto07p/equilibria.py``: the Python field is transpiled to a Fortran FUNC file with
the exact Jacobian (``transpile=True``), compiled with gfortran and run as a standalone AUTO-07p
executable (no ``os.fork`` of this multithreaded process). The fast tier compares gru_jax with AUTO-07p's points
stored in ``tests/data/auto07p.json``; the slow tier runs AUTO-07p again (bifpy: ``pip install -e '.[auto]'``) and
checks that it still gives the stored points.
"""

import equinox as eqx
import jax
import numpy as np
import pytest

import gru_jax as gj
from conftest import require_auto
from gru_jax._auto07p import equilibria as _auto

P_MIN, P_MAX, DS, DS_MAX = -4.0, 4.0, 1e-3, 5e-3
TOL = {"LP": 1e-8, "HB": 2e-10, "BP": 1e-8}   # max |difference| in (p, h) to AUTO-07p (see the docstring)
AUTO_REPRODUCIBLE = 1e-10    # a rerun of AUTO-07p (same settings) against the stored run: EPSL = EPSU = 1e-10
TYPE = {_auto.BP: 1, _auto.LP: 2, _auto.HB: 3}   # AUTO-07p's type codes (fort.7, IPS = 1): rows store these
# (d, seed): GRUParams.random(key(seed), d, scale=4, bias_scale=1); what AUTO finds in [P_MIN, P_MAX]
CASES = {
    (2, 0): "2 LP, 2 HB (one Hopf point 5e-4 from a fold)",
    (2, 1): "2 LP (a sharp fold)",
    (3, 0): "2 LP",
    (3, 9): "2 LP, 2 HB (one Hopf point 2e-3 from a fold)",
}
FIELD = lambda h, q: q.vector_field(h)   # one function object: one compiled program per dimension


def _gru(d, seed):
    params = gj.GRUParams.random(jax.random.key(seed), d, scale=4.0, bias_scale=1.0)
    return eqx.tree_at(lambda q: q.bh, params, params.bh.at[0].set(P_MIN))


def _key(d, seed):
    return f"equilibria/d{d}-seed{seed}"


@pytest.fixture(scope="module", params=[pytest.param(c, marks=[pytest.mark.slow] if c[0] == 3 else [])
                                        for c in CASES], ids=[f"d{d}-seed{s}" for d, s in CASES])   # 3-D: slow tier
def case(request):
    d, seed = request.param
    params = _gru(d, seed)
    for name in ("Uz", "Ur", "bz", "br"):
        assert np.all(np.asarray(getattr(params, name)) != 0)
    h0 = _auto.equilibrium(params)             # scipy on the same field: no extra JAX compile
    np.testing.assert_allclose(np.asarray(params.vector_field(jax.numpy.asarray(h0))), 0.0, atol=1e-12)
    ours = gj.continue_equilibria(params, gj.Param("bh", 0), h0, f=FIELD, window=(P_MIN, P_MAX), ds=DS,
                                  ds_max=DS_MAX, max_points=3000, max_special=16)
    return (d, seed), params, h0, ours


def _stored(auto_reference, key, code):
    """AUTO-07p's special points of one kind: (p, h) pairs from rows (code, p, h...)."""
    rows = auto_reference[key]
    return [(r[1], r[2:]) for r in rows if int(r[0]) == TYPE[code]]


def _ours(branch, kind):
    sp = branch.special
    k = int(sp.count)
    keep = np.asarray(sp.kind[:k]) == int(kind)
    return np.asarray(sp.p[:k])[keep], np.asarray(sp.h[:k])[keep], np.asarray(sp.located[:k])[keep]


def test_gru_jax_crosses_the_window(case):
    _, _, _, ours = case
    assert int(ours.status[1]) == gj.continuation.BranchStatus.LEFT_WINDOW
    assert float(ours.p[int(ours.count) - 1]) == pytest.approx(P_MAX, abs=1e-12)
    assert int(ours.special.n_detected) <= ours.special.kind.shape[0]   # no event dropped


@pytest.mark.parametrize("kind, code", [(gj.SpecialKind.FOLD, _auto.LP), (gj.SpecialKind.HOPF, _auto.HB),
                                        (gj.SpecialKind.BRANCH_POINT, _auto.BP)])
def test_special_points_agree_with_auto(case, kind, code, auto_reference):
    (d, seed), _, _, ours = case
    p, h, located = _ours(ours, kind)
    ref = _stored(auto_reference, _key(d, seed), code)
    assert len(p) == len(ref), f"{kind.label}: gru_jax {np.sort(p)} vs AUTO {sorted(r[0] for r in ref)}"
    assert np.all(located == gj.continuation.LocateStatus.CONVERGED)
    unused, worst = list(range(len(p))), 0.0
    for pa, ha in ref:                          # one-to-one, nearest in (p, h)
        dist = [max(abs(p[i] - pa), np.max(np.abs(h[i] - ha))) for i in unused]
        j = int(np.argmin(dist))
        assert dist[j] < TOL[code], f"{kind.label} at p={pa} (AUTO): nearest gru_jax point is {dist[j]:.2e} away"
        worst = max(worst, dist[j])
        unused.pop(j)
    print(f"[{kind.label}: {len(ref)} points, max |difference| to AUTO-07p {worst:.1e}]", end=" ")


def test_cases_have_folds_and_a_hopf_point(case, auto_reference):
    """The chosen GRUs exercise what the check is about (guards against a silent change of the seeds)."""
    (d, seed), _, _, ours = case
    codes = [int(r[0]) for r in auto_reference[_key(d, seed)]]
    assert codes.count(TYPE[_auto.LP]) >= 2
    if codes.count(TYPE[_auto.HB]):
        assert len(_ours(ours, gj.SpecialKind.HOPF)[0]) >= 1


def test_some_case_has_a_hopf_point():
    assert any("HB" in v for v in CASES.values())


@pytest.mark.slow
def test_a_fresh_auto_run_gives_the_stored_points(case, auto_reference):
    require_auto()
    (d, seed), params, h0, _ = case
    auto = _auto.run_auto(params, "bh", 0, h0, p_min=P_MIN, p_max=P_MAX, ds=DS, ds_max=DS_MAX, max_points=5000)
    p, _, _ = _auto.points(auto)
    assert p[0] == pytest.approx(P_MIN, abs=1e-12) and p[-1] >= P_MAX - 1e-9      # AUTO stops just past RL1
    rows = sorted([TYPE[code], pa, *ha] for code, pa, ha in _auto.special(auto))
    auto_reference.check(_key(d, seed), rows, atol=AUTO_REPRODUCIBLE)


def test_a_missing_auto07p_skips_with_how_to_get_it_or_fails_in_ci(monkeypatch):
    import conftest
    monkeypatch.setattr(conftest.shutil, "which", lambda name: None)         # as on a machine without gfortran
    monkeypatch.delenv("GRU_JAX_REQUIRE_AUTO", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"need gfortran: pip install -e '\.\[auto\]'"):
        require_auto()
    monkeypatch.setenv("GRU_JAX_REQUIRE_AUTO", "1")                          # .ci/run sets it
    with pytest.raises(pytest.fail.Exception, match=r"GRU_JAX_REQUIRE_AUTO=1"):
        require_auto()
