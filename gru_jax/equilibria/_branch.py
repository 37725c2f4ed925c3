"""Results: a ``Branch`` (struct of fixed-size, NaN-padded arrays, one row per point) and its ``SpecialPoints``."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .._linalg import Kind
from ..core._result import Result, join as join, require_single as _require_single  # noqa: F401 (re-exported)
from ..core._status import LocateStatus, SpecialKind, BranchStatus

_FLIP = (-1.0, -1.0, 1.0)     # t_p and det([[f_h, f_p], [t]]) change sign with the tangent (``join``)


class SpecialPoints(Result):
    """Special points of a branch in ``S`` fixed-size slots; the first ``count`` are used. ``kind`` (S,) ``SpecialKind``
    code (-1 padding); ``p`` (S,), ``h`` (S, d) the located point; ``interval`` (S, 2) the two branch rows that bracket
    it and ``p_interval`` (S, 2) their parameters; ``located`` (S,) ``LocateStatus`` code; ``residual`` (S,) ``max|f|``;
    ``omega`` (S,), ``l1`` (S,) the Hopf frequency and first Lyapunov coefficient (NaN unless Hopf); ``n_unstable`` (S,)
    at the point, critical eigenvalues counted as stable (the smaller count of the bracketing rows); ``count`` () slots
    used; ``n_detected`` () events detected (above ``S``: some dropped).
    """

    kind: jax.Array
    p: jax.Array
    h: jax.Array
    interval: jax.Array
    p_interval: jax.Array
    located: jax.Array
    residual: jax.Array
    omega: jax.Array
    l1: jax.Array
    n_unstable: jax.Array
    count: jax.Array
    n_detected: jax.Array

    # labels(): "fold", "branch point", "Hopf", "neutral saddle"; join: slots in order along the joined branch,
    # a backward slot's bracketing rows re-indexed into the joined rows (``offset``: backward's row count)
    _rows = ("kind", "p", "h", "interval", "p_interval", "located", "residual", "omega", "l1", "n_unstable")
    _kinds = SpecialKind
    _join_overlap = 0
    _join_backward = {"interval": lambda a, offset: (offset - 1 - a)[:, ::-1], "p_interval": lambda a, _: a[:, ::-1]}
    _join_forward = {"interval": lambda a, offset: a + offset - 1}

    def _repr_one(self) -> str:
        lines = [f"SpecialPoints: {int(self.count)} of {int(self.n_detected)} detected"]
        for i, label in enumerate(self.labels()):
            extra = (f"  omega={float(self.omega[i]):.6g} l1={float(self.l1[i]):+.4g}"
                     if int(self.kind[i]) == SpecialKind.HOPF else "")
            hs = " ".join(f"{v:+.6f}" for v in np.asarray(self.h[i])[:4]) + (" ..." if self.h.shape[-1] > 4 else "")
            lines.append(f"  {i:>2} {label:<14} p={float(self.p[i]):+.10f}  h=[{hs}]  n_unstable="
                         f"{int(self.n_unstable[i])}  {LocateStatus(int(self.located[i])).name.lower()}{extra}")
        return "\n".join(lines)


class Branch(Result):
    """A continued branch of equilibria in ``N`` fixed-size rows; the first ``count`` hold points in order. ``h``
    (N, d), ``p`` (N,) the points; ``tangent`` (N, d+1) unit tangents along the direction of travel; ``ds`` (N,) the
    step that reached each point; ``n_unstable`` (N,) eigenvalues with positive real part; ``stability`` (N,)
    ``gru_jax.Kind`` code; ``residual`` (N,) ``max|f|``; ``newton`` (N,) corrector iterations; ``tests`` (N, 3) the
    fold, branch-point and Hopf test values (``SpecialKind`` order, see ``_testfns``); ``count`` (); ``status`` (2,)
    ``BranchStatus`` codes of how the first and last rows end the branch (``START``: the start of a one-way branch);
    ``special`` the located special points. Padding rows are NaN / -1.
    """

    h: jax.Array
    p: jax.Array
    tangent: jax.Array
    ds: jax.Array
    n_unstable: jax.Array
    stability: jax.Array
    residual: jax.Array
    newton: jax.Array
    tests: jax.Array
    count: jax.Array
    status: jax.Array
    special: SpecialPoints

    _rows = ("h", "p", "tangent", "ds", "n_unstable", "stability", "residual", "newton", "tests")
    _join_backward = {"tangent": lambda a, _: -a, "tests": lambda a, _: a * jnp.array(_FLIP)}

    def messages(self) -> tuple[str, str]:
        """How the first and last rows end the branch, in words."""
        _require_single(self.count, "Branch.messages")
        return tuple(BranchStatus(int(s)).message for s in np.asarray(self.status))

    def _repr_one(self) -> str:
        k = int(self.count)
        p = np.asarray(self.p[:k])
        span = f"p from {p[0]:+.6g} to {p[-1]:+.6g}" if k else "no points"
        codes = np.asarray(self.stability[:k])     # the stability kinds along the branch, each run once
        kinds = ", ".join(Kind(int(c)).label for i, c in enumerate(codes) if c >= 0 and (i == 0 or c != codes[i - 1]))
        first, last = (BranchStatus(int(s)).name for s in np.asarray(self.status))
        return (f"Branch: {k} points, {span}; ends: {first} / {last}\n  stability along it: {kinds or '-'}\n"
                + repr(self.special))
