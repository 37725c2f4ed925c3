import jax

jax.config.update("jax_enable_x64", True)

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import fsolve

import gru_jax
import gru_jax._demo
from conftest import ELEVEN, H_STAR, LAMBDA_NODE, ROTATION_PERIODS
from gru_jax._io import load_params, save_params
from gru_jax.cli import main

ROOT = Path(__file__).resolve().parents[1]


def write_json(path, obj):
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return str(path)


def run_json(capsys, path, *extra):
    assert main(["fixed-points", str(path), "--json", *extra]) == 0
    out = capsys.readouterr().out
    return json.loads(out)["fixed_points"]


def test_rotation_alpha0_has_nine_points(tmp_path, capsys):
    points = run_json(capsys, write_json(tmp_path / "rot.json", {"Uh": [[3.0, 0.0], [0.0, 3.0]]}))
    assert Counter(p["kind"] for p in points) == {"stable node": 4, "saddle": 4, "unstable node": 1}
    for p in points:
        assert set(p) == {"h", "kind", "eigenvalues", "residual"} and p["residual"] < 1e-12
        np.testing.assert_allclose(np.abs(p["h"]), [H_STAR if abs(v) > 0.1 else 0.0 for v in p["h"]], rtol=0,
                                   atol=1e-12)
        if p["kind"] == "stable node":
            np.testing.assert_allclose(p["eigenvalues"], [[LAMBDA_NODE, 0.0]] * 2, rtol=0, atol=1e-12)


def test_eleven_point_example(tmp_path, capsys):
    points = run_json(capsys, write_json(tmp_path / "eleven.json", ELEVEN))
    assert len(points) == 11
    assert Counter(p["kind"] for p in points) == {"stable node": 5, "saddle": 5, "unstable node": 1}
    for p in points:  # the kinds agree with the eigenvalues: all real, signs as the kind says
        ev = np.array(p["eigenvalues"])
        assert np.all(ev[:, 1] == 0.0) and p["residual"] < 1e-10
        assert int(np.sum(ev[:, 0] > 0)) == {"stable node": 0, "saddle": 1, "unstable node": 2}[p["kind"]]
    corner = next(p for p in points if np.allclose(p["h"], [1.0, 1.0]))
    assert corner["kind"] == "stable node" and np.allclose(corner["eigenvalues"], [[-0.5, 0.0]] * 2)


def test_table_output_and_npz_equals_json(tmp_path, capsys):
    json_path = write_json(tmp_path / "eleven.json", ELEVEN)
    np.savez(tmp_path / "eleven.npz", **{k: np.array(v) for k, v in ELEVEN.items()}, reset=np.array("before"))
    assert run_json(capsys, tmp_path / "eleven.npz") == run_json(capsys, json_path)
    assert main(["fixed-points", json_path]) == 0
    out = capsys.readouterr().out
    assert out.startswith("FixedPoints: 11 distinct from 4096 seeds") and out.count("saddle") == 5


def test_seeding_options(tmp_path, capsys):
    points = run_json(capsys, write_json(tmp_path / "rot.json", {"Uh": [[3.0, 0.0], [0.0, 3.0]]}),
                      "--seeding", "random", "--seed", "3")
    assert len(points) == 9


