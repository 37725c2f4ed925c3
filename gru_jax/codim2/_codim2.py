"""Public entry points ``continue_curve`` and ``continue_curve_both`` (fold and Hopf curves with their cusp,
Bogdanov-Takens and generalized Hopf points, see ``_codim2_curve``; input checks before anything compiles, then one
jitted program per field, curve kind, parameter pair and buffer sizes) and the ``Curve`` result."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._validate import check_choice, check_window, is_concrete, renamed
from ..models._field import VectorField
from ..core._result import Result, join as join, require_single as _require_single
from ._codim2_curve import CurveProblem, CurveSettings, init, run
from ..core._inputs import check_numbers, check_field, check_sizes, check_state, one_problem, start_point
from ..core._compile import top_level_or_nested
from ..core._param import Param, as_param
from ..core._status import BranchStatus, Codim2Kind, LocateStatus

KINDS = ("fold", "hopf")


class Codim2Point(Result):
    """One codimension-two point: ``kind`` () ``Codim2Kind`` code, ``p``, ``p2`` (), ``h`` (d,), ``located`` ()
    ``LocateStatus`` code, ``residual`` () ``max|f|``."""

    kind: jax.Array
    p: jax.Array
    p2: jax.Array
    h: jax.Array
    located: jax.Array
    residual: jax.Array

    _batch_field = "p"

    def _repr_one(self) -> str:
        hs = " ".join(f"{v:+.8f}" for v in np.asarray(self.h).tolist())
        return (f"Codim2Point({Codim2Kind(int(self.kind)).label}: p={float(self.p):+.12f} p2={float(self.p2):+.12f} "
                f"h=[{hs}]; {LocateStatus(int(self.located)).name.lower()})")


class Codim2Points(Result):
    """Codimension-two points of a curve in ``S`` slots; the first ``count`` are used, in order along it: ``kind`` (S,)
    ``Codim2Kind`` code (-1 padding); ``p``, ``p2`` (S,), ``h`` (S, d) the located point; ``located`` (S,)
    ``LocateStatus`` code of the bracketing on the curve; ``residual`` (S,) ``max|f|``; ``count`` () slots used;
    ``n_detected`` () sign changes detected (above ``S``: some were dropped)."""

    kind: jax.Array
    p: jax.Array
    p2: jax.Array
    h: jax.Array
    located: jax.Array
    residual: jax.Array
    count: jax.Array
    n_detected: jax.Array

    # labels(): "cusp", "bogdanov-takens", "generalized hopf"
    _rows = ("kind", "p", "p2", "h", "located", "residual")
    _kinds = Codim2Kind
    _join_overlap = 0

    def __getitem__(self, k: int) -> Codim2Point:
        """Slot ``k`` of one curve as a ``Codim2Point`` (e.g. the Bogdanov-Takens start of ``homoclinic_from_bt``)."""
        _require_single(self.count, "Codim2Points[k]")
        if not -int(self.count) <= k < int(self.count):
            raise IndexError(f"slot {k} out of range: {int(self.count)} point(s) used.")
        return Codim2Point(*(jnp.asarray(getattr(self, name)[k % int(self.count)]) for name in self._rows))

    def _repr_one(self) -> str:
        lines = [f"Codim2Points: {int(self.count)} of {int(self.n_detected)} detected"]
        for i, label in enumerate(self.labels()):
            hs = " ".join(f"{v:+.6f}" for v in np.asarray(self.h[i])[:4]) + (" ..." if self.h.shape[-1] > 4 else "")
            lines.append(f"  {i:>2} {label:<16} p={float(self.p[i]):+.10f} p2={float(self.p2[i]):+.10f}  h=[{hs}]  "
                         f"{LocateStatus(int(self.located[i])).name.lower()}")
        return "\n".join(lines)


class Curve(Result):
    """A fold or Hopf curve of equilibria in ``N`` fixed-size rows; the first ``count`` hold points in order: ``h``
    (N, d), ``p`` (N,), ``p2`` (N,) the points; ``kappa`` (N,) ``ω²`` of the critical pair on Hopf curves (``< 0``:
    the neutral-saddle part beyond a Bogdanov-Takens point; NaN on fold curves); ``tests`` (N, 2) (fold: ``w·v``, cusp
    coefficient; Hopf: ``κ``, ``l1``); ``residual`` (N,) ``max|f|``; ``count`` (); ``status`` (2,) ``BranchStatus``
    codes of the first and last row; ``special`` the ``Codim2Points``; ``kind`` ``"fold"`` or ``"hopf"``,
    ``param_name``, ``param2_name`` the ``Param`` labels such as ``bh[0]`` (static). Padding rows are NaN.
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

    # labels(): those of the codimension-two points, in order along the curve
    _rows = ("h", "p", "p2", "kappa", "tests", "residual")

    def messages(self) -> tuple[str, str]:
        """How the first and last rows end the curve, in words."""
        _require_single(self.count, "Curve.messages")
        return tuple(BranchStatus(int(s)).message for s in np.asarray(self.status))

    def to_dict(self) -> dict:
        """JSON-ready data of one curve (padding dropped, no NaN): kind, parameter names and values, states,
        ``kappa`` (Hopf curves), end statuses and the special points."""
        c = self.trim()
        out = {"kind": self.kind, "param_name": self.param_name, "param2_name": self.param2_name,
               "param": np.asarray(c.p).tolist(), "param2": np.asarray(c.p2).tolist(),
               "h": np.asarray(c.h).tolist(), "ends": [BranchStatus(int(s)).name.lower() for s in np.asarray(c.status)]}
        if self.kind == "hopf":
            out["kappa"] = np.asarray(c.kappa).tolist()
        out["special_points"] = points_json(c.special)
        return out

    def _repr_batch(self, batch) -> str:
        return super()._repr_batch(batch).replace("Curve(", f"Curve({self.kind}, ", 1)

    def _repr_one(self) -> str:
        k = int(self.count)
        span = (f" from ({float(self.p[0]):+.6g}, {float(self.p2[0]):+.6g}) to ({float(self.p[k - 1]):+.6g}, "
                f"{float(self.p2[k - 1]):+.6g})" if k else "")
        first, last = (BranchStatus(int(s)).name for s in np.asarray(self.status))
        return (f"Curve: {self.kind} curve in ({self.param_name}, {self.param2_name}), {k} points{span}; "
                f"ends: {first} / {last}\n" + repr(self.special))


