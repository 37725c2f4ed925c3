"""Benchmark: continuation of equilibria of CT-GRUs in one bias, against AUTO-07p (one branch) and jaxcont (many).

    python benchmarks/continuation.py [--json [OUT]] [--allow-dirty] [--parts single,batch] [--dims 2,32]
                                      [--n-branches-d2 N] [--n-branches-d32 N] [--repeats 5] [--cold-repeats 5]
                                      [--quick] ...

Measured in one run, float64, medians of interleaved repeats (the order of the sides rotating in every repeat),
baselines in the same run:

(a) single: one branch of the 2-D GRU ``GRUParams.random(key(0), 2, scale=4, bias_scale=1)`` in ``bh[0]``
    from the stable equilibrium at ``bh[0] = -4`` up to ``+4`` (2 folds and a Hopf point in the window),
    ``ds = 0.01``, ``ds_max = 0.1``, at most 400 points, folds / branch points / Hopf points detected and
    located, stability of every point:
    * gru_jax: ``continue_equilibria(params, Param("bh", 0), h0, ...)`` (public call, input checks
      included), warm; the first call (trace + compile + run) is reported separately.
    * AUTO-07p (bifpy 0.3.0, ``gru_jax/_auto07p/equilibria.py``): the same field transpiled to Fortran with the exact
      Jacobian, compiled with gfortran; warm = running the compiled executable again (process start,
      continuation, fort.7/8/9 written), same window, same ``DS``/``DSMAX``, ``NMX = 400``, EPSL = EPSU =
      1e-10; cold = the whole ``bifpy.auto.run(..., transpile=True)`` (sympy tracing, gfortran, run).
    Ratio = AUTO warm / gru_jax warm (>1: gru_jax faster).

(b) batch: ``n`` branches of one d-dimensional GRU (``GRUParams.random(key(1), d, scale=SCALE_d,
    bias_scale=1)``) whose bias vector gets a different random offset per branch (N(0, 0.5^2), key(2)); each
    branch starts at the equilibrium reached from ``tanh(bh)`` by explicit Euler steps at ``bh[0] = -4`` and
    runs toward +4 for at most 100 points (``ds = 0.01``, ``ds_max = 0.1``, ``ds_min = 1e-5``, Newton tol
    1e-10); branches whose start does not converge are replaced by others. Against jaxcont 0.4.0 (a
    benchmark-only dependency, ``pip install -e .[bench]``), each comparison named for what it is:
    * warm, batched: gru_jax ``jax.jit(jax.vmap(continue_equilibria))`` (events -- fold, branch point, Hopf,
      located, Lyapunov coefficients -- and stability always on) against jaxcont ``jax.jit(jax.vmap(
      jaxcont.continuation(..., settings=ContinuationPar(compute_stability=True))))`` with **no events** (jaxcont
      raises NotImplementedError for events under vmap/jit: its fastest batched mode, locating nothing);
      both compiled, ``--repeats`` interleaved calls. Ratio = jaxcont time / gru_jax time for the n branches.
    * warm, one branch with events: gru_jax ``continue_equilibria`` (public call) against jaxcont
      ``continuation(prob, events=[Fold(), Hopf()])`` called eagerly (its only way to get events), the same
      branch called again after a warm-up call, ``--repeats`` interleaved calls per branch, on at least 2
      branches (more while ``--jaxcont-seconds`` lasts). jaxcont builds a new closure over the parameters for
      every call and so re-traces and recompiles its scan each time; this process runs with JAX's persistent
      compilation cache on (a fresh directory; gru_jax switches one on by default on import), so jaxcont's
      repeated call loads its programs instead of compiling them: its best warm time. Ratio = median over
      the branches of jaxcont time / gru_jax time.
    * cold (first call incl. tracing and compilation, in a fresh process without a persistent cache, inputs
      built first; ``--cold-repeats`` processes per side, the order of the sides rotating): the batched pair
      and the one-branch pair above. Ratio = jaxcont first call / gru_jax first call (medians).
    Ratios > 1: gru_jax faster.

Agreement (printed and stored): (a) every AUTO fold/Hopf parameter against gru_jax's (max abs difference,
counts); (b) fold and Hopf events of jaxcont's eager branches against gru_jax's on the same branches.
``--quick``: 8 branches, fewer repeats: a smoke test, not for benchmarks/results/.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402  (also puts the repo root on sys.path)

C.no_compilation_cache()   # before gru_jax is imported; main() sets a fresh cache for the batch part on purpose

from gru_jax._auto07p import equilibria as A  # noqa: E402

P_MIN, P_MAX = -4.0, 4.0
SINGLE = dict(d=2, seed=0, scale=4.0, ds=0.01, ds_max=0.1, max_points=400)
BATCH = dict(seed=1, offset_key=2, offset_scale=0.5, ds=0.01, ds_min=1e-5, ds_max=0.1, max_points=100, tol=1e-10)
SCALES = {2: 4.0, 32: 2.0}
CPU_SIZES = {2: 1024, 32: 16}
GPU_SIZES = {2: 1024, 32: 1024}
QUICK_SIZES = {2: 8, 32: 2}
COLD_MODES = ("gru_jax vmap", "jaxcont vmap", "gru_jax one branch", "jaxcont one branch, events")
FIELD = lambda h, q: q.vector_field(h)    # one function object: compiled once per shape


def _set_bh0(params, value):
    import equinox as eqx
    import jax.numpy as jnp
    return eqx.tree_at(lambda q: q.bh, params, params.bh.at[..., 0].set(jnp.asarray(value, params.bh.dtype)))


# ---- (a) one branch vs AUTO-07p ---------------------------------------------------------------------------

def run_single(args) -> dict:
    import jax
    import numpy as np
    import gru_jax as gj

    s = SINGLE
    params = _set_bh0(gj.GRUParams.random(jax.random.key(s["seed"]), s["d"], scale=s["scale"], bias_scale=1.0),
                      P_MIN)
    h0 = A.equilibrium(params)
    kw = dict(window=(P_MIN, P_MAX), ds=s["ds"], ds_max=s["ds_max"], max_points=s["max_points"])
    ours = lambda: gj.continue_equilibria(params, gj.Param("bh", 0), h0, f=FIELD, tol=1e-10, **kw)
    print(f"\n-- (a) one branch, d = {s['d']}: bh[0] in [{P_MIN}, {P_MAX}], ds {s['ds']}, ds_max {s['ds_max']}, "
          f"<= {s['max_points']} points --", flush=True)
    t_first, br = C.time_once(ours)
    auto = A.NativeRun(params, "bh", 0, h0, p_min=P_MIN, p_max=P_MAX, ds=s["ds"], ds_max=s["ds_max"],
                       max_points=s["max_points"], eps=1e-10)
    fns = {"gru_jax": ours, "AUTO-07p": auto.rerun}
    if not args.no_jit_wrapped:   # the same call traced inside a user's jit: no host-side input checks
        wrapped = jax.jit(lambda q, h: gj.continue_equilibria(q, gj.Param("bh", 0), h, f=FIELD, tol=1e-10, **kw))
        t_first_w, _ = C.time_once(lambda: wrapped(params, h0))
        fns["gru_jax inside jit"] = lambda: wrapped(params, h0)
    try:
        auto.rerun()
        times = C.time_interleaved(fns, args.repeats_single)
        # C.time_interleaved blocks on the outputs; auto.rerun returns its own float, harmless
        for k, ts in times.items():
            print(f"  {k:10s} {C.spread(ts)}", flush=True)
        n_auto = auto.n_points()
        special_auto = [(k, float(p)) for k, p, _ in A.special(auto.result)]
    finally:
        auto.close()
    k = int(br.special.count)
    special_ours = [(gj.SpecialKind(int(a)).label, float(b)) for a, b in
                    zip(np.asarray(br.special.kind[:k]), np.asarray(br.special.p[:k]))]
    agree = {}
    for code, kind in ((A.LP, gj.SpecialKind.FOLD), (A.HB, gj.SpecialKind.HOPF)):
        pa = sorted(p for c, p in special_auto if c == code)
        po = sorted(float(p) for a, p in zip(np.asarray(br.special.kind[:k]), np.asarray(br.special.p[:k]))
                    if a == int(kind))
        agree[code] = {"auto": pa, "gru_jax": po, "counts_equal": len(pa) == len(po),
                       "max_abs_diff": (max(min(abs(a - b) for b in po) for a in pa) if pa and po else None)}
    t_ours, t_auto = C.median(times["gru_jax"]), C.median(times["AUTO-07p"])
    case = {"d": s["d"], "config": {**s, "p_min": P_MIN, "p_max": P_MAX},
            "gru_jax": {"times_s": times["gru_jax"], "median_s": t_ours, "first_call_s": t_first,
                        "compile_estimate_s": t_first - t_ours, "points": int(br.count),
                        "status": [gj.BranchStatus(int(x)).name for x in np.asarray(br.status)],
                        "special": special_ours},
            "auto": {"times_s": times["AUTO-07p"], "median_s": t_auto, "cold_run_s": auto.cold_s,
                     "points": n_auto, "special": special_auto, "bifpy": A.bifpy_version(),
                     "what": "compiled AUTO-07p executable re-run (process start + continuation + fort.7/8/9)"},
            "ratio_auto_over_gru_jax": t_auto / t_ours,
            "ratio_first_call_auto_over_gru_jax": auto.cold_s / t_first,
            "ratios": "warm: AUTO executable re-run / gru_jax warm call; first call: AUTO sympy + gfortran + run / "
                      "gru_jax first call in this process (trace + compile + run)",
            "agreement": agree}
    if "gru_jax inside jit" in times:
        tw = C.median(times["gru_jax inside jit"])
        case["gru_jax_inside_jit"] = {"times_s": times["gru_jax inside jit"], "median_s": tw,
                                      "first_call_s": t_first_w}
        case["ratio_auto_over_gru_jax_inside_jit"] = t_auto / tw
    print(f"gru_jax: {int(br.count)} points, special {[(a, round(b, 8)) for a, b in special_ours]}; first call "
          f"{t_first:.2f} s (compile ~{t_first - t_ours:.2f} s)")
    print(f"AUTO-07p: {n_auto} points, special {[(a, round(b, 8)) for a, b in special_auto]}; cold "
          f"(sympy + gfortran + run) {auto.cold_s:.2f} s")
    for code, a in agree.items():
        print(f"  {code}: counts AUTO {len(a['auto'])} / gru_jax {len(a['gru_jax'])}, max |dp| "
              f"{a['max_abs_diff'] if a['max_abs_diff'] is None else format(a['max_abs_diff'], '.1e')}")
    return case


# ---- (b) many branches vs jaxcont -------------------------------------------------------------------------

def make_batch(d: int, n: int):
    """``n`` GRUs (one base GRU, per-branch bias offsets) with bh[0] = P_MIN and converged start points."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    import gru_jax as gj

    b = BATCH
    base = gj.GRUParams.random(jax.random.key(b["seed"]), d, scale=SCALES.get(d, 2.0), bias_scale=1.0)
    m = 2 * n + 16
    off = b["offset_scale"] * jax.random.normal(jax.random.key(b["offset_key"]), (m, 3, d))
    batch = jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (m,) + x.shape), base)
    import equinox as eqx
    batch = eqx.tree_at(lambda q: (q.bz, q.br, q.bh), batch,
                        (batch.bz + off[:, 0], batch.br + off[:, 1], batch.bh + off[:, 2]))
    batch = _set_bh0(batch, P_MIN)

    @jax.jit
    @jax.vmap
    def start(q):
        f = q.vector_field
        h = jax.lax.fori_loop(0, 2000, lambda _, h: h + 0.05 * f(h), jnp.tanh(q.bh))
        h = jax.lax.fori_loop(0, 20, lambda _, h: h - jnp.linalg.solve(jax.jacfwd(f)(h), f(h)), h)
        return h, jnp.max(jnp.abs(f(h))), jnp.max(jnp.real(jnp.linalg.eigvals(jax.jacfwd(f)(h))))
    h0, res, lam = start(batch)
    ok = np.flatnonzero((np.asarray(res) < 1e-12) & np.all(np.abs(np.asarray(h0)) < 1, axis=1))
    if len(ok) < n:
        raise RuntimeError(f"only {len(ok)} of {m} start points converged; need {n}")
    idx = ok[:n]
    take = lambda x: x[idx]
    return jax.tree_util.tree_map(take, batch), h0[idx]


