"""Codes stored in results: ``Codes``, the base of every status and kind enum of the package, and the codes of
continuation: how a curve ends, what a special point is, how it was located."""

from __future__ import annotations

import enum


class Codes(enum.IntEnum):
    """Integer codes that carry their words: a member is declared ``NAME = code, message`` or ``NAME = code, label,
    message`` and stays a plain int (``int(X.NAME)``, ``X(code)``, ``jnp.where(..., X.NAME, ...)``)."""

    label: str
    message: str

    def __new__(cls, value: int, *words: str):
        member = int.__new__(cls, value)
        member._value_ = value
        *label, member.message = words
        if label:
            member.label = label[0]
        return member


class BranchStatus(Codes):
    """How one end of a curve ended (``Branch.status``); ``.label`` is short, ``.message`` says it in words."""

    RUNNING = 0, "running", "still running"       # only seen while iterating ``step`` by hand
    START = 1, "start", "the start point (the branch was continued in the other direction only)"
    MAX_POINTS = 2, "max points", "reached max_points (increase max_points or ds_max to go further)"
    LEFT_WINDOW = 3, "left window", ("reached the edge of the parameter window [p_min, p_max] (the last point lies "
                                     "on it)")
    STEP_TOO_SMALL = 4, "step too small", "the corrector failed for every step size down to ds_min"
    NONFINITE = 5, "non-finite", "f or its Jacobian became non-finite for every step size down to ds_min"
    START_FAILED = 6, "start failed", "the start point did not converge to an equilibrium (improve h0)"
    CLOSED_LOOP = 7, "closed loop", ("the branch came back to its start point: it is a closed curve (the last row "
                                     "passes it)")
    ENDED = 8, "ended", "the curve reached an end of its own; the result's end kind says which"


class SpecialKind(Codes):
    """Type of a special point (``SpecialPoints.kind``; ``-1`` marks padding)."""

    FOLD = 0, "fold", "fold (limit point): the tangent's parameter component changes sign"
    BRANCH_POINT = 1, "branch point", "branch point: the bordered determinant det([[f_h, f_p], [t]]) changes sign"
    HOPF = 2, "Hopf", "Hopf: a complex pair crosses the imaginary axis (bialternate test, confirmed by eigenvalues)"
    NEUTRAL_SADDLE = 3, "neutral saddle", ("neutral saddle: two real eigenvalues of zero sum (the Hopf test fired, "
                                           "not a Hopf)")


class Codim2Kind(Codes):
    """Type of a codimension-two point on a fold or Hopf curve (``Codim2Points.kind``; ``-1`` marks padding)."""

    CUSP = 0, "cusp", "cusp: the fold's quadratic normal-form coefficient a = w·B(v, v)/2 changes sign"
    BOGDANOV_TAKENS = 1, "bogdanov-takens", ("Bogdanov-Takens: double zero eigenvalue (w·v on fold curves, ω² on "
                                             "Hopf curves changes sign; beyond it the Hopf curve continues as a "
                                             "neutral-saddle curve)")
    GENERALIZED_HOPF = 2, "generalized hopf", "generalized Hopf (Bautin): the first Lyapunov coefficient changes sign"


class LocateStatus(Codes):
    """How a special point was located (``SpecialPoints.located``)."""

    CONVERGED = 0, "located: the last Newton (or bracketing) step was below tol"
    MAX_STEPS = 1, "not converged within the iteration budget"
    NONFINITE = 2, "a non-finite value or a singular system appeared while locating"
    NO_SIGN_CHANGE = 3, "the test function did not change sign between the bracketing points"
    OUTSIDE_BRACKET = 4, "the augmented Newton solve converged away from the bracketing segment"
