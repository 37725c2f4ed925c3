"""JAX's persistent compilation cache, switched on when gru_jax is imported (see ``enable_compilation_cache``)."""

from __future__ import annotations

import os

#: Programs compiling for at least this long are written to the cache. JAX's default, 1 s, misses some that
#: matter (e.g. the random seeds of ``find_fixed_points``: 0.3-0.7 s); single eager ops take < 0.1 s.
MIN_COMPILE_TIME_SECS = 0.2


def enable_compilation_cache() -> str | None:
    """Point JAX's persistent compilation cache at ``$XDG_CACHE_HOME/gru_jax/jax`` (else ``~/.cache/gru_jax/jax``). A
    fresh process then loads the XLA programs an earlier one compiled (tracing and lowering still run). Programs
    compiling in >= ``MIN_COMPILE_TIME_SECS`` are written, unless ``JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS`` is set.
    Does nothing when ``GRU_JAX_NO_CACHE`` is set (not ``0``), when the user chose a cache
    (``JAX_COMPILATION_CACHE_DIR`` or ``jax_compilation_cache_dir``), or when the directory cannot be created or
    written. Returns the directory used, or None. Clear it with ``rm -r``."""
    if os.environ.get("GRU_JAX_NO_CACHE", "0") not in ("", "0"):
        return None
    import jax
    if os.environ.get("JAX_COMPILATION_CACHE_DIR") or jax.config.jax_compilation_cache_dir:
        return None
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):                     # unset or relative: ignored, as the XDG spec says
        base = os.path.join(os.path.expanduser("~"), ".cache")
        if not os.path.isabs(base):                 # no home directory
            return None
    path = os.path.join(base, "gru_jax", "jax")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError:
        return None
    if not os.access(path, os.W_OK | os.X_OK):
        return None
    jax.config.update("jax_compilation_cache_dir", path)
    if not os.environ.get("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"):
        jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_TIME_SECS)
    return path
