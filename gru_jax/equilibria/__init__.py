"""Equilibria in one parameter: branches by PALC or natural-parameter continuation (a problem on the core),
fold / branch-point / Hopf detection inside the loop, location by augmented Newton solves, first Lyapunov
coefficients, branch switching and bifurcation diagrams."""

from ._branch import Branch as Branch, SpecialPoints as SpecialPoints, join as join
from ._continuation import continue_equilibria as continue_equilibria
from ._continuation import continue_equilibria_both as continue_equilibria_both
from ._continuation import continuation as continuation, continuation_both as continuation_both   # deprecated names
from ._diagram import Diagram as Diagram, DiagramPoints as DiagramPoints, bifurcation_diagram as bifurcation_diagram
from ._lyapunov import critical_pair as critical_pair, first_lyapunov as first_lyapunov, hopf_vectors as hopf_vectors
from ._palc import Problem as Problem, Settings as Settings, State as State, init as init, step as step
from ._point import SpecialPoint as SpecialPoint, locate_fold as locate_fold, locate_hopf as locate_hopf
from ._run import run as run
from ._switch import SwitchStatus as SwitchStatus, switch_branch as switch_branch, trace as trace
from ._testfns import bialternate as bialternate, hopf_test as hopf_test
