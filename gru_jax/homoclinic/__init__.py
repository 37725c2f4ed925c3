"""Homoclinic bifurcations of planar systems: saddle manifolds, the split function, location (differentiable),
batched detection, two-parameter continuation, and where cycle families end (saddle-loop or SNIC)."""

from ._curve import HomoclinicCurve as HomoclinicCurve, continue_homoclinic as continue_homoclinic
from ._from_bt import HomoclinicFromBT as HomoclinicFromBT, homoclinic_from_bt as homoclinic_from_bt
from ._detect import Detection as Detection, detect_homoclinic as detect_homoclinic
from ._locate import HomoclinicPoint as HomoclinicPoint, HomoclinicStatus as HomoclinicStatus
from ._locate import locate_homoclinic as locate_homoclinic
from ._manifolds import Manifolds as Manifolds, ManifoldStatus as ManifoldStatus, saddle_manifolds as saddle_manifolds
from ._split import Split as Split, SplitOptions as SplitOptions, SplitStatus as SplitStatus, split_one as split_one
