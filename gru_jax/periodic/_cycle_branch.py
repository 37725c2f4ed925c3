"""Results of cycle continuation: a ``CycleBranch`` (fixed-size, NaN-padded rows), its ``CyclePoints`` (fold of
cycles, period doubling, Neimark-Sacker) and the ``FamilyEnd`` (how the family ends), with their codes."""

from __future__ import annotations

import jax
import numpy as np

from ..core._result import Result, require_single as _require_single
from ..core._status import BranchStatus, Codes, LocateStatus


class CycleKind(Codes):
    """Type of a special point on a family of cycles (``CyclePoints.kind``; ``-1`` marks padding)."""

    LPC = 0, "LPC", "fold of cycles: the tangent's parameter component changes sign"
    PD = 1, "PD", "period doubling: a real Floquet multiplier passes through -1"
    NS = 2, "NS", "Neimark-Sacker: a complex pair of Floquet multipliers crosses the unit circle"
    NEUTRAL_SADDLE = 3, "neutral saddle cycle", ("neutral saddle cycle: two real multipliers with product 1 (the "
                                                 "Neimark-Sacker test fired)")


class FamilyEndKind(Codes):
    """How a family of cycles ended by itself (``FamilyEnd.kind``, with ``CycleBranch.status`` ``ENDED``; ``-1``:
    it did not)."""

    HOPF = 0, "Hopf", ("the cycle shrank onto an equilibrium (amplitude below amp_min, or it passed through zero): a "
                       "Hopf point")
    HOMOCLINIC = 1, "homoclinic (saddle-loop)", ("the period exceeded period_max with the orbit at a hyperbolic "
                                                 "saddle with real leading eigenvalues: a saddle-loop homoclinic orbit")
    HOMOCLINIC_FOCUS = 2, "homoclinic (saddle-focus)", ("the period exceeded period_max with the orbit at a "
                                                        "hyperbolic saddle-focus: a Shilnikov-type homoclinic orbit")
    SNIC = 3, "SNIC", ("the period exceeded period_max at a slow bottleneck with no hyperbolic equilibrium (a "
                       "saddle-node or its ghost): a saddle-node on an invariant circle")
    PERIOD_MAX = 4, "period max", "the period exceeded period_max and the cause could not be classified"


#: a cycle family's words for the ends it shares with every curve, where those of ``BranchStatus`` differ
_CYCLE_WORDS = {
    BranchStatus.LEFT_WINDOW: "reached the edge of the parameter window (the last row lies on it)",
    BranchStatus.NONFINITE: "the flow or its Jacobian became non-finite for every step down to ds_min",
    BranchStatus.START_FAILED: ("the first cycle did not converge (check the Hopf point or the orbit guess, or "
                                "change ds, the first amplitude)"),
}


class CyclePoints(Result):
    """Special points of a family of cycles in ``S`` slots; the first ``count`` are used.

    ``kind`` (S,) ``CycleKind`` code (-1 padding); ``p`` (S,), ``period`` (S,), ``X`` (S, M, d) the located
    cycle; ``multipliers`` (S, d) complex Floquet multipliers there; ``interval`` (S, 2) the branch rows that
    bracket it; ``located`` (S,) ``LocateStatus`` code; ``count`` (); ``n_detected`` () events detected (more
    than ``S``: some were dropped)."""

    kind: jax.Array
    p: jax.Array
    period: jax.Array
    X: jax.Array
    multipliers: jax.Array
    interval: jax.Array
    located: jax.Array
    count: jax.Array
    n_detected: jax.Array

    _rows = ("kind", "p", "period", "X", "multipliers", "interval", "located")
    _kinds = CycleKind

    def _repr_one(self) -> str:
        lines = [f"CyclePoints: {int(self.count)} of {int(self.n_detected)} detected"]
        for i, label in enumerate(self.labels()):
            mu = " ".join(_complex(z) for z in np.asarray(self.multipliers[i]))
            lines.append(f"  {i:>2} {label:<4} p={float(self.p[i]):+.10f} period={float(self.period[i]):.8g} "
                         f"multipliers=[{mu}]  {LocateStatus(int(self.located[i])).name.lower()}")
        return "\n".join(lines)


class FamilyEnd(Result):
    """How the family ended by itself: ``kind`` () a ``FamilyEndKind`` code (``-1``: it did not; the rest NaN).

    ``equilibrium`` (d,) the equilibrium involved (NaN when there is none near the orbit: a SNIC's ghost);
    ``eigenvalues`` (d,) complex its eigenvalues; ``saddle_quantity`` () ``Re λ_u + Re λ_s`` of the leading
    unstable and stable eigenvalues (negative: the cycle born from a saddle-loop is stable); ``slowest`` (d,) the
    slowest point of the last orbit and ``speed`` () ``|f|`` there; ``p_end`` () the parameter where the family
    ends, extrapolated from the last rows (SNIC: ``p = p* + a/T² + b/T³``; homoclinic: ``p = p* + c e^{-λ_u T}``,
    or the last row's ``p`` once ``p`` stopped moving; Hopf: ``p`` as a quadratic in the squared amplitude, at
    zero); ``rate`` () and ``exponent`` () the slopes of ``ln|dT/dp|`` against ``T`` and ``ln T`` over the last
    rows whose ``t_p`` is resolved (a log law ``T ~ -ln|p - p*|/λ_u`` gives ``rate ≈ λ_u``, a square-root law
    ``T ~ C/sqrt|p - p*|`` gives ``exponent ≈ 3``); ``law_agrees`` () whether that scaling supports the verdict."""

    kind: jax.Array
    equilibrium: jax.Array
    eigenvalues: jax.Array
    saddle_quantity: jax.Array
    slowest: jax.Array
    speed: jax.Array
    p_end: jax.Array
    rate: jax.Array
    exponent: jax.Array
    law_agrees: jax.Array

    _batch_field = "speed"


