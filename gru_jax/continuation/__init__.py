"""Continuation of equilibria in one parameter: PALC and natural-parameter steps, fold / branch-point / Hopf
detection inside the loop, location by augmented Newton solves, first Lyapunov coefficients."""

from ._branch import Branch as Branch, SpecialPoints as SpecialPoints, join as join
from ._continuation import continuation as continuation, continuation_both as continuation_both
from ._lyapunov import critical_pair as critical_pair, first_lyapunov as first_lyapunov, hopf_vectors as hopf_vectors
from ._palc import Problem as Problem, Settings as Settings, State as State, init as init, step as step
from ._param import Param as Param
from ._point import SpecialPoint as SpecialPoint, locate_fold as locate_fold, locate_hopf as locate_hopf
from ._run import run as run
from ._status import BranchStatus as BranchStatus, LocateStatus as LocateStatus, SpecialKind as SpecialKind
from ._testfns import bialternate as bialternate, hopf_test as hopf_test
