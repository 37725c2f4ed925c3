"""Benchmark: cycle families against AUTO-07p, and batched homoclinic detection.

    python benchmarks/cycles.py [--json [OUT]] [--allow-dirty] [--repeats 5] [--n-values 256,1024] [--rtols ...]

Measured in one run, float64, warm timings (medians of >= 5 interleaved repeats, the order of the sides rotating
in every repeat), baselines in the same run:

(a) family: the rotation GRU (model.md section 3, ``Uh = 3 R(alpha)``, ``z = r = 1/2``) continued in alpha from
    its Hopf point at arccos(2/3) down to the SNIC, until the period passes 3000.
    * gru_jax: ``continue_cycles(..., locate_hopf(...), max_period=3000, ds_max=50)``: 10-segment shooting on
      diffrax (Tsit5; each ``--rtols`` value, atol = rtol / 100), folds of cycles / PD / NS tests, Floquet
      multipliers, the end classified.
    * AUTO-07p (bifpy, ``gru_jax/_auto07p/cycles.py``): the same field transpiled to Fortran, collocation with
      NTST = 120, NCOL = 4, from its own Hopf point, UZSTOP at period 3000; warm = rerunning the compiled
      executable (``every`` = no orbit written except labelled points).
    Ratio = gru_jax warm / AUTO warm (> 1: AUTO faster). Accuracy: the periods at alpha = 0.8, 0.5, 0.2 (ours:
    ``periodic_orbit`` at exactly alpha from the nearest row; AUTO: its user points) and the SNIC parameter
    (ours: the extrapolated end; AUTO: the T = C/sqrt|p - p*| fit; both against the fold of equilibria).
(b) homoclinic: the Bogdanov-Takens normal form ``x' = y, y' = b1 + b2 x + x^2 - x y`` at b2 = -0.5: the
    saddle-loop parameter b1* from our cycle family's end, from ``locate_homoclinic``, and from AUTO's
    long-period cycle (period 1000).
(c) detection throughput: ``detect_homoclinic`` on the same normal form with N values of b1 in one vmapped call
    (parameter values per second, four branch pairs each, brackets located; found points printed against (b)),
    against the same split functions (four pairs) jitted for one value and called in a Python loop.
"""

from __future__ import annotations

import argparse
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

C.no_compilation_cache()   # before gru_jax is imported: first calls compile from scratch

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import gru_jax as gj  # noqa: E402
from gru_jax.homoclinic._locate import refs_at  # noqa: E402
from gru_jax.homoclinic._split import SplitOptions, split_one  # noqa: E402
from gru_jax.periodic._flow import FlowOptions  # noqa: E402

ALPHA_SN = 0.14782207067907      # the fold of equilibria of the rotation family (scipy fsolve, AUTO run)
ALPHAS = (0.8, 0.5, 0.2)


def rotation(h, p):
    a = p["alpha"]
    uh = 3.0 * jnp.array([[jnp.cos(a), -jnp.sin(a)], [jnp.sin(a), jnp.cos(a)]])
    return 0.5 * (jnp.tanh(uh @ (0.5 * h)) - h)


def rotation_auto(u, par):
    c, s = math.cos(par[0]), math.sin(par[0])
    n = [math.tanh(1.5 * (c * u[0] - s * u[1])), math.tanh(1.5 * (s * u[0] + c * u[1]))]
    return [0.5 * (n[i] - u[i]) for i in range(2)]


def bt(h, p):
    return jnp.stack([h[1], p["b1"] + p["b2"] * h[0] + h[0] ** 2 - h[0] * h[1]])


def bt_auto(u, par):
    return [u[1], par[0] - 0.5 * u[0] + u[0] * u[0] - u[0] * u[1]]


