"""The persistent compilation cache that importing gru_jax switches on (gru_jax/_cache.py), in fresh processes."""

import os
import subprocess
import sys

SHOW = "import jax, gru_jax; print(jax.config.jax_compilation_cache_dir)"


def _run_all(envs):
    """The cache directory each fresh ``import gru_jax`` chose, one process per environment (run side by side)."""
    base = {k: v for k, v in os.environ.items() if k not in ("JAX_COMPILATION_CACHE_DIR", "GRU_JAX_NO_CACHE")}
    procs = [subprocess.Popen([sys.executable, "-c", SHOW], env={**base, **env}, stdout=subprocess.PIPE, text=True)
             for env in envs]
    return [p.communicate(timeout=120)[0].strip() for p in procs]


def test_cache_directory_opt_out_and_a_users_own_choice(tmp_path):
    xdg = str(tmp_path / "xdg")
    on, off, own = _run_all([{"XDG_CACHE_HOME": xdg}, {"XDG_CACHE_HOME": xdg, "GRU_JAX_NO_CACHE": "1"},
                             {"XDG_CACHE_HOME": xdg, "JAX_COMPILATION_CACHE_DIR": str(tmp_path / "mine")}])
    assert on == os.path.join(xdg, "gru_jax", "jax") and os.path.isdir(on)
    assert off == "None"
    assert own == str(tmp_path / "mine")


def test_ode_programs_have_no_host_callbacks():
    """A host callback (equinox's runtime checks in diffrax) gives a program a new cache key in every process."""
    import jax
    import jax.numpy as jnp

    import gru_jax as gj

    p = gj.GRUParams.rotation(alpha=0.5)
    x0 = jnp.array([0.5, 0.0])
    program = jax.make_jaxpr(lambda x: gj.periodic_orbit(p, x, 23.6).period)(x0)     # shooting on diffrax
    assert "callback" not in str(program)
