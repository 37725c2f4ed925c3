import os
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)
# XLA programs compiled by one test process are reused by the other (pytest-xdist) and by later runs: the same
# solvers compile for the same fields in several test files. Tracing is not cached.
jax.config.update("jax_compilation_cache_dir",
                  os.environ.get("GRU_JAX_TEST_CACHE", str(Path(__file__).parent.parent / ".jax_cache")))

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import gru_jax as gj  # noqa: E402

ELEVEN = dict(Uh=[[41.0067, 16.7589], [14.9421, 48.8903]], Ur=[[-1.6531, -16.6254], [-28.5155, -24.7705]],
              bh=[9.939, 15.642], br=[17.1107, 7.0284])

# A 2-D GRU (reset before, other weights zero) with a saddle-loop homoclinic bifurcation in bh[0], constructed near a
# Bogdanov-Takens point of its fold curve: located by gru_jax, checked against scipy (tests/test_homoclinic.py) and
# AUTO-07p's long-period cycles (tests/test_auto_cycles.py).
HOMOCLINIC_GRU = dict(Uh=[[5.0, 2.5], [-3.0, 0.0]], bh=[-0.0815, -0.0163414448])
HOMOCLINIC_BH0 = -0.0815007806


@pytest.fixture
def eleven():
    """The 2-D GRU with 11 fixed points from model.md §3."""
    return gj.GRUParams.from_dict(ELEVEN)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
