import jax

jax.config.update("jax_enable_x64", True)

import importlib.util  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import gru_jax as gj  # noqa: E402
from gru_jax.cli import main  # noqa: E402
from gru_jax.sweeps._result import SweepResult  # noqa: E402
from gru_jax.sweeps._sweep import sweep  # noqa: E402

HERE = Path(__file__).resolve().parent
BASE = {"Uh": [[3.0, 0.6], [-0.5, 1.0]]}
BH0, BH1 = np.linspace(-2.0, 2.0, 6), np.linspace(-1.5, 1.5, 7)   # 42 points: chunk 4 leaves a short last chunk
SLEEP_S = 0.25
COMPUTED = []  # one entry per chunk call of `slow` in this process


def base():
    return gj.GRUParams.from_dict(BASE)


def tiny(q):
    """Cheap closed-form outputs of a batch of GRUParams."""
    return {"trace": jnp.trace(q.Uh, axis1=-2, axis2=-1), "b2": 2.0 * q.bh, "pos": (q.bh[:, 0] > 0).astype(jnp.int32)}


def census(q):
    """Fixed points from 16 grid seeds: count and number of stable ones (padding rows have n_unstable = -1)."""
    fp = gj.find_fixed_points(q, n_seeds=16, seeding="grid")
    return {"n_stable": jnp.sum(fp.n_unstable == 0, -1), "count": fp.count, "h": fp.h[:, :2]}


census.name = "census16"


def slow(q):
    """``census`` that sleeps SLEEP_S per chunk call and counts its calls in COMPUTED."""
    jax.debug.callback(_tick)
    return census(q)


slow.name = "census16"


def _tick():
    COMPUTED.append(1)
    time.sleep(SLEEP_S)


def stacked(params_list):
    return jax.tree_util.tree_map(lambda *a: jnp.stack(a), *params_list)


def grid_batch(labels, axes):
    """The grid's params as one explicit batch, in C order (the reference for `sweep`)."""
    points = []
    for index in np.ndindex(*[len(v) for v in axes]):
        p = base()
        for label, values, i in zip(labels, axes, index):
            p = gj.Param.from_label(label).set(p, values[i])
        points.append(p)
    return stacked(points)


def assert_same(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].shape == b[k].shape and a[k].dtype == b[k].dtype, k
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def python(code: str, env=None, **kw):
    env = {**os.environ, "PYTHONPATH": str(HERE), "JAX_PLATFORMS": "cpu", **(env or {})}
    return subprocess.Popen([sys.executable, "-c", code], env=env, **kw)


# ---- results ------------------------------------------------------------------------------------------

def test_grid_in_chunks_equals_one_direct_call():
    grid = {"bh[0]": BH0, "bh[1]": BH1}
    res = sweep(census, grid=grid, base=base(), chunk=8, progress=False)    # 5 chunks of 8 and one of 2
    direct = census(grid_batch(list(grid), list(grid.values())))           # all 42 at once
    assert res.shape == (6, 7) and list(res.axes) == ["bh[0]", "bh[1]"] and res.analysis == "census16"
    np.testing.assert_array_equal(res.axes["bh[1]"], BH1)
    assert set(np.unique(res.values["n_stable"])) == {1, 2}   # the map crosses the fold lines
    for k, v in direct.items():
        np.testing.assert_array_equal(res.values[k], np.asarray(v).reshape((6, 7) + v.shape[1:]), err_msg=k)
    assert_same(sweep(census, grid=grid, base=base(), chunk=8, progress=False).values, res.values)  # deterministic


def test_one_and_three_axes_closed_form():
    a, b, c = np.linspace(0, 1, 3), np.array([-1.0, 2.0]), np.linspace(-1, 1, 5)
    res = sweep(tiny, grid={"Uh[0,0]": a, "Uh[1,1]": b, "bh[1]": c}, base=base(), chunk=7, progress=False)
    assert res.shape == (3, 2, 5) and res.values["b2"].shape == (3, 2, 5, 2)
    # closed forms with exact zeros among them (a + b = 1 - 1, 2 c = 0): compared with atol (float64 roundoff of
    # one addition or product of O(1) numbers), never rtol alone
    np.testing.assert_allclose(res.values["trace"], np.broadcast_to((a[:, None] + b)[:, :, None], (3, 2, 5)),
                               rtol=0, atol=1e-15)
    np.testing.assert_allclose(res.values["b2"][..., 1], np.broadcast_to(2 * c, (3, 2, 5)), rtol=0, atol=1e-15)
    one = sweep(tiny, grid={"bh[0]": c}, base=base(), progress=False)
    np.testing.assert_array_equal(one.values["pos"], (c > 0).astype(np.int32))


