"""Codimension-two continuation: fold and Hopf curves of equilibria in two parameters, with cusp,
Bogdanov-Takens and generalized Hopf (Bautin) points detected and located on them (see ``_codim2_curve``).

Public entry points ``continue_curve`` and ``continue_curve_both`` (input checks before anything compiles,
then one jitted program per field, curve kind, parameter pair and buffer sizes) and the ``Curve`` result."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._validate import check_choice, check_finite, is_concrete
from ..models._field import VectorField
from ._branch import _require_single
from ._codim2_curve import CurveProblem, CurveSettings, init, run
from ._continuation import _check_numbers, _top_level_or_nested, check_field, check_sizes, one_problem
from ._param import Param
from ._status import BranchStatus, Codim2Kind, LocateStatus

KINDS = ("fold", "hopf")


class Codim2Point(eqx.Module):
    """One codimension-two point: ``kind`` () ``Codim2Kind`` code, ``p``, ``p2`` (), ``h`` (d,), ``located`` ()
    ``LocateStatus`` code, ``residual`` () ``max|f|``."""

    kind: jax.Array
    p: jax.Array
    p2: jax.Array
    h: jax.Array
    located: jax.Array
    residual: jax.Array

    def __repr__(self) -> str:
        hs = " ".join(f"{v:+.8f}" for v in np.asarray(self.h).tolist())
        return (f"Codim2Point({Codim2Kind(int(self.kind)).label}: p={float(self.p):+.12f} p2={float(self.p2):+.12f} "
                f"h=[{hs}]; {LocateStatus(int(self.located)).name.lower()})")


class Codim2Points(eqx.Module):
    """Codimension-two points of a curve in ``S`` slots; the first ``count`` are used, in order along it.

    ``kind`` (S,) ``Codim2Kind`` code (-1 padding); ``p``, ``p2`` (S,), ``h`` (S, d) the located point;
    ``located`` (S,) ``LocateStatus`` code of the bracketing on the curve; ``residual`` (S,) ``max|f|``;
    ``count`` () slots used; ``n_detected`` () sign changes detected (more than ``S``: some were dropped).
    """

    kind: jax.Array
    p: jax.Array
    p2: jax.Array
    h: jax.Array
    located: jax.Array
    residual: jax.Array
    count: jax.Array
    n_detected: jax.Array

    def trim(self) -> "Codim2Points":
        """Drop the padding slots (one curve only)."""
        _require_single(self.count, "Codim2Points.trim")
        k = int(self.count)
        return jax.tree_util.tree_map(lambda a: a[:k] if a.ndim else a, self)

    def __getitem__(self, k: int) -> Codim2Point:
        """Slot ``k`` of one curve as a ``Codim2Point`` (e.g. the Bogdanov-Takens start of ``homoclinic_from_bt``)."""
        _require_single(self.count, "Codim2Points[k]")
        if not -int(self.count) <= k < int(self.count):
            raise IndexError(f"slot {k} out of range: {int(self.count)} point(s) used.")
        k = k % int(self.count)
        return Codim2Point(*(jnp.asarray(getattr(self, name)[k]) for name in ("kind", "p", "p2", "h", "located",
                                                                               "residual")))

    def labels(self) -> list[str]:
        """Labels of the used slots: ``"cusp"``, ``"bogdanov-takens"``, ``"generalized hopf"``."""
        _require_single(self.count, "Codim2Points.labels")
        return [Codim2Kind(int(k)).label for k in np.asarray(self.kind[: int(self.count)])]

    def of_kind(self, kind: Codim2Kind) -> np.ndarray:
        """Slot indices (one curve) of the points of one kind."""
        _require_single(self.count, "Codim2Points.of_kind")
        return np.flatnonzero(np.asarray(self.kind[: int(self.count)]) == int(kind))

    def __repr__(self) -> str:
        if np.ndim(self.count):
            return f"Codim2Points(batch {np.shape(self.count)}, {np.shape(self.kind)[-1]} slots)"
        lines = [f"Codim2Points: {int(self.count)} of {int(self.n_detected)} detected"]
        for i, label in enumerate(self.labels()):
            hs = " ".join(f"{v:+.6f}" for v in np.asarray(self.h[i])[:4]) + (" ..." if self.h.shape[-1] > 4 else "")
            lines.append(f"  {i:>2} {label:<16} p={float(self.p[i]):+.10f} p2={float(self.p2[i]):+.10f}  h=[{hs}]  "
                         f"{LocateStatus(int(self.located[i])).name.lower()}")
        return "\n".join(lines)


class Curve(eqx.Module):
    """A fold or Hopf curve of equilibria in ``N`` fixed-size rows; the first ``count`` hold points in order.

    ``h`` (N, d), ``p`` (N,), ``p2`` (N,) the points; ``kappa`` (N,) ``ω²`` of the critical pair on Hopf curves
    (``< 0``: the neutral-saddle part beyond a Bogdanov-Takens point; NaN on fold curves); ``tests`` (N, 2)
    test values (fold: ``w·v``, cusp coefficient; Hopf: ``κ``, ``l1``); ``residual`` (N,) ``max|f|``; ``count``
    (); ``status`` (2,) ``BranchStatus`` codes of the first and last row; ``special`` the ``Codim2Points``;
    ``kind`` ``"fold"`` or ``"hopf"``, ``param_name``, ``param2_name`` the ``Param`` labels such as ``bh[0]`` (static). Padding
    rows are NaN.
    """

    h: jax.Array
    p: jax.Array
    p2: jax.Array
    kappa: jax.Array
    tests: jax.Array
    residual: jax.Array
    count: jax.Array
    status: jax.Array
    special: Codim2Points
    kind: str = eqx.field(static=True)
    param_name: str = eqx.field(static=True)
    param2_name: str = eqx.field(static=True)

    def trim(self) -> "Curve":
        """Drop the padding rows and slots (one curve only)."""
        _require_single(self.count, "Curve.trim")
        k = int(self.count)
        rows = jax.tree_util.tree_map(lambda a: a[:k], (self.h, self.p, self.p2, self.kappa, self.tests,
                                                      self.residual))
        return Curve(*rows, self.count, self.status, self.special.trim(), self.kind, self.param_name,
                     self.param2_name)

    def labels(self) -> list[str]:
        """Labels of the codimension-two points, in order along the curve."""
        return self.special.labels()

    def messages(self) -> tuple[str, str]:
        """How the first and last rows end the curve, in words."""
        _require_single(self.count, "Curve.messages")
        return tuple(BranchStatus(int(s)).message for s in np.asarray(self.status))

    def to_dict(self) -> dict:
        """JSON-ready data of one curve (padding dropped, no NaN): kind, parameter names and values, states,
        ``kappa`` (Hopf curves), end statuses and the special points."""
        c = self.trim()
        sp = c.special
        out = {"kind": self.kind, "param_name": self.param_name, "param2_name": self.param2_name,
               "param": np.asarray(c.p).tolist(), "param2": np.asarray(c.p2).tolist(),
               "h": np.asarray(c.h).tolist(), "ends": [BranchStatus(int(s)).name.lower() for s in np.asarray(c.status)]}
        if self.kind == "hopf":
            out["kappa"] = np.asarray(c.kappa).tolist()
        points = []
        for i, label in enumerate(sp.labels()):
            point = {"type": label, "param": float(sp.p[i]), "param2": float(sp.p2[i]),
                     "h": np.asarray(sp.h[i]).tolist(), "located": int(sp.located[i]) == LocateStatus.CONVERGED}
            points.append(point)
        out["special_points"] = points
        return out

    def __repr__(self) -> str:
        if np.ndim(self.count):
            counts = np.asarray(self.count)
            return (f"Curve({self.kind}, batch {counts.shape}, {self.p.shape[-1]} rows each, count min "
                    f"{counts.min()} / max {counts.max()})")
        k = int(self.count)
        span = (f" from ({float(self.p[0]):+.6g}, {float(self.p2[0]):+.6g}) to ({float(self.p[k - 1]):+.6g}, "
                f"{float(self.p2[k - 1]):+.6g})" if k else "")
        first, last = (BranchStatus(int(s)).name for s in np.asarray(self.status))
        return (f"Curve: {self.kind} curve in ({self.param_name}, {self.param2_name}), {k} points{span}; "
                f"ends: {first} / {last}\n" + repr(self.special))


def join(backward: Curve, forward: Curve) -> Curve:
    """One curve from two runs from the same start in opposite directions: ``backward`` reversed, then
    ``forward`` without its duplicate start row; ``2N - 1`` rows, ``2S`` slots in order along the curve."""
    n, s = backward.p.shape[0], backward.special.kind.shape[0]
    cb, cf = backward.count, forward.count
    rows = jnp.arange(2 * n - 1)
    from_back = rows < cb
    src = jnp.clip(jnp.where(from_back, cb - 1 - rows, rows - cb + 1), 0, n - 1)
    used = rows < jnp.where(cb > 0, cb + cf - 1, 0)
    sb, sf = backward.special.count, forward.special.count
    slots = jnp.arange(2 * s)
    sp_back = slots < sb
    ssrc = jnp.clip(jnp.where(sp_back, sb - 1 - slots, slots - sb), 0, s - 1)
    sp_used = slots < sb + sf

    def merge(a, b, back, index, keep):
        col = lambda m: m.reshape(m.shape + (1,) * (a.ndim - 1))
        pick = jnp.where(col(back), a[index], b[index])
        return jnp.where(col(keep), pick, jnp.nan if jnp.issubdtype(a.dtype, jnp.floating) else -1)

    row = lambda a, b: merge(a, b, from_back, src, used)
    slot = lambda a, b: merge(a, b, sp_back, ssrc, sp_used)
    bsp, fsp = backward.special, forward.special
    special = Codim2Points(kind=slot(bsp.kind, fsp.kind), p=slot(bsp.p, fsp.p), p2=slot(bsp.p2, fsp.p2),
                           h=slot(bsp.h, fsp.h), located=slot(bsp.located, fsp.located),
                           residual=slot(bsp.residual, fsp.residual),
                           count=(sb + sf).astype(jnp.int32), n_detected=(bsp.n_detected + fsp.n_detected).astype(jnp.int32))
    return Curve(h=row(backward.h, forward.h), p=row(backward.p, forward.p), p2=row(backward.p2, forward.p2),
                 kappa=row(backward.kappa, forward.kappa), tests=row(backward.tests, forward.tests),
                 residual=row(backward.residual, forward.residual),
                 count=jnp.where(cb > 0, cb + cf - 1, 0).astype(jnp.int32),
                 status=jnp.stack([backward.status[1], forward.status[1]]), special=special, kind=forward.kind,
                 param_name=forward.param_name, param2_name=forward.param2_name)


def _from_start(problem, h0, p0, settings, direction, max_points, max_special):
    frozen = CurveProblem(problem.f, jax.lax.stop_gradient(problem.params), problem.param, problem.param2,
                          problem.hopf)
    state = init(frozen, jax.lax.stop_gradient(h0), jax.lax.stop_gradient(p0), settings, direction)
    out = run(problem, state, settings, max_points, max_special)
    kind = "hopf" if problem.hopf else "fold"
    return Curve(**{k: v for k, v in out.items() if k != "special"}, special=Codim2Points(**out["special"]),
                 kind=kind, param_name=problem.param.label, param2_name=problem.param2.label)


_one = _top_level_or_nested(_from_start)
_join = _top_level_or_nested(join)


def _window(window):
    """``(lo, hi)`` each (2,) for ``(p, p2)`` from ``None`` or ``((p_lo, p_hi), (p2_lo, p2_hi))``."""
    if window is None:
        return jnp.full(2, -jnp.inf), jnp.full(2, jnp.inf)
    if isinstance(window, jax.core.Tracer):
        bounds = window
    else:
        try:
            bounds = jnp.asarray(window, float)
        except (TypeError, ValueError):
            raise ValueError(f"window: expected ((p_lo, p_hi), (p2_lo, p2_hi)), got {window!r}.") from None
    if jnp.shape(bounds) != (2, 2):
        raise ValueError(f"window: expected ((p_lo, p_hi), (p2_lo, p2_hi)) of shape (2, 2), got shape "
                         f"{jnp.shape(bounds)}.")
    if is_concrete(bounds):
        b = np.asarray(bounds)
        if np.any(np.isnan(b)):
            raise ValueError("window: NaN bounds.")
        for name, (lo, hi) in zip(("param", "param2"), b):
            if not lo < hi:
                raise ValueError(f"window: the {name} bounds must satisfy lo < hi, got ({lo}, {hi}).")
    return bounds[:, 0], bounds[:, 1]


def _guess(guess, params):
    """``(h0 (d,), p0 ())`` from the ``(h, p)`` pair."""
    if not isinstance(guess, (tuple, list)) or len(guess) != 2:
        raise ValueError(f"guess: expected a pair (h, p): a state (d,) near a fold or Hopf point and its parameter "
                         f"value, e.g. (branch.special.h[k], branch.special.p[k]); got {type(guess).__name__}.")
    h0, p0 = (x if isinstance(x, jax.core.Tracer) else jnp.asarray(x, float) for x in guess)
    if h0.ndim != 1:
        raise ValueError(f"guess: h must be one state of shape (d,), got {h0.shape}; vmap for many.")
    if p0.ndim != 0:
        raise ValueError(f"guess: p must be a scalar, got shape {p0.shape}.")
    dim = getattr(params, "dim", None)
    if isinstance(dim, (int, np.integer)) and h0.shape != (dim,):
        raise ValueError(f"guess: h must have shape ({dim},) for this {type(params).__name__}, got {h0.shape}.")
    check_finite("guess h", h0)
    check_finite("guess p", p0)
    return h0, p0


def _setup(params, param, param2, guess, kind, f, window, max_points, max_special, **numbers):
    """Check everything (shapes always, values when concrete) before any compile; build problem and settings."""
    for name, value in (("param", param), ("param2", param2)):
        if not isinstance(value, Param):
            raise ValueError(f"{name}: expected a Param, e.g. Param('bh', 0), got {type(value).__name__}.")
    if param == param2:
        raise ValueError(f"param2: must differ from param, both are {param!r}.")
    check_choice("kind", kind, KINDS)
    check_sizes(max_points, max_special)
    _check_numbers(numbers)
    lo, hi = _window(window)
    params, f = one_problem(params, f, [param, param2], "continue one curve at a time, or jax.vmap.")
    h0, p0 = _guess(guess, params)
    start = jnp.stack([p0, param2.get(params)])
    if all(map(is_concrete, (start, lo, hi))) and not np.all((np.asarray(lo) <= start) & (start <= np.asarray(hi))):
        raise ValueError(f"guess: the start ({param!r}, {param2!r}) = {np.asarray(start).tolist()} lies outside "
                         f"the window.")
    if kind == "hopf" and h0.shape[0] < 2:
        raise ValueError("kind='hopf' needs a state of dimension >= 2.")
    check_field(f, h0, params, "h")
    numbers.pop("direction")
    settings = CurveSettings(**{k: jnp.asarray(v, int if k == "max_newton" else float) for k, v in numbers.items()},
                             lo=jnp.asarray(lo, float), hi=jnp.asarray(hi, float))
    return CurveProblem(f, params, param, param2, kind == "hopf"), h0, p0, settings


def continue_curve(params, param: Param, param2: Param, guess, *, kind: str = "fold", f: VectorField | None = None,
                   direction=1, ds=0.01, ds_min=1e-6, ds_max=0.1, window=None, tol=1e-10, max_newton=10,
                   grow=1.5, max_points: int = 200, max_special: int = 8) -> Curve:
    """Continue a fold (``kind="fold"``) or Hopf (``kind="hopf"``) curve of equilibria of ``dh/dt = f(h, params)``
    in the two scalars ``param`` and ``param2``, in one direction (``direction=+1``: increasing ``param2`` at
    the start, or ``param`` where the curve is vertical there).

    ``guess = (h, p)``: a state (d,) near a fold (Hopf) point at ``param = p`` and ``param2`` at its value in
    ``params``, e.g. ``(branch.special.h[k], branch.special.p[k])`` of a ``continuation`` result; it is
    corrected at fixed ``param2``. ``window = ((p_lo, p_hi), (p2_lo, p2_hi))`` ends the curve on its edge.
    ``ds`` first arclength step in ``(h, p, p2)``, kept in ``[ds_min, ds_max]``; ``tol`` the Newton tolerance.
    These and ``direction``, ``max_newton``, ``grow`` are traced (no recompiles); ``max_points`` rows and
    ``max_special`` slots are static sizes. Cusp and Bogdanov-Takens points (fold curves), Bogdanov-Takens and
    generalized Hopf points (Hopf curves) are detected by sign changes of test functions and located on the
    curve. Works under ``jax.jit`` and ``jax.vmap``; bad input raises ``ValueError`` before compiling.
    """
    problem, h0, p0, settings = _setup(params, param, param2, guess, kind, f, window, max_points, max_special,
                                       direction=direction, ds=ds, ds_min=ds_min, ds_max=ds_max, tol=tol,
                                       max_newton=max_newton, grow=grow)
    return _one(problem, h0, p0, settings, jnp.asarray(direction, float), max_points, max_special)


def continue_curve_both(params, param: Param, param2: Param, guess, *, kind: str = "fold",
                        f: VectorField | None = None, ds=0.01, ds_min=1e-6, ds_max=0.1, window=None, tol=1e-10,
                        max_newton=10, grow=1.5, max_points: int = 200, max_special: int = 8) -> Curve:
    """``continue_curve`` in both directions from the same start, joined into one curve (``2 max_points - 1``
    rows, ``2 max_special`` slots); ``status`` (2,) says how each end ended."""
    problem, h0, p0, settings = _setup(params, param, param2, guess, kind, f, window, max_points, max_special,
                                       direction=1, ds=ds, ds_min=ds_min, ds_max=ds_max, tol=tol,
                                       max_newton=max_newton, grow=grow)
    backward, forward = (_one(problem, h0, p0, settings, jnp.asarray(dr, float), max_points, max_special)
                         for dr in (-1.0, 1.0))
    return _join(backward, forward)