def _batch_fns(d: int, n: int):
    """The problem of (b) and the four functions compared: gru_jax and jaxcont, batched and one branch."""
    import jax
    import gru_jax as gj
    import jaxcont as jc

    b = BATCH
    params, h0 = make_batch(d, n)
    C.block((params, h0))

    def one(q, h):
        return gj.continue_equilibria(q, gj.Param("bh", 0), h, f=FIELD, window=(P_MIN, P_MAX), ds=b["ds"],
                                      ds_min=b["ds_min"], ds_max=b["ds_max"], tol=b["tol"],
                                      max_points=b["max_points"])

    def jc_f(u, p, q):
        return _set_bh0(q, p).vector_field(u)
    settings = jc.ContinuationPar(ds=b["ds"], ds_min=b["ds_min"], ds_max=b["ds_max"], max_steps=b["max_points"] - 1,
                                  newton_tol=b["tol"], compute_stability=True)
    @functools.cache
    def member(i):   # branch i's inputs, built once (outside the timed calls), as a user would hold them
        q = jax.tree_util.tree_map(lambda x: x[i], params)
        return q, h0[i], jc.bif_problem(jc_f, h0[i], P_MIN, args=q)
    prob0 = member(0)[2]

    def jc_one(q, h):
        br = jc.continuation(prob0.at(u0=h, args=q), p_span=(P_MIN, P_MAX), settings=settings).branch
        return br.params, br.states, br.stable, br.valid

    ours_vmap, jc_vmap = jax.jit(jax.vmap(one)), jax.jit(jax.vmap(jc_one))
    fns = {"gru_jax vmap": lambda: ours_vmap(params, h0),
           "jaxcont vmap": lambda: jc_vmap(params, h0),
           "gru_jax one branch": lambda i=0: one(*member(i)[:2]),
           "jaxcont one branch, events": lambda i=0: jc.continuation(
               member(i)[2], p_span=(P_MIN, P_MAX), settings=settings, events=[jc.Fold(), jc.Hopf()])}
    return params, h0, fns


