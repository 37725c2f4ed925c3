"""Plots with matplotlib (loaded only by ``import gru_jax.plot``): phase portraits of 2-D systems, one-parameter
bifurcation diagrams, two-parameter diagrams of fold and Hopf curves, families of cycles (period or amplitude
against the parameter). Every function returns its Axes."""

from ._curves import two_parameter_diagram as two_parameter_diagram
from ._cycles import cycle_family as cycle_family
from ._diagram import bifurcation_diagram as bifurcation_diagram
from ._phase import KIND_STYLE as KIND_STYLE, NULLCLINE_COLOURS as NULLCLINE_COLOURS, phase_portrait as phase_portrait
