"""AUTO-07p (through bifpy) on a CT-GRU: write the problem, run it, read folds and Hopf points back.

Shared by ``tests/test_auto.py`` (agreement of special points) and ``benchmarks/continuation.py`` (timing).
bifpy and scipy are imported inside the functions that use them: importing this module needs numpy only.

bifpy 0.3.0 (PyPI, an sdist that compiles the vendored AUTO-07p Fortran engine with ``gfortran``) drives AUTO
in two ways; both are used here:

* ``transpile=True`` (default here): the Python right-hand side below is traced once with sympy, printed as
  a Fortran ``FUNC``/``STPNT`` file (float literals round-trip exactly), compiled with ``gfortran`` and linked
  against AUTO-07p into a standalone executable, with the exact analytic Jacobian (``AUTO_JACOBIAN``,
  ``JAC=1``). The GRU weights are written into the generated file as constants; only the continuation
  parameter (one bias, e.g. ``bh[0]``) is an AUTO parameter, ``PAR(1)``.
* ``transpile=False``: the same function is called from Fortran through ctypes callbacks (finite-difference
  Jacobian), in a subprocess.

Vector field (paper convention, reset before): z = sigmoid(Uz h + bz), r = sigmoid(Ur h + br),
dh/dt = (1 - z) * (tanh(Uh (r * h) + bh) - h).
"""

from __future__ import annotations

import math
import pathlib
import shutil
import subprocess
import time

import numpy as np

# AUTO-07p type codes in fort.7 for IPS = 1 (equilibria of an ODE): 1 BP, 2 LP (fold), 3 HB (Hopf)
LP, HB, BP = "LP", "HB", "BP"
_CODE = {1: BP, 2: LP, 3: HB}


def gru_arrays(params) -> dict:
    """The CT-GRU weights of one ``GRUParams`` (reset before, no input) as numpy float64 arrays."""
    if getattr(params, "reset", "before") != "before":
        raise ValueError("only the reset-before (paper) convention is written for AUTO")
    out = {k: np.asarray(getattr(params, k), np.float64) for k in ("Uz", "Ur", "Uh", "bz", "br", "bh")}
    for k in ("Wz", "Wr", "Wh", "x"):       # a constant input only shifts the biases: fold it in
        a = np.asarray(getattr(params, k, np.zeros(0)), np.float64)
        if a.size:
            raise ValueError("GRUs with an input are not written for AUTO; fold W @ x into the biases")
    return out


def make_func(P: dict, field: str, index: int):
    """``func(u, par)`` for bifpy: the GRU field with ``P[field][index]`` replaced by ``PAR(1)``.

    Written with ``math`` and plain arithmetic so that bifpy's sympy tracer (transpile) and the ctypes path
    (numbers) both run it. Constants are Python floats (exact in the generated Fortran).
    """
    d = P["Uh"].shape[0]
    W = {k: P[k].tolist() for k in ("Uz", "Ur", "Uh", "bz", "br", "bh")}

    def func(u, par):
        b = {k: list(W[k]) for k in ("bz", "br", "bh")}
        b[field][index] = par[0]
        h = [u[i] for i in range(d)]
        sig = lambda x: 1.0 / (1.0 + math.exp(-x))
        z = [sig(sum(W["Uz"][i][j] * h[j] for j in range(d)) + b["bz"][i]) for i in range(d)]
        r = [sig(sum(W["Ur"][i][j] * h[j] for j in range(d)) + b["br"][i]) for i in range(d)]
        rh = [r[j] * h[j] for j in range(d)]
        n = [math.tanh(sum(W["Uh"][i][j] * rh[j] for j in range(d)) + b["bh"][i]) for i in range(d)]
        return [(1.0 - z[i]) * (n[i] - h[i]) for i in range(d)]

    return func


def make_stpnt(h0, p0: float):
    h0 = [float(v) for v in np.asarray(h0)]
    p0 = float(p0)

    def stpnt(u, par, t):
        for i, v in enumerate(h0):
            u[i] = v
        par[0] = p0

    return stpnt


def settings(d: int, *, direction: float = 1.0, ds: float = 0.01, ds_min: float = 1e-6, ds_max: float = 0.1,
             p_min: float, p_max: float, max_points: int = 500, eps: float = 1e-10, jac: int = 1) -> dict:
    """AUTO-constants for continuing equilibria (IPS=1) in PAR(1) within [p_min, p_max] (RL0, RL1)."""
    from bifpy import auto
    return dict(ips=auto.IPS_EQUILIBRIUM, ndim=d, npar=1, nmx=max_points, npr=0, ilp=1, isp=1, mxbf=0,
                iads=1, itmx=20, itnw=10, nwtn=5, jac=jac, ds=direction * ds, dsmin=ds_min, dsmax=ds_max,
                rl0=p_min, rl1=p_max, a0=-1e300, a1=1e300, epsl=eps, epsu=eps, epss=eps * 1e2, iid=0)


