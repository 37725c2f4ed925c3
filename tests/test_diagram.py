"""Bifurcation diagrams and branch switching: pitchfork and transcritical normal forms, the planted GRU branch
point, the rotation family (closed loop of folds, two Hopf points), an S-shaped GRU curve; JSON, npz, plot.

Every case is one module-level field (a planar normal form or a 2-D CT-GRU, picked by ``w``) whose params carry
every constant, with the same buffer sizes everywhere, so the whole file compiles one fixed-point search and one
branch program."""

import json

import equinox as eqx
import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import pytest

import gru_jax as gj
from conftest import ALPHA_SN
from gru_jax.plot._diagram import bifurcation_diagram as plot_diagram
from gru_jax.continuation import BranchStatus, LocateStatus, Param, SpecialKind
from gru_jax.equilibria._diagram import Diagram, bifurcation_diagram
from gru_jax.equilibria._switch import SwitchStatus, switch_branch

TRACES = {"field": 0}
BASE = gj.GRUParams.zeros(2)
SIZES = dict(max_points=200, max_special=8)
UNIT_BOX = (-np.ones(2), np.ones(2))
SMALL_BOX = (-0.3 * np.ones(2), 0.3 * np.ones(2))     # seeds and Newton kept near the origin: side branches unseen
sigmoid = lambda x: 1 / (1 + np.exp(-x))
BZ, BR = 0.3, -0.4
R = sigmoid(BR)


def rot(angle):
    c, s = jnp.cos(angle), jnp.sin(angle)
    return jnp.array([[c, -s], [s, c]])


def field(h, q):
    """``w`` × CT-GRU with ``Uh = (g0 + s g1) R(t0 + s t1) + D0 + s D1``, ``bh = b0 + s b1``, uniform gate biases
    ``+ (1 - w)`` × the normal form ``A h + s B h + e_1 (k0 x² + k1 x³)``; ``s`` is continued."""
    TRACES["field"] += 1
    s, x = q["s"], h[0]
    uh = (q["g0"] + s * q["g1"]) * rot(q["t0"] + s * q["t1"]) + q["D0"] + s * q["D1"]
    gru = eqx.tree_at(lambda m: (m.Uh, m.bh, m.bz, m.br), BASE,
                      (uh, q["b0"] + s * q["b1"], jnp.full(2, q["bz"]), jnp.full(2, q["br"])))
    normal = q["A"] @ h + s * (q["B"] @ h) + jnp.array([1.0, 0.0]) * (q["k"][0] * x**2 + q["k"][1] * x**3)
    return q["w"] * gru.vector_field(h) + (1 - q["w"]) * normal


def params(w=1.0, g=(0.0, 0.0), t=(0.0, 0.0), D0=np.zeros((2, 2)), D1=np.zeros((2, 2)), b0=(0.0, 0.0),
           b1=(0.0, 0.0), bz=0.0, br=0.0, k=(0.0, 0.0)):
    a = lambda x: jnp.asarray(x, float)
    return dict(s=a(0.0), w=a(w), g0=a(g[0]), g1=a(g[1]), t0=a(t[0]), t1=a(t[1]), D0=a(D0), D1=a(D1), b0=a(b0),
                b1=a(b1), bz=a(bz), br=a(br), A=a(np.diag([0.0, -1.0])), B=a(np.diag([1.0, 0.0])), k=a(k))


def pitchfork():
    """``dx/dt = s x - x³``, ``dy/dt = -y``."""
    return params(w=0.0, k=(0.0, -1.0))


def transcritical():
    """``dx/dt = s x - x²``, ``dy/dt = -y``."""
    return params(w=0.0, k=(-1.0, 0.0))


def gru_branch_point():
    """2-D GRU with ``Uh = diag(s, 0.7)``: a pitchfork of the origin at ``s = 1/r``, side branch ``h2 = 0``,
    ``s = artanh(h1) / (r h1)``."""
    return params(D0=np.diag([0.0, 0.7]), D1=np.diag([1.0, 0.0]), bz=BZ, br=BR)


def diagram(q, window, **kw):
    return bifurcation_diagram(q, Param("s"), window, f=field, **{"box": UNIT_BOX, **SIZES, **kw})


def curve(branch):
    return np.asarray(branch.p), np.asarray(branch.h)


