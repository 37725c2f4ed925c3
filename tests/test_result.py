"""The shared result base (``gru_jax.core._result``): trim, to_dict / to_numpy, save / load, repr, and the one
``join`` of two half-branches, checked bit for bit against the three joins it replaced (copied below)."""

import os

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gru_jax as gj
from gru_jax.continuation import Branch, SpecialPoints
from gru_jax.codim2._codim2 import Codim2Points, Curve
from gru_jax.codim2._codim2_diagram import CurvePoints
from gru_jax.core._result import REPR_ROWS, Result, join
from gru_jax.core._status import BranchStatus
from gru_jax.homoclinic._curve import HomoclinicCurve
from gru_jax.homoclinic._from_bt import join as join_homoclinic
from gru_jax.sweeps import SweepResult

from conftest import ELEVEN

SIZES = dict(window=(-10.0, 30.0), ds=0.05, ds_max=0.5, max_points=40, max_special=4)


@pytest.fixture(scope="module")
def halves():
    """The eleven-point GRU continued in bh[0] from its saddle at (-0.786, 1) both ways (a fold each way), and
    the same joined by ``continue_equilibria_both``."""
    params = gj.GRUParams.from_dict(ELEVEN)
    fps = gj.find_fixed_points(params, n_seeds=64)
    h0 = fps.trim().h[3]
    param = gj.Param("bh", 0)
    back, fwd = (gj.continue_equilibria(params, param, h0, direction=d, **SIZES) for d in (-1, 1))
    both = gj.continue_equilibria_both(params, param, h0, **SIZES)
    return fps, back, fwd, both


def assert_same(a, b):
    """Same pytree (static fields included), leaves of the same kind (jax / numpy), dtype and bits."""
    assert type(a) is type(b)
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        assert isinstance(x, jax.Array) == isinstance(y, jax.Array)
        assert np.asarray(x).dtype == np.asarray(y).dtype
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


# ---- the joins this base replaced, verbatim (git 3217787) -----------------------------------------------------

def _col(mask, a):
    return mask.reshape(mask.shape + (1,) * (a.ndim - 1))


def previous_branch_join(backward: Branch, forward: Branch) -> Branch:
    n, s = backward.p.shape[0], backward.special.kind.shape[0]
    cb, cf = backward.count, forward.count
    rows = jnp.arange(2 * n - 1)
    from_back = rows < cb
    src = jnp.where(from_back, cb - 1 - rows, rows - cb + 1)
    used = rows < jnp.where(cb > 0, cb + cf - 1, 0)
    safe = jnp.clip(src, 0, n - 1)

    def merge(a, b):
        pick = jnp.where(_col(from_back, a), a[safe], b[safe])
        return jnp.where(_col(used, a), pick, jnp.nan if jnp.issubdtype(a.dtype, jnp.floating) else -1)

    flip = jnp.array([-1.0, -1.0, 1.0])
    fields = dict(h=merge(backward.h, forward.h), p=merge(backward.p, forward.p),
                  tangent=merge(-backward.tangent, forward.tangent), ds=merge(backward.ds, forward.ds),
                  n_unstable=merge(backward.n_unstable, forward.n_unstable),
                  stability=merge(backward.stability, forward.stability),
                  residual=merge(backward.residual, forward.residual), newton=merge(backward.newton, forward.newton),
                  tests=merge(backward.tests * flip, forward.tests))
    sb, sf = backward.special.count, forward.special.count
    slots = jnp.arange(2 * s)
    sp_back = slots < sb
    ssrc = jnp.clip(jnp.where(sp_back, sb - 1 - slots, slots - sb), 0, s - 1)
    sp_used = slots < sb + sf
    bsp, fsp = backward.special, forward.special

    def smerge(a, b):
        pick = jnp.where(_col(sp_back, a), a[ssrc], b[ssrc])
        return jnp.where(_col(sp_used, a), pick, jnp.nan if jnp.issubdtype(a.dtype, jnp.floating) else -1)

    interval = jnp.where(sp_back[:, None], (cb - 1 - bsp.interval[ssrc])[:, ::-1], fsp.interval[ssrc] + cb - 1)
    special = SpecialPoints(
        kind=smerge(bsp.kind, fsp.kind), p=smerge(bsp.p, fsp.p), h=smerge(bsp.h, fsp.h),
        interval=jnp.where(sp_used[:, None], interval, -1).astype(jnp.int32),
        p_interval=jnp.where(sp_back[:, None], smerge(bsp.p_interval, fsp.p_interval)[:, ::-1],
                             smerge(bsp.p_interval, fsp.p_interval)),
        located=smerge(bsp.located, fsp.located), residual=smerge(bsp.residual, fsp.residual),
        omega=smerge(bsp.omega, fsp.omega), l1=smerge(bsp.l1, fsp.l1),
        n_unstable=smerge(bsp.n_unstable, fsp.n_unstable),
        count=(sb + sf).astype(jnp.int32), n_detected=(bsp.n_detected + fsp.n_detected).astype(jnp.int32))
    count = jnp.where(cb > 0, cb + cf - 1, 0).astype(jnp.int32)
    status = jnp.stack([backward.status[1], forward.status[1]])
    return Branch(**fields, count=count, status=status, special=special)