def family_part(repeats: int, ds_max: float, rtols: list[float]) -> dict:
    from gru_jax._auto07p import cycles as ac

    alpha = gj.Param("alpha")
    params = {"alpha": jnp.asarray(1.0)}
    hopf = gj.locate_hopf(alpha.set(params, float(np.arccos(2 / 3)) + 1e-3), alpha, jnp.zeros(2), f=rotation)
    runs = {f"rtol={r:g}": (lambda r=r: gj.continue_cycles(
        params, alpha, hopf, f=rotation, window=(0.0, 1.2), max_period=3000.0, max_points=300,
        ds_max=ds_max, opts=FlowOptions(rtol=r, atol=r / 100))) for r in rtols}
    firsts = {name: C.time_once(run) for name, run in runs.items()}
    auto = ac.CycleRun(rotation_auto, 2, [0.0, 0.0], 1.0, par_window=(0.0, 1.2), direction=-1, period_max=3e3,
                       ntst=120, p_values=ALPHAS, every=10**6)
    try:
        times = C.time_interleaved({**runs, "auto": lambda: auto.rerun()}, repeats)
        t_auto = {a: float(ac.period_at_user_points(auto.family, [a])[0]) for a in ALPHAS}
        snic = ac.snic_fit(auto.family.p[auto.family.kind == "UZ"], auto.family.period[auto.family.kind == "UZ"]) \
            if np.sum(auto.family.kind == "UZ") >= 4 else (np.nan,)
    finally:
        auto.close()
    auto_warm = C.median([sum(t) if isinstance(t, tuple) else t for t in times["auto"]])
    out = {"ds_max": ds_max, "auto_warm_s": auto_warm, "auto_points": int(len(auto.family.p)),
           "auto_snic": float(snic[0]), "runs": []}
    print(f"(a) rotation family: AUTO-07p {out['auto_points']} points, warm {auto_warm:.3g} s")
    for (name, (first, fam)), rtol in zip(firsts.items(), rtols):
        ours = fam.trim()
        p = np.asarray(ours.p)
        rows = []
        for a in ALPHAS:
            i = int(np.argmin(np.abs(p - a)))
            orbit = gj.periodic_orbit({"alpha": jnp.asarray(a)}, ours.X[i, 0], ours.period[i], f=rotation, rtol=rtol,
                                      atol=rtol / 100)
            rows.append({"alpha": a, "gru_jax": float(orbit.period), "auto": t_auto[a],
                         "difference": float(orbit.period) - t_auto[a]})
        warm = C.median(times[name])
        run = {"rtol": rtol, "gru_jax_first_s": first, "gru_jax_warm_s": warm, "ratio": warm / auto_warm,
               "points": int(ours.count), "end": ours.end, "p_end": float(ours.family_end.p_end),
               "p_end_error": float(ours.family_end.p_end) - ALPHA_SN, "periods": rows,
               "max_period": float(np.max(np.asarray(ours.period)))}
        out["runs"].append(run)
        print(f"    gru_jax {name}: {run['points']} cycles, warm {warm:.3g} s (first call {first:.3g} s): ratio to "
              f"AUTO {run['ratio']:.3g}")
        for r in rows:
            print(f"      alpha {r['alpha']}: period {r['gru_jax']:.10f} (gru_jax) vs {r['auto']:.10f} (AUTO): "
                  f"{r['difference']:+.2e}")
        print(f"      end: {ours.end} at {run['p_end']:.9f} (fold {ALPHA_SN}: {run['p_end_error']:+.1e})")
    return out


