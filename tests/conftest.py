import jax

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import gru_jax as gj  # noqa: E402

ELEVEN = dict(Uh=[[41.0067, 16.7589], [14.9421, 48.8903]], Ur=[[-1.6531, -16.6254], [-28.5155, -24.7705]],
              bh=[9.939, 15.642], br=[17.1107, 7.0284])


@pytest.fixture
def eleven():
    """The 2-D GRU with 11 fixed points from model.md §3."""
    return gj.GRUParams.from_dict(ELEVEN)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