def previous_curve_join(backward: Curve, forward: Curve) -> Curve:
    n, s = backward.p.shape[0], backward.special.kind.shape[0]
    cb, cf = backward.count, forward.count
    rows = jnp.arange(2 * n - 1)
    from_back = rows < cb
    src = jnp.clip(jnp.where(from_back, cb - 1 - rows, rows - cb + 1), 0, n - 1)
    used = rows < jnp.where(cb > 0, cb + cf - 1, 0)
    sb, sf = backward.special.count, forward.special.count
    slots = jnp.arange(2 * s)
    sp_back = slots < sb
    ssrc = jnp.clip(jnp.where(sp_back, sb - 1 - slots, slots - sb), 0, s - 1)
    sp_used = slots < sb + sf

    def merge(a, b, back, index, keep):
        col = lambda m: m.reshape(m.shape + (1,) * (a.ndim - 1))
        pick = jnp.where(col(back), a[index], b[index])
        return jnp.where(col(keep), pick, jnp.nan if jnp.issubdtype(a.dtype, jnp.floating) else -1)

    row = lambda a, b: merge(a, b, from_back, src, used)
    slot = lambda a, b: merge(a, b, sp_back, ssrc, sp_used)
    bsp, fsp = backward.special, forward.special
    special = Codim2Points(kind=slot(bsp.kind, fsp.kind), p=slot(bsp.p, fsp.p), p2=slot(bsp.p2, fsp.p2),
                           h=slot(bsp.h, fsp.h), located=slot(bsp.located, fsp.located),
                           residual=slot(bsp.residual, fsp.residual),
                           count=(sb + sf).astype(jnp.int32), n_detected=(bsp.n_detected + fsp.n_detected).astype(jnp.int32))
    return Curve(h=row(backward.h, forward.h), p=row(backward.p, forward.p), p2=row(backward.p2, forward.p2),
                 kappa=row(backward.kappa, forward.kappa), tests=row(backward.tests, forward.tests),
                 residual=row(backward.residual, forward.residual),
                 count=jnp.where(cb > 0, cb + cf - 1, 0).astype(jnp.int32),
                 status=jnp.stack([backward.status[1], forward.status[1]]), special=special, kind=forward.kind,
                 param_name=forward.param_name, param2_name=forward.param2_name)


def previous_homoclinic_join(towards: HomoclinicCurve, away: HomoclinicCurve) -> HomoclinicCurve:
    cat = lambda a, b: np.concatenate([np.asarray(a)[::-1], np.asarray(b)[1:]])
    fields = ("p", "p2", "saddle", "lam", "saddle_quantity", "residual")
    rows = {k: cat(getattr(towards, k), getattr(away, k)) for k in fields}
    failed = int(towards.status[0]) == BranchStatus.START_FAILED
    status = np.array([towards.status[0]] * 2 if failed else [towards.status[1], away.status[1]], np.int32)
    return HomoclinicCurve(**rows, count=np.int32(len(rows["p"])), status=status, param_name=away.param_name,
                           param2_name=away.param2_name)


