"""Results: a ``Branch`` (struct of fixed-size, NaN-padded arrays, one row per point) and its ``SpecialPoints``."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._linalg import Kind
from ._status import LocateStatus, SpecialKind, BranchStatus


class SpecialPoints(eqx.Module):
    """Special points of a branch in a fixed-size buffer of ``S`` slots; the first ``count`` are used.

    ``kind`` (S,) ``SpecialKind`` code (-1 padding); ``p`` (S,), ``h`` (S, d) the located point;
    ``interval`` (S, 2) indices of the two branch rows that bracket it and ``p_interval`` (S, 2) their
    parameters; ``located`` (S,) ``LocateStatus`` code; ``residual`` (S,) ``max|f|`` there; ``omega`` (S,) the
    Hopf frequency and ``l1`` (S,) the first Lyapunov coefficient (NaN unless Hopf); ``n_unstable`` (S,) at
    the point, the critical eigenvalues counted as stable (the smaller count of the two bracketing rows);
    ``count`` () slots used; ``n_detected`` () events detected (more than ``S`` means some were dropped).
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

    def trim(self) -> "SpecialPoints":
        """Drop the padding slots (one branch only)."""
        _require_single(self.count, "SpecialPoints.trim")
        k = int(self.count)
        return jax.tree_util.tree_map(lambda a: a[:k] if a.ndim else a, self)

    def labels(self) -> list[str]:
        """Type labels of the used slots: ``"fold"``, ``"branch point"``, ``"Hopf"``, ``"neutral saddle"``."""
        _require_single(self.count, "SpecialPoints.labels")
        return [SpecialKind(int(k)).label for k in np.asarray(self.kind[: int(self.count)])]

    def of_kind(self, kind: SpecialKind) -> np.ndarray:
        """Slot indices (one branch) of the points of one kind."""
        _require_single(self.count, "SpecialPoints.of_kind")
        return np.flatnonzero(np.asarray(self.kind[: int(self.count)]) == int(kind))

    def __repr__(self) -> str:
        if np.ndim(self.count):
            return f"SpecialPoints(batch {np.shape(self.count)}, {np.shape(self.kind)[-1]} slots)"
        lines = [f"SpecialPoints: {int(self.count)} of {int(self.n_detected)} detected"]
        for i, label in enumerate(self.labels()):
            extra = (f"  omega={float(self.omega[i]):.6g} l1={float(self.l1[i]):+.4g}"
                     if int(self.kind[i]) == SpecialKind.HOPF else "")
            hs = " ".join(f"{v:+.6f}" for v in np.asarray(self.h[i])[:4]) + (" ..." if self.h.shape[-1] > 4 else "")
            lines.append(f"  {i:>2} {label:<14} p={float(self.p[i]):+.10f}  h=[{hs}]"
                         f"  n_unstable={int(self.n_unstable[i])}  "
                         f"{LocateStatus(int(self.located[i])).name.lower()}{extra}")
        return "\n".join(lines)