def test_ensemble_equals_direct_call():
    ens = gj.GRUParams.random(jax.random.key(3), 2, scale=4.0, batch=(21,))
    res = sweep(census, ensemble=ens, chunk=8, progress=False)
    assert res.kind == "ensemble" and res.shape == (21,)
    np.testing.assert_array_equal(res.axes["member"], np.arange(21))
    assert_same(res.values, {k: np.asarray(v) for k, v in census(ens).items()})


def counted(q):
    """``tiny`` that records the thread of each chunk call in CALLS."""
    jax.debug.callback(lambda: CALLS.append(threading.get_ident()))
    return tiny(q)


CALLS = []


def test_multi_host_split_shares_a_checkpoint(tmp_path):
    grid, out = {"bh[0]": BH0, "bh[1]": BH1}, {}
    run = lambda i: out.setdefault(i, sweep(counted, grid=grid, base=base(), chunk=5, checkpoint=tmp_path,
                                            progress=False, hosts=(i, 2)))
    CALLS.clear()
    other = threading.Thread(target=run, args=(1,), daemon=True)
    other.start()
    run(0)
    other.join(timeout=60)
    assert sorted(Counter(CALLS).values()) == [4, 5]       # chunks 0, 2, .., 8 and 1, 3, .., 7: each ran once
    reference = sweep(tiny, grid=grid, base=base(), progress=False)
    assert len(list(tmp_path.glob("chunk-*.npz"))) == 9
    assert_same(out[0].values, reference.values)
    assert_same(out[1].values, reference.values)


DISTRIBUTED = """
import sys, jax
jax.distributed.initialize(coordinator_address="localhost:{port}", num_processes=2, process_id={i})
import test_sweep as t
res = t.sweep(t.tiny, grid={{"bh[0]": t.BH0, "bh[1]": t.BH1}}, base=t.base(), chunk=5, checkpoint={path!r},
              progress=False)
assert jax.process_count() == 2
res.save({out!r})
"""


@pytest.mark.slow
def test_multi_host_recipe_with_jax_distributed(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    code = lambda i: DISTRIBUTED.format(port=port, i=i, path=str(tmp_path / "ckpt"), out=str(tmp_path / f"{i}.npz"))
    children = [python(code(i), stderr=subprocess.PIPE) for i in (0, 1)]
    for child in children:
        assert child.wait(timeout=240) == 0, child.stderr.read().decode()[-3000:]
    reference = sweep(tiny, grid={"bh[0]": BH0, "bh[1]": BH1}, base=base(), progress=False)
    for i in (0, 1):
        assert_same(SweepResult.load(tmp_path / f"{i}.npz").values, reference.values)


# ---- checkpoints --------------------------------------------------------------------------------------

RUN_SLOW = "import test_sweep as t, sys; t.sweep(t.slow, grid={{'bh[0]': t.BH0, 'bh[1]': t.BH1}}, base=t.base(), " \
           "chunk=4, checkpoint={path!r}, progress=False)"


@pytest.mark.slow
def test_resume_after_kill_computes_each_chunk_once(tmp_path):
    child = python(RUN_SLOW.format(path=str(tmp_path)))
    deadline = time.time() + 120
    while len(list(tmp_path.glob("chunk-*.npz"))) < 2 and time.time() < deadline and child.poll() is None:
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in tmp_path.glob("chunk-*.npz")}
    assert 2 <= len(before) < 11, "the child should die mid-run"
    COMPUTED.clear()
    res = sweep(slow, grid={"bh[0]": BH0, "bh[1]": BH1}, base=base(), chunk=4, checkpoint=tmp_path, progress=False)
    assert len(COMPUTED) == 11 - len(before)                    # only the missing chunks ran
    after = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in tmp_path.glob("chunk-*.npz")}
    assert len(after) == 11 and all(after[k] == v for k, v in before.items())   # finished files untouched
    assert not list(tmp_path.glob(".*tmp"))
    reference = sweep(census, grid={"bh[0]": BH0, "bh[1]": BH1}, base=base(), chunk=8, progress=False)
    assert_same(res.values, reference.values)
    COMPUTED.clear()
    again = sweep(slow, grid={"bh[0]": BH0, "bh[1]": BH1}, base=base(), chunk=4, checkpoint=tmp_path, progress=False)
    assert COMPUTED == [] and json.loads((tmp_path / "manifest.json").read_text())["n_chunks"] == 11
    assert_same(again.values, reference.values)


