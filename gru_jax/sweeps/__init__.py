"""Parameter sweeps: ``sweep`` runs a batched analysis over a grid of 1-3 parameters or an ensemble of parameter
sets, in chunks sharded over the local devices, checkpointed and resumable; built-in analyses (fixed-point census,
stability of an equilibrium, limit cycles, special points of a continuation); codim-2 curves seeded from a map's
point clouds; the topology atlas and the search for GRUs with many fixed points."""

from ._analyses import ANALYSES as ANALYSES, Census as Census, ContinuationEvents as ContinuationEvents
from ._analyses import Cycles as Cycles, HomoclinicEvents as HomoclinicEvents, Stability as Stability
from ._analyses import decode_topology as decode_topology, describe_topology as describe_topology
from ._analyses import encode_topology as encode_topology, random_grus as random_grus
from ._atlas import SearchResult as SearchResult, TopologyAtlas as TopologyAtlas, Verified as Verified
from ._atlas import max_fixed_points_search as max_fixed_points_search, topology_atlas as topology_atlas
from ._atlas import verify_fixed_points as verify_fixed_points
from ._result import SweepResult as SweepResult
from ._seed import codim2_curves_from_sweep as codim2_curves_from_sweep
from ._sweep import sweep as sweep

census = Census()    # the default fixed-point census (64 grid seeds)
