"""Continuation, one namespace: equilibria in one parameter (``gru_jax.equilibria``), fold and Hopf curves in two
(``gru_jax.codim2``), the parameter lens ``Param`` and the status codes (``gru_jax.core``)."""

from ..codim2 import Codim2Point as Codim2Point, Codim2Points as Codim2Points, Curve as Curve
from ..codim2 import CurveDiagram as CurveDiagram, CurvePoints as CurvePoints, codim2_curves as codim2_curves
from ..codim2 import continue_curve as continue_curve, continue_curve_both as continue_curve_both
from ..core._param import Param as Param, as_param as as_param
from ..core._status import BranchStatus as BranchStatus, Codim2Kind as Codim2Kind, LocateStatus as LocateStatus
from ..core._status import SpecialKind as SpecialKind
from ..equilibria import Branch as Branch, SpecialPoints as SpecialPoints, join as join
from ..equilibria import Diagram as Diagram, DiagramPoints as DiagramPoints, bifurcation_diagram as bifurcation_diagram
from ..equilibria import Problem as Problem, Settings as Settings, State as State, init as init, run as run
from ..equilibria import step as step
from ..equilibria import SpecialPoint as SpecialPoint, locate_fold as locate_fold, locate_hopf as locate_hopf
from ..equilibria import SwitchStatus as SwitchStatus, switch_branch as switch_branch, trace as trace
from ..equilibria import bialternate as bialternate, hopf_test as hopf_test
from ..equilibria import continuation as continuation, continuation_both as continuation_both   # deprecated names
from ..equilibria import continue_equilibria as continue_equilibria
from ..equilibria import continue_equilibria_both as continue_equilibria_both
from ..equilibria import critical_pair as critical_pair, first_lyapunov as first_lyapunov, hopf_vectors as hopf_vectors