# ---- synthetic padded results -------------------------------------------------------------------------------

def padded(rng, shape, count, dtype=float):
    """Random rows, the first ``count`` used, the rest padding (NaN / -1)."""
    a = rng.normal(size=shape) if dtype is float else rng.integers(0, 3, size=shape)
    a = a.astype(dtype)
    a[count:] = np.nan if dtype is float else -1
    return jnp.asarray(a)


def synthetic_curve(rng, count, n_special, n=7, s=3, d=2) -> Curve:
    special = Codim2Points(kind=padded(rng, (s,), n_special, np.int32), p=padded(rng, (s,), n_special),
                           p2=padded(rng, (s,), n_special), h=padded(rng, (s, d), n_special),
                           located=padded(rng, (s,), n_special, np.int32), residual=padded(rng, (s,), n_special),
                           count=jnp.int32(n_special), n_detected=jnp.int32(n_special + 1))
    return Curve(h=padded(rng, (n, d), count), p=padded(rng, (n,), count), p2=padded(rng, (n,), count),
                 kappa=padded(rng, (n,), count), tests=padded(rng, (n, 2), count), residual=padded(rng, (n,), count),
                 count=jnp.int32(count), status=jnp.asarray(rng.integers(0, 5, 2), jnp.int32), special=special,
                 kind="hopf", param_name="bh[0]", param2_name="bh[1]")


def synthetic_homoclinic(rng, count, status=(BranchStatus.START, BranchStatus.MAX_POINTS)) -> HomoclinicCurve:
    rows = lambda *shape: jnp.asarray(rng.normal(size=(count,) + shape))
    return HomoclinicCurve(p=rows(), p2=rows(), saddle=rows(2), lam=rows(2), saddle_quantity=rows(), residual=rows(),
                           count=jnp.int32(count), status=jnp.asarray(status, jnp.int32), param_name="bh[0]",
                           param2_name="Uh[0,1]")


# ---- join -------------------------------------------------------------------------------------------------------

def test_branch_join_is_the_previous_join_and_the_two_way_continuation(halves):
    _, back, fwd, both = halves
    assert int(back.special.count) and int(fwd.special.count)      # slots from both halves: intervals re-indexed
    new = join(back, fwd)
    assert_same(new, previous_branch_join(back, fwd))
    assert_same(jax.jit(join)(back, fwd), jax.jit(previous_branch_join)(back, fwd))
    assert_same(gj.continuation.join(back, fwd), new)
    assert_same(both, jax.jit(previous_branch_join)(back, fwd))
    batch = lambda r: jax.tree_util.tree_map(lambda a: jnp.stack([a, a]), r)      # as trace's vmap uses it
    assert_same(jax.vmap(join)(batch(back), batch(fwd)), jax.vmap(previous_branch_join)(batch(back), batch(fwd)))
    t = new.trim()                   # the re-indexed bracketing rows are the rows whose parameters were recorded
    np.testing.assert_array_equal(np.asarray(t.p)[np.asarray(t.special.interval)], np.asarray(t.special.p_interval))


@pytest.mark.parametrize("counts", [(5, 7, 2, 1), (1, 4, 0, 3), (0, 3, 0, 0), (7, 7, 3, 3)])
def test_curve_join_is_the_previous_join(rng, counts):
    cb, cf, sb, sf = counts
    back, fwd = synthetic_curve(rng, cb, sb), synthetic_curve(rng, cf, sf)
    assert_same(join(back, fwd), previous_curve_join(back, fwd))
    assert_same(jax.jit(join)(back, fwd), jax.jit(previous_curve_join)(back, fwd))


