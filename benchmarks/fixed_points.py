"""Benchmark: many-seed fixed points of batched CT-GRUs (solve + dedupe + classify) against two baselines.

    python benchmarks/fixed_points.py [--quick] [--json [OUT]] [--allow-dirty] [--dims 2,32] [--d2-params N]
                                      [--d32-params N] [--seeds 64] [--runs 3] [--repeats 5] [--scipy-seconds 8]
                                      [--profile] ...

Measured in one run, on the same random GRUs (``GRUParams.random(key(0), d, batch=(n,), scale=3, bias_scale=0.5)``,
reset-before) and the same seeds (``make_seeds`` in the state box ``[-1, 1]^d``, ``key(1)``), float64:

* gru_jax: ``find_fixed_points(params, seeds=seeds)`` end to end (input validation, damped Newton with early
  exit, dedupe, Jacobians, eigenvalues, classification), timed warm; "classified seeds/s" =
  n_params * n_seeds / median time. The first call (compile + run) is timed in a fresh subprocess, at the
  benchmark's size and with one parameter set (where the run is negligible: ~ trace + compile).
* baseline A, naive JAX: 30 fixed iterations of ``h -= jnp.linalg.solve(jax.jacfwd(f)(h), f(h))``,
  ``vmap``-ped over seeds and parameter sets and chunked over the parameter sets exactly as ``find_fixed_points``
  chunks its batch (``jax.lax.map`` over chunks of ``default_batch_size()`` sets: 16 on a CPU, all at once on
  an accelerator), jitted; solves/s, no dedupe, no classification.
* baseline B, scipy: ``scipy.optimize.root(f, x0, jac=J, method="hybr", options={"xtol": 1e-10})`` in a
  Python loop with numpy implementations of the GRU field and its analytic Jacobian, over as many parameter
  sets as fit in ``--scipy-seconds`` (split into >= 5 chunks; median chunk rate), extrapolated per seed.

Ratios are per seed: (gru_jax classified seeds/s) / (baseline solves/s). Timing: ``--runs`` (>= 3) whole
runs, each in a fresh process (problem built, both sides compiled and warmed up, then ``--repeats`` (>= 5)
interleaved calls, the order of the sides alternating in every repeat: ours naive, naive ours, ...); a run's
ratio is the ratio of its medians, and the ratio reported is the median of the runs' ratios.

Correctness check (printed): every point the naive baseline converged to (``max|f| < 1e-10``) that is a
genuine fixed point (inside the box, ``max|n(h) - h| < 1e-8``) is among ours within 1e-6, for the first
``--check-params`` parameter sets; likewise for the scipy roots.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402  (also puts the repo root on sys.path)

C.no_compilation_cache()   # before gru_jax is imported: first calls compile from scratch

SCALE, BIAS_SCALE, PARAM_KEY, SEED_KEY = 3.0, 0.5, 0, 1   # SCALE/BIAS_SCALE: --scale/--bias-scale
RES_TOL, MATCH_TOL, GENUINE_TOL = 1e-10, 1e-6, 1e-8

CPU_SIZES = {2: 10_000, 32: 64}
GPU_SIZES = {2: 262_144, 32: 1_024}
QUICK_SIZES = {2: 1_000, 32: 16}


# ---- problem setup (shared by the main process and the first-call subprocess) ------------------------------

def make_problem(d: int, n_params: int, n_seeds: int, scale: float = SCALE, bias_scale: float = BIAS_SCALE):
    import jax
    import numpy as np
    import gru_jax as gj

    params = gj.GRUParams.random(jax.random.key(PARAM_KEY), d, batch=(n_params,), scale=scale,
                                 bias_scale=bias_scale)
    seeds = gj.make_seeds(-np.ones(d), np.ones(d), n_seeds, key=jax.random.key(SEED_KEY))
    return C.block(params), C.block(seeds)


def first_call_child(d: int, n_params: int, n_seeds: int, scale: float, bias_scale: float) -> None:
    """Runs in a fresh interpreter: time the import and the first find_fixed_points call (compile + run)."""
    t0 = time.perf_counter()
    import jax
    jax.config.update("jax_enable_x64", True)
    import gru_jax as gj
    t_import = time.perf_counter() - t0
    params, seeds = make_problem(d, n_params, n_seeds, scale, bias_scale)
    t_first, _ = C.time_once(lambda: gj.find_fixed_points(params, seeds=seeds))
    t_second, _ = C.time_once(lambda: gj.find_fixed_points(params, seeds=seeds))
    print("FIRST_CALL_JSON " + json.dumps({"import_s": t_import, "first_call_s": t_first, "second_call_s": t_second,
                                           "compile_estimate_s": t_first - t_second}))


def first_call(d: int, n_params: int, n_seeds: int, scale: float, bias_scale: float) -> dict:
    """The first call in a fresh process without a persistent compilation cache (``C.child_env``)."""
    cmd = [sys.executable, os.path.abspath(__file__), "--_first-call", f"{d},{n_params},{n_seeds},{scale!r},{bias_scale!r}"]
    return _child(cmd, "FIRST_CALL_JSON ")


def _child(cmd: list[str], tag: str) -> dict:
    proc = subprocess.run(cmd, env=C.child_env(), capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith(tag):
            return json.loads(line.split(" ", 1)[1])
    return {"error": (proc.stderr or proc.stdout)[-2000:]}


def timing_run_child(spec: dict) -> None:
    """One whole timing run in a fresh interpreter: build the problem, compile and warm up both sides, then
    ``repeats`` interleaved calls with the order alternating (``C.time_interleaved``)."""
    import jax
    jax.config.update("jax_enable_x64", True)
    import gru_jax as gj
    params, seeds = make_problem(spec["d"], spec["n_params"], spec["n_seeds"], spec["scale"], spec["bias_scale"])
    naive = naive_solver()
    fns = {"gru_jax": lambda: gj.find_fixed_points(params, seeds=seeds), "naive": lambda: naive(params, seeds)}
    if spec["jit_wrapped"]:   # the same call traced inside a user's jit: no host-side input validation
        wrapped = jax.jit(lambda p, s: gj.find_fixed_points(p, seeds=s, box=unit_box(p.dim)))
        fns["gru_jax (inside jit)"] = lambda: wrapped(params, seeds)
    first = {k: C.time_once(fn)[0] for k, fn in fns.items()}   # compile + run (this process's first calls)
    times = C.time_interleaved(fns, spec["repeats"])
    print("TIMING_JSON " + json.dumps({"times_s": times, "first_call_s": first}))


def timing_runs(d: int, n_params: int, n_seeds: int, args) -> list[dict]:
    """``args.runs`` whole timing runs, one fresh process each; every run's ratio naive/ours of its medians."""
    spec = json.dumps({"d": d, "n_params": n_params, "n_seeds": n_seeds, "scale": args.scale,
                       "bias_scale": args.bias_scale, "repeats": args.repeats, "jit_wrapped": args.jit_wrapped})
    runs = []
    for k in range(args.runs):
        run = _child([sys.executable, os.path.abspath(__file__), "--_timing-run", spec], "TIMING_JSON ")
        if "times_s" in run:
            t = run["times_s"]
            run["ratio_vs_naive"] = C.median(t["naive"]) / C.median(t["gru_jax"])
            print(f"  run {k + 1}/{args.runs}: " + "; ".join(f"{name} {C.spread(ts)}" for name, ts in t.items())
                  + f"; ratio {run['ratio_vs_naive']:.3g}x", flush=True)
        else:
            print(f"  run {k + 1}/{args.runs} FAILED: {run.get('error')}", flush=True)
        runs.append(run)
    return runs


