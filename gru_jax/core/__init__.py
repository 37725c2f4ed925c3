"""The one continuation core: what every kind of curve (equilibria, fold/Hopf curves, cycle families) is driven by.

- ``_newton``: the one Newton solver (square or bordered), the implicit-function step, the bracketing root finder;
- ``_step``: the problem protocol (``ContinuationProblem``), the ``State`` of a curve and the one ``step``
  (predictor, corrector, step-size rule, window, events);
- ``_driver``: the one jitted ``while_loop`` driver (``run``) with padded rows and event slots, ``locate_slots``;
- ``_status``: the status chain and kinds, with messages;
- ``_result``: the one result base for padded rows (``trim``, ``to_dict``, ``save``/``load``, a table repr) and
  ``join`` of two directions.
"""

import importlib

_WHERE = {"_driver": ("Run", "locate_slots", "run"), "_newton": ("Newton", "bracket", "implicit_step", "newton"),
          "_result": ("Result", "join"), "_status": ("BranchStatus", "Codes", "LocateStatus"),
          "_step": ("ContinuationProblem", "State", "step")}
__all__ = [name for names in _WHERE.values() for name in names]


def __getattr__(name: str):
    """The names above, imported on first use (so that low-level modules can import ``core._status``)."""
    for module, names in _WHERE.items():
        if name in names:
            return getattr(importlib.import_module(f"{__name__}.{module}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