@pytest.mark.parametrize("counts", [(4, 6), (1, 3), (1, 1)])
def test_homoclinic_join_is_the_previous_join(rng, counts):
    towards, away = synthetic_homoclinic(rng, counts[0]), synthetic_homoclinic(rng, counts[1])
    new, old = join_homoclinic(towards, away), previous_homoclinic_join(towards, away)
    assert int(new.count) == int(old.count) and new.param2_name == old.param2_name
    for name in ("p", "p2", "saddle", "lam", "saddle_quantity", "residual", "status"):
        a, b = getattr(new, name), getattr(old, name)
        assert isinstance(a, np.ndarray) and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_homoclinic_join_of_failed_starts_keeps_the_failure(rng):
    failed = (BranchStatus.START_FAILED, BranchStatus.START_FAILED)
    towards, away = synthetic_homoclinic(rng, 0, failed), synthetic_homoclinic(rng, 0, failed)
    new, old = join_homoclinic(towards, away), previous_homoclinic_join(towards, away)
    assert int(new.count) == 0 and new.p.shape == (0,)
    np.testing.assert_array_equal(new.status, old.status)


def test_join_rejects_mixed_halves(rng, halves):
    with pytest.raises(TypeError, match="one type"):
        join(halves[1], synthetic_curve(rng, 2, 0))


# ---- trim, to_dict, to_numpy --------------------------------------------------------------------------------

def test_trim_drops_padding_rows_and_keeps_the_rest(rng, halves):
    curve = synthetic_curve(rng, 4, 2)
    assert np.all(np.isnan(np.asarray(curve.p[4:])))
    t = curve.trim()
    assert t.p.shape == (4,) and t.h.shape == (4, 2) and t.tests.shape == (4, 2) and t.kind == "hopf"
    np.testing.assert_array_equal(np.asarray(t.h), np.asarray(curve.h[:4]))
    assert t.special.kind.shape == (2,) and t.special.h.shape == (2, 2) and t.status is curve.status
    assert_same(t.trim(), t)                                                        # idempotent
    fps = halves[0]
    f = fps.trim()
    k = int(fps.count)
    assert k < fps.h.shape[0] and f.h.shape == (k, 2) and f.eigenvalues.shape == (k, 2)
    assert f.seed_status.shape == fps.seed_status.shape                             # per seed: kept whole
    with pytest.raises(ValueError, match=r"Curve.trim: this result holds a batch \(2,\)"):
        jax.tree_util.tree_map(lambda a: jnp.stack([a, a]), curve).trim()


def test_to_numpy_and_to_dict(halves):
    fps, back, _, _ = halves
    flat = back.to_numpy()
    assert set(flat) == {"h", "p", "tangent", "ds", "n_unstable", "stability", "residual", "newton", "tests", "count",
                         "status"} | {f"special.{k}" for k in ("kind", "p", "h", "interval", "p_interval", "located",
                                                                "residual", "omega", "l1", "n_unstable", "count",
                                                                "n_detected")}
    assert all(isinstance(v, np.ndarray) for v in flat.values()) and flat["p"].shape == back.p.shape
    nested = back.to_dict()
    k = int(back.count)
    assert nested["p"].shape == (k,) and nested["special"]["kind"].shape == (int(back.special.count),)
    assert isinstance(nested["special"]["p"], np.ndarray)
    assert fps.to_dict()["fixed_points"][0]["kind"] == "stable node"                 # its own JSON form stays


# ---- save / load ----------------------------------------------------------------------------------------------

def test_save_load_round_trips_real_results(halves, tmp_path):
    fps, back, _, both = halves
    for i, result in enumerate((fps, back, both, both.trim(), jax.tree_util.tree_map(np.asarray, both.trim()))):
        path = result.save(tmp_path / f"r{i}.npz")
        back_again = type(result).load(path)
        assert_same(back_again, result)
        assert repr(back_again) == repr(result)
    assert not list(tmp_path.glob(".*.tmp"))


def test_save_load_round_trips_names_dicts_and_python_values(rng, tmp_path):
    curve = synthetic_curve(rng, 4, 2)
    assert_same(Curve.load(curve.save(tmp_path / "curve")), curve)                # no ".npz" appended
    assert (tmp_path / "curve").exists()
    sweep = SweepResult({"n": np.arange(6, dtype=np.int32).reshape(2, 3), "ok": np.ones((2, 3), bool),
                         "z": np.full((2, 3, 2), 1 + 2j)}, {"bh[0]": np.array([0.0, 1.0]), "Uh[0,1]": np.arange(3.0)},
                        kind="grid", analysis="toy")
    again = SweepResult.load(sweep.save(tmp_path / "sweep.npz"))
    assert list(again.axes) == list(sweep.axes) and again.kind == "grid" and again.analysis == "toy"
    for name, value in sweep.values.items():
        assert again.values[name].dtype == value.dtype
        np.testing.assert_array_equal(again.values[name], value)


