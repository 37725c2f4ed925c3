"""Benchmark: fixed-point census sweeps (solve, dedupe, classify) against batch size, a two-parameter grid, the
topology atlas of the largest ensemble and (optionally) the search for GRUs with many fixed points.

    python benchmarks/sweep.py [--sizes 1,10,100,1000,10000] [--grid 100] [--chunk N] [--repeats 5]
                               [--search N [--generations G --search-scales 4,8 --search-sigma 0.1 --search-only]]
                               [--json [OUT]] [--allow-dirty] [--plot [OUT.png]]

Measured in one run, float64, on ``random_grus(key(0), n, 2, scale=4.0)`` (reset and update gates, biases
std 1) with the census ``Census(n_seeds=64, seeding="grid")`` (8 x 8 grid seeds in ``[-1, 1]^2``):

* gru_jax: ``sweep(Census(), ensemble=params, chunk=chunk)`` (the engine: jitted, chunked, outputs gathered
  on the host); "classified seeds/s" = n * 64 / median time. Warm (one call first: compile).
* baseline, naive JAX: the same seeds through ``naive_solver()`` of ``benchmarks/fixed_points.py`` (30 fixed
  Newton iterations, vmapped, no dedupe, no classification), chunked as ours is: a Python loop over the same
  sweep chunks, and inside each the same ``jax.lax.map`` over chunks of ``default_batch_size()`` parameter
  sets that ``find_fixed_points`` (the census) uses. Ratio = baseline time / gru_jax time.
* Timed functions are interleaved, the order alternating in every repeat (ours naive, naive ours, ...);
  medians of ``--repeats`` (>= 5) at every size. Peak RSS (``ru_maxrss``, the process's peak so far) after
  each size.
* Grid: ``sweep(Census(), grid={"bh[0]": g, "bh[1]": g}, base=the 11-point GRU of model.md)`` with
  ``--grid`` points per axis, interleaved with a 2 x 2 grid (the per-call fixed cost), both warm; the
  1000 x 1000 time is extrapolated linearly (reported as such).
* Check: for the first 64 sets, distinct genuine roots of the baseline (``max|f| < 1e-10``, in the box) never
  exceed the census count.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402  (also puts the repo root on sys.path)

C.no_compilation_cache()   # before gru_jax is imported: first calls compile from scratch

N_SEEDS, SCALE, CHECK = 64, 4.0, 64
ELEVEN = dict(Uh=[[41.0067, 16.7589], [14.9421, 48.8903]], Ur=[[-1.6531, -16.6254], [-28.5155, -24.7705]],
              bh=[9.939, 15.642], br=[17.1107, 7.0284])


def naive_batch_size() -> int | None:
    from fixed_points import default_batch_size
    return default_batch_size()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def naive_loop(params, seeds, chunk: int):
    """Baseline: ``fixed_points.naive_solver`` (itself chunked like ``find_fixed_points``) over the sweep's chunks
    of ``chunk`` sets, the last one ragged (returns (n, S, d) roots)."""
    import jax.numpy as jnp
    from fixed_points import naive_solver
    solve = naive_solver()
    n = params.batch_shape[0]
    def run():
        return jnp.concatenate([solve(take_slice(params, s, chunk), seeds) for s in range(0, n, chunk)])
    return run


def take_slice(params, start: int, size: int):
    import jax
    return jax.tree_util.tree_map(lambda a: a[start:start + size], params)


def distinct_genuine(params, roots, k: int):
    """Distinct genuine baseline roots per set for the first ``k`` sets (see ``fixed_points.genuine_points``)."""
    import numpy as np
    from fixed_points import genuine_points
    ok, _ = genuine_points(params, roots[:k], k)
    out = []
    for i in range(k):
        pts = np.asarray(roots[i])[ok[i]]
        kept = []
        for p in pts:
            if not any(np.max(np.abs(p - q)) <= 1e-6 for q in kept):
                kept.append(p)
        out.append(len(kept))
    return np.asarray(out)


def size_case(n: int, pool, seeds, chunk: int, repeats: int) -> dict:
    import numpy as np
    from gru_jax.sweeps._analyses import Census
    from gru_jax.sweeps._sweep import sweep

    params = take_slice(pool, 0, n)
    c = min(chunk, n)
    census = Census(n_seeds=N_SEEDS, seeding="grid")
    ours = lambda: sweep(census, ensemble=params, chunk=c, progress=False).values
    naive = naive_loop(params, seeds, c)
    t_ours0, values = C.time_once(ours)
    t_naive0, roots = C.time_once(naive)
    times = C.time_interleaved({"gru_jax": ours, "naive": naive}, repeats)
    t_ours, t_naive = C.median(times["gru_jax"]), C.median(times["naive"])
    k = min(n, CHECK)
    found = distinct_genuine(params, roots, k)
    missed = int(np.sum(found > np.asarray(values["n_fixed"][:k])))
    case = {"n_params": n, "chunk": c, "repeats": repeats, "first_call_s": {"gru_jax": t_ours0, "naive": t_naive0},
            "gru_jax": {"times_s": times["gru_jax"], "median_s": t_ours, "params_per_s": n / t_ours,
                        "seeds_per_s": n * N_SEEDS / t_ours},
            "naive": {"times_s": times["naive"], "median_s": t_naive, "solves_per_s": n * N_SEEDS / t_naive},
            "ratio_vs_naive": t_naive / t_ours,
            "census": {"all_converged_frac": float(np.mean(values["all_converged"])),
                       "mean_n_fixed": float(np.mean(values["n_fixed"])),
                       "failed_seeds_frac": float(np.sum(values["n_failed_seeds"]) / (n * N_SEEDS))},
            "check": {"param_sets": k, "sets_where_naive_found_more": missed, "ok": missed == 0},
            "peak_rss_mb": peak_rss_mb()}
    print(f"n={n:>8} chunk {c:>6}: gru_jax {C.spread(times['gru_jax'])} ({n / t_ours:,.0f} sets/s, "
          f"{n * N_SEEDS / t_ours:,.0f} seeds/s); naive {C.spread(times['naive'])}; ratio {t_naive / t_ours:.2f}x; "
          f"first calls {t_ours0:.1f} / {t_naive0:.1f} s; check {'ok' if missed == 0 else f'{missed} sets FAILED'}; "
          f"peak RSS {case['peak_rss_mb']:.0f} MB", flush=True)
    return case, values


def grid_case(m: int, chunk: int, repeats: int) -> dict:
    import numpy as np
    import gru_jax as gj
    from gru_jax.sweeps._analyses import Census
    from gru_jax.sweeps._sweep import sweep

    base = gj.GRUParams.from_dict(ELEVEN)
    g = np.linspace(5.0, 20.0, m)
    census = Census(n_seeds=N_SEEDS, seeding="grid")
    run = lambda: sweep(census, grid={"bh[0]": g, "bh[1]": g}, base=base, chunk=min(chunk, m * m),
                        progress=False).values
    tiny = lambda: sweep(census, grid={"bh[0]": g[:2], "bh[1]": g[:2]}, base=base, chunk=4, progress=False).values
    t0, values = C.time_once(run)
    t0_tiny, _ = C.time_once(tiny)   # warm-up: both sides are timed warm
    times = C.time_interleaved({"grid": run, "2x2": tiny}, repeats)
    t, t_fixed = C.median(times["grid"]), C.median(times["2x2"])
    per_point = (t - t_fixed) / (m * m - 4)
    codes = np.unique(values["topology"])
    case = {"points_per_axis": m, "axes": "bh[0], bh[1] in linspace(5, 20, m), base = the 11-point GRU",
            "first_call_s": t0, "first_call_2x2_s": t0_tiny, "times_s": times["grid"], "median_s": t, "points_per_s": m * m / t,
            "fixed_cost_2x2_times_s": times["2x2"], "fixed_cost_2x2_median_s": t_fixed,
            "extrapolated_1000x1000_s": t_fixed + per_point * 1e6,
            "extrapolation": "median warm 2x2 sweep time (per-call fixed cost) + (t_mxm - t_2x2) / (m^2 - 4) per "
                             "point * 10^6",
            "n_topologies": int(len(codes)), "max_n_fixed": int(values["n_fixed"].max()),
            "all_converged_frac": float(np.mean(values["all_converged"])), "peak_rss_mb": peak_rss_mb()}
    print(f"grid {m}x{m}: {C.spread(times['grid'])} ({m * m / t:,.0f} points/s, per-call fixed cost (2x2) "
          f"{C.spread(times['2x2'])}); 1000x1000 extrapolated "
          f"{case['extrapolated_1000x1000_s']:.0f} s; {len(codes)} topologies, max {case['max_n_fixed']} points",
          flush=True)
    return case


def atlas_case(values, n: int) -> dict:
    from gru_jax.sweeps._atlas import topology_atlas
    t0 = time.perf_counter()
    atlas = topology_atlas(values)
    dt = time.perf_counter() - t0
    print(atlas.table(top=15), flush=True)
    return {"n_members": n, "n_configurations": int(len(atlas.topology)), "n_excluded": atlas.n_excluded,
            "host_time_s": dt, "table": [{"topology": int(c), "members": int(m), "example": int(e)}
                                         for c, m, e in zip(atlas.topology, atlas.n_members, atlas.example)]}


def search_case(n: int, generations: int, **options) -> dict:
    import jax
    import numpy as np
    from gru_jax.sweeps._atlas import max_fixed_points_search
    t0 = time.perf_counter()
    r = max_fixed_points_search(jax.random.key(2024), n, generations=generations, **options)
    dt = time.perf_counter() - t0
    best = {k: np.asarray(getattr(r.best, k)).tolist() for k in ("Uz", "Ur", "Uh", "bz", "br", "bh")}
    print(f"search: {r.n_evaluated} GRUs screened in {dt:.0f} s; best screened count per round {r.history}; "
          f"best verified {r.counts_by_grid} -> {r.verified.describe()} (converged {r.verified.converged})",
          flush=True)
    print(f"best GRU: {best}", flush=True)
    return {"n_initial": n, "generations": generations, "options": options, "n_evaluated": r.n_evaluated, "time_s": dt,
            "history": r.history, "candidates": [[s, {str(g): c for g, c in v.items()}] for s, v in r.candidates],
            "best_counts_by_grid": {str(g): c for g, c in r.counts_by_grid.items()},
            "best_description": r.verified.describe(), "best_converged": r.verified.converged,
            "best_h": r.verified.h.tolist(), "best_params": best}


def plot(cases: list, path: str, info: dict) -> None:
    from gru_jax.plot._mpl import plt
    n = [c["n_params"] for c in cases]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.loglog(n, [c["gru_jax"]["median_s"] for c in cases], "o-", label="gru_jax sweep(Census): classified")
    ax.loglog(n, [c["naive"]["median_s"] for c in cases], "s--", label="naive vmapped Newton: solved only")
    ax.set_xlabel("parameter sets (64 seeds each, d = 2)")
    ax.set_ylabel("wall time, median (s)")
    ax.set_title(f"{info['backend']} / {info['device_kind']}, {info['dtype']}, jax {info['jax']}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default=None, help="comma-separated batch sizes (default: CPU 1..1e4, GPU 1..1e6)")
    ap.add_argument("--chunk", type=int, default=None, help="sweep chunk (default 4096 CPU, 65536 accelerator)")
    ap.add_argument("--grid", type=int, default=None, help="points per axis of the bh grid (default CPU 100, GPU 1000)")
    ap.add_argument("--search", type=int, default=0, help="run max_fixed_points_search with this many random GRUs")
    ap.add_argument("--generations", type=int, default=5)
    ap.add_argument("--search-scales", default="4,8,16,32,64", help="comma-separated weight scales of the search")
    ap.add_argument("--search-sigma", type=float, default=0.1, help="relative mutation size of the search")
    ap.add_argument("--search-only", action="store_true", help="skip the census timings; run the search only")
    C.add_result_args(ap)   # --json [OUT], --allow-dirty, --repeats (>= 5)
    ap.add_argument("--quick", action="store_true", help="a smoke test: any --repeats, not for benchmarks/results/")
    ap.add_argument("--plot", nargs="?", const="", default=None, metavar="OUT.png",
                    help="plot time against batch size; without OUT.png next to the --json file (same name)")
    args = ap.parse_args()
    C.check_repeats(ap, args)

    import jax
    from gru_jax.sweeps._analyses import random_grus
    from gru_jax import make_seeds   # importing gru_jax switches on float64
    import numpy as np

    acc = C.is_accelerator()
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else (
        [1, 10, 100, 1000, 10_000, 100_000, 1_000_000] if acc else [1, 10, 100, 1000, 10_000])
    sizes = [] if args.search_only else sizes
    chunk = args.chunk or (65_536 if acc else 4096)
    m = args.grid or (1000 if acc else 100)
    name = "sweep_search" if args.search_only else "sweep"
    json_path = C.result_path(name, args)   # refuse now, not after the run, if the tree is dirty
    if args.plot == "":
        args.plot = os.path.splitext(json_path)[0] + ".png" if json_path else os.path.join(C.REPO, "out", "sweep.png")
    info = C.machine_info()
    C.print_header("sweep census benchmark", info, {"sizes": sizes, "chunk": chunk, "grid": f"{m}x{m}"})
    pool = C.block(random_grus(jax.random.key(0), max(sizes, default=1), 2, SCALE))
    seeds = C.block(make_seeds(-np.ones(2), np.ones(2), N_SEEDS, seeding="grid"))
    payload = {"benchmark": "sweep", "machine": info,
               "config": {"sizes": sizes, "chunk": chunk, "seeds": N_SEEDS, "repeats": args.repeats, "grid": m,
                          "params": f"random_grus(key(0), n, 2, scale={SCALE}) (reset + update gates, bias std 1)",
                          "census": "Census(n_seeds=64, seeding='grid') through gru_jax.sweeps._sweep.sweep",
                          "baseline": "fixed_points.naive_solver (30 Newton steps, vmapped, lax.map over "
                                      f"chunks of {naive_batch_size()} sets like the census), Python loop over "
                                      "the sweep chunks"},
               "sizes": []}
    values = None
    for n in sizes:
        case, values = size_case(n, pool, seeds, chunk, args.repeats)
        payload["sizes"].append(case)
        C.write_result(name, payload, args)
    if sizes:
        payload["atlas"] = atlas_case(values, sizes[-1])
        payload["grid"] = grid_case(m, chunk, args.repeats)
        C.write_result(name, payload, args)
    if args.search:
        scales = tuple(float(x) for x in args.search_scales.split(","))
        payload["search"] = search_case(args.search, args.generations, scales=scales, sigma=args.search_sigma)
    payload["peak_rss_mb"] = peak_rss_mb()
    C.write_result(name, payload, args)
    if args.plot and sizes:
        os.makedirs(os.path.dirname(os.path.abspath(args.plot)), exist_ok=True)
        plot(payload["sizes"], args.plot, info)


if __name__ == "__main__":
    main()
