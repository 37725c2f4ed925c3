"""One vocabulary in the public API (README, "Vocabulary"): every deprecated spelling warns, naming the new one,
and behaves exactly as the new spelling; mixing the two raises; bad windows raise before anything compiles.

Cheap by design: the equal-results checks run small problems (one compiled program shared by the old and new
spellings) or capture what a public function hands to its compiled program (monkeypatched), which is the whole
effect of a spelling."""

import re
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gru_jax as gj
import gru_jax.codim2._codim2 as codim2_mod
import gru_jax.codim2._codim2_diagram as codim2_diagram_mod
import gru_jax.core._compile as compile_mod
import gru_jax.equilibria._continuation as continuation_mod
import gru_jax.homoclinic._detect as detect_mod
import gru_jax.homoclinic._from_bt as from_bt_mod
import gru_jax.homoclinic._locate as locate_mod
import gru_jax.periodic._continue as cycles_mod
import gru_jax.sweeps._seed as seed_mod
from gru_jax._validate import check_window
from gru_jax.continuation import Param, as_param
from gru_jax.equilibria._diagram import Diagram, DiagramPoints
from gru_jax.sweeps import SweepResult

MU = Param("mu")


def saddle_node(h, a):
    """``h0' = mu - h0^2``, ``h1' = -h1``: folds at ``mu = 0``."""
    return jnp.stack([a["mu"] - h[0] ** 2, -h[1]])


def tree_equal(a, b) -> bool:
    """Same structure, same arrays (NaN equal to NaN), other leaves (functions, options) equal."""
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    same = lambda x, y: (np.array_equal(np.asarray(x), np.asarray(y), equal_nan=np.asarray(x).dtype.kind in "fc")
                         if isinstance(x, (jax.Array, np.ndarray, float, int)) else x == y)
    return (jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
            and len(la) == len(lb) and all(same(x, y) for x, y in zip(la, lb)))