def find_fixed_points_defaults() -> str:
    """The numeric defaults of ``find_fixed_points`` as measured (read from its signature)."""
    import inspect
    import gru_jax as gj
    return ", ".join(f"{k} {p.default}" for k, p in inspect.signature(gj.find_fixed_points).parameters.items()
                     if isinstance(p.default, (int, float)) and not isinstance(p.default, bool)
                     or k == "batch_size") + f" (batch_size None: {default_batch_size()} on this backend)"


def unit_box(d: int):
    """The GRU state box as numpy arrays: under ``jit`` ``find_fixed_points`` cannot derive it from traced
    params (``resolve_box`` calls ``np.asarray`` on ``state_box()``), so the jit-wrapped variants pass it."""
    import numpy as np
    return -np.ones(d), np.ones(d)


# ---- baselines ----------------------------------------------------------------------------------------------

def default_batch_size() -> int | None:
    """Parameter sets per chunk of ``find_fixed_points`` (its default: 16 on a CPU, all on an accelerator)."""
    try:
        from gru_jax._fixed_points import default_batch_size as ours
        return ours()
    except ImportError:   # the internal helper moved: the documented default
        import jax
        return 16 if jax.default_backend() == "cpu" else None


def chunk_map(fn, batch_size: int | None = None):
    """``fn`` (vmapped over a batch) applied as ``find_fixed_points`` applies its solver: ``jax.lax.map`` over
    sequential chunks of ``batch_size`` members (default ``default_batch_size()``; None: one chunk) along the
    leading axis of every argument, the ragged end padded with copies of the first member and cut off again."""
    import jax
    import jax.numpy as jnp
    size = batch_size or default_batch_size()

    def run(*args):
        n = jax.tree_util.tree_leaves(args)[0].shape[0]
        b = min(n, size or n)
        k = -(-n // b)
        pad = lambda a: jnp.concatenate([a, jnp.repeat(a[:1], k * b - n, axis=0)]).reshape((k, b) + a.shape[1:])
        out = jax.lax.map(lambda chunk: fn(*chunk), jax.tree_util.tree_map(pad, args))
        return jax.tree_util.tree_map(lambda a: a.reshape((k * b,) + a.shape[2:])[:n], out)
    return run


def naive_solver(batch_size: int | None = None):
    """Baseline A as a user would write it: ``vmap(vmap(newton30))`` over parameter sets (batched) and seeds
    (shared), chunked over the parameter sets like ``find_fixed_points`` (``chunk_map``), jitted."""
    import jax
    import jax.numpy as jnp

    def newton30(params, h0):
        f = params.vector_field
        step = lambda _, h: h - jnp.linalg.solve(jax.jacfwd(f)(h), f(h))
        return jax.lax.fori_loop(0, 30, step, h0)

    per_chunk = jax.vmap(jax.vmap(newton30, in_axes=(None, 0)), in_axes=(0, None))
    return jax.jit(lambda params, seeds: chunk_map(lambda p: per_chunk(p, seeds), batch_size)(params))


def numpy_field(P: dict):
    """numpy CT-GRU field ``f`` and its analytic Jacobian for one parameter set (dict of numpy arrays)."""
    import numpy as np
    from scipy.special import expit

    cz, cr, ch = P["Wz"] @ P["x"] + P["bz"], P["Wr"] @ P["x"] + P["br"], P["Wh"] @ P["x"] + P["bh"]
    Uz, Ur, Uh, bhn, before = P["Uz"], P["Ur"], P["Uh"], P["bhn"], P["reset"] == "before"
    eye = np.eye(len(cz))
    sig = expit

    def gates(h):
        z, r = sig(Uz @ h + cz), sig(Ur @ h + cr)
        n = np.tanh(Uh @ (r * h) + ch) if before else np.tanh(ch + r * (Uh @ h + bhn))
        return z, r, n

    def f(h):
        z, _, n = gates(h)
        return (1.0 - z) * (n - h)

    def jac(h):
        z, r, n = gates(h)
        dr = r * (1.0 - r)
        if before:   # n = tanh(Uh (r h) + c): d(r h)/dh = diag(r) + diag(h r') Ur
            dn = (1.0 - n**2)[:, None] * (Uh * r[None, :] + (Uh * (h * dr)[None, :]) @ Ur)
        else:        # n = tanh(c + r (Uh h + bhn))
            dn = (1.0 - n**2)[:, None] * (r[:, None] * Uh + ((Uh @ h + bhn) * dr)[:, None] * Ur)
        return -((n - h) * z * (1.0 - z))[:, None] * Uz + (1.0 - z)[:, None] * (dn - eye)

    return f, jac, gates


def params_to_numpy(params, count: int) -> list[dict]:
    import numpy as np
    names = ("Uz", "Ur", "Uh", "bz", "br", "bh", "bhn", "Wz", "Wr", "Wh", "x")
    arrays = {k: np.asarray(getattr(params, k)[:count]) for k in names}
    return [{**{k: arrays[k][i] for k in names}, "reset": params.reset} for i in range(count)]


def scipy_baseline(params, seeds, budget_s: float, chunks: int = 5) -> dict:
    """Baseline B: ``scipy.optimize.root(method="hybr")`` over whole parameter sets until the time is up."""
    import numpy as np
    from scipy.optimize import root

    seeds_np = np.asarray(seeds)
    n_params = params.batch_shape[0]
    max_sets = min(n_params, 100_000)
    P = params_to_numpy(params, min(n_params, 4096))
    f0, j0, _ = numpy_field(P[0])
    root(f0, seeds_np[0], jac=j0, method="hybr", options={"xtol": 1e-10})   # warm-up (imports, caches)
    rates, points, n_conv, n_done, total_t, i = [], [], 0, 0, 0.0, 0
    for _ in range(chunks):
        t0, done = time.perf_counter(), 0
        while i < min(max_sets, len(P)):
            f, jac, _ = numpy_field(P[i])
            found = []
            for s in seeds_np:
                sol = root(f, s, jac=jac, method="hybr", options={"xtol": 1e-10})
                x = sol.x
                if sol.success and np.all(np.isfinite(x)) and np.max(np.abs(f(x))) < RES_TOL:
                    found.append(x)
            points.append(np.array(found).reshape(-1, seeds_np.shape[1]))
            n_conv += len(found)
            done += len(seeds_np)
            i += 1
            if time.perf_counter() - t0 >= budget_s / chunks:
                break
        dt = time.perf_counter() - t0
        if done:
            rates.append(done / dt)
            n_done += done
            total_t += dt
    return {"seeds_per_s": C.median(rates), "chunk_rates": rates, "n_param_sets": i, "n_seeds_solved": n_done,
            "time_s": total_t, "converged_frac": n_conv / max(n_done, 1), "points": points,
            "settings": "scipy.optimize.root(method='hybr', jac=analytic numpy, options={'xtol': 1e-10})"}


def check_jacobian(params) -> float:
    """Max abs difference between the numpy Jacobian used by the scipy baseline and ``jax.jacfwd``."""
    import jax
    import numpy as np
    P = params_to_numpy(params, 1)[0]
    _, jac, _ = numpy_field(P)
    one = jax.tree_util.tree_map(lambda a: a[0], params)
    rng = np.random.default_rng(0)
    err = 0.0
    for _ in range(3):
        h = rng.uniform(-1, 1, params.dim)
        err = max(err, float(np.max(np.abs(jac(h) - np.asarray(jax.jacfwd(one.vector_field)(h))))))
    return err


# ---- correctness check --------------------------------------------------------------------------------------

def genuine_points(params, h, count: int) -> tuple["np.ndarray", dict]:
    """Which candidate roots h (K, S, d) from a baseline are genuine fixed points: finite, ``max|f| < 1e-10``,
    inside the box and ``max|n(h) - h| < 1e-8`` (rules out ``1 - z`` underflow far from any equilibrium)."""
    import jax
    import numpy as np
    sub = jax.tree_util.tree_map(lambda a: a[:count], params)
    hj = jax.numpy.asarray(np.nan_to_num(h, nan=0.0, posinf=0.0, neginf=0.0))
    res = np.asarray(jax.vmap(jax.vmap(lambda y, q: q.vector_field(y), in_axes=(0, None)))(hj, sub))
    gap = np.asarray(jax.vmap(jax.vmap(lambda y, q: q.gates(y)[2] - y, in_axes=(0, None)))(hj, sub))
    finite = np.all(np.isfinite(h), axis=-1)
    conv = finite & (np.max(np.abs(res), -1) < RES_TOL)
    inbox = conv & np.all(np.abs(h) <= 1.0, axis=-1)
    genuine = inbox & (np.max(np.abs(gap), -1) < GENUINE_TOL)
    return genuine, {"converged": int(conv.sum()), "converged_in_box": int(inbox.sum()),
                     "genuine": int(genuine.sum())}


def match(ours_h, ours_count, theirs: list) -> dict:
    """How many of the baseline's genuine roots (list over parameter sets of (m, d)) are among ours within 1e-6,
    and how many distinct points each side found."""
    import numpy as np
    missed, total, distinct_theirs, distinct_ours, examples = 0, 0, 0, 0, []
    for i, pts in enumerate(theirs):
        ours = ours_h[i, : ours_count[i]]
        distinct_ours += len(ours)
        if len(pts) == 0:
            continue
        dist = np.max(np.abs(pts[:, None, :] - ours[None, :, :]), axis=-1) if len(ours) else np.full((len(pts), 1), np.inf)
        near = dist.min(axis=1) if dist.size else np.full(len(pts), np.inf)
        total += len(pts)
        bad = near > MATCH_TOL
        missed += int(bad.sum())
        # distinct baseline points (greedy clustering at the match tolerance)
        reps = []
        for p in pts:
            if not any(np.max(np.abs(p - q)) <= MATCH_TOL for q in reps):
                reps.append(p)
        distinct_theirs += len(reps)
        if bad.any() and len(examples) < 5:
            examples.append({"param_index": i, "h": pts[bad][0].tolist(), "nearest_ours": float(near[bad][0])})
    return {"baseline_roots": total, "missed_by_ours": missed, "distinct_baseline": distinct_theirs,
            "distinct_ours": distinct_ours, "examples": examples, "ok": missed == 0}


def verdict(c: dict) -> str:
    """PASS, or MISSED k/n: k of the baseline's n genuine roots are not among ours (found from the same seeds)."""
    return "PASS" if c["ok"] else f"MISSED {c['missed_by_ours']}/{c['baseline_roots']}"


# ---- profile (internals; informative only) ------------------------------------------------------------------

def profile(params, seeds, fp, repeats: int, max_steps_list=(30, 20, 50)) -> dict:
    """Time the stages of ``find_fixed_points`` separately with the internal functions (may change), each chunked
    over the parameter sets as ``find_fixed_points`` chunks them (``chunk_map``); the first ``max_steps`` is the
    default's."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    from gru_jax import _fixed_points as fpm
    from gru_jax._linalg import eigvals, value_and_jacobian

    f = lambda h, q: q.vector_field(h)
    d = params.dim
    lo, hi = -jnp.ones(d), jnp.ones(d)
    n_total = params.batch_shape[0] * seeds.shape[0]
    out: dict = {}

    def newton_fn(ms):
        per = jax.vmap(jax.vmap(lambda q, s: fpm.newton(f, q, s, lo, hi, 1e-10, ms, 0.5), in_axes=(None, 0)),
                       in_axes=(0, None))
        return jax.jit(lambda p, s: chunk_map(lambda q: per(q, s))(p))

    import gru_jax as gj
    wrapped = jax.jit(lambda p, s: gj.find_fixed_points(p, seeds=s, box=unit_box(p.dim)))
    C.block(wrapped(params, seeds))
    fns, results = {"full, public call": lambda: gj.find_fixed_points(params, seeds=seeds),
                    "full, inside jit (no validation)": lambda: wrapped(params, seeds)}, {}
    for ms in max_steps_list:
        fn = newton_fn(ms)
        results[ms] = C.block(fn(params, seeds))
        fns[f"newton(max_steps={ms})"] = (lambda fn=fn: fn(params, seeds))
    h, status, _ = results[max_steps_list[0]]
    ded = jax.jit(chunk_map(jax.vmap(lambda hh, st: fpm.dedupe(hh, st == 0, 1e-7))))
    C.block(ded(h, status))
    fns["dedupe"] = lambda: ded(h, status)
    valid = np.arange(seeds.shape[0])[None, :] < np.asarray(fp.count)[:, None]
    hh = jnp.where(jnp.asarray(valid)[..., None], jnp.nan_to_num(fp.h), 0.0)
    jac = jax.jit(jax.vmap(jax.vmap(lambda y, q: value_and_jacobian(f, y, q)[1], in_axes=(0, None))))(hh, params)
    jac = jnp.where(jnp.asarray(valid)[..., None, None], jac, -jnp.eye(d, dtype=jac.dtype))
    eig = jax.jit(chunk_map(eigvals))   # one batched call per chunk
    C.block(eig(jac))
    fns["eigvals (padded, as in fixed_points_one)"] = lambda: eig(jac)
    times = C.time_interleaved(fns, repeats)
    for name, ts in times.items():
        out[name] = {"median_s": C.median(ts), "seeds_per_s": n_total / C.median(ts)}
    rest = out["full, inside jit (no validation)"]["median_s"] - sum(
        out[k]["median_s"] for k in (f"newton(max_steps={max_steps_list[0]})", "dedupe",
                                     "eigvals (padded, as in fixed_points_one)"))
    out["rest: sort, polish, 2nd Jacobian, classify (by difference)"] = {"median_s": rest,
                                                                          "seeds_per_s": n_total / max(rest, 1e-12)}
    for ms, (hm, st, k) in results.items():
        st, k = np.asarray(st), np.asarray(k)
        out[f"newton(max_steps={ms})"].update(
            converged_frac=float(np.mean(st == 0)), max_steps_frac=float(np.mean(st == 1)),
            steps_converged_p50=float(np.median(k[st == 0])) if np.any(st == 0) else None,
            steps_converged_p99=float(np.percentile(k[st == 0], 99)) if np.any(st == 0) else None,
            steps_max=int(k.max()))
    return out


# ---- one case -----------------------------------------------------------------------------------------------

def run_case(d: int, n_params: int, n_seeds: int, args) -> dict:
    import numpy as np
    import gru_jax as gj

    n_total = n_params * n_seeds
    print(f"\n-- d = {d}: {n_params} parameter sets x {n_seeds} seeds = {n_total} seeds --", flush=True)
    case: dict = {"d": d, "n_params": n_params, "n_seeds": n_seeds, "n_total": n_total}

    fc = first_call(d, n_params, n_seeds, args.scale, args.bias_scale) if not args.no_first_call else {"skipped": True}
    case["first_call"] = fc
    if "first_call_s" in fc:
        # the same first call with one parameter set: the run is negligible, so this is ~ trace + compile
        tiny = first_call(d, 1, n_seeds, args.scale, args.bias_scale)
        fc["one_param_set_first_call_s"] = tiny.get("first_call_s")
        print(f"first call in a fresh process (compile + run): {fc['first_call_s']:.2f} s; second call there "
              f"{fc['second_call_s']:.2f} s (difference {fc['compile_estimate_s']:.2f} s); first call with 1 x "
              f"{n_seeds} (~ compile): {fc['one_param_set_first_call_s'] or float('nan'):.2f} s "
              f"(import gru_jax {fc['import_s']:.2f} s)", flush=True)
    elif not fc.get("skipped"):
        print(f"first call FAILED: {fc.get('error')}", flush=True)

    params, seeds = make_problem(d, n_params, n_seeds, args.scale, args.bias_scale)
    ours = lambda: gj.find_fixed_points(params, seeds=seeds)
    naive = naive_solver()
    t_ours0, fp = C.time_once(ours)          # the results checked below (untimed: timings come from the runs)
    t_naive0, h_naive = C.time_once(lambda: naive(params, seeds))
    print(f"in-process first calls: gru_jax {t_ours0:.2f} s, naive {t_naive0:.2f} s; naive chunked in "
          f"{min(n_params, default_batch_size() or n_params)} sets like ours", flush=True)
    print(f"timing: {args.runs} whole runs in fresh processes, {args.repeats} interleaved repeats each", flush=True)
    runs = timing_runs(d, n_params, n_seeds, args)
    ok = [r for r in runs if "times_s" in r]
    if not ok:
        raise RuntimeError(f"every timing run failed: {runs[0].get('error')}")
    # per side: the median over the runs of each run's median; the ratio: the median of the runs' ratios
    times = {k: [C.median(r["times_s"][k]) for r in ok] for k in ok[0]["times_s"]}

    status = np.asarray(fp.seed_status)
    counts = np.asarray(fp.count)
    kinds = np.asarray(fp.kind)
    kind_hist = {gj.Kind(k).label: int(np.sum(kinds == k)) for k in range(len(gj.Kind))}
    t_ours, t_naive = C.median(times["gru_jax"]), C.median(times["naive"])
    case["runs"] = runs
    case["timing"] = (f"{len(ok)} whole runs (fresh processes) x {args.repeats} interleaved repeats, order alternating; "
                      "median_s = median over runs of the run medians; ratio = median over runs of the run ratios")
    case["gru_jax"] = {"run_medians_s": times["gru_jax"], "median_s": t_ours, "seeds_per_s": n_total / t_ours,
                       "in_process_first_call_s": t_ours0,
                       "converged_frac": float(np.mean(status == 0)),
                       "status_frac": {st.name: float(np.mean(status == int(st))) for st in gj.SeedStatus},
                       "points_per_param_mean": float(counts.mean()), "points_total": int(counts.sum()),
                       "kinds": kind_hist,
                       "eig_converged_frac": float(np.asarray(fp.eig_converged).sum() / max(counts.sum(), 1)),
                       "max_residual": float(np.nanmax(np.asarray(fp.residual))) if counts.sum() else None}
    g = case["gru_jax"]
    print("gru_jax seeds: " + ", ".join(f"{k.lower()} {v:.3f}" for k, v in g["status_frac"].items())
          + f"; points per parameter set {g['points_per_param_mean']:.2f}; kinds {g['kinds']}", flush=True)
    if "gru_jax (inside jit)" in times:
        tw = C.median(times["gru_jax (inside jit)"])
        case["gru_jax_inside_jit"] = {"run_medians_s": times["gru_jax (inside jit)"], "median_s": tw,
                                      "seeds_per_s": n_total / tw}
    genuine_naive, naive_stats = genuine_points(params, np.asarray(h_naive), n_params)
    case["naive"] = {"run_medians_s": times["naive"], "median_s": t_naive, "solves_per_s": n_total / t_naive,
                     "in_process_first_call_s": t_naive0, "batch_size": min(n_params, default_batch_size() or n_params),
                     "converged_frac": naive_stats["converged"] / n_total,
                     "genuine_frac": naive_stats["genuine"] / n_total, **naive_stats}
    case["ratio_vs_naive_runs"] = [r["ratio_vs_naive"] for r in ok]
    case["ratio_vs_naive"] = C.median(case["ratio_vs_naive_runs"])

    # correctness: naive's genuine roots on a subset are among ours
    K = min(n_params, args.check_params)
    ours_h, ours_count = np.asarray(fp.h[:K]), counts[:K]
    hn = np.asarray(h_naive[:K])
    case["check_naive"] = match(ours_h, ours_count, [hn[i][genuine_naive[i]] for i in range(K)])
    case["check_naive"]["param_sets"] = K
    c = case["check_naive"]
    print(f"check (first {K} sets): naive's genuine roots among ours within {MATCH_TOL:g}: "
          f"{c['baseline_roots'] - c['missed_by_ours']}/{c['baseline_roots']} -> {verdict(c)} "
          f"(distinct points: naive {c['distinct_baseline']}, ours {c['distinct_ours']})", flush=True)

    args.save_partial(case)
    if args.scipy_seconds > 0:
        case["jacobian_check_max_abs_err"] = check_jacobian(params)
        sp = scipy_baseline(params, seeds, args.scipy_seconds)
        pts = sp.pop("points")
        Ks = len(pts)
        case["scipy"] = sp
        case["ratio_vs_scipy"] = case["gru_jax"]["seeds_per_s"] / sp["seeds_per_s"]
        case["scipy"]["extrapolated_full_time_s"] = n_total / sp["seeds_per_s"]
        # genuine scipy roots (scipy's own residual test already applied; add box and n(h) - h)
        pad = np.full((Ks, n_seeds, d), np.nan)
        for i, p in enumerate(pts):
            pad[i, : len(p)] = p
        genuine_sp, _ = genuine_points(params, pad, Ks)
        case["check_scipy"] = match(np.asarray(fp.h[:Ks]), counts[:Ks], [pad[i][genuine_sp[i]] for i in range(Ks)])
        case["check_scipy"]["param_sets"] = Ks
        c = case["check_scipy"]
        print(f"scipy: {sp['n_seeds_solved']} seeds ({sp['n_param_sets']} sets) in {sp['time_s']:.1f} s; "
              f"its genuine roots among ours: {c['baseline_roots'] - c['missed_by_ours']}/{c['baseline_roots']} "
              f"-> {verdict(c)} (distinct points: scipy {c['distinct_baseline']}, ours {c['distinct_ours']}); numpy-vs-jacfwd Jacobian max err "
              f"{case['jacobian_check_max_abs_err']:.1e}", flush=True)

    if args.profile:
        args.save_partial(case)
        try:
            case["profile"] = profile(params, seeds, fp, args.repeats)
        except Exception as e:   # internals may have changed: the profile is informative only
            case["profile"] = {}
            print(f"profile failed: {type(e).__name__}: {e}")
        print("profile (internal stages, same inputs, interleaved repeats):")
        ref = case["profile"].get("full, public call", {}).get("median_s", t_ours)
        for k, v in case["profile"].items():
            extra = ""
            if "converged_frac" in v:
                extra = (f"  converged {v['converged_frac']:.3f}, hit max_steps {v['max_steps_frac']:.3f}, "
                         f"steps of converged seeds p50 {v['steps_converged_p50']} p99 {v['steps_converged_p99']}")
            print(f"  {k:58s} {v['median_s']:.4g} s ({v['median_s'] / ref:6.1%} of full){extra}")
    return case


def print_table(cases: list[dict]) -> None:
    print("\n== results (median wall time over runs; rates per seed; ratio = gru_jax classified seeds/s / baseline, "
          "median over runs) ==")
    print(f"{'d':>3} {'params x seeds':>16}  {'method':<34} {'median s':>9} {'seeds/s':>9} {'ratio':>7} "
          f"{'converged':>9}")
    for c in cases:
        size = f"{c['n_params']} x {c['n_seeds']}"
        g, nv = c["gru_jax"], c["naive"]
        print(f"{c['d']:>3} {size:>16}  {'gru_jax (solve+dedupe+classify)':<34} {g['median_s']:>9.4g} "
              f"{g['seeds_per_s']:>9.3g} {'1':>7} {g['converged_frac']:>9.3f}")
        if "gru_jax_inside_jit" in c:
            w = c["gru_jax_inside_jit"]
            print(f"{'':>3} {'':>16}  {'gru_jax inside jit (no validation)':<34} {w['median_s']:>9.4g} "
                  f"{w['seeds_per_s']:>9.3g} {'':>7} {'':>9}")
        print(f"{'':>3} {'':>16}  {'naive Newton-30 chunked (solve)':<34} {nv['median_s']:>9.4g} "
              f"{nv['solves_per_s']:>9.3g} {c['ratio_vs_naive']:>6.2f}x {nv['genuine_frac']:>9.3f}")
        print(f"{'':>3} {'':>16}  {'  (ratio of each run)':<34} {'':>9} {'':>9} "
              + " ".join(f"{r:.2f}x" for r in c["ratio_vs_naive_runs"]))
        if "scipy" in c:
            sp = c["scipy"]
            print(f"{'':>3} {'':>16}  {'scipy hybr loop (extrapolated)':<34} {sp['extrapolated_full_time_s']:>9.4g} "
                  f"{sp['seeds_per_s']:>9.3g} {c['ratio_vs_scipy']:>6.3g}x {sp['converged_frac']:>9.3f}")
        fc = c.get("first_call", {})
        if "first_call_s" in fc:
            print(f"{'':>3} {'':>16}  first call, fresh process: {fc['first_call_s']:.2f} s "
                  f"(1 x {c['n_seeds']}: {fc.get('one_param_set_first_call_s') or float('nan'):.2f} s); checks: naive {verdict(c['check_naive'])}"
                  + (f", scipy {verdict(c['check_scipy'])}" if "check_scipy" in c else ""))
    print("converged: gru_jax = seeds with status CONVERGED; naive = genuine roots (max|f| < 1e-10, in box, "
          "|n(h)-h| < 1e-8); scipy = success and max|f| < 1e-10")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke test, not for benchmarks/results/")
    C.add_result_args(ap)   # --json [OUT], --allow-dirty, --repeats (>= 5)
    ap.add_argument("--runs", type=int, default=3, help="whole timing runs, fresh processes (default and minimum 3)")
    ap.add_argument("--dims", default="2,32", help="comma-separated state dimensions (default 2,32)")
    ap.add_argument("--d2-params", type=int, help=f"parameter sets for d=2 (default {CPU_SIZES[2]} on CPU, "
                                                   f"{GPU_SIZES[2]} on GPU)")
    ap.add_argument("--d32-params", type=int, help=f"parameter sets for d=32 (default {CPU_SIZES[32]} on CPU, "
                                                    f"{GPU_SIZES[32]} on GPU)")
    ap.add_argument("--params", type=int, help="parameter sets for every other d (default: as d=32)")
    ap.add_argument("--scale", type=float, default=SCALE, help=f"weight scale of the random GRUs (default {SCALE})")
    ap.add_argument("--bias-scale", type=float, default=BIAS_SCALE,
                    help=f"bias scale of the random GRUs (default {BIAS_SCALE})")
    ap.add_argument("--seeds", type=int, default=64, help="seeds per parameter set (default 64)")
    ap.add_argument("--scipy-seconds", type=float, help="time budget of the scipy loop per d (default 8; 0 skips)")
    ap.add_argument("--check-params", type=int, default=256, help="parameter sets in the correctness check")
    ap.add_argument("--jit-wrapped", action="store_true",
                    help="also time find_fixed_points traced inside jax.jit (no host-side validation)")
    ap.add_argument("--profile", action="store_true", help="also time the internal stages (newton, dedupe, eigvals)")
    ap.add_argument("--no-first-call", action="store_true", help="skip the fresh-process first-call timing")
    ap.add_argument("--_first-call", dest="first_call", help=argparse.SUPPRESS)
    ap.add_argument("--_timing-run", dest="timing_run", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.first_call:
        d, n, s, scale, bias = args.first_call.split(",")
        first_call_child(int(d), int(n), int(s), float(scale), float(bias))
        return 0
    if args.timing_run:
        timing_run_child(json.loads(args.timing_run))
        return 0
    C.check_repeats(ap, args)
    if not args.quick and args.runs < 3:
        ap.error(f"--runs {args.runs}: at least 3 (the ratio is the median over whole runs; --quick for smoke tests)")

    import jax
    jax.config.update("jax_enable_x64", True)

    gpu = C.is_accelerator()
    sizes = dict(QUICK_SIZES if args.quick else GPU_SIZES if gpu else CPU_SIZES)
    if args.d2_params:
        sizes[2] = args.d2_params
    if args.d32_params:
        sizes[32] = args.d32_params
    if args.scipy_seconds is None:
        args.scipy_seconds = 2.0 if args.quick else 8.0
    dims = [int(x) for x in args.dims.split(",") if x]

    args.result_name = "fixed_points_profile" if args.profile else "fixed_points"   # the JSON's name
    C.result_path(args.result_name, args)   # refuse now, not after the run, if the tree is dirty
    info = C.machine_info()
    config = {"dims": dims, "sizes": {d: sizes.get(d, args.params or sizes[32]) for d in dims}, "seeds": args.seeds,
              "runs": args.runs, "repeats": args.repeats, "scipy_seconds": args.scipy_seconds, "quick": args.quick,
              "naive_batch_size": default_batch_size(),
              "params": f"GRUParams.random(key({PARAM_KEY}), d, batch=(n,), scale={args.scale}, "
                        f"bias_scale={args.bias_scale}), reset='before'",
              "seeds_from": f"make_seeds(-1, 1, n_seeds, key=key({SEED_KEY}))",
              "find_fixed_points": "defaults: " + find_fixed_points_defaults()}
    C.print_header("fixed points: gru_jax vs naive vmapped Newton vs scipy loop", info,
                   {"sizes": ", ".join(f"d={d}: {config['sizes'][d]} x {args.seeds}" for d in dims)
                    + f"; {args.runs} runs x {args.repeats} repeats"
                    + ("  [QUICK: not for the record]" if args.quick else "")})

    cases, failures = [], []
    payload = {"benchmark": "fixed_points", "machine": info, "config": config, "cases": cases, "failures": failures}

    def save_partial(case: dict) -> None:   # so that a time-out in a later stage keeps what was measured
        C.write_result(args.result_name, {**payload, "cases": cases + [{**case, "partial": True}]}, args)
    args.save_partial = save_partial
    for d in dims:
        try:
            cases.append(run_case(d, config["sizes"][d], args.seeds, args))
        except Exception as e:  # keep going: report and record the failure
            import traceback
            traceback.print_exc()
            failures.append({"d": d, "error": f"{type(e).__name__}: {e}"})
        C.write_result(args.result_name, payload, args)   # after every case, so a time-out keeps what was measured
    if cases:
        print_table(cases)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