class Branch(eqx.Module):
    """A continued branch of equilibria in ``N`` fixed-size rows; the first ``count`` hold points in order.

    ``h`` (N, d), ``p`` (N,) the points; ``tangent`` (N, d+1) unit tangents along the direction of travel;
    ``ds`` (N,) the step that reached each point; ``n_unstable`` (N,) eigenvalues with positive real part;
    ``stability`` (N,) ``gru_jax.Kind`` code; ``residual`` (N,) ``max|f|``; ``newton`` (N,) corrector
    iterations; ``tests`` (N, 3) the fold, branch-point and Hopf test values (``SpecialKind`` order; the
    determinants row-scaled, see ``_testfns.scaled_det``); ``count`` (); ``status`` (2,)
    ``BranchStatus`` codes saying how the first and the last row end the branch (``START`` for the start point of
    a one-directional branch); ``special`` the located special points. Padding rows are NaN / -1.
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

    def trim(self) -> "Branch":
        """Drop the padding rows and slots (one branch only)."""
        _require_single(self.count, "Branch.trim")
        k = int(self.count)
        rows = jax.tree_util.tree_map(lambda a: a[:k], (self.h, self.p, self.tangent, self.ds, self.n_unstable,
                                                      self.stability, self.residual, self.newton, self.tests))
        return Branch(*rows, self.count, self.status, self.special.trim())

    def messages(self) -> tuple[str, str]:
        """How the first and last rows end the branch, in words."""
        _require_single(self.count, "Branch.messages")
        return tuple(BranchStatus(int(s)).message for s in np.asarray(self.status))

    def __repr__(self) -> str:
        if np.ndim(self.count):
            counts = np.asarray(self.count)
            return (f"Branch(batch {counts.shape}, {self.p.shape[-1]} rows each, count min {counts.min()} / "
                    f"max {counts.max()})")
        k = int(self.count)
        p = np.asarray(self.p[:k])
        span = f"p from {p[0]:+.6g} to {p[-1]:+.6g}" if k else "no points"
        kinds = ", ".join(f"{Kind(int(c)).label}" for c in _runs(np.asarray(self.stability[:k])))
        first, last = (BranchStatus(int(s)).name for s in np.asarray(self.status))
        return (f"Branch: {k} points, {span}; ends: {first} / {last}\n  stability along it: {kinds or '-'}\n"
                + repr(self.special))


def _runs(codes: np.ndarray) -> list[int]:
    return [int(c) for i, c in enumerate(codes) if c >= 0 and (i == 0 or c != codes[i - 1])]


def _require_single(count, what: str) -> None:
    if np.ndim(count):
        raise ValueError(f"{what}: this result holds a batch {np.shape(count)}; index one branch first, e.g. "
                         f"jax.tree_util.tree_map(lambda a: a[0], result).")


def join(backward: Branch, forward: Branch) -> Branch:
    """One branch from two continuations of the same start point in opposite directions: ``backward``
    reversed (tangents flipped), then ``forward`` without its duplicate start row; ``2N - 1`` rows and ``2S``
    slots, special points in order along the branch, intervals re-indexed."""
    n, s = backward.p.shape[0], backward.special.kind.shape[0]
    cb, cf = backward.count, forward.count
    rows = jnp.arange(2 * n - 1)
    from_back = rows < cb
    src = jnp.where(from_back, cb - 1 - rows, rows - cb + 1)
    used = rows < jnp.where(cb > 0, cb + cf - 1, 0)
    safe = jnp.clip(src, 0, n - 1)

    def merge(a, b):
        pick = jnp.where(_col(from_back, a), a[safe], b[safe])
        return jnp.where(_col(used, a), pick, jnp.nan if jnp.issubdtype(a.dtype, jnp.floating) else -1)

    flip = jnp.array([-1.0, -1.0, 1.0])           # t_p and det([[f_h, f_p], [t]]) change sign with the tangent
    fields = dict(h=merge(backward.h, forward.h), p=merge(backward.p, forward.p),
                  tangent=merge(-backward.tangent, forward.tangent), ds=merge(backward.ds, forward.ds),
                  n_unstable=merge(backward.n_unstable, forward.n_unstable),
                  stability=merge(backward.stability, forward.stability),
                  residual=merge(backward.residual, forward.residual), newton=merge(backward.newton, forward.newton),
                  tests=merge(backward.tests * flip, forward.tests))

    sb, sf = backward.special.count, forward.special.count
    slots = jnp.arange(2 * s)
    sp_back = slots < sb
    ssrc = jnp.clip(jnp.where(sp_back, sb - 1 - slots, slots - sb), 0, s - 1)
    sp_used = slots < sb + sf
    bsp, fsp = backward.special, forward.special

    def smerge(a, b):
        pick = jnp.where(_col(sp_back, a), a[ssrc], b[ssrc])
        return jnp.where(_col(sp_used, a), pick, jnp.nan if jnp.issubdtype(a.dtype, jnp.floating) else -1)

    interval = jnp.where(sp_back[:, None], (cb - 1 - bsp.interval[ssrc])[:, ::-1], fsp.interval[ssrc] + cb - 1)
    special = SpecialPoints(
        kind=smerge(bsp.kind, fsp.kind), p=smerge(bsp.p, fsp.p), h=smerge(bsp.h, fsp.h),
        interval=jnp.where(sp_used[:, None], interval, -1).astype(jnp.int32),
        p_interval=jnp.where(sp_back[:, None], smerge(bsp.p_interval, fsp.p_interval)[:, ::-1],
                             smerge(bsp.p_interval, fsp.p_interval)),
        located=smerge(bsp.located, fsp.located), residual=smerge(bsp.residual, fsp.residual),
        omega=smerge(bsp.omega, fsp.omega), l1=smerge(bsp.l1, fsp.l1),
        n_unstable=smerge(bsp.n_unstable, fsp.n_unstable),
        count=(sb + sf).astype(jnp.int32), n_detected=(bsp.n_detected + fsp.n_detected).astype(jnp.int32))
    count = jnp.where(cb > 0, cb + cf - 1, 0).astype(jnp.int32)
    status = jnp.stack([backward.status[1], forward.status[1]])
    return Branch(**fields, count=count, status=status, special=special)


def _col(mask, a):
    return mask.reshape(mask.shape + (1,) * (a.ndim - 1))
