"""The one continuation core: what every kind of curve (equilibria, fold/Hopf curves, cycle families) is driven by.

- ``_newton``: the one Newton solver (square or bordered), the implicit-function step, the bracketing root finder;
- ``_step``: the problem protocol (``ContinuationProblem``), the ``State`` of a curve and the one ``step``
  (predictor, corrector, step-size rule, window, events);
- ``_driver``: the one jitted ``while_loop`` driver (``run``) with padded rows and event slots, ``locate_slots``;
- ``_status``: the status chain and kinds, with messages;
- ``_result``: the one result base for padded rows (``trim``, ``to_dict``, ``save``/``load``, a table repr) and
  ``join`` of two directions.
"""

from ._driver import Run as Run, locate_slots as locate_slots, run as run
from ._newton import Newton as Newton, bracket as bracket, implicit_step as implicit_step, newton as newton
from ._result import Result as Result, join as join
from ._status import BranchStatus as BranchStatus, CycleStatus as CycleStatus, LocateStatus as LocateStatus
from ._step import ContinuationProblem as ContinuationProblem, State as State, step as step