@pytest.fixture(scope="module")
def rotation():
    """The rotation family ``Uh = 3 R(s)``."""
    return diagram(params(g=(3.0, 0.0), t=(0.0, 1.0)), (-1.0, 1.0))


# ---- branch switching ------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_pitchfork_side_branch_comes_from_switching_at_the_one_branch_point():
    trivial_only = diagram(pitchfork(), (-1.0, 0.8), box=SMALL_BOX, follow_branch_points=False)
    assert len(trivial_only.branches) == 1
    d = diagram(pitchfork(), (-1.0, 0.8), box=SMALL_BOX)
    sp = d.special_points
    # closed form (0, 0); measured 0
    assert sp.labels() == ["branch point"] and abs(sp.p[0]) < 1e-12 and np.max(np.abs(sp.h[0])) < 1e-12
    assert sp.switch[0] == SwitchStatus.SWITCHED and sp.located[0] == LocateStatus.CONVERGED
    assert len(d.branches) == 2
    (p0, h0), (p1, h1) = curve(d.branches[0]), curve(d.branches[1])
    np.testing.assert_array_equal(h0, 0.0)                                           # trivial branch
    np.testing.assert_array_equal(np.asarray(d.branches[0].n_unstable), (p0 > 0).astype(int))
    np.testing.assert_allclose(p1, h1[:, 0] ** 2, atol=1e-12)                        # side branch s = x²
    np.testing.assert_array_equal(h1[:, 1], 0.0)
    assert h1[:, 0].min() < -0.85 and h1[:, 0].max() > 0.85 and np.all(np.asarray(d.branches[1].n_unstable) == 0)
    assert tuple(np.asarray(d.branches[1].status)) == (BranchStatus.LEFT_WINDOW,) * 2


@pytest.mark.slow
def test_pitchfork_found_by_discovery_is_merged_not_switched_again():
    # all three equilibria are seen at s = 0.8: x = ±sqrt(0.8) start the same parabola, kept once
    d = diagram(pitchfork(), (-1.0, 0.8), box=(-1.5 * np.ones(2), 1.5 * np.ones(2)))
    assert len(d.branches) == 2 and d.special_points.labels() == ["branch point"]
    assert d.special_points.switch[0] == -1 and abs(d.special_points.p[0]) < 1e-12     # closed form 0; measured 0


def test_transcritical_switch_onto_x_equals_s(rotation):
    before = TRACES["field"]
    d = diagram(transcritical(), (-1.0, 1.0), box=SMALL_BOX, sample=2)
    assert TRACES["field"] == before                       # new constants: the rotation diagram's programs
    assert len(d.branches) == 2 and d.special_points.labels() == ["branch point"]
    p, h = curve(d.branches[1])
    np.testing.assert_allclose(h[:, 0], p, atol=1e-12)
    assert p.min() == -1.0 and p.max() == 1.0
    np.testing.assert_array_equal(np.asarray(d.branches[1].n_unstable), (p < 0).astype(int))


def test_switch_branch_on_the_trivial_branch_and_failure_as_data():
    trivial = diagram(pitchfork(), (-1.0, 0.8), box=SMALL_BOX, follow_branch_points=False).branches[0]
    slot = int(trivial.special.of_kind(SpecialKind.BRANCH_POINT)[0])
    before = TRACES["field"]
    side = switch_branch(pitchfork(), Param("s"), trivial, slot, f=field, window=(-1.0, 0.8), **SIZES).trim()
    assert TRACES["field"] == before                       # the diagram's program
    p, h = curve(side)
    np.testing.assert_allclose(p, h[:, 0] ** 2, atol=1e-12)
    assert h[:, 0].min() < -0.85 and h[:, 0].max() > 0.85
    # a "branch point" moved to a regular point of the trivial branch: the corrector cannot reach the side branch
    p_moved = np.array(trivial.special.p)
    p_moved[slot] = -0.5
    moved = eqx.tree_at(lambda b: b.special.p, trivial, p_moved)
    failed = switch_branch(pitchfork(), Param("s"), moved, slot, f=field, window=(-1.0, 0.8), **SIZES)
    assert int(failed.count) == 0 and tuple(np.asarray(failed.status)) == (BranchStatus.START_FAILED,) * 2
    with pytest.raises(ValueError, match="slot: expected an int"):
        switch_branch(pitchfork(), Param("s"), trivial, 5, f=field, **SIZES)


