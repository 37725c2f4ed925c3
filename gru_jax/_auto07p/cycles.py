"""AUTO-07p (through bifpy) on limit cycles: reference families of periodic orbits from a Hopf point.

Shared by ``tests/test_auto_cycles.py`` (AUTO against closed forms and scipy ``solve_ivp``) and
``benchmarks/cycles.py``. Driven like ``equilibria.py``: a Python ``func(u, par)`` (``par[0]`` is the
continuation parameter) is traced once with sympy, printed as a Fortran ``FUNC`` with its exact Jacobian
(``AUTO_JACOBIAN``, ``JAC=1``), compiled with ``gfortran`` and run as a standalone AUTO-07p executable.
bifpy and scipy are imported inside the functions that use them: importing this module needs numpy only.

Two runs make a family:

1. ``IPS=1``: the equilibrium ``h0`` at ``p0`` is continued in ``PAR(1)`` (direction ``direction``) until
   its first Hopf point (``HB``).
2. ``IPS=2, ISW=1, IRS=<HB label>``: AUTO switches to the bifurcating cycles (orthogonal collocation,
   ``NTST`` mesh intervals of ``NCOL`` points, adaptive mesh ``IAD=3``) and continues them in
   ``ICP = [1, 11]`` (the period is ``PAR(11)``) until ``PAR(1)`` leaves ``par_window`` (``RL0``/``RL1``)
   or the period reaches ``period_max`` (``UZSTOP``). Parameter values in ``p_values`` are labelled
   ``UZ`` on the way (``UZR``). With ``NPR=1`` every point is a labelled point, so its whole mesh is
   read back from fort.8 (amplitudes), and its Floquet multipliers from fort.9 (``IID=2``; printed with
   6 digits). Folds of cycles (``LP``), period doublings (``PD``) and tori (Neimark-Sacker, ``TR``) are
   detected (``ISP=2``, ``ILP=1``).

Values are read with AUTO's 11 significant digits (fort.7/fort.8). Every AUTO directory lives in one
scratch directory ``/tmp/gj-autocyc-*`` per family (``tempfile.tempdir`` points there while bifpy runs:
not thread-safe), removed by ``close()``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import pathlib
import shutil
import subprocess
import tempfile
import time

import numpy as np

from .equilibria import gru_arrays, make_func

PERIOD = 11                         # AUTO's PAR(11)
_KIND = {"FOLD": "LP", "PERIOD_DOUBLING": "PD", "TORUS": "TR", "BRANCH_POINT": "BP",
         "USER_SPECIFIED_VALUE": "UZ", "END_POINT": "EP", "ABNORMAL_TERMINATION": "MX"}


@dataclasses.dataclass(frozen=True)
class CycleFamily:
    """A family of periodic orbits computed by AUTO-07p, from its Hopf point on (n points, dimension d).

    p, period, l2: (n,) parameter, period, AUTO's L2 norm (sqrt of the time average of |u|^2).
    amplitude: (n, d) max - min of each component over the cycle (of the collocation polynomials; NaN
        where no mesh was saved). Row 0 is the Hopf point (amplitude 0).
    multipliers: (n, d) complex Floquet multipliers (6 digits; NaN where none), stable: (n,) bool.
    kind: (n,) str, AUTO's label of each point ("" for a regular one, "LP", "PD", "TR", "BP", "UZ", "EP").
    special: ((kind, p, period), ...) for the labelled special points, in order along the family.
    hopf: (p, period) of the Hopf point (period 2 pi / omega). seconds: wall time of the two bifpy calls
        (sympy tracing, gfortran, AUTO), {"equilibria": s, "cycles": s}.
    """

    p: np.ndarray
    period: np.ndarray
    amplitude: np.ndarray
    l2: np.ndarray
    multipliers: np.ndarray
    stable: np.ndarray
    kind: np.ndarray
    special: tuple
    hopf: tuple
    seconds: dict

    def __repr__(self):
        sp = ", ".join(f"{k}(p={p:.6g}, T={t:.6g})" for k, p, t in self.special)
        return (f"CycleFamily(n={self.p.size}, d={self.amplitude.shape[1]}, hopf=(p={self.hopf[0]:.8g}, "
                f"T={self.hopf[1]:.8g}), p in [{self.p.min():.6g}, {self.p.max():.6g}], "
                f"T in [{self.period.min():.6g}, {self.period.max():.6g}], special=[{sp}])")


@contextlib.contextmanager
def _tempdir(root):
    """bifpy makes its run directories with ``tempfile.mkdtemp``: put them under ``root`` meanwhile."""
    saved = tempfile.tempdir
    tempfile.tempdir = str(root)
    try:
        yield
    finally:
        tempfile.tempdir = saved


def _settings(d, *, ips, ds, ds_max, p_min, p_max, max_points, eps, eps_s, ntst=20, ncol=4, npr=0):
    return dict(ips=ips, ndim=d, npar=PERIOD, nmx=max_points, npr=npr, ilp=1, isp=2 if ips == 2 else 1,
                mxbf=0, iads=1, itmx=20, itnw=10, nwtn=5, jac=1, ds=ds, dsmin=1e-8, dsmax=ds_max,
                rl0=p_min, rl1=p_max, a0=-1e300, a1=1e300, epsl=eps, epsu=eps, epss=eps_s, iid=2,
                ntst=ntst, ncol=ncol, iad=3)


def _stpnt(h0, p0):
    h0, p0 = [float(v) for v in h0], float(p0)

    def stpnt(u, par, t):
        for i, v in enumerate(h0):
            u[i] = v
        par[0] = p0

    return stpnt


def cycle_extent(orbit) -> np.ndarray:
    """(d,) max - min of each component of one AUTO periodic orbit, from its collocation polynomials.

    fort.8 holds each polynomial (degree NCOL) at NCOL + 1 points of its mesh interval: the polynomial is
    rebuilt exactly from them and its extrema are where its derivative vanishes (or an interval ends).
    Intervals too short for fort.8's 11 digits of time (very long periods) count by their nodes only."""
    t = np.asarray(orbit.normalized_time)
    u = np.asarray(orbit.state)                                          # (ntst * ncol + 1, d)
    m, nint = orbit.collocation_points_per_interval, orbit.mesh_interval_count
    idx = np.arange(nint)[:, None] * m + np.arange(m + 1)[None, :]       # (nint, m+1)
    tt, uu = t[idx], u[idx]                                              # (nint, m+1), (nint, m+1, d)
    hi, lo = uu.max(axis=(0, 1)), uu.min(axis=(0, 1))
    ok = np.all(np.diff(tt, axis=1) > 1e-9 * (tt[:, -1:] - tt[:, :1] + 1e-300), axis=1)
    tt, uu = tt[ok], uu[ok]
    s = (tt - tt[:, :1]) / (tt[:, -1:] - tt[:, :1])                      # nodes in [0, 1]
    V = s[:, :, None] ** np.arange(m + 1)                                # (k, m+1, m+1)
    c = np.linalg.solve(V, uu)                                           # (k, m+1, d): power coefficients
    dc = c[:, 1:, :] * np.arange(1, m + 1)[None, :, None]                # derivative, (k, m, d)
    for i in range(c.shape[0]):
        for k in range(u.shape[1]):
            roots = np.roots(dc[i, ::-1, k]) if np.any(dc[i, 1:, k]) else np.zeros(0)
            r = roots.real[(abs(roots.imag) < 1e-9) & (roots.real > 0) & (roots.real < 1)]
            if r.size:
                val = np.polyval(c[i, ::-1, k], r)
                hi[k], lo[k] = max(hi[k], val.max()), min(lo[k], val.min())
    return hi - lo