def cold_child(spec: str) -> None:
    """Fresh interpreter, no persistent cache: build the inputs, then time the first and second call of one mode."""
    import jax
    jax.config.update("jax_enable_x64", True)
    mode, d, n = spec.rsplit(",", 2)
    _, _, fns = _batch_fns(int(d), int(n))
    t_first, _ = C.time_once(fns[mode])
    t_second, _ = C.time_once(fns[mode])
    print("COLD_JSON " + json.dumps({"first_call_s": t_first, "second_call_s": t_second}))


def cold_runs(d: int, n: int, repeats: int) -> dict:
    """``repeats`` fresh processes per mode (``COLD_MODES``), the order of the modes rotating per repeat."""
    out = {m: [] for m in COLD_MODES}
    for r in range(repeats):
        for mode in C.rotated(list(COLD_MODES), r):
            cmd = [sys.executable, os.path.abspath(__file__), "--_cold", f"{mode},{d},{n}"]
            proc = subprocess.run(cmd, env=C.child_env(), capture_output=True, text=True)
            res = next((json.loads(line.split(" ", 1)[1]) for line in proc.stdout.splitlines()
                        if line.startswith("COLD_JSON ")), {"error": (proc.stderr or proc.stdout)[-2000:]})
            out[mode].append(res)
            print(f"  cold {r + 1}/{repeats} {mode:28s} " + (f"first call {res['first_call_s']:.2f} s, second "
                  f"{res['second_call_s']:.2f} s" if "first_call_s" in res else f"FAILED: {res['error'][-300:]}"),
                  flush=True)
    return out