def test_gru_pitchfork_side_branch_at_one_over_r():
    d = diagram(gru_branch_point(), (1.0, 4.0), box=SMALL_BOX, sample=2)
    sp = d.special_points
    assert sp.labels() == ["branch point"] and sp.switch[0] == SwitchStatus.SWITCHED
    np.testing.assert_allclose(sp.p[0], 1 / R, atol=1e-12)                  # closed form; measured 0
    assert len(d.branches) == 2
    p, h = curve(d.branches[1])
    away = np.abs(h[:, 0]) > 1e-3
    # closed form of the side branch; measured 1.8e-15
    np.testing.assert_allclose(p[away], np.arctanh(h[away, 0]) / (R * h[away, 0]), atol=1e-13)
    np.testing.assert_allclose(h[:, 1], 0.0, atol=1e-12)
    assert p[0] == p[-1] == 4.0 and h[0, 0] * h[-1, 0] < 0                # both halves, out to the window's edge


# ---- diagrams ----------------------------------------------------------------------------------------------------

def test_rotation_family_loop_of_folds_and_two_hopf_points(rotation):
    assert len(rotation.branches) == 2
    loop, origin = rotation.branches
    assert int(loop.status[1]) == BranchStatus.CLOSED_LOOP
    np.testing.assert_array_equal(np.asarray(origin.h), 0.0)
    sp = rotation.special_points
    folds, hopf = sp.kind == SpecialKind.FOLD, sp.kind == SpecialKind.HOPF
    assert folds.sum() == 8 and hopf.sum() == 2 and len(sp) == 10
    # measured: folds 1.7e-16 from the scipy reference, Hopf points 1.1e-16, omega 1.1e-16 (closed forms), l1 1.1e-16
    np.testing.assert_allclose(np.abs(sp.p[folds]), ALPHA_SN, atol=1e-12)
    np.testing.assert_allclose(sp.p[hopf], [-np.arccos(2 / 3), np.arccos(2 / 3)], atol=1e-12)
    np.testing.assert_allclose(sp.omega[hopf], 0.75 * np.sin(np.arccos(2 / 3)), atol=1e-12)
    assert np.all(sp.l1[hopf] < 0) and np.all(sp.located == LocateStatus.CONVERGED)
    # closed form l1 = -1/sin(2 alpha_H) = -9/(4 sqrt 5) = -1.0062306 (tests/test_continuation.py::rotation_l1;
    # Kuznetsov's normalisation, model.md's -1.00623)
    np.testing.assert_allclose(sp.l1[hopf], -9 / (4 * np.sqrt(5)), atol=1e-12)
    assert set(np.asarray(loop.n_unstable).tolist()) == {0, 1}
    k = int(np.flatnonzero(hopf)[-1])                       # a row as a SpecialPoint (a cycle family's start)
    point = sp[k]
    assert int(point.kind) == SpecialKind.HOPF and float(point.p) == sp.p[k] and float(point.l1) == sp.l1[k]
    np.testing.assert_array_equal(np.asarray(point.h), sp.h[k])


def test_s_shaped_gru_curve_is_one_branch_with_two_folds():
    # unit 1: h = tanh(2 h + s) (Uh = 4, r = 1/2), unit 2 decoupled at 0; three equilibria for |s| < 0.533
    d = diagram(params(D0=np.diag([4.0, 0.0]), b1=(1.0, 0.0)), (-1.0, 1.0))
    assert len(d.branches) == 1
    p, h = curve(d.branches[0])
    np.testing.assert_allclose(p, np.arctanh(h[:, 0]) - 2 * h[:, 0], atol=1e-13)    # closed form; measured 1.2e-14
    assert sorted([p[0], p[-1]]) == [-1.0, 1.0]
    h_f = np.sqrt(0.5)
    b_f = np.arctanh(h_f) - 2 * h_f
    sp = d.special_points
    assert sp.labels() == ["fold", "fold"]
    np.testing.assert_allclose(sp.p, [b_f, -b_f], atol=1e-12)                     # closed forms; measured 2.2e-16
    np.testing.assert_allclose(sp.h[:, 0], [h_f, -h_f], atol=1e-12)               # measured 0
    np.testing.assert_array_equal(np.asarray(d.branches[0].n_unstable), (np.abs(h[:, 0]) < h_f).astype(int))


