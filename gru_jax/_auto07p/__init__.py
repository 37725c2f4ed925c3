"""The AUTO-07p reference driver (through bifpy) used by the tests and the benchmarks; not part of the API.

``equilibria``: continuation of equilibria of a CT-GRU (folds, Hopf and branch points; ``tests/test_auto.py``,
``benchmarks/continuation.py``). ``cycles``: families of limit cycles from a Hopf point (``tests/test_auto_cycles.py``,
``benchmarks/cycles.py``). Importing these modules needs numpy only: bifpy (``pip install -e '.[auto]'``, built with
gfortran) and scipy are imported inside the functions that use them, and ``gru_jax`` itself never imports this
package.
"""
