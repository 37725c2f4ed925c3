"""The saddle-loop homoclinic curve in two parameters as a continuation problem of the core: ``u = (p, p2)`` on the
zero set of the split function (one equation, two unknowns); the saddle and the branch directions are carried
from point to point."""

from __future__ import annotations

from typing import Any, Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._validate import check_finite, check_window
from ..codim2._codim2_curve import CurveSettings
from ..core._compile import top_level_or_nested
from ..core._inputs import check_numbers, check_sizes
from ..core._param import Param, as_param
from ..core._driver import run
from ..core._result import Result
from ..core._status import BranchStatus
from ..core._step import ContinuationProblem, State, start_status
from ..models._field import VectorField
from ..periodic._flow import FlowOptions
from ._locate import HomoclinicPoint, check_problem, split_options
from ._split import SplitOptions, saddle_at, split_one

RESIDUAL = 1e-6    # a point is accepted only if |split| <= RESIDUAL * radius there (not a jump of the split function)


class HomoclinicCurve(Result):
    """A saddle-loop homoclinic curve in ``N`` fixed-size rows; the first ``count`` hold points in order.

    ``p``, ``p2`` (N,) the parameters; ``saddle`` (N, 2); ``lam`` (N, 2) ``(lambda_u, lambda_s)``;
    ``saddle_quantity`` (N,) ``lambda_u + lambda_s`` (a sign change is a neutral saddle loop, where the cycle's
    stability changes); ``residual`` (N,) the split function at the row; ``count`` (); ``status`` (2,)
    ``BranchStatus`` of the first and last row; ``param_name``, ``param2_name`` (static). Padding rows are NaN."""

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


class LoopProblem(ContinuationProblem):
    """Saddle loops of the planar ``f(h, params)`` in ``param`` and ``param2``. A point's ``extra`` is the saddle
    (2,), the branch directions (2, 2) (unstable, stable) and ``lam`` (2,); its residual is the signed split."""

    f: Callable = eqx.field(static=True)
    opts: SplitOptions
    params: Any
    param: Param = eqx.field(static=True)
    param2: Param = eqx.field(static=True)

    def at(self, u: jax.Array) -> Any:
        return self.param2.set(self.param.set(self.params, u[0]), u[1])

    def context(self, state: State):
        return state.extra[:2]

    def system(self, u: jax.Array, context):
        """The split (1,) and its gradient (1, 2) in ``(p, p2)``; not ``ok`` where the split fails."""
        saddle, refs = context
        value = lambda w: split_one(self.f, self.at(w), saddle, refs[0], refs[1], self.opts, True).value
        v, g = jax.value_and_grad(value)(u)
        ok = jnp.isfinite(v) & jnp.all(jnp.isfinite(g))
        return jnp.where(ok, v, 0.0)[None], jnp.where(ok, g, 0.0)[None], ok

    def admissible(self, before: State, v, value, t_new) -> jax.Array:
        return jnp.abs(value[0]) <= RESIDUAL * self.opts.radius       # a root, not a jump of the split

    def residual(self, value) -> jax.Array:
        return value[0]

    def observe(self, before: State, after: State, value, jac, context, settings) -> State:
        saddle, refs = context
        h, lam, v_u, v_s, _, _ = saddle_at(self.f, self.at(after.u), saddle, refs[0], refs[1])
        return eqx.tree_at(lambda x: x.extra, after, (h, jnp.stack([v_u, v_s]), lam))

    def row(self, st: State) -> dict:
        saddle, _, lam = st.extra
        return dict(p=st.u[0], p2=st.u[1], saddle=saddle, lam=lam, saddle_quantity=lam[0] + lam[1],
                    residual=st.residual)


def continue_one(f, opts: SplitOptions, param: Param, param2: Param, params, start: HomoclinicPoint,
                 settings: CurveSettings, direction, N: int) -> HomoclinicCurve:
    """``continue_homoclinic`` for one problem (vmappable)."""
    problem = LoopProblem(f, opts, jax.lax.stop_gradient(params), param, param2)
    u0 = jnp.stack([start.p, param2.get(problem.params)])
    refs0 = jnp.stack([start.unstable, start.stable])
    value, jac, ok = problem.system(u0, (start.saddle, refs0))
    h, lam, v_u, v_s, _, _ = saddle_at(f, problem.at(u0), start.saddle, start.unstable, start.stable)
    t0 = jnp.stack([-jac[0, 1], jac[0, 0]]) / jnp.linalg.norm(jac)
    t0 = t0 * jnp.where(jnp.where(jnp.abs(t0[1]) > 1e-12, t0[1], t0[0]) * direction < 0, -1.0, 1.0)
    ok = ok & jnp.all(jnp.isfinite(t0))
    state = State(u=u0, t=t0, ds=settings.ds, last_ds=jnp.zeros_like(settings.ds), tests=jnp.zeros(0),
                  events=jnp.zeros(0, bool), residual=value[0], newton=jnp.asarray(0, jnp.int32), accepted=ok,
                  status=start_status(ok, u0, settings), extra=(h, jnp.stack([v_u, v_s]), lam))
    result = run(problem, state, settings, N, 0)
    first = jnp.where(ok, BranchStatus.START, BranchStatus.START_FAILED)
    return HomoclinicCurve(**result.rows, count=result.count, status=jnp.stack([first, result.end]).astype(jnp.int32),
                           param_name=param.label, param2_name=param2.label)


_continue = top_level_or_nested(continue_one)


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
    ``radius``, ``delta``, ``t_max`` as in ``locate_homoclinic``. ``max_points`` rows (static). Ends: ``BranchStatus``
    (MAX_POINTS; LEFT_WINDOW, the last row on the window's edge; CLOSED_LOOP; STEP_TOO_SMALL: e.g. the saddle
    disappears in a fold, the loop shrinks below ``radius`` near a Bogdanov-Takens point, or the split fails). Bad
    input raises ``ValueError``."""
    if not isinstance(start, HomoclinicPoint) or np.ndim(start.status):
        raise ValueError(f"start: expected one located HomoclinicPoint, got {type(start).__name__}.")
    f, params, _ = check_problem(params, param, f, start.saddle, "start.saddle")
    as_param(param2, "param2", differs_from=param).validate(params)
    check_finite("start.p", start.p)
    check_sizes(max_points, 1)
    check_numbers(dict(ds=ds, ds_min=ds_min, ds_max=ds_max, tol=tol, max_newton=max_newton, grow=grow,
                       direction=direction))
    lo, hi = check_window(window, 2)
    sopts = split_options(radius, delta, t_max, opts)
    settings = CurveSettings(*(jnp.asarray(x, float) for x in (ds, ds_min, ds_max, lo, hi, tol)),
                             jnp.asarray(max_newton, int), jnp.asarray(grow, float))
    return _continue(f, sopts, param, param2, params, start, settings, jnp.asarray(direction, float), int(max_points))
