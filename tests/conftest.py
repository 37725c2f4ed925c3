import datetime
import importlib.util
import json
import os
import shutil
from pathlib import Path

# XLA programs compiled by one test process are reused by the other (pytest-xdist), by the CLI's subprocesses
# (they inherit the environment variable) and by later runs: the same solvers compile for the same fields in
# several test files. Tracing is not cached. Set before jax is imported: jax reads it then.
os.environ["JAX_COMPILATION_CACHE_DIR"] = os.environ.get("GRU_JAX_TEST_CACHE",
                                                         str(Path(__file__).parent.parent / ".jax_cache"))

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

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

# The rotation family (model.md §3: Uh = 3 R(alpha), all else zero, so z = r = 1/2), computed independently:
H_STAR = 0.8585596366401104   # root of tanh(1.5 h) = h: scipy brentq on (0.5, 1), xtol 1e-15 (model.md: 0.8585596)
LAMBDA_NODE = 0.5 * (1.5 * (1 - H_STAR**2) - 1)   # = -0.3028434873, double eigenvalue at the nodes (model.md §3)
# the saddle-node angle where the SNIC happens: snic_reference() in tests/test_continuation.py (scipy; model.md ~0.1478)
ALPHA_SN = 0.14782207067906653
# periods at alpha = 0.8, 0.5, 0.2: scipy solve_ivp DOP853 at rtol 1e-13, atol 1e-15 from (0.5, 0) over t in [0, 2000],
# spacing of the last two upward crossings of h_2 = 0 (they agree to 2e-13). tests/test_auto_cycles.py::rotation_ivp
# computes them again with scipy, and AUTO-07p (NTST 120) gives 12.2085100642, 23.6740263670, 96.3241224870
# (tests/data/auto07p.json; AUTO's own error is ~6e-9 at 0.2).
ROTATION_PERIODS = {0.8: 12.208510063992, 0.5: 23.674026366978, 0.2: 96.324122481561}


def require_auto():
    """Skip the calling test module unless AUTO-07p (bifpy, built with gfortran) is installed; with
    ``GRU_JAX_REQUIRE_AUTO=1`` (set by .ci/run) a missing AUTO-07p fails instead of skipping."""
    missing = [what for what, ok in (("bifpy", importlib.util.find_spec("bifpy") is not None),
                                     ("gfortran", shutil.which("gfortran") is not None)) if not ok]
    if not missing:
        return
    message = (f"AUTO-07p tests need {' and '.join(missing)}: pip install -e '.[auto]' (bifpy builds with gfortran "
               "and make, e.g. apt-get install gfortran make)")
    if os.environ.get("GRU_JAX_REQUIRE_AUTO") == "1":
        pytest.fail(message + " [GRU_JAX_REQUIRE_AUTO=1]", pytrace=False)
    pytest.skip(message, allow_module_level=True)


AUTO_REFERENCE = Path(__file__).parent / "data" / "auto07p.json"


class AutoReference:
    """AUTO-07p values stored in ``tests/data/auto07p.json`` (with the bifpy version and date of the run that
    wrote them), so the fast tier compares against AUTO-07p without bifpy. The slow tier's AUTO runs call
    ``check``: a fresh value must equal the stored one; with ``GRU_JAX_WRITE_AUTO_REFERENCE=1`` (and ``-n 0``)
    they rewrite it instead: ``GRU_JAX_WRITE_AUTO_REFERENCE=1 python -m pytest -n 0 -m slow tests/test_auto*.py``.
    """

    def __init__(self, path=AUTO_REFERENCE):
        self.path = path
        self.data = json.loads(path.read_text()) if path.exists() else {"values": {}}

    def __getitem__(self, key):
        if key not in self.data["values"]:
            raise KeyError(f"{key} is not stored in {self.path.name}: regenerate it (see AutoReference)")
        return np.asarray(self.data["values"][key], dtype=float)

    def check(self, key, value, *, atol):
        """A fresh AUTO-07p value against the stored one (``atol``: what AUTO's own tolerances allow)."""
        value = np.asarray(value, dtype=float)
        if os.environ.get("GRU_JAX_WRITE_AUTO_REFERENCE") != "1":
            np.testing.assert_allclose(value, self[key], rtol=0, atol=atol,
                                       err_msg=f"a fresh AUTO-07p run no longer gives the stored {key}")
            return
        from importlib.metadata import version
        self.data["values"][key] = value.tolist()
        self.data["source"] = {"bifpy": version("bifpy"), "date": datetime.date.today().isoformat(),
                               "made_by": "GRU_JAX_WRITE_AUTO_REFERENCE=1 python -m pytest -n 0 -m slow "
                                          "tests/test_auto.py tests/test_auto_cycles.py"}
        self.path.parent.mkdir(exist_ok=True)
        self.path.write_text(json.dumps(self.data, indent=1, sort_keys=True) + "\n")


@pytest.fixture(scope="session")
def auto_reference():
    return AutoReference()


@pytest.fixture
def eleven():
    """The 2-D GRU with 11 fixed points from model.md §3."""
    return gj.GRUParams.from_dict(ELEVEN)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