def _family(result, d, seconds, hopf) -> CycleFamily:
    rows = [pt for br in result.branches for pt in br.points]
    n = len(rows)
    p = np.array([float(pt.parameters[0]) for pt in rows])
    period = np.array([float(pt.parameters[1]) for pt in rows])
    l2 = np.array([float(pt.solution_measure) for pt in rows])
    amp = np.full((n, d), np.nan)
    mult = np.full((n, d), np.nan, complex)
    for i, pt in enumerate(rows):
        if pt.periodic_orbit is not None:
            amp[i] = cycle_extent(pt.periodic_orbit)
        if pt.floquet_multipliers is not None and len(pt.floquet_multipliers) == d:
            mult[i] = pt.floquet_multipliers
    stable = np.array([pt.stability.name == "STABLE" for pt in rows])
    kind = np.array([_KIND.get(pt.point_type.name, "") for pt in rows])
    special = tuple((k, p[i], period[i]) for i, k in enumerate(kind) if k and i > 0)
    return CycleFamily(p, period, amp, l2, mult, stable, kind, special, hopf, seconds)


class CycleRun:
    """The two AUTO-07p runs of one cycle family (see the module docstring), kept on disk so that the
    compiled executables can be run again for timings: ``rerun()`` -> (equilibria s, cycles s), AUTO-07p
    alone. ``family`` is the ``CycleFamily``. ``close()`` (or ``with``) removes every file.

    func(u, par): the field, ``par[0]`` the parameter; h0 (d,): an equilibrium at p0; par_window: (lo, hi)
    for both runs; direction: sign of the first equilibrium step (towards the Hopf point); p_values,
    periods: user points (``UZR``) in PAR(1) and PAR(11); period_max: stop there (``UZSTOP``); ntst, ncol:
    the collocation mesh; every: ``NPR`` (1: every point keeps its mesh, for amplitudes).
    """

    def __init__(self, func, n_dim, h0, p0, *, par_window, period_max=None, p_values=(), periods=(),
                 direction=1.0, ntst=80, ncol=4, ds=0.01, ds_max=0.05, max_points=2000, eps=1e-10,
                 eps_s=1e-10, every=1):
        from bifpy import auto
        h0 = np.asarray(h0, np.float64).reshape(-1)
        if h0.size != n_dim or not np.all(np.isfinite(h0)) or not math.isfinite(p0):
            raise ValueError(f"h0: expected {n_dim} finite values and a finite p0, got {h0}, {p0}")
        lo, hi = map(float, par_window)
        if not lo < p0 < hi:
            raise ValueError(f"p0 = {p0} is not inside par_window = {par_window}")
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="gj-autocyc-"))
        try:
            stpnt = _stpnt(h0, p0)
            common = dict(ds_max=ds_max, p_min=lo, p_max=hi, max_points=max_points, eps=eps, eps_s=eps_s)
            t = time.perf_counter()
            with _tempdir(self.root):
                eq = auto.run(func, stpnt, _settings(n_dim, ips=1, ds=math.copysign(ds, direction), **common),
                              icu=[1], transpile=True, jac=auto.AUTO_JACOBIAN, keep_output=True)
            t_eq = time.perf_counter() - t
            hb = [pt for br in eq.branches for pt in br.points if pt.point_type.name == "HOPF_BIFURCATION"]
            if not hb:
                raise RuntimeError(f"AUTO found no Hopf point on the equilibrium branch in {par_window}")
            hb = hb[0]
            s2 = _settings(n_dim, ips=2, ds=ds, ntst=ntst, ncol=ncol, npr=every, **common)
            uzr = {k: [float(v) for v in vals] for k, vals in ((1, p_values), (PERIOD, periods)) if len(vals)}
            kw = dict(uzr=uzr or None,
                      uzstop={PERIOD: float(period_max)} if period_max else None)
            t = time.perf_counter()
            with _tempdir(self.root):
                po = auto.restart(func, s2, hb, icu=[1, PERIOD], isw=auto.ISW_HOPF_TO_PERIODIC_ORBIT,
                                  source_ips=auto.IPS_EQUILIBRIUM, stpnt=stpnt, transpile=True,
                                  jac=auto.AUTO_JACOBIAN, keep_output=True, **kw)
            t_po = time.perf_counter() - t
            self.dirs = [pathlib.Path(eq.output_directory), pathlib.Path(po.output_directory)]
            hopf = (float(hb.parameters[0]), float(hb.all_parameters[PERIOD - 1]))
            self.family = _family(po, n_dim, {"equilibria": t_eq, "cycles": t_po}, hopf)
        except BaseException:
            self.close()
            raise

    def rerun(self) -> tuple[float, float]:
        out = []
        for dr in self.dirs:
            t = time.perf_counter()
            r = subprocess.run([str(dr / "model_exe")], cwd=str(dr), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            out.append(time.perf_counter() - t)
            if r.returncode != 0:
                raise RuntimeError(f"AUTO-07p exited with status {r.returncode} in {dr}")
        return tuple(out)

    def close(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def auto_cycle_family(func, n_dim, h0, p0, **kw) -> CycleFamily:
    """The family of cycles born at the first Hopf point of the equilibrium ``h0`` (at ``p0``) of
    ``func(u, par)``; keyword arguments as ``CycleRun``."""
    with CycleRun(func, n_dim, h0, p0, **kw) as run:
        return run.family


def auto_cycle_family_gru(params, field: str, index: int, h0, **kw) -> CycleFamily:
    """``auto_cycle_family`` for one CT-GRU (``GRUParams``, reset before) in ``params.<field>[index]``."""
    P = gru_arrays(params)
    return auto_cycle_family(make_func(P, field, index), P["Uh"].shape[0], h0, float(P[field][index]), **kw)


def auto_period_at(func, n_dim, h0, p0, p_values, **kw) -> np.ndarray:
    """(m,) the cycle periods at ``p_values`` (m,), first time the family reaches each (NaN if never).

    Each value is a user point (``UZR``) located by AUTO to ``eps_s``; the small remaining offset in p is
    corrected along the secant to the neighbouring point."""
    p_values = np.asarray(p_values, np.float64).reshape(-1)
    fam = auto_cycle_family(func, n_dim, h0, p0, p_values=p_values, **kw)
    return period_at_user_points(fam, p_values)


def period_at_user_points(fam: CycleFamily, p_values) -> np.ndarray:
    out = np.full(len(p_values), np.nan)
    uz = np.flatnonzero(fam.kind == "UZ")
    for j, pv in enumerate(p_values):
        for i in uz:
            if abs(fam.p[i] - pv) <= 1e-6 * max(1.0, abs(pv)):
                k = i - 1 if i > 0 else i + 1
                slope = (fam.period[i] - fam.period[k]) / (fam.p[i] - fam.p[k])
                out[j] = fam.period[i] + slope * (pv - fam.p[i])
                break
    return out


@dataclasses.dataclass(frozen=True)
class HomoclinicEstimate:
    """Where the period of a cycle family blows up (a homoclinic orbit or a SNIC), from AUTO.

    p_end: the parameter where the period first reaches ``period_max`` (T_end; AUTO's UZSTOP point, or
        interpolated in log T if AUTO stepped past it, as it can where p is stationary to rounding next
        to a saddle loop, with spurious LP labels and points up to huge periods). Its error is
        exp(-lambda_u T_end) for a saddle loop (lambda_u: the saddle's unstable eigenvalue; nothing at
        T = 1e3), about C^2 / T_end^2 for a SNIC (T ~ C / sqrt|p - p*|).
    p_snic: p* from a least-squares fit of T = C / sqrt|p - p*| + D + E sqrt|p - p*| to the user points at
        periods in [T_end / 20, T_end] (the SNIC law; meaningless for a saddle loop). C, D: that fit.
    family: the ``CycleFamily``.
    """

    p_end: float
    period_end: float
    p_snic: float
    C: float
    D: float
    family: CycleFamily

    def __repr__(self):
        return (f"HomoclinicEstimate(p_end={self.p_end:.12g} at T={self.period_end:.6g}, "
                f"p_snic={self.p_snic:.12g}, C={self.C:.6g}, D={self.D:.6g})")


def snic_fit(p, period) -> tuple[float, float, float]:
    """(p*, C, D) with T = C / sqrt|p - p*| + D, least squares in T over the points (k,), k >= 3, of one
    side of p* (variable projection: linear in C, D; a bounded 1-D search in p*)."""
    from scipy.optimize import minimize_scalar
    p, T = np.asarray(p, np.float64), np.asarray(period, np.float64)
    i = int(np.argmax(T))
    sgn = 1.0 if p.mean() > p[i] else -1.0                               # the family lies at sgn (p - p*) > 0
    span = abs(p.max() - p.min())

    def fit(q):
        A = np.stack([1.0 / np.sqrt(sgn * (p - q)), np.ones_like(p), np.sqrt(sgn * (p - q))], axis=1)
        cd, *_ = np.linalg.lstsq(A / T[:, None], np.ones_like(T), rcond=None)   # relative residuals
        return cd, float(np.sum((A @ cd / T - 1.0) ** 2))

    lo, hi = sorted([p[i] - sgn * span, p[i] - sgn * 1e-12 * max(1.0, abs(p[i]))])
    q = minimize_scalar(lambda q: fit(q)[1], bounds=(lo, hi), method="bounded",
                        options={"xatol": 1e-14 * max(1.0, abs(p[i]))}).x
    (C, D, _), _ = fit(q)
    return float(q), float(C), float(D)


def auto_homoclinic_estimate(func, n_dim, h0, p0, *, period_max=1e3, n_fit=12, **kw) -> HomoclinicEstimate:
    """Continue the cycles from the Hopf point until their period reaches ``period_max``; see
    ``HomoclinicEstimate`` for the two estimates and their accuracy. User points (``UZR`` on PAR(11)) at
    ``n_fit`` periods spaced geometrically in [period_max / 20, period_max) feed the SNIC fit. Keywords as
    ``CycleRun``."""
    periods = period_max * np.geomspace(1 / 20, 1, n_fit + 1)[:-1]
    fam = auto_cycle_family(func, n_dim, h0, p0, period_max=period_max, periods=periods, **kw)
    past = np.flatnonzero(fam.period >= period_max * (1 - 1e-9))
    if not past.size:
        raise RuntimeError(f"the family stopped at period {fam.period.max():.4g} < period_max = {period_max}: "
                           f"{fam!r}")
    j = int(past[0])                     # the UZSTOP point; AUTO can step past it next to a saddle loop
    if j > 0 and not math.isclose(fam.period[j], period_max, rel_tol=1e-8):
        w = math.log(period_max / fam.period[j - 1]) / math.log(fam.period[j] / fam.period[j - 1])
        p_end = fam.p[j - 1] + w * (fam.p[j] - fam.p[j - 1])
    else:
        p_end = fam.p[j]
    uz = (fam.kind == "UZ") & np.isclose(fam.period[:, None], np.append(periods, period_max), rtol=1e-6).any(1)
    p_snic, C, D = snic_fit(fam.p[uz], fam.period[uz]) if uz.sum() >= 4 else (np.nan,) * 3
    return HomoclinicEstimate(float(p_end), float(period_max), p_snic, C, D, fam)


def available() -> bool:
    from .equilibria import available as ok
    return ok()


__all__ = ["CycleFamily", "CycleRun", "auto_cycle_family", "auto_cycle_family_gru", "auto_period_at",
           "period_at_user_points", "HomoclinicEstimate", "auto_homoclinic_estimate", "snic_fit",
           "cycle_extent", "available", "PERIOD"]