def test_load_rejects_other_files(halves, tmp_path):
    fps, back, _, _ = halves
    back.save(tmp_path / "branch.npz")
    with pytest.raises(ValueError, match="not a saved FixedPoints result.*Branch"):
        gj.FixedPoints.load(tmp_path / "branch.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a saved Branch result"):
        Branch.load(tmp_path / "junk.npz")
    with pytest.raises(FileNotFoundError):
        Branch.load(tmp_path / "missing.npz")


def test_load_reads_the_previous_fixed_points_files(halves, tmp_path):
    fps = halves[0]
    with open(tmp_path / "old.npz", "wb") as fh:                 # what FixedPoints.save wrote before
        np.savez(fh, **{name: np.asarray(getattr(fps, name)) for name in fps.__dataclass_fields__})
    assert_same(gj.FixedPoints.load(tmp_path / "old.npz"), fps)


def test_save_to_an_unwritable_path_raises_before_writing(halves, tmp_path):
    back = halves[1]
    with pytest.raises(FileNotFoundError, match="Branch.save: cannot write .*does not exist"):
        back.save(tmp_path / "no" / "such" / "dir" / "b.npz")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        back.save(tmp_path)
    if os.geteuid() != 0:                                         # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(PermissionError, match="not writable"):
            back.save(locked / "b.npz")
    assert not list(tmp_path.rglob("*.npz")) and not list(tmp_path.rglob(".*.tmp"))


class Unstorable(Result):
    x: jax.Array
    note: object


def test_save_converts_everything_before_opening_the_file(tmp_path):
    with pytest.raises(TypeError, match="cannot store 'note'"):
        Unstorable(jnp.zeros(2), {1, 2}).save(tmp_path / "u.npz")
    assert not list(tmp_path.iterdir())


# ---- repr -------------------------------------------------------------------------------------------------------

class Rows(Result):
    value: jax.Array
    vector: jax.Array
    count: jax.Array
    status: jax.Array
    _rows = ("value", "vector")


def test_table_repr_shows_the_class_count_and_first_rows():
    n, k = 12, 9
    r = Rows(jnp.arange(n, dtype=float), jnp.arange(3.0 * n).reshape(n, 3), jnp.int32(k), jnp.int32(2))
    text = repr(r)
    assert text.startswith(f"Rows: {k} of {n} rows; status=2") and "value" in text and "vector" in text
    lines = text.splitlines()
    assert len(lines) == 2 + REPR_ROWS + 1 and lines[-1].strip() == f"... {k - REPR_ROWS} more"
    assert lines[2].split() == ["0", "+0", "[+0", "+1", "+2]"] and lines[-2].split()[:2] == [str(REPR_ROWS - 1),
                                                                                          f"+{REPR_ROWS - 1}"]
    assert r.trim().value.shape == (k,) and r.to_dict()["vector"].shape == (k, 3)
    batch = jax.tree_util.tree_map(lambda a: jnp.stack([a, a]), r)
    assert repr(batch) == f"Rows(batch (2,), {n} rows each, count min {k} / max {k})"
    points = CurvePoints(np.array([0, 1]), np.array([0.5, 0.25]), np.array([1.0, 2.0]), np.zeros((2, 2)),
                         np.array([0, 0]), np.array([0, 1]))
    assert repr(points).startswith("CurvePoints: 2 rows") and "+0.25" in repr(points)
    assert points.labels() == ["cusp", "bogdanov-takens"]


def test_repr_of_real_results(halves):
    fps, back, _, both = halves
    assert repr(back).startswith("Branch: ") and "fold" in repr(back)
    assert repr(fps).startswith("FixedPoints: ") and "saddle" in repr(fps)
    assert "Branch(batch (2,)" in repr(jax.tree_util.tree_map(lambda a: jnp.stack([a, a]), both))
    assert isinstance(both, eqx.Module) and isinstance(both, Result) and both.labels() == both.special.labels()
