"""Fold and Hopf curves of equilibria in two parameters (a problem on the core) with cusp, Bogdanov-Takens and
generalized Hopf points, and the curves through every codimension-one point of a diagram."""

from ._codim2 import Codim2Point as Codim2Point, Codim2Points as Codim2Points, Curve as Curve
from ._codim2 import continue_curve as continue_curve, continue_curve_both as continue_curve_both
from ._codim2_diagram import CurveDiagram as CurveDiagram, CurvePoints as CurvePoints, codim2_curves as codim2_curves
