"""gru_jax: dynamics and bifurcations of continuous-time gated recurrent units in JAX.

Importing gru_jax switches on ``jax_enable_x64``: analysis runs in float64 (set ``GRU_JAX_NO_X64=1`` to opt out), and
JAX's persistent compilation cache in ``~/.cache/gru_jax/jax`` (``GRU_JAX_NO_CACHE=1`` to opt out; see
``gru_jax._cache``)."""

import os as _os

import jax as _jax

if not _os.environ.get("GRU_JAX_NO_X64"):
    _jax.config.update("jax_enable_x64", True)

from ._cache import enable_compilation_cache as _enable_compilation_cache

_enable_compilation_cache()

from .continuation import (
    Branch as Branch, BranchStatus as BranchStatus, Codim2Kind as Codim2Kind, Curve as Curve,
    CurveDiagram as CurveDiagram, Diagram as Diagram, LocateStatus as LocateStatus, Param as Param,
    SpecialKind as SpecialKind, SpecialPoint as SpecialPoint, SpecialPoints as SpecialPoints,
    SwitchStatus as SwitchStatus, bifurcation_diagram as bifurcation_diagram, codim2_curves as codim2_curves,
    continue_equilibria as continue_equilibria, continue_equilibria_both as continue_equilibria_both,
    continue_curve as continue_curve, continue_curve_both as continue_curve_both, locate_fold as locate_fold,
    locate_hopf as locate_hopf, switch_branch as switch_branch,
)
from ._fixed_points import (
    FixedPoints as FixedPoints, SeedStatus as SeedStatus, find_fixed_points as find_fixed_points,
    fixed_point as fixed_point, make_seeds as make_seeds,
)
from ._integrate import (
    SOLVERS as SOLVERS, Trajectory as Trajectory, TrajectoryStatus as TrajectoryStatus, simulate as simulate,
)
from ._linalg import Kind as Kind, classify as classify, eigvals as eigvals, value_and_jacobian as value_and_jacobian
from .periodic import (
    CycleBranch as CycleBranch, CycleKind as CycleKind, FamilyEndKind as FamilyEndKind, FlowOptions as FlowOptions,
    LimitCycles as LimitCycles, OrbitStatus as OrbitStatus, PeriodicOrbit as PeriodicOrbit,
    TrajectoryEnd as TrajectoryEnd, continue_cycles as continue_cycles, find_limit_cycles as find_limit_cycles,
    periodic_orbit as periodic_orbit,
)
from .homoclinic import (
    Detection as Detection, HomoclinicCurve as HomoclinicCurve, HomoclinicFromBT as HomoclinicFromBT,
    HomoclinicPoint as HomoclinicPoint, HomoclinicStatus as HomoclinicStatus, Manifolds as Manifolds,
    continue_homoclinic as continue_homoclinic, detect_homoclinic as detect_homoclinic,
    homoclinic_from_bt as homoclinic_from_bt, locate_homoclinic as locate_homoclinic,
    saddle_manifolds as saddle_manifolds,
)
from ._slow_points import SlowPoints as SlowPoints, find_slow_points as find_slow_points
from .sweeps import (    # exported here; the subpackage is ``gru_jax.sweeps`` (plural) so ``gj.sweep`` is the function
    Census as Census, ContinuationEvents as ContinuationEvents, Cycles as Cycles, HomoclinicEvents as HomoclinicEvents,
    Stability as Stability, SweepResult as SweepResult, census as census,
    codim2_curves_from_sweep as codim2_curves_from_sweep, max_fixed_points_search as max_fixed_points_search,
    random_grus as random_grus, sweep as sweep, topology_atlas as topology_atlas,
)
from .models import (
    CTRNNParams as CTRNNParams, GRUParams as GRUParams, discrete_step as discrete_step, vector_field as vector_field,
)

__version__ = "0.1.0"
