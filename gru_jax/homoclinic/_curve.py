"""The saddle-loop homoclinic curve in two parameters: pseudo-arclength continuation of ``split(p, p2) = 0`` (one
equation, two unknowns) in one ``lax.while_loop`` with fixed-size buffers; the saddle and the branch directions are
carried from point to point."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._linalg import solve
from .._validate import check_finite, check_positive
from ..continuation._codim2 import _window
from ..continuation._continuation import _top_level_or_nested, check_sizes
from ..continuation._param import Param, as_param
from ..core._result import Result
from ..core._status import BranchStatus
from ..models._field import VectorField
from ..periodic._flow import FlowOptions
from ._locate import HomoclinicPoint, check_problem, split_options
from ._split import SplitOptions, SplitStatus, split_one

RESIDUAL = 1e-6    # a row is accepted only if |split| <= RESIDUAL * radius there (not a jump of the split function)


class HomoclinicCurve(Result):
    """A saddle-loop homoclinic curve in ``N`` fixed-size rows; the first ``count`` hold points in order.

    ``p``, ``p2`` (N,) the parameters; ``saddle`` (N, 2); ``lam`` (N, 2) ``(lambda_u, lambda_s)``;
    ``saddle_quantity`` (N,) ``lambda_u + lambda_s`` (a sign change is a neutral saddle loop, where the cycle's
    stability changes); ``residual`` (N,) the split function at the row; ``count`` (); ``status`` (2,)
    ``BranchStatus`` of the first and last row; ``param_name``, ``param2_name`` (static). Padding rows are NaN.
    """

    p: jax.Array
    p2: jax.Array
    saddle: jax.Array
    lam: jax.Array
    saddle_quantity: jax.Array
    residual: jax.Array
    count: jax.Array
    status: jax.Array
    param_name: str = eqx.field(static=True)
    param2_name: str = eqx.field(static=True)

    _rows = ("p", "p2", "saddle", "lam", "saddle_quantity", "residual")

    def messages(self) -> tuple[str, str]:
        """How the first and last rows end the curve, in words."""
        return tuple(BranchStatus(int(s)).message for s in np.asarray(self.status))

    def _repr_one(self) -> str:
        k = int(self.count)
        span = (f" from ({float(self.p[0]):+.6g}, {float(self.p2[0]):+.6g}) to ({float(self.p[k - 1]):+.6g}, "
                f"{float(self.p2[k - 1]):+.6g})" if k else "")
        first, last = (BranchStatus(int(s)).name for s in np.asarray(self.status))
        return (f"HomoclinicCurve: saddle loops in ({self.param_name}, {self.param2_name}), {k} points{span}; "
                f"ends: {first} / {last}")


class CurveSettings(eqx.Module):
    """Step sizes, window bounds ``lo``, ``hi`` (2,), Newton tolerance and limits: array leaves."""

    ds: jax.Array
    ds_min: jax.Array
    ds_max: jax.Array
    lo: jax.Array
    hi: jax.Array
    tol: jax.Array
    max_newton: jax.Array
    grow: jax.Array


def _perp(g):
    return jnp.stack([-g[1], g[0]]) / jnp.linalg.norm(g)


def continue_one(f, opts: SplitOptions, param: Param, param2: Param, params, start: HomoclinicPoint,
                 settings: CurveSettings, direction, N: int) -> HomoclinicCurve:
    """``continue_homoclinic`` for one problem (vmappable)."""
    params = jax.lax.stop_gradient(params)
    at = lambda u: param2.set(param.set(params, u[0]), u[1])

    def S(u, saddle, refs):
        """The split and its gradient in ``(p, p2)``, with the evaluation (status, saddle, eigenvectors)."""
        def value(w):
            sp = split_one(f, at(w), saddle, refs[0], refs[1], opts, True)
            return sp.value, sp
        (v, sp), g = jax.value_and_grad(value, has_aux=True)(u)
        return v, g, sp

    def correct(u_pred, t, saddle, refs):
        def body(c):
            u, _, _, k, _ = c
            v, g, sp = S(u, saddle, refs)
            du = -solve(jnp.stack([g, t]), jnp.stack([v, t @ (u - u_pred)]))
            good = (sp.status == SplitStatus.OK) & jnp.all(jnp.isfinite(du))
            done = good & (jnp.max(jnp.abs(du)) <= settings.tol * (1 + jnp.max(jnp.abs(u))))
            return u + jnp.where(good, du, 0.0), sp, done, k + 1, ~good

        zeros = jax.tree_util.tree_map(lambda a: jnp.zeros(a.shape, a.dtype), jax.eval_shape(S, u_pred, saddle, refs))
        c0 = (u_pred, zeros[2], jnp.asarray(False), jnp.asarray(0), jnp.asarray(False))
        u, sp, done, _, _ = jax.lax.while_loop(lambda c: ~c[2] & ~c[4] & (c[3] < settings.max_newton), body, c0)
        v, g, sp = S(u, sp.saddle, jnp.stack([sp.unstable, sp.stable]))      # the row's values at the root itself
        small = (sp.status == SplitStatus.OK) & (jnp.abs(v) <= RESIDUAL * opts.radius)
        return u, g, sp, done & small

    def row(buf, i, u, sp):
        lam = sp.lam
        vals = (u[0], u[1], sp.saddle, lam, lam[0] + lam[1], sp.value)
        return tuple(b.at[i].set(x) for b, x in zip(buf, vals))

    # start: the located point, its tangent
    u0 = jnp.stack([start.p, param2.get(params)])
    refs0 = jnp.stack([start.unstable, start.stable])
    _, g0, sp0 = S(u0, start.saddle, refs0)
    t0 = _perp(g0)
    t0 = t0 * jnp.where(jnp.where(jnp.abs(t0[1]) > 1e-12, t0[1], t0[0]) * direction < 0, -1.0, 1.0)
    nan = jnp.nan
    buf = (jnp.full(N, nan), jnp.full(N, nan), jnp.full((N, 2), nan), jnp.full((N, 2), nan), jnp.full(N, nan),
           jnp.full(N, nan))
    buf = row(buf, 0, u0, sp0)
    ok0 = (sp0.status == SplitStatus.OK) & jnp.all(jnp.isfinite(t0))
    status0 = jnp.where(ok0, BranchStatus.RUNNING, BranchStatus.START_FAILED).astype(jnp.int32)

    def body(c):
        buf, i, u, t, saddle, refs, ds, status = c
        u_new, g, sp, done = correct(u + ds * t, t, saddle, refs)
        inside = jnp.all((u_new >= settings.lo) & (u_new <= settings.hi))
        accept = done & inside
        t_new = _perp(g)
        t_new = t_new * jnp.where(t_new @ t < 0, -1.0, 1.0)
        buf = jax.tree_util.tree_map(lambda b, n: jnp.where(accept, n, b), buf, row(buf, i + 1, u_new, sp))
        ds_new = jnp.where(accept, jnp.minimum(ds * settings.grow, settings.ds_max), ds / 2)
        status = jnp.select([done & ~inside, accept & (i + 2 >= N), ~accept & (ds_new < settings.ds_min)],
                            [BranchStatus.LEFT_WINDOW, BranchStatus.MAX_POINTS, BranchStatus.STEP_TOO_SMALL],
                            BranchStatus.RUNNING).astype(jnp.int32)
        pick = lambda a, b: jnp.where(accept, a, b)
        return (buf, i + accept, pick(u_new, u), pick(t_new, t), pick(sp.saddle, saddle),
                pick(jnp.stack([sp.unstable, sp.stable]), refs), ds_new, status)

    c = (buf, jnp.asarray(0), u0, t0, sp0.saddle, jnp.stack([sp0.unstable, sp0.stable]), settings.ds, status0)
    buf, i, *_, status = jax.lax.while_loop(lambda c: c[-1] == BranchStatus.RUNNING, body, c)
    count = jnp.where(status0 == BranchStatus.START_FAILED, 0, i + 1)
    return HomoclinicCurve(*buf, count=count.astype(jnp.int32),
                           status=jnp.stack([jnp.where(ok0, BranchStatus.START, BranchStatus.START_FAILED),
                                             status]).astype(jnp.int32),
                           param_name=param.label, param2_name=param2.label)


_continue = _top_level_or_nested(continue_one)


def continue_homoclinic(params, param: Param, param2: Param, start: HomoclinicPoint, *,
                        f: VectorField | None = None, direction=1, ds=0.01, ds_min=1e-6, ds_max=0.1, window=None,
                        tol=1e-10, max_newton=8, grow=1.5, radius=0.1, delta=1e-6, t_max=1000.0,
                        max_points: int = 100, opts: FlowOptions = FlowOptions()) -> HomoclinicCurve:
    """Continue a saddle-loop homoclinic curve of the planar ``dh/dt = f(h, params)`` in ``param`` and ``param2``.

    ``start``: a located ``HomoclinicPoint`` in ``param`` at ``param2``'s value in ``params`` (its saddle and
    branch directions are used). Pseudo-arclength steps ``ds`` in ``(p, p2)`` within ``[ds_min, ds_max]``,
    Newton to ``tol`` on the split function and the arclength condition (a row is kept only where the split is
    below ``1e-6 radius``, so a jump of the split function is not taken for a root); ``direction=+1`` starts towards
    increasing ``param2`` (or ``param`` where the curve is vertical). ``window = ((p_lo, p_hi), (p2_lo, p2_hi))``.
    ``radius``, ``delta``, ``t_max`` as in ``locate_homoclinic``. ``max_points`` rows (static). Ends:
    ``BranchStatus`` (MAX_POINTS, LEFT_WINDOW, STEP_TOO_SMALL: e.g. the saddle disappears in a fold, the loop
    shrinks below ``radius`` near a Bogdanov-Takens point, or the split fails). Bad input raises ``ValueError``.
    """
    if not isinstance(start, HomoclinicPoint) or np.ndim(start.status):
        raise ValueError(f"start: expected one located HomoclinicPoint, got {type(start).__name__}.")
    f, params, _ = check_problem(params, param, f, start.saddle, "start.saddle")
    as_param(param2, "param2", differs_from=param).validate(params)
    check_finite("start.p", start.p)
    check_sizes(max_points, 1)
    for name, value in (("ds", ds), ("ds_min", ds_min), ("ds_max", ds_max), ("tol", tol), ("max_newton", max_newton)):
        check_positive(name, value)
    if not float(ds_min) <= float(ds) <= float(ds_max):
        raise ValueError(f"ds: must satisfy ds_min <= ds <= ds_max; got {ds}, {ds_min}, {ds_max}.")
    if float(grow) < 1:
        raise ValueError(f"grow: must be >= 1, got {grow}.")
    if direction not in (1, -1):
        raise ValueError(f"direction: must be +1 or -1, got {direction!r}.")
    lo, hi = _window(window)
    sopts = split_options(radius, delta, t_max, opts)
    settings = CurveSettings(*(jnp.asarray(x, float) for x in (ds, ds_min, ds_max)), jnp.asarray(lo, float),
                             jnp.asarray(hi, float), jnp.asarray(tol, float), jnp.asarray(max_newton, int),
                             jnp.asarray(grow, float))
    return _continue(f, sopts, param, param2, params, start, settings, jnp.asarray(direction, float), int(max_points))