def points_json(sp) -> list[dict]:
    """JSON-ready rows ``{"type", "param", "param2", "h", "located"}`` of the used codimension-two points ``sp``
    (a trimmed ``Codim2Points`` or a ``CurvePoints``)."""
    return [{"type": label, "param": float(sp.p[i]), "param2": float(sp.p2[i]), "h": np.asarray(sp.h[i]).tolist(),
             "located": int(sp.located[i]) == LocateStatus.CONVERGED} for i, label in enumerate(sp.labels())]


def _from_start(problem, h0, p0, settings, direction, max_points, max_special):
    frozen = eqx.tree_at(lambda q: q.params, problem, jax.lax.stop_gradient(problem.params))
    state = init(frozen, jax.lax.stop_gradient(h0), jax.lax.stop_gradient(p0), settings, direction)
    out = run(problem, state, settings, max_points, max_special)
    return Curve(**{k: v for k, v in out.items() if k != "special"}, special=Codim2Points(**out["special"]),
                 kind="hopf" if problem.hopf else "fold", param_name=problem.param.label,
                 param2_name=problem.param2.label)


_one = top_level_or_nested(_from_start)
_join = top_level_or_nested(join)


def _setup(params, param, param2, start, kind, f, window, max_points, max_special, **numbers):
    """Check everything (shapes always, values when concrete) before any compile; build problem and settings."""
    as_param(param)
    as_param(param2, "param2", differs_from=param)
    check_choice("kind", kind, KINDS)
    check_sizes(max_points, max_special)
    check_numbers(numbers)
    lo, hi = check_window(window, 2)
    params, h0 = start_point(start, params, param, param2, pair=True)
    params, f = one_problem(params, f, [param, param2], "continue one curve at a time, or jax.vmap.")
    h0, p0 = check_state(h0, params), param.get(params)
    start = jnp.stack([p0, param2.get(params)])
    if all(map(is_concrete, (start, lo, hi))) and not np.all((np.asarray(lo) <= start) & (start <= np.asarray(hi))):
        raise ValueError(f"start: the start ({param!r}, {param2!r}) = {np.asarray(start).tolist()} lies outside "
                         f"the window.")
    if kind == "hopf" and h0.shape[0] < 2:
        raise ValueError("kind='hopf' needs a state of dimension >= 2.")
    check_field(f, h0, params, "h")
    settings = CurveSettings(**{k: jnp.asarray(v, int if k == "max_newton" else float) for k, v in numbers.items()
                                if k != "direction"}, lo=jnp.asarray(lo, float), hi=jnp.asarray(hi, float))
    return CurveProblem(f, params, param, param2, kind == "hopf"), h0, p0, settings


