"""Periodic orbits: shooting on diffrax, Floquet multipliers, detection from simulation, cycle continuation."""