def run_batch(d: int, n: int, args) -> dict:
    import numpy as np
    import gru_jax as gj

    b = BATCH
    print(f"\n-- (b) {n} branches, d = {d}: bh[0] from {P_MIN} toward {P_MAX}, <= {b['max_points']} points each, "
          f"ds {b['ds']}, ds_max {b['ds_max']} --", flush=True)
    params, h0, fns = _batch_fns(d, n)
    case = {"d": d, "n_branches": n, "config": {**b, "scale": SCALES.get(d, 2.0), "p_min": P_MIN, "p_max": P_MAX}}

    # -- warm, batched: gru_jax vmap (events) vs jaxcont vmap (no events)
    t_ours0, br = C.time_once(fns["gru_jax vmap"])
    t_jc0, jcb = C.time_once(fns["jaxcont vmap"])
    print(f"in-process first calls (trace + compile + run): gru_jax vmap {t_ours0:.2f} s, jaxcont vmap {t_jc0:.2f} s",
          flush=True)
    times = C.time_interleaved({k: fns[k] for k in ("gru_jax vmap", "jaxcont vmap")}, args.repeats)
    for k, ts in times.items():
        print(f"  {k:14s} {C.spread(ts)}", flush=True)
    t_ours, t_jcv = C.median(times["gru_jax vmap"]), C.median(times["jaxcont vmap"])
    counts = np.asarray(br.count)
    kinds = np.asarray(br.special.kind)
    status = np.asarray(br.status)[:, 1]
    jc_counts = np.asarray(jcb[3]).sum(axis=1)
    case["gru_jax"] = {"times_s": times["gru_jax vmap"], "median_s": t_ours, "branches_per_s": n / t_ours,
                       "in_process_first_call_s": t_ours0, "points_mean": float(counts.mean()),
                       "points_per_s": float(counts.sum()) / t_ours,
                       "special_counts": {gj.SpecialKind(k).label: int(np.sum(kinds == k)) for k in range(4)},
                       "end_status": {gj.BranchStatus(k).name: int(np.sum(status == k)) for k in np.unique(status)},
                       "what": "jit(vmap(continue_equilibria)), events + stability"}
    case["jaxcont_vmap"] = {"times_s": times["jaxcont vmap"], "median_s": t_jcv, "branches_per_s": n / t_jcv,
                            "in_process_first_call_s": t_jc0, "points_mean": float(jc_counts.mean()),
                            "what": "jit(vmap(jaxcont.continuation)), compute_stability=True, no events "
                                    "(unsupported under vmap)"}
    case["ratio_warm_batched_vs_jaxcont_vmap_no_events"] = t_jcv / t_ours

    # -- warm, one branch with events: both eager public calls, the same branch called again
    per, t_start, i = [], time.perf_counter(), 0
    one_ours, one_jc = fns["gru_jax one branch"], fns["jaxcont one branch, events"]
    while i < n and (i < 2 or time.perf_counter() - t_start < args.jaxcont_seconds):
        first_o, mine = C.time_once(lambda: one_ours(i))
        first_j, res = C.time_once(lambda: one_jc(i))   # fills the persistent cache with this branch's programs
        t = C.time_interleaved({"gru_jax": lambda: one_ours(i), "jaxcont": lambda: one_jc(i)}, args.repeats)
        k = int(mine.special.count)
        ours_ev = [(gj.SpecialKind(int(a)).label, float(p)) for a, p in
                   zip(np.asarray(mine.special.kind[:k]), np.asarray(mine.special.p[:k])) if a in (0, 2)]
        row = {"branch": i, "gru_jax_times_s": t["gru_jax"], "jaxcont_times_s": t["jaxcont"],
               "gru_jax_median_s": C.median(t["gru_jax"]), "jaxcont_median_s": C.median(t["jaxcont"]),
               "in_process_first_call_s": {"gru_jax": first_o, "jaxcont": first_j},
               "events": [(e.kind, float(e.p)) for e in res.events],
               "agreement": _compare_events(ours_ev, [(e.kind, float(e.p)) for e in res.events])}
        row["ratio"] = row["jaxcont_median_s"] / row["gru_jax_median_s"]
        per.append(row)
        a = row["agreement"]
        print(f"  one branch {i}: gru_jax {C.spread(t['gru_jax'])}, jaxcont with events {C.spread(t['jaxcont'])} "
              f"(first calls {first_o:.2f} / {first_j:.2f} s): {row['ratio']:.3g}x; events gru_jax {a['ours']} "
              f"jaxcont {a['jaxcont']} max |dp| {a['max_abs_diff']}", flush=True)
        i += 1
    case["one_branch"] = {"branches": per, "what": "eager public calls, events; warm = the same branch again, jaxcont "
                          "with JAX's persistent compilation cache on (it re-traces and reloads per call)"}
    case["ratio_warm_one_branch_vs_jaxcont_eager_events"] = C.median([r["ratio"] for r in per])

    # -- cold: first calls in fresh processes
    if args.cold_repeats:
        cold = cold_runs(d, n, args.cold_repeats)
        med = {m: C.median([x["first_call_s"] for x in xs if "first_call_s" in x] or [float("nan")])
               for m, xs in cold.items()}
        case["cold"] = {"samples": cold, "first_call_median_s": med,
                        "what": "first call (trace + compile + run) in a fresh process without a persistent cache, "
                                "inputs built first; second_call_s: again in that process"}
        case["ratio_cold_batched_vs_jaxcont_vmap_no_events"] = med["jaxcont vmap"] / med["gru_jax vmap"]
        case["ratio_cold_one_branch_vs_jaxcont_eager_events"] = (med["jaxcont one branch, events"]
                                                                 / med["gru_jax one branch"])
    print(f"gru_jax: {counts.mean():.1f} points per branch, special points {case['gru_jax']['special_counts']}, "
          f"end {case['gru_jax']['end_status']}; jaxcont vmap {jc_counts.mean():.1f} points per branch", flush=True)
    return case


