"""Batched detection of saddle-loop homoclinic bifurcations along one parameter: the split function at many values
in one vmapped call, sign changes between valid neighbours turned into brackets, each bracket located."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._validate import check_finite, is_concrete, renamed
from ..core._result import Result
from ..core._compile import top_level_or_nested
from ..models._field import VectorField
from ..periodic._detect import pad
from ..periodic._flow import FlowOptions
from ._locate import (SIGNS, STEP_ALIASES, HomoclinicPoint, HomoclinicStatus, Path, branch_signs, check_problem,
                      check_steps, finish, refs_at, root, split_options)
from ._split import SplitOptions, SplitStatus, split_one


class Detection(Result):
    """Homoclinic points found along a parameter scan, in ``K`` fixed-size slots.

    ``points`` a ``HomoclinicPoint`` of batch (K,): the first ``count`` slots hold the located brackets in order of the
    branch pair, then the parameter (check ``points.status``: a bracket that hides a jump of the split ends
    NOT_CONVERGED); padding is NaN with status NO_BRACKET. ``n_brackets`` () accepted sign changes (more than ``K``:
    some were dropped). ``values`` (N,) the scanned parameter values; ``split`` (P, N) and ``split_status`` (P, N) the
    split function and its ``SplitStatus`` for each of the ``P`` branch pairs ``signs`` (P, 2)."""

    points: HomoclinicPoint
    count: jax.Array
    n_brackets: jax.Array
    values: jax.Array
    split: jax.Array
    split_status: jax.Array
    signs: jax.Array

    _rows = ("points",)

    def located(self) -> HomoclinicPoint:
        """The converged points (one scan), as a ``HomoclinicPoint`` of batch (k,)."""
        keep = np.flatnonzero(np.asarray(self.points.status) == HomoclinicStatus.CONVERGED)
        return jax.tree_util.tree_map(lambda a: a[keep], self.points)

    def _repr_one(self) -> str:
        lines = [f"Detection: {int(self.count)} of {int(self.n_brackets)} brackets located over "
                 f"{self.values.shape[-1]} values x {self.signs.shape[0]} branch pairs"]
        for i in range(int(self.count)):
            pt = jax.tree_util.tree_map(lambda a: a[i], self.points)
            lines.append(f"  {i:>2} p={float(pt.p):+.12f}  saddle quantity {float(pt.saddle_quantity):+.6g}  "
                         f"{HomoclinicStatus(int(pt.status)).name}")
        return "\n".join(lines)


def detect_one(f, opts: SplitOptions, param, params, values, saddle, signs, xtol, ptol, max_steps, K: int):
    """``detect_homoclinic`` for one problem (vmappable)."""
    path = Path(param)
    fixed = jax.lax.stop_gradient(params)

    def scan(s, sg):
        refs = refs_at(f, path.at(fixed, s), saddle, sg)
        return split_one(f, path.at(fixed, s), saddle, refs[0], refs[1], opts, False)

    splits = jax.vmap(lambda sg: jax.vmap(lambda s: scan(s, sg))(values))(signs)          # batch (P, N)
    ok = splits.status == SplitStatus.OK
    v = splits.value
    same = lambda a: jnp.sum(a[:, :-1] * a[:, 1:], axis=-1) > 0
    bracket = (ok[:, :-1] & ok[:, 1:] & (v[:, :-1] * v[:, 1:] <= 0) & same(splits.unstable) & same(splits.stable)
               & (jnp.max(jnp.abs(splits.saddle[:, 1:] - splits.saddle[:, :-1]), axis=-1) < opts.radius))
    n = jnp.sum(bracket)
    flat = jnp.nonzero(bracket.ravel(), size=K, fill_value=0)[0]
    used = jnp.arange(K) < n
    pair, i = jnp.divmod(flat, values.shape[0] - 1)

    def locate(pair, i, use):
        ends = jax.tree_util.tree_map(lambda a: a[pair, jnp.stack([i, i + 1])], splits)
        ends = eqx.tree_at(lambda e: e.status, ends, jnp.where(use, ends.status, SplitStatus.NONFINITE))
        s, x, r, status, steps = root(f, opts, path, params, values[i], values[i + 1], ends, jnp.asarray(True),
                                      xtol, max_steps)
        return finish(f, opts, path, params, s, x, r, status, steps, ptol)[1]

    points = jax.vmap(locate)(pair, i, used)
    points = jax.tree_util.tree_map(lambda a: pad(a, used), points)
    points = eqx.tree_at(lambda p: p.status, points, jnp.where(used, points.status, HomoclinicStatus.NO_BRACKET))
    return Detection(points=points, count=jnp.minimum(n, K).astype(jnp.int32), n_brackets=n.astype(jnp.int32),
                     values=values, split=v, split_status=splits.status, signs=signs)


_detect = top_level_or_nested(detect_one)


@renamed(saddle="start", **STEP_ALIASES)
def detect_homoclinic(params, param, values, start, *, f: VectorField | None = None, branches="auto",
                      radius=0.1, delta=1e-6, t_max=1000.0, tol=1e-12, ptol=1e-8, max_newton: int = 60,
                      max_points: int = 8, opts: FlowOptions = FlowOptions()) -> Detection:
    """Saddle-loop homoclinic bifurcations of the planar ``dh/dt = f(h, params)`` along ``param``.

    The split function is evaluated at every entry of ``values`` (N,) (sorted) in one vmapped call, the saddle
    solved from the guess ``start`` (2,) at each value; for ``branches="auto"`` all four branch pairs, else the
    pair ``(su, ss)`` (see ``locate_homoclinic``). A bracket is a sign change between neighbours where both
    evaluations succeeded, the branches keep their orientation and the saddle moves by less than ``radius``;
    the first ``max_points`` (static) brackets are located (secant/Illinois, then the IFT step). A jump of the
    split that passes these checks ends NOT_CONVERGED. Other options as in ``locate_homoclinic``."""
    f, params, saddle = check_problem(params, param, f, start)
    shape = np.shape(values)        # also for a tracer (its .shape), without converting lists to arrays in a trace
    if len(shape) != 1 or shape[0] < 2:
        raise ValueError(f"values: expected a 1-D array of at least 2 parameter values, got shape {shape}.")
    check_finite("values", values)
    if is_concrete(values) and not np.all(np.diff(np.asarray(values)) > 0):
        raise ValueError("values: must be strictly increasing.")
    values = jnp.asarray(values, float)
    if isinstance(max_points, bool) or not isinstance(max_points, (int, np.integer)) or max_points < 1:
        raise ValueError(f"max_points: expected an int >= 1 (a static buffer size), got {max_points!r}.")
    signs = branch_signs(branches)
    signs = jnp.asarray(SIGNS) if isinstance(branches, str) else signs[None]     # "auto": all four pairs
    check_steps(tol, ptol, max_newton)
    sopts = split_options(radius, delta, t_max, opts)
    return _detect(f, sopts, param, params, values, saddle, signs, jnp.asarray(tol, float), jnp.asarray(ptol, float),
                   int(max_newton), int(max_points))
