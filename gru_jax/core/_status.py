"""Codes stored in continuation results: how a branch ends, what a special point is, how it was located."""

from __future__ import annotations

import enum


class BranchStatus(enum.IntEnum):
    """How one end of a branch ended (``Branch.status``); ``.message`` says it in words."""

    RUNNING = 0          # not finished (only seen while iterating ``step`` by hand)
    START = 1            # this end is the start point
    MAX_POINTS = 2
    LEFT_WINDOW = 3
    STEP_TOO_SMALL = 4
    NONFINITE = 5
    START_FAILED = 6
    CLOSED_LOOP = 7

    @property
    def message(self) -> str:
        return _STATUS[self]


class SpecialKind(enum.IntEnum):
    """Type of a special point (``SpecialPoints.kind``; ``-1`` marks padding); ``.label``, ``.message``."""

    FOLD = 0
    BRANCH_POINT = 1
    HOPF = 2
    NEUTRAL_SADDLE = 3

    @property
    def label(self) -> str:
        return ("fold", "branch point", "Hopf", "neutral saddle")[self]

    @property
    def message(self) -> str:
        return _KIND[self]


class Codim2Kind(enum.IntEnum):
    """Type of a codimension-two point on a fold or Hopf curve (``Codim2Points.kind``; ``-1`` marks padding)."""

    CUSP = 0
    BOGDANOV_TAKENS = 1
    GENERALIZED_HOPF = 2

    @property
    def label(self) -> str:
        return ("cusp", "bogdanov-takens", "generalized hopf")[self]

    @property
    def message(self) -> str:
        return _CODIM2[self]


class LocateStatus(enum.IntEnum):
    """How a special point was located (``SpecialPoints.located``); ``.message`` says it in words."""

    CONVERGED = 0
    MAX_STEPS = 1
    NONFINITE = 2
    NO_SIGN_CHANGE = 3
    OUTSIDE_BRACKET = 4

    @property
    def message(self) -> str:
        return _LOCATED[self]


_STATUS = {
    BranchStatus.RUNNING: "still running",
    BranchStatus.START: "the start point (the branch was continued in the other direction only)",
    BranchStatus.MAX_POINTS: "reached max_points (increase max_points or ds_max to go further)",
    BranchStatus.LEFT_WINDOW: "reached the edge of the parameter window [p_min, p_max] (the last point lies on it)",
    BranchStatus.STEP_TOO_SMALL: "the corrector failed for every step size down to ds_min",
    BranchStatus.NONFINITE: "f or its Jacobian became non-finite for every step size down to ds_min",
    BranchStatus.START_FAILED: "the start point did not converge to an equilibrium (improve h0)",
    BranchStatus.CLOSED_LOOP: "the branch came back to its start point: it is a closed curve (the last row passes it)",
}
_KIND = {
    SpecialKind.FOLD: "fold (limit point): the tangent's parameter component changes sign",
    SpecialKind.BRANCH_POINT: "branch point: the bordered determinant det([[f_h, f_p], [t]]) changes sign",
    SpecialKind.HOPF: "Hopf: a complex pair crosses the imaginary axis (bialternate test, confirmed by eigenvalues)",
    SpecialKind.NEUTRAL_SADDLE: "neutral saddle: two real eigenvalues of zero sum (the Hopf test fired, not a Hopf)",
}
_CODIM2 = {
    Codim2Kind.CUSP: "cusp: the fold's quadratic normal-form coefficient a = w·B(v, v)/2 changes sign",
    Codim2Kind.BOGDANOV_TAKENS: "Bogdanov-Takens: double zero eigenvalue (w·v on fold curves, ω² on Hopf curves "
                                "changes sign; beyond it the Hopf curve continues as a neutral-saddle curve)",
    Codim2Kind.GENERALIZED_HOPF: "generalized Hopf (Bautin): the first Lyapunov coefficient changes sign",
}
_LOCATED = {
    LocateStatus.CONVERGED: "located: the last Newton (or bracketing) step was below tol",
    LocateStatus.MAX_STEPS: "not converged within the iteration budget",
    LocateStatus.NONFINITE: "a non-finite value or a singular system appeared while locating",
    LocateStatus.NO_SIGN_CHANGE: "the test function did not change sign between the bracketing points",
    LocateStatus.OUTSIDE_BRACKET: "the augmented Newton solve converged away from the bracketing segment",
}


class CycleStatus(enum.IntEnum):
    """How a family of cycles ends (``CycleBranch.status``); ``.label`` is short, ``.message`` says it in words."""

    RUNNING = BranchStatus.RUNNING                # the codes the two share are the same
    MAX_POINTS = BranchStatus.MAX_POINTS
    LEFT_WINDOW = BranchStatus.LEFT_WINDOW
    STEP_TOO_SMALL = BranchStatus.STEP_TOO_SMALL
    NONFINITE = BranchStatus.NONFINITE
    START_FAILED = BranchStatus.START_FAILED
    HOPF = 8
    HOMOCLINIC = 9
    HOMOCLINIC_FOCUS = 10
    SNIC = 11
    PERIOD_MAX = 12

    @property
    def label(self) -> str:
        return _END[self][0]

    @property
    def message(self) -> str:
        return _END[self][1]


_END = {
    CycleStatus.RUNNING: ("running", "still running"),
    CycleStatus.MAX_POINTS: ("max points", "reached max_points (increase max_points or ds_max to go further)"),
    CycleStatus.LEFT_WINDOW: ("left window", "reached the edge of the parameter window (the last row lies on it)"),
    CycleStatus.STEP_TOO_SMALL: ("step too small", "the corrector failed for every step size down to ds_min"),
    CycleStatus.NONFINITE: ("non-finite", "the flow or its Jacobian became non-finite for every step down to ds_min"),
    CycleStatus.START_FAILED: ("start failed", "the first cycle did not converge (check the Hopf point or the "
                                               "orbit guess, or change ds, the first amplitude)"),
    CycleStatus.HOPF: ("Hopf", "the cycle shrank onto an equilibrium (amplitude below amp_min, or it passed "
                               "through zero): a Hopf point"),
    CycleStatus.HOMOCLINIC: ("homoclinic (saddle-loop)", "the period exceeded period_max with the orbit at a "
                                                         "hyperbolic saddle with real leading eigenvalues: a "
                                                         "saddle-loop homoclinic orbit"),
    CycleStatus.HOMOCLINIC_FOCUS: ("homoclinic (saddle-focus)", "the period exceeded period_max with the orbit at "
                                                                "a hyperbolic saddle-focus: a Shilnikov-type "
                                                                "homoclinic orbit"),
    CycleStatus.SNIC: ("SNIC", "the period exceeded period_max at a slow bottleneck with no hyperbolic equilibrium "
                               "(a saddle-node or its ghost): a saddle-node on an invariant circle"),
    CycleStatus.PERIOD_MAX: ("period max", "the period exceeded period_max and the cause could not be classified"),
}
