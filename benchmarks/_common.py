"""Shared helpers for the benchmarks: machine header, timing, provenance and JSON output.

Rules the benchmarks follow (see benchmarks/README.md): float64; every timed figure is a median of >= 5 repeats
after a warm-up call; competing functions are timed in the same run, interleaved, and the order of the sides is
rotated in every repeat (A B, B A, ...) so that load on a shared machine and position effects hit all sides
alike; the ratio is the figure to quote. No persistent compilation cache unless a benchmark sets one on purpose
(``no_compilation_cache``), so first calls are cold.

Writing results: every script takes ``add_result_args(ap)`` (``--json [OUT]``, ``--allow-dirty``) and writes with
``write_result(name, payload, args)``, which records the full git commit and refuses to write into
``benchmarks/results/`` from a tree with uncommitted changes (see ``write_result``).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from typing import Callable

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:  # run as `python benchmarks/x.py` from a checkout without installing
    sys.path.insert(0, REPO)
RESULTS = os.path.join(REPO, "benchmarks", "results")
#: what a result depends on: tracked changes here, or untracked .py files here, make the tree dirty
WATCHED = ("gru_jax", "benchmarks", "pyproject.toml")
_AUTO = "<results>"   # ``--json`` without a value


def _without_cache(env):
    """``env`` (a mutable mapping) with no persistent compilation cache for gru_jax and JAX; returns it."""
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    env["GRU_JAX_NO_CACHE"] = "1"
    return env


def no_compilation_cache() -> None:
    """No persistent compilation cache in this process and its children: first calls compile from scratch.

    Call before importing gru_jax (its import switches JAX's persistent cache on unless ``GRU_JAX_NO_CACHE``).
    A benchmark that wants a cache sets ``jax_compilation_cache_dir`` itself, before its first compile.
    """
    _without_cache(os.environ)
    if "jax" in sys.modules:   # jax read the variable at import
        sys.modules["jax"].config.update("jax_compilation_cache_dir", None)


def child_env() -> dict:
    """Environment of a fresh benchmark subprocess: this checkout first on the path, no persistent compilation
    cache (a true cold compile), no GPU memory preallocation (the parent may hold the device's pool)."""
    env = _without_cache(dict(os.environ))
    env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    return env


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict:
    """Date, host, CPU, device and versions: the header every benchmark prints and stores."""
    import jax
    import jaxlib
    import numpy as np

    dev = jax.devices()[0]
    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "hostname": socket.gethostname(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "load_avg_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "backend": jax.default_backend(),
        "device_kind": dev.device_kind,
        "n_devices": jax.device_count(),
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "x64": bool(jax.config.jax_enable_x64),
        "dtype": str(np.dtype(jax.numpy.result_type(float))),
    }
    try:
        import scipy
        info["scipy"] = scipy.__version__
    except ImportError:
        info["scipy"] = None
    info.update(git_state())   # git_commit (full hash), dirty, dirty_files: at the start of the run
    info["source_digest"] = source_digest()
    info["compilation_cache_dir"] = jax.config.jax_compilation_cache_dir
    return info


def git_state() -> dict:
    """``{"git_commit": full hash of HEAD, "dirty": bool, "dirty_files": [...]}`` of this checkout.

    Dirty: ``git status --porcelain`` shows a tracked file under ``WATCHED`` (gru_jax/, benchmarks/,
    pyproject.toml) modified, staged, added, deleted or renamed, or an untracked ``.py`` file there (untracked
    result files are not code). Without git, or outside a checkout, the state is unknown and counts as dirty.
    """
    def git(*a):
        return subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True, timeout=30)
    try:
        head, status = git("rev-parse", "HEAD"), git("status", "--porcelain", "--untracked-files=all", "--", *WATCHED)
    except (OSError, subprocess.SubprocessError) as e:
        return {"git_commit": None, "dirty": True, "dirty_files": [f"(git failed: {e})"]}
    if head.returncode or status.returncode:
        return {"git_commit": None, "dirty": True, "dirty_files": [f"(not a git checkout: {head.stderr.strip()})"]}
    dirty = [line for line in status.stdout.splitlines()
             if line and not (line.startswith("??") and not line.rstrip().rstrip('"').endswith(".py"))]
    return {"git_commit": head.stdout.strip(), "dirty": bool(dirty), "dirty_files": dirty}


def source_digest(package: str = "gru_jax") -> str:
    """Short sha256 of the package's .py files: identifies the code measured, committed or not."""
    import hashlib
    h = hashlib.sha256()
    root = os.path.join(REPO, package)
    for dirpath, dirnames, filenames in sorted(os.walk(root)):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                h.update(os.path.relpath(path, REPO).encode())
                with open(path, "rb") as fh:
                    h.update(fh.read())
    return h.hexdigest()[:12]


def print_header(title: str, info: dict, extra: dict | None = None) -> None:
    print(f"== {title} ==")
    git = f"{info.get('git_commit')}" + (" + UNCOMMITTED CHANGES" if info.get("dirty") else " (clean)")
    print(f"date {info['date']}   host {info['hostname']}   git {git}   "
          f"gru_jax sources sha256 {info.get('source_digest')}")
    print(f"CPU  {info['cpu_model']} ({info['cpu_count']} logical cores, load {info['load_avg_1m']:.1f})")
    print(f"device {info['backend']} / {info['device_kind']} x{info['n_devices']}   dtype {info['dtype']}   "
          f"jax {info['jax']} jaxlib {info['jaxlib']} numpy {info['numpy']} scipy {info['scipy']} "
          f"python {info['python']}")
    for k, v in (extra or {}).items():
        print(f"{k} {v}")
    sys.stdout.flush()


def is_accelerator() -> bool:
    import jax
    return jax.default_backend() not in ("cpu",)


def block(x):
    import jax
    return jax.block_until_ready(x)


def time_once(fn: Callable[[], object]) -> tuple[float, object]:
    t = time.perf_counter()
    out = block(fn())
    return time.perf_counter() - t, out


def rotated(names: list, i: int) -> list:
    """The order of the sides in repeat ``i``: ``names`` rotated by ``i`` (two sides: A B, B A, A B, ...), so
    every side is timed in every position equally often over ``len(names)`` repeats."""
    k = i % len(names) if names else 0
    return list(names[k:]) + list(names[:k])


def time_interleaved(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Wall times (s) of ``repeats`` calls of each function, interleaved so load changes hit all alike, with the
    order of the functions rotated in every repeat (``rotated``): no side always runs first.

    The functions must already be warm (compiled). Outputs are blocked on.
    """
    times: dict[str, list[float]] = {k: [] for k in fns}
    for i in range(repeats):
        for name in rotated(list(fns), i):
            times[name].append(time_once(fns[name])[0])
    return times


def median(xs: list[float]) -> float:
    return float(statistics.median(xs))


def spread(xs: list[float]) -> str:
    """``median [min-max]`` in seconds, for the log."""
    return f"{median(xs):.4g} s [{min(xs):.4g}-{max(xs):.4g}]"


def add_result_args(ap, repeats: int | None = 5) -> None:
    """The output options every benchmark has: ``--json [OUT]`` and ``--allow-dirty`` (see ``write_result``);
    with ``repeats``, also ``--repeats N`` (default and minimum ``repeats``; any value with ``--quick``)."""
    ap.add_argument("--json", nargs="?", const=_AUTO, metavar="OUT",
                    help="write every number to OUT; without OUT to benchmarks/results/<name>_<backend>_<date>_"
                         "<commit>.json (only from a clean, committed tree)")
    ap.add_argument("--allow-dirty", action="store_true",
                    help="write into benchmarks/results/ although gru_jax/, benchmarks/ or pyproject.toml have "
                         "uncommitted changes (the file gets a _dirty suffix and \"dirty\": true)")
    if repeats:
        ap.add_argument("--repeats", type=int, default=repeats,
                        help=f"timed repeats per figure (default and minimum {repeats}, except with --quick)")


def check_repeats(ap, args, minimum: int = 5, *names: str) -> None:
    """argparse error unless every ``args.<name>`` (default ``repeats``) is >= ``minimum``; ``--quick`` may go lower."""
    if getattr(args, "quick", False):
        return
    for name in names or ("repeats",):
        value = getattr(args, name)
        if value is not None and value < minimum:
            ap.error(f"--{name.replace('_', '-')} {value}: at least {minimum} (timing rule; --quick for smoke tests)")


def _in_results(path: str) -> bool:
    return os.path.commonpath([os.path.abspath(path), RESULTS]) == RESULTS


def _with_suffix(path: str, suffix: str) -> str:
    root, ext = os.path.splitext(path)
    return path if root.endswith(suffix) else f"{root}{suffix}{ext or '.json'}"


def result_path(name: str, args) -> str | None:
    """Where ``write_result(name, ...)`` writes in this run, decided (and checked) once; call it early to fail
    before measuring. None without ``--json``. Exits (SystemExit) when the tree is dirty, the target is in
    ``benchmarks/results/`` and ``--allow-dirty`` is not given, or the run is a ``--quick`` smoke test."""
    target = getattr(args, "json", None)
    if not target:
        return None
    decided = args.__dict__.setdefault("_results", {})
    if name in decided:
        return decided[name]["path"]
    state = git_state()
    if target == _AUTO:
        import jax
        backend = jax.default_backend()   # cpu, gpu, tpu
        date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
        path = os.path.join(RESULTS, f"{name}_{backend}_{date}_{(state['git_commit'] or 'nogit')[:7]}.json")
    else:
        path = os.path.abspath(target)
    if _in_results(path):
        if getattr(args, "quick", False):
            raise SystemExit(f"refusing to write a --quick smoke test into {RESULTS}: pass --json OUT elsewhere")
        if state["dirty"] and not getattr(args, "allow_dirty", False):
            raise SystemExit("refusing to write into benchmarks/results/: uncommitted changes\n  "
                             + "\n  ".join(state["dirty_files"][:20])
                             + "\ncommit them (results must name a committed tree) or pass --allow-dirty")
    if state["dirty"]:
        path = _with_suffix(path, "_dirty")
    if target == _AUTO:
        root, ext = os.path.splitext(path)
        k = 2
        while os.path.exists(path):   # a second run of the same day and commit
            path, k = f"{root}_{k}{ext}", k + 1
    decided[name] = {"path": path, "state": state, "written": False}
    return path


def write_result(name: str, payload: dict, args) -> str | None:
    """Write ``payload`` as JSON for benchmark ``name``; returns the path, or None without ``--json``.

    ``args`` is the script's argparse namespace (``add_result_args``): ``--json OUT`` writes to OUT, ``--json``
    alone to ``benchmarks/results/<name>_<backend>_<UTC date>_<commit[:7]>.json``. The JSON gets, first,
    ``git_commit`` (full hash) and ``dirty`` (and ``dirty_files``); see ``git_state``. A dirty tree (checked
    when the path is first decided and again at every write) gives the file a ``_dirty`` suffix, and in
    ``benchmarks/results/`` needs ``--allow-dirty``; a tree that turns dirty, or a commit that changes, during
    the run sends the result to the ``_dirty`` name (to ``out/`` instead of benchmarks/results/ without
    ``--allow-dirty``) and removes the clean-named file written before. Call it as often as you like (partial
    results after every case): the path stays the same.
    """
    path = result_path(name, args)
    if path is None:
        return None
    decided = args._results[name]
    start, now = decided["state"], git_state()
    dirty = start["dirty"] or now["dirty"] or now["git_commit"] != start["git_commit"]
    if dirty and not start["dirty"]:
        moved = _with_suffix(path, "_dirty")
        if _in_results(moved) and not getattr(args, "allow_dirty", False):
            moved = os.path.join(REPO, "out", os.path.basename(moved))
        print(f"WARNING: the tree changed during the run (commit {start['git_commit']} -> {now['git_commit']}; "
              f"{now['dirty_files'][:5]}): the result goes to {moved}", flush=True)
        if decided["written"] and os.path.exists(path):
            os.remove(path)
        decided.update(path=moved, state={**start, "dirty": True})
        path = moved
    record = {"git_commit": start["git_commit"], "dirty": dirty}
    if dirty:
        record["dirty_files"] = sorted(set(start["dirty_files"]) | set(now["dirty_files"]))
        if now["git_commit"] != start["git_commit"]:
            record["git_commit_at_end"] = now["git_commit"]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        json.dump({**record, **payload}, fh, indent=2, default=_jsonable)
    decided["written"] = True
    print(f"wrote {path}", flush=True)
    return path


def _jsonable(x):
    import numpy as np
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray) or hasattr(x, "__array__"):   # numpy and jax arrays
        return np.asarray(x).tolist()
    return str(x)