def test_mismatched_checkpoint_raises_before_computing(tmp_path):
    grid = {"bh[0]": BH0}
    sweep(tiny, grid=grid, base=base(), chunk=4, checkpoint=tmp_path, progress=False)
    files = sorted(tmp_path.iterdir())
    for kwargs, what in [(dict(grid={"bh[0]": BH0 + 1e-9}), "fingerprint"), (dict(chunk=3), "chunk"),
                         (dict(base=gj.GRUParams.from_dict({"Uh": [[3.0, 0.7], [-0.5, 1.0]]})), "fingerprint")]:
        with pytest.raises(ValueError, match=f"different sweep.*{what}"):
            sweep(tiny, **{"grid": grid, "base": base(), "chunk": 4, **kwargs}, checkpoint=tmp_path, progress=False)
    with pytest.raises(ValueError, match="analysis"):
        sweep(census, grid=grid, base=base(), chunk=4, checkpoint=tmp_path, progress=False)
    assert sorted(tmp_path.iterdir()) == files
    (tmp_path / "chunk-000001.npz").write_bytes(b"broken")
    with pytest.raises(ValueError, match="damaged chunk file chunk-000001.npz"):
        sweep(tiny, grid=grid, base=base(), chunk=4, checkpoint=tmp_path, progress=False)


# ---- devices ------------------------------------------------------------------------------------------

SHARDED = """
import jax, numpy as np, test_sweep as t
assert len(jax.local_devices()) == 4, jax.local_devices()
grid = {{"bh[0]": t.BH0, "bh[1]": t.BH1}}
t.sweep(t.census, grid=grid, base=t.base(), chunk=8, progress=False).save({grid_path!r})
from gru_jax.sweeps._sweep import make_mesh, make_plan, make_step
plan = make_plan(grid, None, t.base())
step, _ = make_step(t.census, plan, make_mesh(None), 8)
shards = step(plan.rows(0, 8, 8))["count"].addressable_shards     # each device holds 2 of the 8 rows
assert len({{s.device for s in shards}}) == 4 and {{s.data.shape for s in shards}} == {{(2,)}}, shards
ens = t.gj.GRUParams.random(jax.random.key(3), 2, scale=4.0, batch=(21,))
t.sweep(t.census, ensemble=ens, chunk=6, progress=False).save({ens_path!r})   # 6 rows per call padded to 8
"""


@pytest.mark.slow
def test_sharded_over_four_cpu_devices_equals_unsharded(tmp_path):
    paths = dict(grid_path=str(tmp_path / "grid.npz"), ens_path=str(tmp_path / "ens.npz"))
    child = python(SHARDED.format(**paths), env={"XLA_FLAGS": "--xla_force_host_platform_device_count=4"},
                   stderr=subprocess.PIPE)
    assert child.wait(timeout=300) == 0, child.stderr.read().decode()[-3000:]
    grid = sweep(census, grid={"bh[0]": BH0, "bh[1]": BH1}, base=base(), chunk=8, progress=False)
    ens = sweep(census, ensemble=gj.GRUParams.random(jax.random.key(3), 2, scale=4.0, batch=(21,)), chunk=8,
                progress=False)
    assert_same(SweepResult.load(paths["grid_path"]).values, grid.values)
    assert_same(SweepResult.load(paths["ens_path"]).values, ens.values)


# ---- results: files, views, plots ---------------------------------------------------------------------

def test_save_load_round_trip_and_repr(tmp_path):
    res = sweep(tiny, grid={"bh[0]": BH0, "Uh[0,1]": BH1}, base=base(), progress=False)
    back = SweepResult.load(res.save(tmp_path / "r.npz"))
    assert list(back.axes) == ["bh[0]", "Uh[0,1]"] and back.kind == "grid" and back.analysis == "tiny"
    assert_same(back.axes, res.axes)
    assert_same(back.values, res.values)
    assert "shape (6, 7)" in repr(back) and "b2: float64 (6, 7, 2)" in repr(back)
    (tmp_path / "bad.npz").write_bytes(b"nope")
    with pytest.raises(ValueError, match="not a SweepResult"):
        SweepResult.load(tmp_path / "bad.npz")