BAD_FILES = {
    "missing.json": None,
    "bad.json": '{"Uh": [[1, 0], [0, 1]',
    "shape.json": {"Uh": [[1, 0], [0, 1]], "Ur": [1, 2, 3]},
    "unknown.json": {"Uh": [[1, 0], [0, 1]], "Ux": [1, 2]},
    "nan.json": '{"Uh": [[1, 0], [0, NaN]]}',
    "ragged.json": {"Uh": [[1, 0], [0]]},
    "list.json": [1, 2],
    "reset.json": {"Uh": [[1, 0], [0, 1]], "reset": "sideways"},
    "garbage.npz": "not a zip file",
    "params.txt": {"Uh": [[1, 0], [0, 1]]},
}
PROBLEMS = {"missing.json": "no such file", "bad.json": "invalid JSON", "shape.json": "Ur", "unknown.json": "Ux",
            "nan.json": "non-finite", "ragged.json": "Uh", "list.json": "JSON object", "reset.json": "sideways",
            "garbage.npz": ".npz", "params.txt": "extension"}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_files_exit_2_with_one_line(tmp_path, capsys, name):
    path = tmp_path / name
    if BAD_FILES[name] is not None:
        write_json(path, BAD_FILES[name])
    assert main(["fixed-points", str(path), "--json"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith(f"gru-jax fixed-points: error: {path}: ") and PROBLEMS[name] in err
    with pytest.raises(ValueError, match=PROBLEMS[name].replace(".", r"\.")):
        load_params(path)


@pytest.mark.parametrize("argv, line", [
    (["fixed-points", "x.json", "--no-such-option"], "gru-jax: error: unrecognized arguments: --no-such-option"),
    (["fixed-points", "x.json", "--seeds", "0"], "gru-jax fixed-points: error: argument --seeds: must be a positive "
                                                 "integer, got '0'"),
    ([], "gru-jax: error: the following arguments are required: COMMAND"),
])
def test_usage_errors_exit_2(capsys, argv, line):
    assert main(argv) == 2
    assert capsys.readouterr() == ("", line + "\n")


def test_subprocess_bad_file():
    missing = str(ROOT / "no-such-params.json")
    bad = subprocess.run([sys.executable, "-m", "gru_jax.cli", "fixed-points", missing, "--json"], cwd=ROOT,
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.splitlines() == [f"gru-jax fixed-points: error: {missing}: no such file"]


def test_demo_writes_pngs(tmp_path, capsys, monkeypatch):
    run_demo = gru_jax._demo.run_demo
    monkeypatch.setattr(gru_jax._demo, "run_demo", lambda out: run_demo(out, alphas=(0.0, 0.3)))
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    assert "alpha = 0," in out and "alpha = 0.3," in out and "unstable focus" in out
    for name in ("rotation_alpha_0.00.png", "rotation_alpha_0.30.png"):
        path = tmp_path / "demo" / name
        assert f"wrote {path}" in out
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000


@pytest.mark.parametrize("suffix", [".json", ".npz"])
@pytest.mark.parametrize("reset", ["before", "after"])
def test_save_load_round_trip(tmp_path, suffix, reset):
    rng = np.random.default_rng(1)
    shapes = {"Uz": (3, 3), "Ur": (3, 3), "Uh": (3, 3), "bz": (3,), "br": (3,), "bh": (3,), "bhn": (3,),
              "Wz": (3, 2), "Wr": (3, 2), "Wh": (3, 2), "x": (2,)}
    params = gru_jax.GRUParams.from_dict({k: rng.normal(size=s) for k, s in shapes.items()}, reset=reset)
    loaded = load_params(save_params(tmp_path / f"p{suffix}", params))
    assert loaded.reset == reset
    for name in ("Uz", "Ur", "Uh", "bz", "br", "bh", "bhn", "Wz", "Wr", "Wh", "x"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(params, name))


def test_missing_keys_are_zero(tmp_path):
    params = load_params(write_json(tmp_path / "p.json", {"Uh": [[3, 0], [0, 3]], "reset": "after"}))
    assert params.reset == "after" and params.dim == 2 and params.input_dim == 0
    assert not np.any(params.Ur) and not np.any(params.bhn)
    with pytest.raises(ValueError, match="extension"):
        save_params(tmp_path / "p.txt", params)


# ---- gru-jax continue ---------------------------------------------------------------------------------------

CUSP = {"Uh": [[3.0, 0.6], [-0.5, 1.0]]}     # z = r = 1/2 at h = 0: cusp of the folds in (bh0, Uh00) at (0, 2.3)


def _fold_residuals(params: dict, bh0: float, h) -> tuple[float, float]:
    """max|f| and det f_h at (h, bh0) of a Uz = Ur = bz = br = 0 GRU (z = r = 1/2) in numpy:
    f = (tanh(Uh h / 2 + bh) - h) / 2."""
    uh, h = np.asarray(params["Uh"]), np.asarray(h)
    a = np.tanh(uh @ h / 2 + np.array([bh0, 0.0]))
    value = (a - h) / 2
    jac = ((1 - a**2)[:, None] * uh / 2 - np.eye(2)) / 2
    return float(np.max(np.abs(value))), float(np.linalg.det(jac))


@pytest.mark.slow
def test_continue_json_and_codim2_curves(tmp_path, capsys):
    path = write_json(tmp_path / "cusp.json", CUSP)
    assert main(["continue", path, "--param", "bh:0", "--from", "-2", "--to", "2", "--json",
                 "--plot", str(tmp_path / "d.png")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"branches", "special_points"} and len(out["branches"]) == 1
    branch = out["branches"][0]
    assert set(branch) == {"param", "h", "stable"} and len(branch["param"]) == len(branch["h"]) == len(branch["stable"])
    assert branch["param"][0] == pytest.approx(-2.0) and branch["param"][-1] == pytest.approx(2.0)
    folds = out["special_points"]
    assert [p["type"] for p in folds] == ["fold", "fold"] and all(p["located"] and p["l1"] is None for p in folds)
    assert folds[0]["param"] == pytest.approx(-folds[1]["param"], abs=1e-12)     # the field is odd in (h, bh0)
    for p in folds:
        value, det = _fold_residuals(CUSP, p["param"], p["h"])
        assert value < 1e-12 and abs(det) < 1e-10
    assert (tmp_path / "d.png").stat().st_size > 0

    assert main(["continue", path, "--param", "bh:0", "--from", "-2", "--to", "2", "--param2", "Uh:0,0",
                 "--curve", "fold", "--from2", "2", "--to2", "3.5", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["curves"]) == 1          # both folds lie on one curve, through the cusp
    curve = out["curves"][0]
    for bh0, gain, h in zip(curve["param"], curve["param2"], curve["h"]):
        value, det = _fold_residuals({"Uh": [[gain, 0.6], [-0.5, 1.0]]}, bh0, h)
        assert value < 1e-10 and abs(det) < 1e-8
    assert [p["type"] for p in out["special_points"]] == ["cusp"]
    cusp = out["special_points"][0]
    assert cusp["located"] and abs(cusp["param"]) < 1e-9 and cusp["param2"] == pytest.approx(2.3, abs=1e-9)


@pytest.mark.parametrize("extra, message", [
    (["--param", "bh"], "index"), (["--param", "bh:x"], "NAME:i"), (["--param", "bh:5"], "out of range"),
    (["--param", "bh:0", "--param2", "bh:1"], "--curve"), (["--param", "bh:0", "--curve", "hopf"], "--param2"),
])
def test_continue_bad_options_exit_2(tmp_path, capsys, extra, message):
    path = write_json(tmp_path / "cusp.json", CUSP)
    assert main(["continue", path, "--from", "-1", "--to", "1", *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.slow
def test_cycles_json_and_plot(tmp_path, capsys):
    # GRUParams.rotation(0.5): one stable cycle around the unstable focus at the origin (period: scipy, AUTO-07p)
    a = 0.5
    uh = 3.0 * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    path = write_json(tmp_path / "rot.json", {"Uh": uh.tolist()})
    image = tmp_path / "cycles.png"
    assert main(["cycles", path, "--seeds", "4", "--json", "--plot", str(image)]) == 0
    out = json.loads(capsys.readouterr().out)
    (cycle,) = out["cycles"]
    assert cycle["period"] == pytest.approx(ROTATION_PERIODS[0.5], rel=5e-11) and cycle["stable"] and cycle["status"] == "converged"
    mu = np.array(cycle["multipliers"])
    assert np.abs(mu[:, 0] + 1j * mu[:, 1] - 1).min() < 1e-8 and np.abs(mu[:, 0] + 1j * mu[:, 1]).min() < 0.01
    assert out["seeds"]["limit_cycle"] + out["seeds"]["fixed_point"] == 4 and out["seeds"]["limit_cycle"] >= 3
    assert image.stat().st_size > 1000


def test_cycles_bad_input_exits_2(tmp_path, capsys):
    path = write_json(tmp_path / "bad.json", {"Uh": [[1.0, float("nan")], [0.0, 1.0]]})
    assert main(["cycles", path]) == 2
    assert "error" in capsys.readouterr().err


@pytest.mark.slow
def test_homoclinic_json_for_the_constructed_saddle_loop(tmp_path, capsys):
    # conftest's GRU: the cycle born at the Hopf point bh0 = -0.081524641491 ends in a saddle loop at
    # bh0 = -0.0815007806 (gru_jax's split function, scipy; AUTO-07p's long-period cycles: -0.081500780574)
    from conftest import HOMOCLINIC_BH0, HOMOCLINIC_GRU

    path = write_json(tmp_path / "loop.json", HOMOCLINIC_GRU)
    assert main(["homoclinic", path, "--param", "bh:0", "--from", "-0.1", "--to", "-0.07", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    (hopf,) = out["hopf"]
    assert hopf["param"] == pytest.approx(-0.081524641491, abs=1e-10) and hopf["l1"] < 0
    assert hopf["family_end"] == "homoclinic (saddle-loop)" and out["cycle_folds"] == []
    (loop,) = out["homoclinic"]
    assert loop["kind"] == "saddle-loop" and loop["located"]
    assert loop["param"] == pytest.approx(HOMOCLINIC_BH0, abs=1e-9)
    # the saddle at the reported parameter, independently: scipy fsolve on the numpy field (Uz = Ur = bz = br = 0:
    # z = r = 1/2); the saddle quantity is the trace of its Jacobian (< 0: the cycle was stable)
    uh, bh = np.array(HOMOCLINIC_GRU["Uh"]), np.array([loop["param"], HOMOCLINIC_GRU["bh"][1]])
    f = lambda h: 0.5 * (np.tanh(uh @ (0.5 * h) + bh) - h)
    jac = lambda h: 0.5 * ((1 - np.tanh(uh @ (0.5 * h) + bh) ** 2)[:, None] * 0.5 * uh - np.eye(2))
    saddle = fsolve(f, loop["saddle"], fprime=jac, xtol=1e-14)
    np.testing.assert_allclose(loop["saddle"], saddle, rtol=0, atol=1e-12)
    assert loop["saddle_quantity"] == pytest.approx(np.trace(jac(saddle)), abs=1e-12) and loop["saddle_quantity"] < 0


# ---- bad input: one line on stderr, status 2, nothing computed, nothing written ---------------------------------

ROOT_USER = hasattr(os, "geteuid") and os.geteuid() == 0
READ_ONLY = pytest.mark.skipif(ROOT_USER, reason="root writes into read-only folders")


@pytest.fixture
def work(tmp_path):
    """A folder with parameter files, an earlier plot, a plain file, a read-only folder and an earlier sweep."""
    write_json(tmp_path / "ok.json", CUSP)
    write_json(tmp_path / "three.json", {"Uh": np.eye(3).tolist()})
    write_json(tmp_path / "nan.json", '{"Uh": [[1, 0], [0, NaN]]}')
    write_json(tmp_path / "keys.json", {"Uh": [[1, 0], [0, 1]], "Ux": [1, 2]})
    (tmp_path / "old.png").write_bytes(b"an earlier plot")
    (tmp_path / "file").write_text("a file, not a folder")
    (tmp_path / "ro").mkdir(mode=0o555)
    (tmp_path / "run" / "checkpoint").mkdir(parents=True)
    for name, data in (("checkpoint/manifest.json", b"{}"), ("checkpoint/chunk-000000.npz", b"chunk"),
                       ("result.npz", b"result")):
        (tmp_path / "run" / name).write_bytes(data)
    return tmp_path


def assert_bad_input(capsys, work, argv, message):
    """``main(argv)`` exits 2 with the one line ``gru-jax COMMAND: error: <message...>`` on stderr, prints nothing
    else and leaves every file under ``work`` as it was (``{d}`` in argv and message stands for ``work``)."""
    argv, message = [a.format(d=work) for a in argv], message.format(d=work)
    before = {p: p.is_file() and p.read_bytes() for p in work.rglob("*")}
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err and err.count("\n") == 1
    assert err.startswith(f"gru-jax {argv[0]}: error: {message}"), err
    assert {p: p.is_file() and p.read_bytes() for p in work.rglob("*")} == before


@pytest.mark.parametrize("argv, message", [
    (["{d}/missing.json"], "{d}/missing.json: no such file"),
    (["{d}/nan.json"], "{d}/nan.json: GRUParams.Uh: 1 non-finite value(s)"),
    (["{d}/keys.json"], "{d}/keys.json: unknown key(s) ['Ux']"),
    (["{d}"], "{d}: unknown extension"),
    (["{d}/ok.json", "--seeds", "-1"], "argument --seeds: must be a positive integer, got '-1'"),
    (["{d}/ok.json", "--seed", "2.5"], "argument --seed: must be an integer from 0 to 2**63-1, got '2.5'"),
    (["{d}/ok.json", "--seeding", "spiral"], "argument --seeding: invalid choice: 'spiral'"),
])
def test_fixed_points_bad_input(capsys, work, argv, message):
    assert_bad_input(capsys, work, ["fixed-points", *argv], message)


def span(lo="-1", hi="1", param="bh:0", file="ok.json"):
    """Arguments ``PARAMS --param --from --to`` of continue and homoclinic."""
    return ["{d}/" + file, "--param", param, "--from", lo, "--to", hi]


@pytest.mark.parametrize("argv, message", [
    (span("2", "-2"), "--from must be < --to (got 2.0 >= -2.0)"),
    (span("1", "1"), "--from must be < --to (got 1.0 >= 1.0)"),
    (span("nan", "1"), "argument --from: must be a finite number, got 'nan'"),
    (span("-1", "inf"), "argument --to: must be a finite number, got 'inf'"),
    ([*span(), "--param2", "Uh:0,0", "--curve", "fold", "--from2", "3", "--to2", "2"],
     "--from2 must be < --to2 (got 3.0 >= 2.0)"),
    ([*span(), "--from2", "2"], "--from2 and --to2 bound --param2"),
    ([*span(), "--plot", "{d}/no/such/d.png"], "argument --plot: {d}/no/such/d.png: no such directory {d}/no/such"),
    ([*span(), "--plot", "{d}/file/d.png"], "argument --plot: {d}/file/d.png: {d}/file is not a directory"),
    ([*span(), "--plot", "{d}/run"], "argument --plot: {d}/run: is a directory"),
    ([*span(), "--plot", "{d}/d.txt"], "argument --plot: {d}/d.txt: unknown image format '.txt'; use one of"),
    pytest.param([*span(), "--plot", "{d}/ro/d.png"], "argument --plot: {d}/ro/d.png: directory {d}/ro is not writable",
                 marks=READ_ONLY),
    ([*span(file="missing.json"), "--plot", "{d}/old.png"], "{d}/missing.json: no such file"),
    (span(param="Uh:0", file="three.json"), "Param('Uh', 0): GRUParams.Uh has shape (3, 3)"),
])
def test_continue_bad_input(capsys, work, argv, message):
    assert_bad_input(capsys, work, ["continue", *argv], message)


def grid(axis="bh:0=-1:1:3", out="{d}/run", file="ok.json"):
    """Arguments of sweep, over the earlier sweep in ``{d}/run`` by default."""
    return ["{d}/" + file, "--grid", axis, "--analysis", "census", "--out", out]


@pytest.mark.parametrize("argv, message", [
    (grid("bh:0=1:1:3"), "argument --grid: 'bh:0=1:1:3': A must be < B (got 1.0 >= 1.0)"),
    (grid("bh:0=1:-1:3"), "argument --grid: 'bh:0=1:-1:3': A must be < B (got 1.0 >= -1.0)"),
    (grid("bh:0=nan:1:3"), "argument --grid: expected NAME:i[,j]=A:B:N"),
    (grid(out="{d}/file"), "argument --out: {d}/file: exists and is not a directory"),
    (grid(out="{d}/file/run"), "argument --out: {d}/file/run: {d}/file is not a directory"),
    pytest.param(grid(out="{d}/ro/a/b"), "argument --out: {d}/ro/a/b: directory {d}/ro is not writable",
                 marks=READ_ONLY),
    ([*grid(), "--chunk", "0"], "argument --chunk: must be a positive integer, got '0'"),
    ([*grid(), "--grid", "bh:1=-1:1:3", "--grid", "Uh:0,0=1:2:3", "--plot", "n_stable"],
     "--plot: a 3-axis grid has no map"),
    (grid(file="missing.json"), "{d}/missing.json: no such file"),
])
def test_sweep_bad_input(capsys, work, argv, message):
    assert_bad_input(capsys, work, ["sweep", *argv], message)


@pytest.mark.parametrize("argv, message", [
    (["{d}/three.json", "--plot", "{d}/old.png"], "--plot: phase portraits are 2-D; this GRU has 3 units."),
    (["{d}/ok.json", "--plot", "{d}/no/c.png"], "argument --plot: {d}/no/c.png: no such directory {d}/no"),
    (["{d}/ok.json", "--plot", "{d}/c"], "argument --plot: {d}/c: unknown image format '(none)'"),
    (["{d}/ok.json", "--seeds", "0"], "argument --seeds: must be a positive integer, got '0'"),
    (["{d}/ok.json", "--seed", "-1"], "argument --seed: must be an integer from 0 to 2**63-1, got '-1'"),
    (["{d}/nan.json", "--plot", "{d}/old.png"], "{d}/nan.json: GRUParams.Uh: 1 non-finite value(s)"),
])
def test_cycles_bad_input(capsys, work, argv, message):
    assert_bad_input(capsys, work, ["cycles", *argv], message)


@pytest.mark.parametrize("argv, message", [
    (span(file="three.json"), "{d}/three.json: homoclinic needs a 2-D GRU; this one has 3 units."),
    (span("0.5", "-0.5"), "--from must be < --to (got 0.5 >= -0.5)"),
    (span("-1", "nan"), "argument --to: must be a finite number, got 'nan'"),
    ([*span(), "--period-max", "0"], "argument --period-max: must be a positive number, got '0'"),
    ([*span(), "--period-max", "inf"], "argument --period-max: must be a finite number, got 'inf'"),
    (span(param="bh:2"), "Param('bh', 2): GRUParams.bh has shape (2,): index 2"),
    (span(param="bh"), "Param('bh'): GRUParams.bh has shape (2,)"),
    (span(file="keys.json"), "{d}/keys.json: unknown key(s) ['Ux']"),
])
def test_homoclinic_bad_input(capsys, work, argv, message):
    assert_bad_input(capsys, work, ["homoclinic", *argv], message)


@pytest.mark.parametrize("argv, message", [
    (["--out", "{d}/file"], "argument --out: {d}/file: exists and is not a directory"),
    (["--out", "{d}/file/demo"], "argument --out: {d}/file/demo: {d}/file is not a directory"),
    pytest.param(["--out", "{d}/ro/demo"], "argument --out: {d}/ro/demo: directory {d}/ro is not writable",
                 marks=READ_ONLY),
])
def test_demo_bad_input(capsys, work, argv, message, monkeypatch):
    monkeypatch.setattr(gru_jax._demo, "run_demo", lambda out: pytest.fail("the demo ran"))
    assert_bad_input(capsys, work, ["demo", *argv], message)


def test_os_errors_are_one_line(tmp_path, capsys, monkeypatch):
    def refuse(out):
        raise PermissionError(13, "Permission denied", str(tmp_path / "demo" / "x.png"))

    monkeypatch.setattr(gru_jax._demo, "run_demo", refuse)
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 2
    assert capsys.readouterr() == ("", f"gru-jax demo: error: {tmp_path / 'demo' / 'x.png'}: Permission denied\n")
