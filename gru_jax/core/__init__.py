"""The one continuation core that drives every curve (equilibria, fold/Hopf curves, cycle families): ``_newton``
(solvers), ``_step`` (problem protocol, ``State``, ``step``), ``_driver`` (``run``, ``locate_slots``), ``_status``
(codes with messages), ``_result`` (the result base and ``join``)."""


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