def test_plots():
    from gru_jax.plot._mpl import plt

    two = sweep(tiny, grid={"bh[0]": BH0, "bh[1]": BH1}, base=base(), progress=False)
    ax = two.plot("trace")
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("bh[0]", "bh[1]") and len(ax.figure.axes) == 2   # + colorbar
    mesh = ax.collections[0]
    assert mesh.get_array().size == 42
    ax = sweep(tiny, grid={"bh[0]": BH0}, base=base(), progress=False).plot("pos")
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), BH0)
    ens = sweep(tiny, ensemble=gj.GRUParams.random(jax.random.key(0), 2, batch=(20,)), progress=False)
    assert ens.plot("pos").get_ylabel() == "members"
    with pytest.raises(ValueError, match="trailing dims"):
        two.plot("b2")
    with pytest.raises(ValueError, match="no output 'nope'"):
        two.plot("nope")
    plt.close("all")


@pytest.mark.parametrize("module", ["pandas", "xarray"])
def test_views_or_clear_import_error(module):
    res = sweep(tiny, grid={"bh[0]": BH0, "bh[1]": BH1}, base=base(), progress=False)
    convert = getattr(res, f"to_{module}")
    if importlib.util.find_spec(module) is None:
        with pytest.raises(ImportError, match=f"pip install {module}"):
            convert()
        return
    view = convert()
    if module == "pandas":
        assert view.shape == (42, 4) and list(view.index.names) == ["bh[0]", "bh[1]"]
        assert view.loc[(BH0[2], BH1[3]), "b2[1]"] == 2 * BH1[3]
    else:
        assert view["b2"].dims == ("bh[0]", "bh[1]", "b2_dim0")
        np.testing.assert_array_equal(view["trace"].values, res.values["trace"])


# ---- bad input ----------------------------------------------------------------------------------------

TRACED = []


def counting(q):
    TRACED.append(1)
    return tiny(q)


@pytest.mark.parametrize("kwargs, match", [
    (dict(grid={"bq[0]": BH0}), "no field 'bq'"),
    (dict(grid={"bh[5]": BH0}), "out of range"),
    (dict(grid={"bh": BH0}), "exactly 1 index"),
    (dict(grid={"bh[0": BH0}), "expected a parameter label"),
    (dict(grid={"bh[0]": BH0.reshape(2, 3)}), "1-D"),
    (dict(grid={"bh[0]": []}), "non-empty"),
    (dict(grid={"bh[0]": [0.0, np.nan]}), "non-finite"),
    (dict(grid={"bh[0]": ["a", "b"]}), "numbers"),
    (dict(grid={"bh[0]": BH0, "bh[1]": BH0, "Uh[0,0]": BH0, "Uh[1,1]": BH0}), "1 to 3"),
    (dict(grid={}), "1 to 3"),
    (dict(grid={"bh[0]": BH0, "bh[ 0 ]": BH1}), "twice"),
    (dict(grid={"bh[0]": BH0}, base=None), "needs base"),
    (dict(grid={"bh[0]": BH0}, chunk=0), "positive int"),
    (dict(grid={"bh[0]": BH0}, chunk=2.5), "positive int"),
    (dict(grid={"bh[0]": BH0}, chunk=True), "positive int"),
    (dict(grid={"bh[0]": BH0}, devices=[]), "devices"),
    (dict(grid={"bh[0]": BH0}, hosts=(2, 2), checkpoint="x"), "hosts"),
    (dict(grid={"bh[0]": BH0}, hosts=(0, 2)), "needs checkpoint"),
    (dict(), "exactly one of grid"),
    (dict(grid={"bh[0]": BH0}, ensemble={"a": np.zeros(3)}), "exactly one of grid"),
    (dict(grid=None, ensemble={"a": np.zeros(3)}), "base= goes with grid"),
    (dict(grid=None, base=None, ensemble={"a": np.zeros(3), "b": np.zeros(4)}), "share one"),
    (dict(grid=None, base=None, ensemble={"a": np.array([1.0, np.inf])}), "non-finite"),
])
def test_bad_input_raises_before_tracing(kwargs, match):
    TRACED.clear()
    with pytest.raises(ValueError, match=match):
        sweep(counting, **{"base": base(), **kwargs}, progress=False)
    assert TRACED == []


@pytest.mark.parametrize("analysis, match", [
    (lambda q: q.bh, "dict"), (lambda q: {"x": q.bh[0]}, "leading batch axis"), (lambda q: {}, "non-empty"),
])
def test_bad_analysis_raises(analysis, match):
    with pytest.raises(ValueError, match=match):
        sweep(analysis, grid={"bh[0]": BH0}, base=base(), progress=False)


