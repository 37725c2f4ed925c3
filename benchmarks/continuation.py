"""Benchmark: continuation of equilibria of CT-GRUs in one bias, against AUTO-07p (one branch) and jaxcont (many).

    python benchmarks/continuation.py [--json OUT] [--parts single,batch] [--dims 2,32]
                                      [--n-branches-d2 N] [--n-branches-d32 N] [--repeats 5] ...

Measured in one run, float64, warm timings (medians of interleaved repeats), baselines in the same run:

(a) single: one branch of the 2-D GRU ``GRUParams.random(key(0), 2, scale=4, bias_scale=1)`` in ``bh[0]``
    from the stable equilibrium at ``bh[0] = -4`` up to ``+4`` (2 folds and a Hopf point in the window),
    ``ds = 0.01``, ``ds_max = 0.1``, at most 400 points, folds / branch points / Hopf points detected and
    located, stability of every point:
    * gru_jax: ``continue_equilibria(params, Param("bh", 0), h0, ...)`` (public call, input checks
      included), warm; the first call (trace + compile + run) is reported separately.
    * AUTO-07p (bifpy 0.3.0, ``benchmarks/_auto.py``): the same field transpiled to Fortran with the exact
      Jacobian, compiled with gfortran; warm = running the compiled executable again (process start,
      continuation, fort.7/8/9 written), same window, same ``DS``/``DSMAX``, ``NMX = 400``, EPSL = EPSU =
      1e-10; cold = the whole ``bifpy.auto.run(..., transpile=True)`` (sympy tracing, gfortran, run).
    Ratio = AUTO warm / gru_jax warm (>1: gru_jax faster).

(b) batch: ``n`` branches of one d-dimensional GRU (``GRUParams.random(key(1), d, scale=SCALE_d,
    bias_scale=1)``) whose bias vector gets a different random offset per branch (N(0, 0.5^2), key(2)); each
    branch starts at the equilibrium reached from ``tanh(bh)`` by explicit Euler steps at ``bh[0] = -4`` and
    runs toward +4 for at most 100 points (``ds = 0.01``, ``ds_max = 0.1``, ``ds_min = 1e-5``, Newton tol
    1e-10); branches whose start does not converge are replaced by others.
    * gru_jax: ``jax.jit(jax.vmap(continue_equilibria))`` over the params and start points: events (fold,
      branch point, Hopf: detected and located, Lyapunov coefficients) and stability always on.
    * jaxcont 0.4.0 (a benchmark-only dependency, ``pip install -e .[bench]``), the same branches:
      - "jaxcont vmap, stability, no events": ``jax.jit(jax.vmap(jaxcont.continuation(..., settings=
        ContinuationPar(compute_stability=True))))``: jaxcont raises NotImplementedError for events under
        vmap/jit, so this is its fastest batched mode and it locates nothing;
      - "jaxcont loop, events": ``jaxcont.continuation(prob, events=[Fold(), Hopf()])`` called eagerly per
        branch (its only way to get events), for ``--jaxcont-seconds`` (at least 2 branches); branches/s
        extrapolated from the median per-branch time.
    branches/s = n / median time; ratio = gru_jax branches/s / baseline branches/s.

Agreement (printed and stored): (a) every AUTO fold/Hopf parameter against gru_jax's (max abs difference,
counts); (b) fold and Hopf events of jaxcont's eager branches against gru_jax's on the same branches.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402  (also puts the repo root on sys.path)
import _auto as A  # noqa: E402

P_MIN, P_MAX = -4.0, 4.0
SINGLE = dict(d=2, seed=0, scale=4.0, ds=0.01, ds_max=0.1, max_points=400)
BATCH = dict(seed=1, offset_key=2, offset_scale=0.5, ds=0.01, ds_min=1e-5, ds_max=0.1, max_points=100, tol=1e-10)
SCALES = {2: 4.0, 32: 2.0}
CPU_SIZES = {2: 1024, 32: 16}
GPU_SIZES = {2: 1024, 32: 1024}
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
    kw = dict(p_min=P_MIN, p_max=P_MAX, ds=s["ds"], ds_max=s["ds_max"], max_points=s["max_points"])
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
            "ratio_auto_over_gru_jax": t_auto / t_ours, "agreement": agree}
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


def run_batch(d: int, n: int, args) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np
    import gru_jax as gj
    import jaxcont as jc

    b = BATCH
    print(f"\n-- (b) {n} branches, d = {d}: bh[0] from {P_MIN} toward {P_MAX}, <= {b['max_points']} points each, "
          f"ds {b['ds']}, ds_max {b['ds_max']} --", flush=True)
    params, h0 = make_batch(d, n)
    C.block((params, h0))

    def one(q, h):
        return gj.continue_equilibria(q, gj.Param("bh", 0), h, f=FIELD, p_min=P_MIN, p_max=P_MAX, ds=b["ds"],
                                      ds_min=b["ds_min"], ds_max=b["ds_max"], tol=b["tol"],
                                      max_points=b["max_points"])
    ours_fn = jax.jit(jax.vmap(one))

    def jc_f(u, p, q):
        return _set_bh0(q, p).vector_field(u)
    settings = jc.ContinuationPar(ds=b["ds"], ds_min=b["ds_min"], ds_max=b["ds_max"], max_steps=b["max_points"] - 1,
                                  newton_tol=b["tol"], compute_stability=True)
    prob0 = jc.bif_problem(jc_f, h0[0], P_MIN, args=jax.tree_util.tree_map(lambda x: x[0], params))

    def jc_one(q, h):
        br = jc.continuation(prob0.at(u0=h, args=q), p_span=(P_MIN, P_MAX), settings=settings).branch
        return br.params, br.states, br.stable, br.valid
    jc_fn = jax.jit(jax.vmap(jc_one))

    t_ours0, br = C.time_once(lambda: ours_fn(params, h0))
    t_jc0, jcb = C.time_once(lambda: jc_fn(params, h0))
    print(f"first calls (trace + compile + run): gru_jax {t_ours0:.2f} s, jaxcont vmap {t_jc0:.2f} s", flush=True)
    times = C.time_interleaved({"gru_jax": lambda: ours_fn(params, h0), "jaxcont vmap": lambda: jc_fn(params, h0)},
                               args.repeats)
    for k, ts in times.items():
        print(f"  {k:14s} {C.spread(ts)}", flush=True)
    t_ours, t_jcv = C.median(times["gru_jax"]), C.median(times["jaxcont vmap"])
    counts = np.asarray(br.count)
    kinds = np.asarray(br.special.kind)
    status = np.asarray(br.status)[:, 1]
    jc_counts = np.asarray(jcb[3]).sum(axis=1)
    case = {"d": d, "n_branches": n, "config": {**b, "scale": SCALES.get(d, 2.0), "p_min": P_MIN, "p_max": P_MAX},
            "gru_jax": {"times_s": times["gru_jax"], "median_s": t_ours, "branches_per_s": n / t_ours,
                        "first_call_s": t_ours0, "points_mean": float(counts.mean()),
                        "points_per_s": float(counts.sum()) / t_ours,
                        "special_counts": {gj.SpecialKind(k).label: int(np.sum(kinds == k)) for k in range(4)},
                        "end_status": {gj.BranchStatus(k).name: int(np.sum(status == k))
                                       for k in np.unique(status)}},
            "jaxcont_vmap": {"times_s": times["jaxcont vmap"], "median_s": t_jcv, "branches_per_s": n / t_jcv,
                             "first_call_s": t_jc0, "points_mean": float(jc_counts.mean()),
                             "what": "vmap, compute_stability=True, no events (unsupported under vmap)"},
            "ratio_vs_jaxcont_vmap_no_events": (n / t_ours) / (n / t_jcv)}

    # jaxcont with events: eager, one branch per call
    per, hits, agree = [], [], []
    t_start = time.perf_counter()
    i = 0
    while i < n and (i < 2 or time.perf_counter() - t_start < args.jaxcont_seconds):
        q = jax.tree_util.tree_map(lambda x: x[i], params)
        prob = jc.bif_problem(jc_f, h0[i], P_MIN, args=q)
        t, res = C.time_once(lambda: jc.continuation(prob, p_span=(P_MIN, P_MAX), settings=settings,
                                                     events=[jc.Fold(), jc.Hopf()]))
        per.append(t)
        ev = [(e.kind, float(e.p)) for e in res.events]
        hits.append(ev)
        k = int(br.special.count[i])
        ours_ev = [(gj.SpecialKind(int(a)).label, float(p)) for a, p in
                   zip(np.asarray(br.special.kind[i, :k]), np.asarray(br.special.p[i, :k])) if a in (0, 2)]
        agree.append(_compare_events(ours_ev, ev))
        i += 1
    t_jce = C.median(per)
    case["jaxcont_events"] = {"per_branch_s": per, "median_s_per_branch": t_jce, "branches_per_s": 1.0 / t_jce,
                              "branches_run": len(per), "events": hits, "agreement": agree,
                              "what": "eager jaxcont.continuation(events=[Fold(), Hopf()]) per branch"}
    case["ratio_vs_jaxcont_events"] = (n / t_ours) * t_jce
    print(f"jaxcont with events (eager, per branch): {len(per)} branches, median {t_jce:.2f} s "
          f"[{min(per):.2f}-{max(per):.2f}]", flush=True)
    for j, a in enumerate(agree):
        print(f"  branch {j}: gru_jax {a['ours']}  jaxcont {a['jaxcont']}  max |dp| {a['max_abs_diff']}")
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
              f"cold {a['cold_run_s']:.2f} s) | AUTO/gru_jax {single['ratio_auto_over_gru_jax']:.2f}x")
        if "gru_jax_inside_jit" in single:
            w = single["gru_jax_inside_jit"]
            print(f"    gru_jax traced inside a user's jit (no host-side checks): {w['median_s'] * 1e3:.2f} ms | "
                  f"AUTO/gru_jax {single['ratio_auto_over_gru_jax_inside_jit']:.2f}x")
    if batch:
        print(f"{'d':>3} {'branches':>8}  {'method':<40} {'median s':>9} {'branches/s':>11} {'gru_jax ratio':>13}")
    for c in batch:
        g, v, e = c["gru_jax"], c["jaxcont_vmap"], c["jaxcont_events"]
        print(f"{c['d']:>3} {c['n_branches']:>8}  {'gru_jax vmap (events + stability)':<40} {g['median_s']:>9.4g} "
              f"{g['branches_per_s']:>11.4g} {'-':>13}")
        print(f"{'':>3} {'':>8}  {'jaxcont vmap (stability, no events)':<40} {v['median_s']:>9.4g} "
              f"{v['branches_per_s']:>11.4g} {c['ratio_vs_jaxcont_vmap_no_events']:>12.3g}x")
        label = f"jaxcont loop with events ({e['branches_run']} run)"
        print(f"{'':>3} {'':>8}  {label:<40} "
              f"{c['n_branches'] * e['median_s_per_branch']:>9.4g} {e['branches_per_s']:>11.4g} "
              f"{c['ratio_vs_jaxcont_events']:>12.3g}x")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", metavar="OUT", help="write every number to this JSON file")
    ap.add_argument("--parts", default="single,batch", help="single (vs AUTO-07p), batch (vs jaxcont)")
    ap.add_argument("--dims", help="state dimensions of the batch part (default 2,32 on an accelerator, 2 on CPU: "
                                   "the batched d=32 gru_jax program did not finish on CPU, see README)")
    ap.add_argument("--n-branches-d2", type=int, help=f"branches for d=2 (default {CPU_SIZES[2]} on CPU, "
                    f"{GPU_SIZES[2]} on an accelerator)")
    ap.add_argument("--n-branches-d32", type=int, help=f"branches for d=32 (default {CPU_SIZES[32]} on CPU, "
                    f"{GPU_SIZES[32]} on an accelerator)")
    ap.add_argument("--repeats", type=int, default=5, help="timed repeats of the batch part (default 5)")
    ap.add_argument("--repeats-single", type=int, default=21, help="timed repeats of the single branch (default 21)")
    ap.add_argument("--no-jit-wrapped", action="store_true",
                    help="(a): skip timing the call traced inside a user's jax.jit (saves one compile)")
    ap.add_argument("--jaxcont-seconds", type=float, default=30.0,
                    help="time budget of the eager jaxcont-with-events loop per d (at least 2 branches; default 30)")
    args = ap.parse_args(argv)

    import jax
    jax.config.update("jax_enable_x64", True)
    sizes = dict(GPU_SIZES if C.is_accelerator() else CPU_SIZES)
    if args.n_branches_d2:
        sizes[2] = args.n_branches_d2
    if args.n_branches_d32:
        sizes[32] = args.n_branches_d32
    parts = [p for p in args.parts.split(",") if p]
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
                             f"repeats {args.repeats} (single {args.repeats_single})",
                    "baselines": f"bifpy {info['bifpy']} (AUTO-07p), jaxcont {info['jaxcont']}"})
    payload = {"benchmark": "continuation", "machine": info, "config": {"parts": parts, "sizes": sizes},
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
        C.write_json(args.json, payload)
    if "batch" in parts:
        for d in dims:
            try:
                payload["batch"].append(run_batch(d, sizes.get(d, 16), args))
            except Exception as e:
                import traceback
                traceback.print_exc()
                payload["failures"].append({"part": f"batch d={d}", "error": f"{type(e).__name__}: {e}"})
            C.write_json(args.json, payload)
    payload["machine"]["load_avg_1m_end"] = os.getloadavg()[0]
    C.write_json(args.json, payload)
    print_table(payload["single"], payload["batch"])
    return 1 if payload["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