def homoclinic_part(n_values: list[int], repeats: int) -> dict:
    from gru_jax._auto07p import cycles as ac      # AUTO-07p (bifpy) optional here: the GPU image has none

    b1, b2 = gj.Param("b1"), -0.5
    params = {"b1": jnp.asarray(0.0), "b2": jnp.asarray(b2)}
    hopf = gj.locate_hopf(params, b1, jnp.zeros(2), f=bt)
    fam = gj.continue_cycles(params, b1, hopf, f=bt, window=(-0.2, 0.1), max_period=300.0, max_points=300,
                             ds_max=10.0)
    saddle_guess = jnp.array([0.55, 0.0])
    located = gj.locate_homoclinic(b1.set(params, float(fam.family_end.p_end)), b1, saddle_guess, f=bt)
    x0 = (-b2 - math.sqrt(b2 * b2 - 4 * 0.05)) / 2                  # the stable equilibrium at b1 = 0.05
    auto = ac.auto_homoclinic_estimate(bt_auto, 2, [x0, 0.0], 0.05, par_window=(-0.5, 0.5), direction=-1,
                                       period_max=1e3, ntst=160).p_end if ac.available() else float("nan")
    out = {"family_end": float(fam.family_end.p_end), "family_end_kind": fam.end, "located": float(located.p),
           "located_status": int(located.status), "auto": auto, "normal_form": -6 / 25 * b2 ** 2}
    print(f"(b) BT b2 = {b2}: family end {out['family_end']:.12f} ({fam.end}); locate_homoclinic "
          f"{out['located']:.12f}; AUTO {out['auto']:.12f}; -6/25 b2^2 = {out['normal_form']:.4f}")

    opts = SplitOptions()
    pairs = jnp.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    fixed = jax.jit(lambda s: jax.vmap(lambda sg: split_one(bt, dict(params, b1=s), saddle_guess,
                                                            *refs_at(bt, dict(params, b1=s), saddle_guess, sg),
                                                            opts, False).value)(pairs))
    out["detection"] = []
    for n in n_values:
        values = jnp.linspace(-0.065, -0.05, n)
        detect = lambda: gj.detect_homoclinic(params, b1, values, saddle_guess, f=bt)     # all four branch pairs
        first, found = C.time_once(detect)
        k = max(1, n // 16)
        sub = values[:k]
        C.block(fixed(sub[0]))
        loop = lambda: [fixed(s).block_until_ready() for s in sub]
        times = C.time_interleaved({"batched": detect, "loop": loop}, repeats)
        batched = n / C.median(times["batched"])
        looped = k / C.median(times["loop"])
        pts = found.located()
        row = {"n_values": n, "batched_values_per_s": batched, "loop_values_per_s": looped, "ratio": batched / looped,
               "first_call_s": first, "found": [float(v) for v in np.asarray(pts.p)]}
        out["detection"].append(row)
        print(f"(c) detection over {n} values: {batched:.4g} values/s batched vs {looped:.4g}/s in a "
              f"Python loop ({k} values): {row['ratio']:.3g}x; found {row['found']}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    C.add_result_args(ap)   # --json [OUT], --allow-dirty, --repeats (>= 5)
    ap.add_argument("--quick", action="store_true", help="a smoke test: any --repeats, not for benchmarks/results/")
    ap.add_argument("--n-values", default="256,1024", help="comma-separated scan sizes for (c)")
    ap.add_argument("--parts", default="family,homoclinic")
    ap.add_argument("--ds-max", type=float, default=50.0, help="ds_max of the rotation family (a)")
    ap.add_argument("--rtols", default="1e-10,1e-8", help="comma-separated ODE tolerances of the shooting in (a)")
    args = ap.parse_args()
    C.check_repeats(ap, args)
    parts = args.parts.split(",")
    C.result_path("cycles", args)   # refuse now, not after the run, if the tree is dirty
    info = C.machine_info()
    C.print_header("cycles benchmark", info, {"parts": parts, "repeats": args.repeats})
    result = {"benchmark": "cycles", "machine": info,
              "config": {"parts": parts, "repeats": args.repeats, "ds_max": args.ds_max, "rtols": args.rtols,
                         "n_values": args.n_values}}
    if "family" in parts:
        result["family"] = family_part(args.repeats, args.ds_max, [float(r) for r in args.rtols.split(",")])
        C.write_result("cycles", result, args)
    if "homoclinic" in parts:
        result["homoclinic"] = homoclinic_part([int(n) for n in args.n_values.split(",")], args.repeats)
    C.write_result("cycles", result, args)


if __name__ == "__main__":
    main()
