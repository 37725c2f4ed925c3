"""Periodic orbits: shooting on diffrax, Floquet multipliers, detection from simulation, cycle continuation."""

from ._detect import LimitCycles as LimitCycles, TrajectoryEnd as TrajectoryEnd, find_limit_cycles as find_limit_cycles
from ._flow import FlowOptions as FlowOptions
from ._shooting import OrbitStatus as OrbitStatus, PeriodicOrbit as PeriodicOrbit, periodic_orbit as periodic_orbit
from ._continue import continue_cycles as continue_cycles
from ._cycle_branch import (
    CycleBranch as CycleBranch,
    CycleKind as CycleKind,
    CyclePoints as CyclePoints,
    FamilyEnd as FamilyEnd,
    FamilyEndKind as FamilyEndKind,
)