def _compare_events(ours, theirs):
    name = {"fold": "fold", "Hopf": "hopf"}
    o = sorted((name[k], p) for k, p in ours)
    t = sorted((k, p) for k, p in theirs if k in ("fold", "hopf"))
    diffs = []
    for k, p in t:
        same = [abs(p - q) for kk, q in o if kk == k]
        if same:
            diffs.append(min(same))
    return {"ours": [(k, round(p, 8)) for k, p in o], "jaxcont": [(k, round(p, 8)) for k, p in t],
            "counts_equal": [k for k, _ in o] == [k for k, _ in t],
            "max_abs_diff": float(max(diffs)) if diffs else None}


def print_table(single: dict | None, batch: list[dict]) -> None:
    print("\n== results (medians; ratio > 1: gru_jax faster) ==")
    if single:
        g, a = single["gru_jax"], single["auto"]
        print(f"(a) one 2-D branch with events: gru_jax {g['median_s'] * 1e3:.2f} ms ({g['points']} points; first "
              f"call {g['first_call_s']:.2f} s) | AUTO-07p {a['median_s'] * 1e3:.2f} ms ({a['points']} points; "
              f"cold {a['cold_run_s']:.2f} s) | AUTO/gru_jax warm {single['ratio_auto_over_gru_jax']:.2f}x, "
              f"first call {single['ratio_first_call_auto_over_gru_jax']:.2f}x")
        if "gru_jax_inside_jit" in single:
            w = single["gru_jax_inside_jit"]
            print(f"    gru_jax traced inside a user's jit (no host-side checks): {w['median_s'] * 1e3:.2f} ms | "
                  f"AUTO/gru_jax {single['ratio_auto_over_gru_jax_inside_jit']:.2f}x")
    for c in batch:
        print(f"(b) d = {c['d']}, {c['n_branches']} branches (ratio = jaxcont time / gru_jax time):")
        g, v = c["gru_jax"], c["jaxcont_vmap"]
        print(f"    warm, batched:    gru_jax vmap with events {g['median_s']:.4g} s | jaxcont vmap, no events "
              f"{v['median_s']:.4g} s | {c['ratio_warm_batched_vs_jaxcont_vmap_no_events']:.3g}x")
        rows = c["one_branch"]["branches"]
        print(f"    warm, one branch with events ({len(rows)} branches): gru_jax "
              f"{C.median([r['gru_jax_median_s'] for r in rows]):.4g} s | jaxcont eager "
              f"{C.median([r['jaxcont_median_s'] for r in rows]):.4g} s | "
              f"{c['ratio_warm_one_branch_vs_jaxcont_eager_events']:.3g}x")
        if "cold" in c:
            m = c["cold"]["first_call_median_s"]
            print(f"    cold, batched:    gru_jax {m['gru_jax vmap']:.3g} s | jaxcont {m['jaxcont vmap']:.3g} s | "
                  f"{c['ratio_cold_batched_vs_jaxcont_vmap_no_events']:.3g}x")
            print(f"    cold, one branch: gru_jax {m['gru_jax one branch']:.3g} s | jaxcont with events "
                  f"{m['jaxcont one branch, events']:.3g} s | {c['ratio_cold_one_branch_vs_jaxcont_eager_events']:.3g}x")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    C.add_result_args(ap)   # --json [OUT], --allow-dirty, --repeats (batch part; >= 5)
    ap.add_argument("--quick", action="store_true", help="8 branches, fewer repeats: a smoke test")
    ap.add_argument("--parts", default="single,batch", help="single (vs AUTO-07p), batch (vs jaxcont)")
    ap.add_argument("--dims", help="state dimensions of the batch part (default 2,32 on an accelerator, 2 on CPU)")
    ap.add_argument("--n-branches-d2", type=int, help=f"branches for d=2 (default {CPU_SIZES[2]} on CPU, "
                    f"{GPU_SIZES[2]} on an accelerator)")
    ap.add_argument("--n-branches-d32", type=int, help=f"branches for d=32 (default {CPU_SIZES[32]} on CPU, "
                    f"{GPU_SIZES[32]} on an accelerator)")
    ap.add_argument("--repeats-single", type=int, default=21, help="timed repeats of the single branch (default 21)")
    ap.add_argument("--cold-repeats", type=int, default=5,
                    help="fresh processes per side for the cold (first call) comparison of (b) (default 5; 0 skips)")
    ap.add_argument("--no-jit-wrapped", action="store_true",
                    help="(a): skip timing the call traced inside a user's jax.jit (saves one compile)")
    ap.add_argument("--jaxcont-seconds", type=float, default=30.0,
                    help="(b) one branch with events: more branches while this many seconds last (at least 2)")
    ap.add_argument("--_cold", dest="cold", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.cold:
        cold_child(args.cold)
        return 0
    C.check_repeats(ap, args, 5, "repeats", "repeats_single")
    if not args.quick and 0 < args.cold_repeats < 5:
        ap.error("--cold-repeats: 0 (skip) or at least 5")

    parts = [p for p in args.parts.split(",") if p]
    import jax
    jax.config.update("jax_enable_x64", True)
    cache_dir = None
    if "batch" in parts:   # before the first compile: jaxcont's repeated eager calls load their programs from it
        cache_dir = tempfile.mkdtemp(prefix="continuation_bench_cache_")
        jax.config.update("jax_compilation_cache_dir", cache_dir)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    C.result_path("continuation", args)   # refuse now, not after the run, if the tree is dirty
    sizes = dict(QUICK_SIZES if args.quick else GPU_SIZES if C.is_accelerator() else CPU_SIZES)
    if args.n_branches_d2:
        sizes[2] = args.n_branches_d2
    if args.n_branches_d32:
        sizes[32] = args.n_branches_d32
    dims = [int(x) for x in (args.dims or ("2,32" if C.is_accelerator() else "2")).split(",") if x]
    info = C.machine_info()
    try:
        import jaxcont
        info["jaxcont"] = jaxcont.__version__
    except ImportError:
        info["jaxcont"] = None
    info["bifpy"] = A.bifpy_version()
    C.print_header("continuation: gru_jax vs AUTO-07p (one branch) and jaxcont (batched)", info,
                   {"parts": f"{parts}; batch sizes {', '.join(f'd={d}: {sizes.get(d, 16)}' for d in dims)}; "
                             f"repeats {args.repeats} (single {args.repeats_single}), cold {args.cold_repeats} "
                             f"fresh processes per side" + ("  [QUICK: not for the record]" if args.quick else ""),
                    "baselines": f"bifpy {info['bifpy']} (AUTO-07p), jaxcont {info['jaxcont']}"})
    payload = {"benchmark": "continuation", "machine": info,
               "config": {"parts": parts, "sizes": sizes, "dims": dims, "repeats": args.repeats,
                          "repeats_single": args.repeats_single, "cold_repeats": args.cold_repeats,
                          "jaxcont_seconds": args.jaxcont_seconds, "quick": args.quick},
               "single": None, "batch": [], "failures": []}
    if "single" in parts:
        try:
            if not A.available():
                raise RuntimeError("bifpy or gfortran missing: pip install bifpy (needs gfortran)")
            payload["single"] = run_single(args)
        except Exception as e:
            import traceback
            traceback.print_exc()
            payload["failures"].append({"part": "single", "error": f"{type(e).__name__}: {e}"})
        C.write_result("continuation", payload, args)
    if "batch" in parts:
        for d in dims:
            try:
                payload["batch"].append(run_batch(d, sizes.get(d, 16), args))
            except Exception as e:
                import traceback
                traceback.print_exc()
                payload["failures"].append({"part": f"batch d={d}", "error": f"{type(e).__name__}: {e}"})
            C.write_result("continuation", payload, args)
    if cache_dir:
        shutil.rmtree(cache_dir, ignore_errors=True)
    payload["machine"]["load_avg_1m_end"] = os.getloadavg()[0]
    C.write_result("continuation", payload, args)
    print_table(payload["single"], payload["batch"])
    return 1 if payload["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