# ---- command line -------------------------------------------------------------------------------------

@pytest.fixture
def analyses(monkeypatch):
    """The CLI's analysis table with `census16` (this file's) in it."""
    try:
        from gru_jax.sweeps import _analyses
    except ImportError:
        _analyses = types.ModuleType("gru_jax.sweeps._analyses")
        _analyses.ANALYSES = {}
        monkeypatch.setitem(sys.modules, "gru_jax.sweeps._analyses", _analyses)
    monkeypatch.setitem(_analyses.ANALYSES, "census16", lambda: census)


def test_cli_sweep_writes_result_and_map_and_resumes(tmp_path, capsys, analyses):
    params = tmp_path / "p.json"
    params.write_text(json.dumps(BASE))
    out = tmp_path / "out"
    argv = ["sweep", str(params), "--grid", "bh:0=-2:2:6", "--grid", "bh:1=-1.5:1.5:7", "--analysis", "census16",
            "--out", str(out), "--chunk", "8", "--no-progress"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out / 'result.npz'}" in printed and f"wrote {out / 'n_stable.png'}" in printed
    assert (out / "n_stable.png").read_bytes()[:4] == b"\x89PNG"
    res = SweepResult.load(out / "result.npz")
    assert_same(res.values, sweep(census, grid={"bh[0]": BH0, "bh[1]": BH1}, base=base(), chunk=8,
                                  progress=False).values)
    chunks = {p.name: p.stat().st_mtime_ns for p in (out / "checkpoint").glob("chunk-*.npz")}
    assert len(chunks) == 6
    (out / "checkpoint" / "chunk-000002.npz").unlink()              # as if killed before this chunk
    assert main(argv) == 0
    capsys.readouterr()
    assert all((out / "checkpoint" / k).stat().st_mtime_ns == t for k, t in chunks.items() if k != "chunk-000002.npz")
    assert_same(SweepResult.load(out / "result.npz").values, res.values)


@pytest.mark.parametrize("extra, match", [
    (["--grid", "bh:0=-2:2"], "NAME:i"), (["--grid", "bh:0=-2:2:0"], "NAME:i"),
    (["--grid", "bh:0=a:2:3"], "NAME:i"), (["--grid", "bh:9=-2:2:3"], "out of range"),
    (["--grid", "bh:0=-2:2:3", "--analysis", "nope"], "unknown analysis 'nope'"),
    (["--grid", "bh:0=-2:2:3", "--grid", "bh:0=0:1:3"], "once"),
])
def test_cli_sweep_errors(tmp_path, capsys, analyses, extra, match):
    params = tmp_path / "p.json"
    params.write_text(json.dumps(BASE))
    argv = ["sweep", str(params), "--out", str(tmp_path / "o"), *extra]
    if "--analysis" not in extra:
        argv += ["--analysis", "census16"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("gru-jax") and "error" in err and match in err


def test_event_clouds_overlay_a_census_map(tmp_path):
    from gru_jax.sweeps._result import SweepResult
    b1 = np.linspace(-1.0, 1.0, 5)
    folds = np.full((5, 3), np.nan)
    folds[:, 0], folds[:, 1] = -0.5 * (1 - b1**2), 0.5 * (1 - b1**2)        # two folds per slice
    folds[2, 2] = 0.0                                                      # and a third on one slice
    events = SweepResult({"fold_p": folds, "hopf_p": np.full((5, 3), np.nan)}, {"bh[1]": b1}, kind="grid",
                         analysis="continuation_events")
    census = SweepResult({"n_stable": np.ones((4, 5), np.int32)}, {"bh[0]": np.linspace(-1, 1, 4), "bh[1]": b1},
                         kind="grid", analysis="census")
    ax = events.plot_events(census.plot("n_stable"), xlabel="bh[0]")
    cloud = ax.collections[-1].get_offsets()                               # no Hopf point: no Hopf cloud
    assert len(cloud) == 11 and ax.get_ylabel() == "bh[1]" and ax.get_xlabel() == "bh[0]"
    np.testing.assert_allclose(sorted(np.asarray(cloud)[:, 0]), sorted(folds[np.isfinite(folds)]))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["fold (11)"]
    ax.figure.savefig(tmp_path / "overlay.png")
    with pytest.raises(ValueError, match="one grid axis"):
        census.plot_events()
    with pytest.raises(ValueError, match="fold_p"):
        SweepResult({"n_stable": np.ones(5)}, {"bh[1]": b1}, kind="grid", analysis="census").plot_events()