@pytest.mark.slow
def test_scalar_gru_model_in_its_bias_is_one_s_shaped_branch():
    # the model's own field and state box, d = 1: h = tanh(2 h + bh) with Uh = 4, r = 1/2 (compiles for d = 1)
    d = bifurcation_diagram(gj.GRUParams.from_dict(dict(Uh=[[4.0]])), Param("bh", 0), (-1.0, 1.0), **SIZES)
    assert len(d.branches) == 1 and d.special_points.labels() == ["fold", "fold"]
    p, h = curve(d.branches[0])
    np.testing.assert_allclose(p, np.arctanh(h[:, 0]) - 2 * h[:, 0], atol=1e-10)
    b_f = np.arctanh(np.sqrt(0.5)) - 2 * np.sqrt(0.5)
    np.testing.assert_allclose(d.special_points.p, [b_f, -b_f], atol=1e-10)


def test_to_dict_is_json_and_save_load_round_trips(rotation, tmp_path):
    out = rotation.to_dict()
    assert set(out) == {"branches", "special_points"} and len(out["branches"]) == 2
    assert set(out["branches"][0]) == {"param", "h", "stable"}
    assert set(out["special_points"][0]) == {"type", "param", "h", "l1", "located"}
    assert json.loads(json.dumps(out, allow_nan=False)) == out
    types = [s["type"] for s in out["special_points"]]
    assert types.count("fold") == 8 and types.count("hopf") == 2
    assert all((s["l1"] is None) == (s["type"] != "hopf") for s in out["special_points"])
    rotation.save(tmp_path / "diagram.npz")
    back = Diagram.load(tmp_path / "diagram.npz")
    assert back.to_dict() == out and back.param == rotation.param and back.span == rotation.span
    assert "2 branch(es)" in repr(back) and "Hopf" in repr(back)


@pytest.mark.parametrize("change, message", [
    (dict(window=(1.0, -1.0)), "window: each pair must satisfy lo < hi"),
    (dict(window=(0.0, np.inf)), "window: expected finite bounds"),
    (dict(window=0.5), r"window: expected \(lo, hi\)"),
    (dict(param=Param("q")), "no key 'q'"),
    (dict(param="s"), "param: expected a Param"),
    (dict(sample=1), "sample: expected an int >= 2"),
    (dict(ds=-0.1), "ds: must be > 0"),
    (dict(lanes=3), "lanes: expected an even int"),
    (dict(box=None), "box: these params have no `dim`"),
])
def test_bad_input_raises_before_compiling(change, message):
    args = dict(param=Param("s"), window=(-1.0, 1.0), f=field, box=UNIT_BOX)
    args.update(change)
    before = TRACES["field"]
    with pytest.raises(ValueError, match=message):
        bifurcation_diagram(params(), args.pop("param"), args.pop("window"), **args)
    assert TRACES["field"] == before


def test_batched_or_non_finite_model_params_raise():
    with pytest.raises(ValueError, match=r"params holds a batch \(3,\)"):
        bifurcation_diagram(gj.GRUParams.random(jax.random.key(0), 2, batch=(3,)), Param("bh", 0), (-1.0, 1.0))
    bad = eqx.tree_at(lambda m: m.bh, gj.GRUParams.zeros(2), jnp.array([np.nan, 0.0]))
    with pytest.raises(ValueError, match="non-finite"):
        bifurcation_diagram(bad, Param("bh", 0), (-1.0, 1.0))


def test_plot_renders_branches_and_special_points(rotation, tmp_path):
    ax = plot_diagram(rotation)
    assert isinstance(ax, matplotlib.axes.Axes)
    gids = {c.get_gid() for c in ax.collections}
    assert {"special-fold", "special-hopf-super"} <= gids
    labels = ax.get_legend_handles_labels()[1]
    assert {"stable", "unstable", "fold (8)", "Hopf, supercritical ($l_1 < 0$) (2)"} <= set(labels)
    assert ax.get_xlabel() == "s" and ax.get_ylabel() == "$h_{1}$"
    ax.figure.savefig(tmp_path / "diagram.png")
    assert (tmp_path / "diagram.png").stat().st_size > 10_000
    norm = plot_diagram(rotation, coordinate=lambda h: float(np.linalg.norm(h)))
    assert norm.get_ylabel() == "y"
    with pytest.raises(ValueError, match="coordinate"):
        plot_diagram(rotation, coordinate=2)
    matplotlib.pyplot.close("all")