class CycleBranch(Result):
    """A continued family of periodic orbits in ``N`` fixed-size rows; the first ``count`` are cycles in order.

    Per row: ``p`` (N,), ``period`` (N,), ``X`` (N, M, d) the orbit at times ``0, T/M, ...`` (the shooting nodes);
    ``multipliers`` (N, d) complex Floquet multipliers (the trivial one first, exactly 1); ``n_unstable`` (N,)
    non-trivial multipliers outside the unit circle; ``stable`` (N,) bool; ``amplitude`` (N,) the largest distance of a
    node from the nodes' mean; ``tangent`` (N, M d + 2) unit tangents in ``(X, T, p)`` along the direction of travel;
    ``ds`` (N,) the step that reached the row; ``residual`` (N,) max-norm of the shooting residual; ``newton`` (N,)
    corrector iterations; ``tests`` (N, 3) the fold-of-cycles, period-doubling and Neimark-Sacker test values.
    ``count`` (); ``status`` () a ``BranchStatus`` code (``ENDED``: the family ended by itself, ``family_end.kind``
    says how; ``.end`` in words); ``special`` the located ``CyclePoints``; ``family_end`` a ``FamilyEnd``. Padding
    rows are NaN / -1."""

    p: jax.Array
    period: jax.Array
    X: jax.Array
    multipliers: jax.Array
    n_unstable: jax.Array
    stable: jax.Array
    amplitude: jax.Array
    tangent: jax.Array
    ds: jax.Array
    residual: jax.Array
    newton: jax.Array
    tests: jax.Array
    count: jax.Array
    status: jax.Array
    special: CyclePoints
    family_end: FamilyEnd

    _rows = ("p", "period", "X", "multipliers", "n_unstable", "stable", "amplitude", "tangent", "ds", "residual",
             "newton", "tests")

    @property
    def end(self) -> str:
        """How the family ends, in a few words: ``"SNIC"``, ``"homoclinic (saddle-loop)"``, ``"Hopf"``, ..."""
        return self._end("end")[0]

    @property
    def message(self) -> str:
        return self._end("message")[1]

    def _end(self, what: str) -> tuple[str, str]:
        """``(label, message)`` of the family's end kind, else of its status (in a cycle family's words)."""
        _require_single(self.count, f"CycleBranch.{what}")
        kind, status = int(self.family_end.kind), BranchStatus(int(self.status))
        if kind >= 0:
            return FamilyEndKind(kind).label, FamilyEndKind(kind).message
        return status.label, _CYCLE_WORDS.get(status, status.message)

    def to_numpy(self) -> dict:
        """The used rows as numpy arrays, ``{"p", "period", ..., "special": [{kind, p, period, ...}], "end"}``
        (unlike other results' ``to_numpy``, which keep the padding: ``Result.to_numpy(branch)`` gives that)."""
        t = self.trim()
        out = {name: np.asarray(getattr(t, name)) for name in self._rows}
        sp = t.special
        out["special"] = [dict(kind=label, p=float(sp.p[i]), period=float(sp.period[i]), X=np.asarray(sp.X[i]),
                               multipliers=np.asarray(sp.multipliers[i]),
                               located=LocateStatus(int(sp.located[i])).name.lower())
                          for i, label in enumerate(sp.labels())]
        out["end"] = self.end
        out["family_end"] = {k: np.asarray(v) for k, v in vars(self.family_end).items()}
        return out

    def _repr_one(self) -> str:
        k = int(self.count)
        p, T = np.asarray(self.p[:k]), np.asarray(self.period[:k])
        span = (f"p from {p[0]:+.6g} to {p[-1]:+.6g}, period from {T[0]:.6g} to {T[-1]:.6g}" if k else "no cycles")
        stable = np.asarray(self.stable[:k])
        runs = [("stable" if s else "unstable") for i, s in enumerate(stable) if i == 0 or s != stable[i - 1]]
        lines = [f"CycleBranch: {k} cycles, {span}; end: {self.end}", f"  stability along it: {', '.join(runs) or '-'}"]
        e = self.family_end
        if int(e.kind) >= 0:
            eq = np.asarray(e.equilibrium)
            where = ("no equilibrium near the orbit (a ghost)" if not np.all(np.isfinite(eq)) else
                     "equilibrium [" + " ".join(f"{v:+.6f}" for v in eq[:4]) + "]  eigenvalues ["
                     + " ".join(_complex(z) for z in np.asarray(e.eigenvalues)) + "]")
            lines.append(f"  end at p* ~ {float(e.p_end):+.10f}; {where}")
            if int(e.kind) != FamilyEndKind.HOPF:
                lines.append(f"  saddle quantity {float(e.saddle_quantity):+.6g}; ln|dT/dp| slope vs T "
                             f"{float(e.rate):.4g}, vs ln T {float(e.exponent):.4g}; "
                             f"scaling {'supports' if bool(e.law_agrees) else 'does not support'} the verdict")
        return "\n".join(lines) + "\n" + repr(self.special)


def _complex(z: complex) -> str:
    return f"{z.real:+.6g}" if abs(z.imag) <= 1e-9 * max(1.0, abs(z)) else f"{z.real:+.5g}{z.imag:+.5g}j"