@renamed(guess="start")
def continue_curve(params, param: Param, param2: Param, start, *, kind: str = "fold", f: VectorField | None = None,
                   direction=1, ds=0.01, ds_min=1e-6, ds_max=0.1, window=None, tol=1e-10, max_newton=10,
                   grow=1.5, max_points: int = 200, max_special: int = 8) -> Curve:
    """Continue a fold (``kind="fold"``) or Hopf (``kind="hopf"``) curve of equilibria of ``dh/dt = f(h, params)`` in
    the scalars ``param`` and ``param2``, one way (``direction=+1``: increasing ``param2`` at the start, or ``param``
    where the curve is vertical there). ``start``: a state ``h0`` (d,) near a fold (Hopf) point at the values of
    ``param``, ``param2`` in ``params``, or a located point with ``.h``, ``.p`` (a ``SpecialPoint``; with ``.p2`` too,
    e.g. a ``Codim2Point``, that ``param2`` is used), corrected at fixed ``param2`` (``(h, p)``: deprecated).
    ``window = ((p_lo, p_hi), (p2_lo, p2_hi))`` ends the curve on its edge. ``ds`` first arclength step in
    ``(h, p, p2)``, kept in ``[ds_min, ds_max]``; ``tol`` the Newton tolerance. These and ``direction``, ``max_newton``,
    ``grow`` are traced (no recompiles); ``max_points`` rows and ``max_special`` slots are static. Cusp and
    Bogdanov-Takens points (fold curves), Bogdanov-Takens and generalized Hopf points (Hopf curves) are detected and
    located on the curve. Works under ``jax.jit`` and ``jax.vmap``; bad input raises ``ValueError`` before compiling.
    """
    problem, h0, p0, settings = _setup(params, param, param2, start, kind, f, window, max_points, max_special,
                                       direction=direction, ds=ds, ds_min=ds_min, ds_max=ds_max, tol=tol,
                                       max_newton=max_newton, grow=grow)
    return _one(problem, h0, p0, settings, jnp.asarray(direction, float), max_points, max_special)


@renamed(guess="start")
def continue_curve_both(params, param: Param, param2: Param, start, *, kind: str = "fold",
                        f: VectorField | None = None, ds=0.01, ds_min=1e-6, ds_max=0.1, window=None, tol=1e-10,
                        max_newton=10, grow=1.5, max_points: int = 200, max_special: int = 8) -> Curve:
    """``continue_curve`` both ways, joined into one curve (``2 max_points - 1`` rows, ``2 max_special`` slots)."""
    problem, h0, p0, settings = _setup(params, param, param2, start, kind, f, window, max_points, max_special,
                                       direction=1, ds=ds, ds_min=ds_min, ds_max=ds_max, tol=tol,
                                       max_newton=max_newton, grow=grow)
    return _join(*(_one(problem, h0, p0, settings, jnp.asarray(dr, float), max_points, max_special)
                   for dr in (-1.0, 1.0)))     # backward, forward