def new_spelling(fn, *args, **kwargs):
    """``fn(...)`` with no warning at all."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(*args, **kwargs)


class Deprecations:
    """Record every warning; on exit, require a DeprecationWarning matching ``match`` and all of them attributed
    to this file (the caller's line, not gru_jax's)."""

    def __init__(self, match):
        self.match, self.catch = match, warnings.catch_warnings(record=True)

    def __enter__(self):
        self.record = self.catch.__enter__()
        warnings.simplefilter("always")
        return self.record

    def __exit__(self, *exc):
        self.catch.__exit__(*exc)
        found = [w for w in self.record if issubclass(w.category, DeprecationWarning)]
        assert any(re.search(self.match, str(w.message)) for w in found), [str(w.message) for w in found]
        assert all(w.filename == __file__ for w in found), [(w.filename, str(w.message)) for w in found]
        return False


def old_spelling(fn, *args, match, **kwargs):
    """``fn(...)`` that must warn (a DeprecationWarning matching ``match``)."""
    with Deprecations(match):
        return fn(*args, **kwargs)


class Capture(Exception):
    """Raised by a stand-in for a compiled program, carrying its arguments."""


def capture(monkeypatch, module, name):
    def stand_in(*args, **kwargs):
        raise Capture(args, kwargs)
    monkeypatch.setattr(module, name, stand_in)


def captured(fn, *args, warn=None, **kwargs):
    """The arguments ``fn`` hands to its (captured) compiled program."""
    context = Deprecations(warn) if warn else warnings.catch_warnings()
    with context:
        if not warn:
            warnings.simplefilter("error")
        with pytest.raises(Capture) as info:
            fn(*args, **kwargs)
    return info.value.args


# ---- equal results, real runs -------------------------------------------------------------------------------

def test_fixed_points_tol_and_max_newton():
    p = gj.GRUParams.rotation(alpha=0.0, gain=3.0)
    seeds = jnp.array([[0.9, 0.1], [-0.2, 0.3], [0.1, -0.9]])
    new = new_spelling(gj.find_fixed_points, p, seeds=seeds, tol=1e-9, max_newton=20)
    old = old_spelling(gj.find_fixed_points, p, seeds=seeds, xtol=1e-9, max_steps=20, match="xtol= .* use tol=")
    assert tree_equal(new, old)
    h_new = new_spelling(gj.fixed_point, p, seeds[0], tol=1e-11, max_newton=50)
    h_old = old_spelling(gj.fixed_point, p, seeds[0], xtol=1e-11, max_steps=50, match="use tol=")
    assert tree_equal(h_new, h_old)


def test_continue_equilibria_window_and_start():
    params, h0 = {"mu": 1.0}, jnp.array([1.0, 0.0])
    opts = dict(f=saddle_node, direction=-1, ds=0.05, ds_max=0.2, max_points=30)
    new = new_spelling(gj.continue_equilibria, params, MU, h0, window=(-2.0, 2.0), **opts)
    old = old_spelling(gj.continue_equilibria, params, MU, h0=h0, p_min=-2.0, p_max=2.0, match=r"window=\(lo, hi\)",
                       **opts)
    assert tree_equal(new, old) and int(new.special.count) >= 1
    one_side = old_spelling(gj.continue_equilibria, params, MU, h0, p_max=2.0, match="p_max=", **opts)
    assert tree_equal(one_side, new_spelling(gj.continue_equilibria, params, MU, h0, window=(-np.inf, 2.0), **opts))
    # the old function name, from the subpackage
    alias = old_spelling(gj.continuation.continuation, params, MU, h0, window=(-2.0, 2.0), match="continue_equilibria",
                         **opts)
    assert tree_equal(new, alias)
    # a located point as the start: its h and p
    fold = new.special
    k = int(np.flatnonzero(np.asarray(fold.kind) == gj.SpecialKind.FOLD)[0])
    point = gj.SpecialPoint(kind=fold.kind[k], p=fold.p[k], h=fold.h[k], located=fold.located[k],
                            residual=jnp.zeros(()), omega=jnp.nan, l1=jnp.nan)
    from_point = new_spelling(gj.continue_equilibria, params, MU, point, window=(-2.0, 2.0), **opts)
    assert abs(float(from_point.p[0]) - float(fold.p[k])) < 1e-12


def test_continue_equilibria_both_alias():
    params, h0 = {"mu": 1.0}, jnp.array([1.0, 0.0])
    opts = dict(f=saddle_node, ds=0.05, ds_max=0.2, max_points=10)
    new = new_spelling(gj.continue_equilibria_both, params, MU, h0, window=(0.5, 2.0), **opts)
    old = old_spelling(gj.continuation.continuation_both, params, MU, h0, p_min=0.5, p_max=2.0, match="deprecated",
                       **opts)
    assert tree_equal(new, old)


def test_locate_fold_start():
    params, h = {"mu": 0.2}, jnp.array([0.3, 0.05])
    new = new_spelling(gj.locate_fold, params, MU, h, f=saddle_node)
    pair = old_spelling(gj.locate_fold, {"mu": 5.0}, MU, (h, 0.2), f=saddle_node, match=r"start=\(h, p\)")
    keyword = old_spelling(gj.locate_fold, params, MU, guess=h, f=saddle_node, match="guess=")
    assert tree_equal(new, pair) and tree_equal(new, keyword)
    assert abs(float(new.p)) < 1e-10
    again = new_spelling(gj.locate_fold, {"mu": 5.0}, MU, new, f=saddle_node)     # a located point as the start
    assert abs(float(again.p)) < 1e-10


# ---- equal results, captured at the compiled program ---------------------------------------------------------

def test_continue_curve_start(monkeypatch):
    capture(monkeypatch, codim2_mod, "_one")
    params = {"mu": 0.0, "b": 0.5}
    new = captured(gj.continue_curve, params, MU, Param("b"), jnp.array([0.1, 0.0]), f=saddle_node)
    old = captured(gj.continue_curve, {"mu": 3.0, "b": 0.5}, MU, Param("b"), (jnp.array([0.1, 0.0]), 0.0),
                   f=saddle_node, warn=r"start=\(h, p\)")
    assert tree_equal(new[0][1:], old[0][1:]) and tree_equal(new[0][0].params, old[0][0].params)


def test_continue_cycles_start_and_bounds(monkeypatch):
    capture(monkeypatch, cycles_mod, "_hopf_program")
    capture(monkeypatch, cycles_mod, "_orbit_program")
    rot = lambda h, a: gj.GRUParams.rotation(a["alpha"]).vector_field(h)
    params = {"alpha": 0.8}
    hopf = gj.SpecialPoint(kind=jnp.asarray(gj.SpecialKind.HOPF), p=jnp.asarray(0.84), h=jnp.zeros(2),
                           located=jnp.asarray(0), residual=jnp.zeros(()), omega=jnp.asarray(0.5), l1=jnp.asarray(-1.0))
    new = captured(gj.continue_cycles, params, Param("alpha"), hopf, f=rot, window=(0.0, 1.2), max_period=900.0,
                   min_amplitude=1e-3)
    old = captured(gj.continue_cycles, params, Param("alpha"), from_hopf=hopf, f=rot, window=(0.0, 1.2),
                   period_max=900.0, amp_min=1e-3, warn="start=")
    assert tree_equal(new[0][1:], old[0][1:])
    orbit = (jnp.array([0.5, 0.0]), 20.0)
    new = captured(gj.continue_cycles, params, Param("alpha"), orbit, f=rot, window=(0.8 - 0.25, 0.8 + 0.25))
    old = captured(gj.continue_cycles, params, Param("alpha"), from_orbit=orbit, f=rot, window=0.25,
                   warn="deprecated")
    assert tree_equal(new[0][1:], old[0][1:])


def test_codim2_curves_window(monkeypatch):
    def stand_in(*args, **kwargs):
        raise Capture(kwargs["window"])
    monkeypatch.setattr(codim2_diagram_mod, "curves_through", stand_in)
    empty = DiagramPoints(*(np.zeros(0) for _ in range(2)), np.zeros((0, 2)), *(np.zeros(0) for _ in range(6)))
    diagram = Diagram([], empty, MU, (-1.0, 2.0))
    params = {"mu": 0.0, "b": 0.5}
    with pytest.raises(Capture) as new:
        new_spelling(gj.codim2_curves, params, diagram, Param("b"), window=((-1.0, 2.0), (0.0, 3.0)), f=saddle_node)
    with pytest.raises(Capture) as old, Deprecations("window2="):
        gj.codim2_curves(params, diagram, Param("b"), window2=(0.0, 3.0), f=saddle_node)
    with pytest.raises(Capture) as default:
        new_spelling(gj.codim2_curves, params, diagram, Param("b"), f=saddle_node)
    assert new.value.args == old.value.args == (((-1.0, 2.0), (0.0, 3.0)),)
    assert default.value.args == (((-1.0, 2.0), (-np.inf, np.inf)),)


def test_codim2_curves_from_sweep_window(monkeypatch):
    def stand_in(*args, **kwargs):
        raise Capture(kwargs["window"], kwargs["scale"])
    monkeypatch.setattr(seed_mod, "curves_through", stand_in)
    grid = np.linspace(0.0, 1.0, 3)
    fold_p = np.array([[0.1, np.nan], [0.2, np.nan], [0.3, np.nan]])
    events = SweepResult({"fold_p": fold_p, "fold_h": np.zeros((3, 2, 2))}, {"b": grid}, kind="grid",
                         analysis="continuation_events")
    with pytest.raises(Capture) as new:
        new_spelling(gj.codim2_curves_from_sweep, {"mu": 0.0, "b": 0.5}, events, MU, window=((-1.0, 1.0), (0.0, 1.0)))
    with pytest.raises(Capture) as old, Deprecations("span="):
        gj.codim2_curves_from_sweep({"mu": 0.0, "b": 0.5}, events, MU, span=(-1.0, 1.0))
    assert new.value.args[0] == old.value.args[0] and np.array_equal(new.value.args[1], old.value.args[1])


def test_homoclinic_spellings(monkeypatch):
    capture(monkeypatch, locate_mod, "_locate_jit")
    capture(monkeypatch, detect_mod, "_detect")
    g = gj.GRUParams.from_dict({"Uh": [[5.0, 2.5], [-3.0, 0.0]], "bh": [-0.0815, -0.0163414448]})
    b0, saddle = Param("bh", 0), jnp.array([-0.4666, 0.5939])
    new = captured(gj.locate_homoclinic, g, b0, saddle, window=(-0.081501, -0.081499), tol=1e-10, max_newton=40)
    old = captured(gj.locate_homoclinic, g, b0, guess=(saddle, (-0.081501, -0.081499)), xtol=1e-10, max_steps=40,
                   warn="deprecated")
    assert tree_equal(new, old)
    new = captured(gj.locate_homoclinic, g, b0, saddle)
    old = captured(gj.locate_homoclinic, gj.GRUParams.from_dict({"Uh": [[5.0, 2.5], [-3.0, 0.0]],
                                                                 "bh": [0.3, -0.0163414448]}),
                   b0, (saddle, -0.0815), warn=r"start=\(saddle, p\)")
    assert tree_equal(new, old)
    values = jnp.linspace(-0.082, -0.081, 5)
    new = captured(gj.detect_homoclinic, g, b0, values, saddle, tol=1e-10, max_newton=40)
    old = captured(gj.detect_homoclinic, g, b0, values, saddle=saddle, xtol=1e-10, max_steps=40, warn="deprecated")
    assert tree_equal(new, old)


def test_homoclinic_from_bt_spellings(monkeypatch):
    monkeypatch.setattr(from_bt_mod, "_hopf_row", lambda *args: None)     # stop after the checks
    g = gj.GRUParams.from_dict({"Uh": [[5.0, 2.5], [-3.0, 0.0]], "bh": [-0.08, -0.01]})
    P0, P1 = Param("bh", 0), Param("bh", 1)
    point = codim2_mod.Codim2Point(kind=jnp.asarray(1), p=jnp.asarray(-0.08), p2=jnp.asarray(-0.01),
                                   h=jnp.array([-0.4, 0.5]), located=jnp.asarray(0), residual=jnp.zeros(()))
    new = new_spelling(gj.homoclinic_from_bt, g, P0, P1, point, distance=0.003, max_period=400.0)
    old = old_spelling(gj.homoclinic_from_bt, g, P0, P1, bt=point, distance=0.003, period_max=400.0,
                       match="bt= is deprecated; use start=")
    triple = old_spelling(gj.homoclinic_from_bt, g, P0, P1, (np.array([-0.4, 0.5]), -0.08, -0.01), distance=0.003,
                          match=r"\(h, p, p2\)")
    state = new_spelling(gj.homoclinic_from_bt, g, P0, P1, np.array([-0.4, 0.5]), distance=0.003)
    assert all(np.allclose(np.concatenate([np.ravel(x) for x in r.bt]), [-0.4, 0.5, -0.08, -0.01])
               for r in (new, old, triple, state))
    with pytest.raises(ValueError, match="max_period"), Deprecations("period_max="):
        gj.homoclinic_from_bt(g, P0, P1, point, distance=0.003, period_max=-1.0)


def test_sweep_analyses_spellings():
    assert gj.Census(tol=1e-9, max_newton=12).options == old_spelling(gj.Census, xtol=1e-9, max_steps=12,
                                                                      match="Census").options
    new, old = gj.Stability(tol=1e-9, max_newton=12), old_spelling(gj.Stability, xtol=1e-9, max_steps=12, match="tol")
    assert (new.tol, new.max_newton) == (old.tol, old.max_newton)
    new = gj.ContinuationEvents("bh[0]", (-1.0, 1.0), [0.1, 0.2])
    old = old_spelling(gj.ContinuationEvents, "bh[0]", span=(-1.0, 1.0), h0=[0.1, 0.2], match="ContinuationEvents")
    assert new.window == old.window and np.array_equal(new.start, old.start)
    new = gj.HomoclinicEvents("bh[0]", [0.0, 1.0], [0.1, 0.2])
    old = old_spelling(gj.HomoclinicEvents, "bh[0]", [0.0, 1.0], saddle=[0.1, 0.2], match="saddle=")
    assert np.array_equal(new.start, old.start)


# ---- mixing spellings, bad windows --------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda: gj.find_fixed_points(gj.GRUParams.zeros(2), tol=1e-9, xtol=1e-9),
    lambda: gj.continue_equilibria({"mu": 1.0}, MU, jnp.ones(2), f=saddle_node, window=(0, 2), p_max=3.0),
    lambda: gj.continue_equilibria({"mu": 1.0}, MU, jnp.ones(2), f=saddle_node, h0=jnp.ones(2)),
    lambda: gj.locate_fold({"mu": 1.0}, MU, jnp.ones(2), f=saddle_node, guess=jnp.ones(2)),
    lambda: gj.continue_cycles({"mu": 1.0}, MU, from_hopf=object(), from_orbit=(jnp.ones(2), 1.0)),
    lambda: gj.bifurcation_diagram({"mu": 1.0}, MU, (0.0, 1.0), span=(0.0, 1.0), f=saddle_node),
])
def test_mixing_old_and_new_spellings_raises(call):
    with pytest.raises(TypeError, match="deprecated spelling"):
        call()


@pytest.mark.parametrize("window, message", [
    ((1.0, 0.0), "lo < hi"), ((0.0, np.nan), "NaN"), ((0.0, 1.0, 2.0), r"shape \(2,\)"), ("ab", r"\(lo, hi\)"),
    ([[0.0, 1.0]], r"shape \(2,\)"), (0.5, "half-width"),
])
def test_bad_windows_raise_before_compiling(monkeypatch, window, message):
    capture(monkeypatch, continuation_mod, "_one")      # nothing may reach the compiled program
    with pytest.raises(ValueError, match=f"window: .*{message}"):
        gj.continue_equilibria({"mu": 1.0}, MU, jnp.ones(2), f=saddle_node, window=window)


@pytest.mark.parametrize("call, message", [
    (lambda: gj.continue_curve({"mu": 0.0, "b": 0.5}, MU, Param("b"), jnp.ones(2), f=saddle_node,
                               window=(0.0, 1.0)), r"shape \(2, 2\)"),
    (lambda: gj.continue_curve({"mu": 0.0, "b": 0.5}, MU, Param("b"), jnp.ones(2), f=saddle_node,
                               window=((0.0, 1.0), (1.0, 1.0))), "lo < hi"),
    (lambda: gj.bifurcation_diagram({"mu": 0.0}, MU, (0.0, np.inf), f=saddle_node, box=(-2 * jnp.ones(2),
                                                                                       2 * jnp.ones(2))), "finite"),
    (lambda: gj.ContinuationEvents("bh[0]", (1.0, -1.0)), "lo < hi"),
    (lambda: gj.continue_cycles({"mu": 0.0}, MU, (jnp.ones(2), 1.0), f=saddle_node, window=(np.nan, 1.0)), "NaN"),
    (lambda: gj.locate_homoclinic(gj.GRUParams.zeros(2), Param("bh", 0), jnp.zeros(2), window=(0.1, 0.1)), "lo < hi"),
])
def test_bad_windows_elsewhere(call, message):
    with pytest.raises(ValueError, match=f"window: .*{message}"):
        call()


def test_check_window_shapes():
    lo, hi = check_window(None)
    assert float(lo) == -np.inf and float(hi) == np.inf
    lo, hi = check_window(((0.0, 1.0), (-2.0, 3.0)), 2)
    assert lo.tolist() == [0.0, -2.0] and hi.tolist() == [1.0, 3.0]
    lo, hi = jax.jit(lambda w: check_window(w))(jnp.array([0.0, 1.0]))     # traced: shape checks only
    assert (float(lo), float(hi)) == (0.0, 1.0)


def test_as_param():
    assert as_param(MU) is MU and as_param("bh[0]", labels=True) == Param("bh", 0)
    with pytest.raises(ValueError, match="param: expected a Param"):
        as_param("bh[0]")
    with pytest.raises(ValueError, match="param2: must differ"):
        as_param(MU, "param2", differs_from=MU)


def test_compiled_program_choice():
    """The compiled program with compiler options runs at top level and under vmap/jvp; under jit/grad the plain
    one (a JAX upgrade that moves the private trace context fails here)."""
    seen = []
    probe = lambda x: (seen.append(compile_mod.compiles_at_top_level()), x)[1]
    probe(1.0)
    jax.vmap(probe)(jnp.ones(2))
    jax.jvp(probe, (1.0,), (1.0,))
    jax.jit(probe)(1.0)
    jax.grad(probe)(1.0)
    jax.vmap(jax.jit(probe))(jnp.ones(2))
    assert seen == [True, True, True, False, False, False]