def run_auto(params, field: str, index: int, h0, *, transpile: bool = True, keep_output: bool = False, **kw):
    """One AUTO-07p run from the equilibrium ``h0`` at the current value of ``params.<field>[index]``.

    ``kw``: see ``settings``. Returns the bifpy ``ContinuationResult``.
    """
    from bifpy import auto
    P = gru_arrays(params)
    d = P["Uh"].shape[0]
    s = settings(d, jac=1 if transpile else 0, **kw)
    extra = dict(jac=auto.AUTO_JACOBIAN) if transpile else {}
    return auto.run(make_func(P, field, index), make_stpnt(h0, P[field][index]), s, icu=[1],
                    transpile=transpile, keep_output=keep_output, **extra)


def points(result):
    """All computed points of every branch of a result, in order: (p (n,), h (n, d), type labels (n,))."""
    p, h, kinds = [], [], []
    for branch in result.branches:
        for pt in branch.points:
            p.append(float(pt.parameters[0]))
            h.append([float(v) for v in pt.state])
            kinds.append(_CODE.get(abs(int(pt.point_type_code)), ""))
    return np.asarray(p), np.asarray(h), kinds


def special(result) -> list[tuple[str, float, np.ndarray]]:
    """Folds (``"LP"``), Hopf points (``"HB"``) and branch points (``"BP"``) in order along the branch:
    (type, parameter, state). Values as AUTO wrote them (11 significant digits)."""
    p, h, kinds = points(result)
    return [(k, p[i], h[i]) for i, k in enumerate(kinds) if k]


class NativeRun:
    """A transpiled AUTO-07p problem kept on disk, so that the compiled executable can be run again.

    ``NativeRun(params, field, index, h0, **settings_kw)`` runs ``auto.run(..., transpile=True,
    keep_output=True)`` once (sympy tracing + gfortran + the run; ``self.cold_s``), then ``rerun()`` executes
    the same compiled ``model_exe`` in its directory (AUTO-07p alone, fort.7/8/9 written, as a user running a
    compiled AUTO problem would) and returns its wall time. ``close()`` removes the directory.
    """

    def __init__(self, params, field, index, h0, **kw):
        t = time.perf_counter()
        self.result = run_auto(params, field, index, h0, transpile=True, keep_output=True, **kw)
        self.cold_s = time.perf_counter() - t
        self.dir = pathlib.Path(self.result.output_directory)
        self.exe = self.dir / "model_exe"
        if not self.exe.exists():
            raise RuntimeError(f"bifpy did not leave a compiled executable in {self.dir}")

    def rerun(self) -> float:
        t = time.perf_counter()
        out = subprocess.run([str(self.exe)], cwd=str(self.dir), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        dt = time.perf_counter() - t
        if out.returncode != 0:
            raise RuntimeError(f"AUTO-07p exited with status {out.returncode} in {self.dir}")
        return dt

    def n_points(self) -> int:
        return len(points(self.result)[0])

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def equilibrium(params, guess=None, tol: float = 1e-13) -> np.ndarray:
    """An equilibrium of one CT-GRU by ``scipy.optimize.root`` (hybr) on the same Python field AUTO gets, from
    ``guess`` (default: where 400 explicit Euler steps of 0.1 from ``tanh(bh)`` end, i.e. a stable one); a
    start point for both codes that needs no JAX compile."""
    from scipy.optimize import root
    P = gru_arrays(params)
    func = make_func(P, "bh", 0)
    f = lambda h: np.asarray(func(h, [P["bh"][0]]))
    if guess is None:
        x0 = np.tanh(P["bh"])
        for _ in range(400):
            x0 = x0 + 0.1 * f(x0)
    else:
        x0 = np.asarray(guess, np.float64)
    sol = root(f, x0, method="hybr", options={"xtol": 1e-14})
    if not np.max(np.abs(f(sol.x))) < tol:
        raise RuntimeError(f"no equilibrium found from {x0}: max|f| = {np.max(np.abs(f(sol.x))):.2e}")
    return sol.x


def available() -> bool:
    try:
        import bifpy.auto  # noqa: F401
    except Exception:
        return False
    return shutil.which("gfortran") is not None


def bifpy_version() -> str | None:
    try:
        from importlib.metadata import version
        return version("bifpy")
    except Exception:
        return None


__all__ = ["gru_arrays", "make_func", "make_stpnt", "settings", "run_auto", "points", "special", "NativeRun",
           "equilibrium", "available", "bifpy_version", "LP", "HB", "BP"]
