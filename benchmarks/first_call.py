"""Benchmark: the first call of every public entry point in a fresh Python process, cold and warm compilation cache.

    python benchmarks/first_call.py [--json [OUT]] [--allow-dirty] [--repeats 3] [--quick] [--list]
                                    [--only find_fixed_points,continue_equilibria] [--states cold,warm[,off]]

What a notebook user waits for. Each sample is one fresh interpreter (``subprocess``) that times
``import jax, gru_jax``, the setup of its inputs, the **first call** of one entry point (trace + compile + run,
``block_until_ready`` and conversion to numpy) and a second call in the same process (warm: run only). States:

* ``cold``: JAX's persistent compilation cache in a new, empty temporary directory (``JAX_COMPILATION_CACHE_DIR``);
* ``warm``: a directory a cold process of the same entry point filled: the XLA programs are loaded, not compiled
  (tracing and lowering to StableHLO still run);
* ``off`` (only with ``--states``): ``GRU_JAX_NO_CACHE=1``, no persistent cache at all.

The children use gru_jax's write threshold (``gru_jax._cache.MIN_COMPILE_TIME_SECS``, through
``JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS``) as ``import gru_jax`` does with its default cache directory.
Every child also records its compilations (``jax.monitoring``): programs compiled, XLA compile (or cache load)
seconds, tracing and lowering seconds (nested traces counted in each), cache hits and misses, and the longest
compilations.

``--repeats`` fresh processes per entry point and state (default 3); the cold and warm processes alternate
(cold, warm, then warm, cold, ...) so that load on a shared machine hits both alike; medians are reported.
``--quick``: one repeat and only the entry points that compile in seconds; it and any run with fewer than 3
repeats are smoke tests, kept out of ``benchmarks/results/``. One cold process per entry point took ~10 min in
all on 2 busy CPU cores (continue_homoclinic alone ~3 min), so the default run takes roughly 30-45 min there.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402  (also puts the repo root on sys.path)

# name: (setup, call, slow). ``setup`` runs (untimed for the first call, timed on its own) with jax, jnp, np and gj
# in scope; ``call`` is one expression, the timed first and second call. From README.md and tests/conftest.py.
_ROT = "p = gj.GRUParams.rotation(alpha=0.0, gain=3.0); k = jax.random.key(0)"
_ORIGIN = 'origin = lambda h, a: gj.GRUParams.rotation(a["alpha"]).vector_field(h)'
_ROTF = 'rot = lambda h, a: gj.GRUParams.rotation(a["alpha"], gain=a.get("gain", 3.0)).vector_field(h)'
_HOPF = _ROTF + '; hopf = gj.locate_hopf({"alpha": 0.8}, gj.Param("alpha"), jnp.zeros(2), f=rot)'
_Q = 'q = gj.GRUParams.from_dict({"Uh": [[3.0, 0.6], [-0.5, 1.0]]})'
_NEAR_BT = ('near_bt = gj.GRUParams.from_dict({"Uh": [[5.0, 2.5], [-3.0, 0.0]], "bh": [-0.0848656728, -0.0113414448]});'
            ' P0, P1 = gj.Param("bh", 0), gj.Param("bh", 1)')
_HC = ('g = gj.GRUParams.from_dict({"Uh": [[5.0, 2.5], [-3.0, 0.0]], "bh": [-0.0815, -0.0163414448]});'   # conftest
       ' P0, P1 = gj.Param("bh", 0), gj.Param("bh", 1); saddle = jnp.array([-0.4666, 0.5939]);'
       ' hc_opts = dict(branches=(1, -1), radius=0.002, t_max=2e4)')
_HC_POINT = _HC + '; pt = gj.locate_homoclinic(g, P0, saddle, window=(-0.081501, -0.081499), **hc_opts)'

ENTRY_POINTS: dict[str, tuple[str, str, bool]] = {
    "find_fixed_points": (_ROT, "gj.find_fixed_points(p, key=k)", False),
    "simulate": (_ROT + "; h0 = jnp.array([[0.1, 0.2], [-0.3, 0.05]])", "gj.simulate(p, h0, t1=200.0)", False),
    "find_slow_points": (_ROT, "gj.find_slow_points(p, key=k)", False),
    "continue_equilibria": (_ORIGIN, 'gj.continue_equilibria({"alpha": 0.5}, gj.Param("alpha"), jnp.zeros(2), '
                                     'f=origin, window=(-np.inf, 1.2))', False),
    "bifurcation_diagram": (_Q, 'gj.bifurcation_diagram(q, gj.Param("bh", 0), (-2.0, 2.0))', False),
    "locate_fold": (_NEAR_BT, "gj.locate_fold(near_bt, P0, jnp.array([-0.4472, 0.5774]))", False),
    "locate_hopf": (_ROTF, 'gj.locate_hopf({"alpha": 0.8, "gain": 3.0}, gj.Param("alpha"), jnp.zeros(2), f=rot)',
                    False),
    "continue_curve": (_NEAR_BT, 'gj.continue_curve(near_bt, P0, P1, [-0.4472, 0.5774], '
                                 'kind="fold", direction=-1, ds=0.001, ds_max=0.002, max_points=10)', False),
    "periodic_orbit": ("p = gj.GRUParams.rotation(0.5); x0 = jnp.array([0.7, 0.0])",
                       "gj.periodic_orbit(p, x0, 20.0)", True),
    "find_limit_cycles": ("p = gj.GRUParams.rotation(alpha=0.5)", "gj.find_limit_cycles(p)", True),
    "continue_cycles": (_HOPF, 'gj.continue_cycles({"alpha": 0.8}, gj.Param("alpha"), hopf, f=rot, '
                               'window=(0.4, 1.2), max_points=30)', True),
    "locate_homoclinic": (_HC, "gj.locate_homoclinic(g, P0, saddle, window=(-0.081501, -0.081499), **hc_opts)",
                          True),
    "detect_homoclinic": (_HC, "gj.detect_homoclinic(g, P0, np.linspace(-0.0816, -0.0814, 9), saddle, max_points=2, "
                               "**hc_opts)", True),
    "continue_homoclinic": (_HC_POINT, "gj.continue_homoclinic(g, P0, P1, pt, radius=0.002, t_max=2e4, ds=0.001, "
                                       "ds_max=0.002, max_points=5, window=((-0.2, 0.2), (-0.0175, 0.0)))", True),
    "sweep_census": (_ROT + '; grid = {"bh[0]": jnp.linspace(-1, 1, 16), "bh[1]": jnp.linspace(-1, 1, 16)}',
                     "gj.sweep(gj.census, grid=grid, base=p, progress=False)", False),
}

_EVENTS = {"/jax/core/compile/backend_compile_duration": "xla", "/jax/core/compile/jaxpr_trace_duration": "trace",
           "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower"}


# ---- child: one fresh process, one entry point -------------------------------------------------------------------

def child(name: str) -> None:
    t0 = time.perf_counter()
    import jax
    import jax.monitoring as mon
    stats: dict = {}

    def reset():
        stats.clear()
        stats.update(xla=[], trace=0.0, lower=0.0, hits=0, misses=0)

    def on_duration(event, secs, **kw):
        kind = _EVENTS.get(event)
        if kind == "xla":
            stats["xla"].append((round(secs, 4), str(kw.get("fun_name", ""))))
        elif kind:
            stats[kind] += secs

    def on_event(event, **kw):
        if event == "/jax/compilation_cache/cache_hits":
            stats["hits"] += 1
        elif event == "/jax/compilation_cache/cache_misses":
            stats["misses"] += 1

    reset()
    mon.register_event_duration_secs_listener(on_duration)
    mon.register_event_listener(on_event)
    import jax.numpy as jnp
    import numpy as np
    import gru_jax as gj
    t_import = time.perf_counter() - t0

    def finish(out):
        out = jax.block_until_ready(out)
        numeric = lambda a: isinstance(a, jax.Array) and not jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key)
        return jax.tree_util.tree_map(lambda a: np.asarray(a) if numeric(a) else a, out)

    def summary():
        xla = sorted(stats["xla"], reverse=True)
        return {"n_compiled": len(xla), "xla_s": sum(s for s, _ in xla), "trace_s": stats["trace"],
                "lower_s": stats["lower"], "cache_hits": stats["hits"], "cache_misses": stats["misses"],
                "longest": [f"{n} {s:.2f}" for s, n in xla[:4]]}

    setup, call, _ = ENTRY_POINTS[name]
    ns = {"jax": jax, "jnp": jnp, "np": np, "gj": gj}
    t = time.perf_counter()
    exec(setup, ns)
    finish([v for k, v in ns.items() if k not in ("jax", "jnp", "np", "gj", "__builtins__")])
    t_setup = time.perf_counter() - t
    setup_stats = summary()
    fn = eval("lambda: " + call, ns)
    reset()
    t = time.perf_counter()
    finish(fn())
    t_first = time.perf_counter() - t
    first_stats = summary()
    reset()
    t = time.perf_counter()
    finish(fn())
    t_second = time.perf_counter() - t
    print("FIRST_CALL_JSON " + json.dumps({
        "import_s": t_import, "setup_s": t_setup, "first_call_s": t_first, "second_call_s": t_second,
        "first": first_stats, "setup": setup_stats, "second_n_compiled": len(stats["xla"]),
        "cache_dir": jax.config.jax_compilation_cache_dir,
        "min_compile_time_secs": jax.config.jax_persistent_cache_min_compile_time_secs}), flush=True)


# ---- parent ------------------------------------------------------------------------------------------------------

def dir_size(path: str) -> tuple[int, int]:
    n = size = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            n += 1
            size += os.path.getsize(os.path.join(dirpath, f))
    return n, size


def run_child(name: str, state: str, cache_dir: str | None, timeout: float) -> dict:
    import gru_jax._cache as cache
    env = C.child_env()   # no persistent cache (GRU_JAX_NO_CACHE=1): state "off"
    env.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", str(cache.MIN_COMPILE_TIME_SECS))
    if state != "off":
        env.pop("GRU_JAX_NO_CACHE")
        env["JAX_COMPILATION_CACHE_DIR"] = cache_dir
    cmd = [sys.executable, os.path.abspath(__file__), "--_child", name]
    t = time.perf_counter()
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"state": state, "error": f"timed out after {timeout:.0f} s"}
    wall = time.perf_counter() - t
    for line in proc.stdout.splitlines():
        if line.startswith("FIRST_CALL_JSON "):
            res = {"state": state, "process_s": wall, **json.loads(line.split(" ", 1)[1])}
            if cache_dir:
                res["cache_files"], res["cache_bytes"] = dir_size(cache_dir)
            res["load_avg_1m"] = os.getloadavg()[0]
            return res
    return {"state": state, "error": (proc.stderr or proc.stdout)[-3000:]}


def measure(name: str, states: list[str], repeats: int, tmp_root: str, timeout: float) -> dict:
    """``repeats`` fresh processes per state; cold and warm alternate, a warm one reusing the last cold directory."""
    samples: dict[str, list[dict]] = {s: [] for s in states}
    last_cold = None
    for r in range(repeats):
        for state in (states if r % 2 == 0 else states[::-1]):
            if state == "cold":
                cache_dir = last_cold = tempfile.mkdtemp(prefix=f"{name}_", dir=tmp_root)
            elif state == "warm":
                if last_cold is None:   # warm only: fill a directory first (not a sample)
                    last_cold = tempfile.mkdtemp(prefix=f"{name}_", dir=tmp_root)
                    run_child(name, "fill", last_cold, timeout)
                cache_dir = last_cold
            else:
                cache_dir = None
            res = run_child(name, state, cache_dir, timeout)
            res["repeat"] = r
            samples[state].append(res)
            if "error" in res:
                print(f"  {name} {state} #{r}: FAILED {res['error'][-600:]}", flush=True)
            else:
                f = res["first"]
                print(f"  {name:<20} {state:<4} #{r}: import {res['import_s']:6.2f} s  setup {res['setup_s']:6.2f} s  "
                      f"first {res['first_call_s']:7.2f} s  second {res['second_call_s']:7.3f} s  |  "
                      f"{f['n_compiled']} programs, xla {f['xla_s']:.2f} s, trace {f['trace_s']:.2f} s, lower "
                      f"{f['lower_s']:.2f} s, hits {f['cache_hits']}, misses {f['cache_misses']}  "
                      f"(load {res['load_avg_1m']:.1f})", flush=True)
    out = {"setup": ENTRY_POINTS[name][0], "call": ENTRY_POINTS[name][1], "samples": samples, "median": {}}
    for state, xs in samples.items():
        ok = [x for x in xs if "error" not in x]
        if ok:
            out["median"][state] = {k: C.median([x[k] for x in ok]) for k in
                                    ("import_s", "setup_s", "first_call_s", "second_call_s")}
            out["median"][state].update(n=len(ok), first_xla_s=C.median([x["first"]["xla_s"] for x in ok]),
                                        n_compiled=C.median([x["first"]["n_compiled"] for x in ok]))
            if state == "cold":
                out["median"][state]["cache_mb"] = C.median([x.get("cache_bytes", 0) for x in ok]) / 2**20
    m = out["median"]
    if "cold" in m and "warm" in m:
        out["speedup_first_call"] = m["cold"]["first_call_s"] / m["warm"]["first_call_s"]
    return out


def print_table(results: dict) -> None:
    print("\n== first call in a fresh process (medians, seconds; speedup = cold / warm first call) ==")
    print(f"{'entry point':<20} {'n':>2} {'import':>7} {'setup c/w':>13} {'first cold':>10} {'first warm':>10} "
          f"{'speedup':>7} {'first off':>9} {'second':>8} {'programs':>8} {'xla cold/warm':>14} {'cache MB':>8}")
    for name, r in results.items():
        m = r["median"]
        c, w, o = m.get("cold", {}), m.get("warm", {}), m.get("off", {})
        g = lambda d, k, fmt: (fmt % d[k]) if k in d else "-"
        any_m = c or w or o
        print(f"{name:<20} {min([d['n'] for d in (c, w, o) if d] or [0]):>2} {g(any_m, 'import_s', '%.2f'):>7} "
              f"{g(c, 'setup_s', '%.2f') + '/' + g(w, 'setup_s', '%.2f'):>13} {g(c, 'first_call_s', '%.2f'):>10} "
              f"{g(w, 'first_call_s', '%.2f'):>10} "
              f"{('%.1fx' % r['speedup_first_call']) if 'speedup_first_call' in r else '-':>7} "
              f"{g(o, 'first_call_s', '%.2f'):>9} {g(any_m, 'second_call_s', '%.3f'):>8} "
              f"{g(c or any_m, 'n_compiled', '%d'):>8} "
              f"{g(c, 'first_xla_s', '%.2f') + '/' + g(w, 'first_xla_s', '%.2f'):>14} {g(c, 'cache_mb', '%.2f'):>8}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    C.add_result_args(ap, repeats=None)   # --json [OUT], --allow-dirty
    ap.add_argument("--repeats", type=int, help="fresh processes per entry point and state (default 3, at least 3; "
                                                "1 with --quick)")
    ap.add_argument("--only", help="comma-separated entry points (default all; see --list)")
    ap.add_argument("--quick", action="store_true", help="1 repeat, only the entry points that compile in seconds")
    ap.add_argument("--states", default="cold,warm", help="cold, warm, off (default cold,warm)")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per child process (default 900)")
    ap.add_argument("--list", action="store_true", help="print the entry points and their calls, then exit")
    ap.add_argument("--_child", dest="child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child:
        child(args.child)
        return 0
    if args.list:
        for name, (setup, call, slow) in ENTRY_POINTS.items():
            print(f"{name}{' (slow)' if slow else ''}:\n    {setup}\n    {call}")
        return 0
    names = [n for n in (args.only.split(",") if args.only else ENTRY_POINTS) if n]
    unknown = [n for n in names if n not in ENTRY_POINTS]
    if unknown:
        ap.error(f"unknown entry points {unknown}; known: {', '.join(ENTRY_POINTS)}")
    if args.quick and not args.only:
        names = [n for n in names if not ENTRY_POINTS[n][2]]
    states = [s for s in args.states.split(",") if s]
    if not states or set(states) - {"cold", "warm", "off"}:
        ap.error("--states: cold, warm, off")
    repeats = args.repeats or (1 if args.quick else 3)
    if repeats < 1:
        ap.error("--repeats: at least 1")
    args.quick = args.quick or repeats < 3   # a smoke test: write_result keeps it out of benchmarks/results/

    C.no_compilation_cache()   # this process compiles nothing that matters; the children choose their cache
    os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"   # leave an accelerator's memory to the children
    import jax
    jax.config.update("jax_enable_x64", True)
    import gru_jax._cache as cache
    info = C.machine_info()
    config = {"entry_points": names, "states": states, "repeats": repeats, "quick": args.quick,
              "timeout_s": args.timeout, "min_compile_time_secs": float(os.environ.get(
                  "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", cache.MIN_COMPILE_TIME_SECS)),
              "order": "per entry point: cold, warm, then warm, cold, ... (warm reuses the last cold directory)"}
    C.result_path("first_call", args)   # fails now, not after the run, where it may not write
    C.print_header("first call in a fresh process: cold vs warm persistent compilation cache", info,
                   {"entry points": ", ".join(names),
                    "repeats": f"{repeats} per state {states}"
                               + ("  [smoke test: not for the record]" if args.quick else "")})
    results: dict = {}
    payload = {"benchmark": "first_call", "machine": info, "config": config, "results": results}
    tmp_root = tempfile.mkdtemp(prefix="gru_jax_first_call_")
    try:
        for name in names:
            results[name] = measure(name, states, repeats, tmp_root, args.timeout)
            payload["machine"]["load_avg_1m_end"] = os.getloadavg()[0]
            C.write_result("first_call", payload, args)   # after every entry point: a time-out keeps the rest
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)
    print_table(results)
    failed = [n for n, r in results.items() for xs in r["samples"].values() for x in xs if "error" in x]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
