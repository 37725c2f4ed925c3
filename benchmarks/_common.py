"""Shared helpers for the benchmarks: machine header, robust timing, JSON output.

Rules the benchmarks follow (see benchmarks/README.md): float64; every number is a median of >= 5 timed
repeats after a warm-up call; every rate is printed next to a baseline measured in the same run; the header
records the machine, device, JAX version and dtype. Machines are shared and noisy, so competing functions
are timed interleaved (A, B, A, B, ...) and their ratio is the figure to quote.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import socket
import statistics
import sys
import time
from typing import Callable

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:  # run as `python benchmarks/x.py` from a checkout without installing
    sys.path.insert(0, REPO)


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
    try:
        import subprocess
        info["git_commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                            text=True, timeout=10).stdout.strip() or None
    except Exception:
        info["git_commit"] = None
    info["source_digest"] = source_digest()
    return info


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
    print(f"date {info['date']}   host {info['hostname']}   git {info.get('git_commit')}   "
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


def time_interleaved(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Wall times (s) of ``repeats`` calls of each function, interleaved so load changes hit all alike.

    The functions must already be warm (compiled). Outputs are blocked on.
    """
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(time_once(fn)[0])
    return times


def median(xs: list[float]) -> float:
    return float(statistics.median(xs))


def spread(xs: list[float]) -> str:
    """``median [min-max]`` in seconds, for the log."""
    return f"{median(xs):.4g} s [{min(xs):.4g}-{max(xs):.4g}]"


def write_json(path: str | None, payload: dict) -> None:
    if not path:
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as fh:
        json.dump(payload, fh, indent=2, default=_jsonable)
    print(f"wrote {path}", flush=True)


def _jsonable(x):
    import numpy as np
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return str(x)
