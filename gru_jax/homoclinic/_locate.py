"""Locating a saddle-loop homoclinic bifurcation in one parameter: a root of the split function by secant steps
that turn into Illinois (modified regula falsi) steps once the root is bracketed, in one ``lax.while_loop``;
then one Newton step whose derivative in the other parameters is the implicit-function one."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._fixed_points import fixed_point
from .._linalg import value_and_jacobian
from .._validate import check_finite, check_positive, check_window, deprecated, is_concrete, renamed
from ..core._result import Result
from ..core._status import Codes
from ..core._compile import top_level_or_nested
from ..core._inputs import check_field, check_numbers, one_problem
from ..core._newton import illinois
from ..core._param import Param, as_param
from ..models._field import VectorField
from ..periodic._flow import FlowOptions
from ._manifolds import saddle_eigen
from ._split import Split, SplitOptions, SplitStatus, saddle_at, split_one

RUNNING, BRACKETED = -1, -2
#: unstable/stable branch signs tried by ``branches="auto"``, in this order
SIGNS = ((1.0, 1.0), (1.0, -1.0), (-1.0, 1.0), (-1.0, -1.0))


class HomoclinicStatus(Codes):
    """How a homoclinic point was located (``HomoclinicPoint.status``); ``.message`` says it in words."""

    CONVERGED = 0, "located: the split function vanishes"
    NO_BRACKET = 1, ("the split function has the same sign at both ends of the bracket (or no branch pair changes "
                     "sign)")
    SPLIT_FAILED = 2, ("the split function could not be evaluated at an iterate (see SplitStatus: saddle lost, "
                       "branch not reaching the section)")
    MAX_STEPS = 3, "ran out of steps"
    NOT_CONVERGED = 4, ("the iterates converged to a jump of the split function, not a root (e.g. the crossing "
                        "moved to another part of the section)")


#: ``HomoclinicStatus`` of each ``LocateStatus`` that ``core.illinois`` returns on a bracket
LOCATED = np.array([HomoclinicStatus.CONVERGED, HomoclinicStatus.MAX_STEPS, HomoclinicStatus.SPLIT_FAILED,
                    HomoclinicStatus.NO_BRACKET, HomoclinicStatus.NOT_CONVERGED], np.int32)


class HomoclinicPoint(Result):
    """A saddle-loop homoclinic point (any leading batch dims ``B``).

    ``p`` (B...) the parameter value (also ``.param``); ``saddle`` (B..., 2); ``lam`` (B..., 2) ``(lambda_u,
    lambda_s)``; ``saddle_quantity`` (B...) ``lambda_u + lambda_s`` (negative: the cycle born from the loop is
    stable); ``residual`` (B...) the split function there; ``unstable``, ``stable`` (B..., 2) the eigenvectors
    pointing into the branches that form the loop; ``status`` (B...) ``HomoclinicStatus``; ``steps`` (B...)
    root-finding steps. ``kind`` is ``"saddle-loop"``. ``p`` and ``saddle`` are differentiable in the params."""

    p: jax.Array
    saddle: jax.Array
    lam: jax.Array
    saddle_quantity: jax.Array
    residual: jax.Array
    unstable: jax.Array
    stable: jax.Array
    status: jax.Array
    steps: jax.Array
    kind: str = eqx.field(static=True, default="saddle-loop")

    _batch_field = "status"

    @property
    def param(self) -> jax.Array:
        return self.p

    @property
    def message(self) -> str:
        return HomoclinicStatus(int(self.status)).message

    def _repr_batch(self, batch) -> str:
        ok = int(np.sum(np.asarray(self.status) == HomoclinicStatus.CONVERGED))
        return f"HomoclinicPoint(batch {batch}, {ok} converged)"

    def _repr_one(self) -> str:
        h = " ".join(f"{v:+.8f}" for v in np.asarray(self.saddle))
        lam = np.asarray(self.lam)
        return (f"HomoclinicPoint({self.kind}: p={float(self.p):+.12f}, saddle [{h}], lambda_u={lam[0]:+.6g}, "
                f"lambda_s={lam[1]:+.6g}, saddle quantity {float(self.saddle_quantity):+.6g}, residual "
                f"{float(self.residual):.1e}, {HomoclinicStatus(int(self.status)).name}, {int(self.steps)} steps)")


class Path(eqx.Module):
    """A one-parameter family ``s -> params``: ``param`` set to ``s`` (``param2`` None), or the arc
    ``(param, param2) = centre + size (cos s, sin s)`` of a circle."""

    param: Param = eqx.field(static=True)
    param2: Param | None = eqx.field(static=True, default=None)
    centre: Any = None
    size: Any = None

    def at(self, params, s):
        if self.param2 is None:
            return self.param.set(params, s)
        point = self.centre + self.size * jnp.stack([jnp.cos(s), jnp.sin(s)])
        return self.param2.set(self.param.set(params, point[0]), point[1])


def refs_at(f, params, saddle_guess, signs):
    """Reference directions (2, 2) that pick the branches ``signs = (su, ss)`` (each +-1) relative to the
    eigenvectors' canonical orientation (largest entry positive) at the saddle near ``saddle_guess``."""
    h, _ = fixed_point(jax.lax.stop_gradient(params), saddle_guess, f=f)
    _, jac = value_and_jacobian(f, h, jax.lax.stop_gradient(params))
    _, _, vectors, _ = saddle_eigen(jac)
    return jnp.asarray(signs)[:, None] * jnp.where(jnp.isfinite(vectors), vectors, 1.0)


def _split(f, opts, path, params, s, saddle, refs, differentiable=False) -> Split:
    return split_one(f, path.at(params, s), saddle, refs[0], refs[1], opts, differentiable)


def root(f, opts: SplitOptions, path: Path, params, a, b, ends: Split, bracketed, xtol, max_steps):
    """A root of the split in ``s`` from ``(a, b)``, where the split is ``ends`` (batch (2,)): secant steps until one
    converges or a sign change brackets the root (at once if ``bracketed``), then ``core.illinois`` on that bracket.
    The saddle and branch directions are carried from iterate to iterate. Returns ``(s, saddle, refs, status,
    steps)``; not differentiated."""
    params = jax.lax.stop_gradient(params)

    def probe(s, near):
        sp = _split(f, opts, path, params, s, near[1], near[2])
        return (s, sp.saddle, jnp.stack([sp.unstable, sp.stable])), sp.value, sp.status == SplitStatus.OK

    def secant(carry):
        v_a, fa, v_b, fb, k, _ = carry
        c = v_b[0] - fb * (v_b[0] - v_a[0]) / (fb - fa)
        v_c, fc, good = probe(c, v_b)
        done = (jnp.abs(c - v_b[0]) <= xtol * (1 + jnp.abs(c))) | (fc == 0)
        status = jnp.select([~good, done, fc * fb < 0, k + 1 >= max_steps],
                            [HomoclinicStatus.SPLIT_FAILED, HomoclinicStatus.CONVERGED, BRACKETED,
                             HomoclinicStatus.MAX_STEPS], RUNNING).astype(jnp.int32)
        keep = lambda new, old: jax.tree_util.tree_map(lambda x, y: jnp.where(good, x, y), new, old)
        return v_b, fb, keep(v_c, v_b), keep(fc, fb), k + 1, status

    start = jnp.where(jnp.all(ends.status == SplitStatus.OK), jnp.where(bracketed, BRACKETED, RUNNING),
                      HomoclinicStatus.SPLIT_FAILED).astype(jnp.int32)
    v_a, v_b = ((s, ends.saddle[i], jnp.stack([ends.unstable[i], ends.stable[i]])) for i, s in enumerate((a, b)))
    carry = (v_a, ends.value[0], v_b, ends.value[1], jnp.asarray(0, jnp.int32), start)
    v_a, fa, v_b, fb, k, status = jax.lax.while_loop(lambda c: c[-1] == RUNNING, secant, carry)

    def on_bracket():
        chord = lambda t: v_a[0] + t * (v_b[0] - v_a[0])
        length = jnp.abs(v_b[0] - v_a[0])
        v, located, n = illinois(lambda t: probe(chord(t), v_b), v_a, fa, v_b, fb, length,
                                 xtol * (1 + jnp.abs(v_b[0])), jnp.maximum(max_steps - k, 0))
        return v, jnp.asarray(LOCATED)[located], k + n

    v, status, k = jax.lax.cond(status == BRACKETED, on_bracket, lambda: (v_b, status, k))
    return v[0], v[1], v[2], status.astype(jnp.int32), k


def finish(f, opts: SplitOptions, path: Path, params, s, saddle, refs, status, steps,
           ptol) -> tuple[Any, HomoclinicPoint]:
    """One Newton step in ``s`` from the converged ``s`` whose derivative in ``params`` is the implicit-function
    one, and the point there. Returns ``(s*, HomoclinicPoint)``; ``p`` of the point is ``path.param``'s value and
    its ``residual`` the split at ``s`` (before the step)."""
    s, saddle, refs = jax.lax.stop_gradient((s, saddle, refs))
    fixed = jax.lax.stop_gradient(params)
    slope = jax.grad(lambda t: _split(f, opts, path, fixed, t, saddle, refs, True).value)(s)
    value = _split(f, opts, path, params, s, saddle, refs, True).value
    step = jnp.where(jnp.isfinite(value / slope), value / slope, 0.0)
    s_new = s - step
    at = path.at(params, s_new)
    h, lam, v_u, v_s, _, _ = saddle_at(f, at, saddle, refs[0], refs[1])
    big = jnp.abs(jax.lax.stop_gradient(step)) > ptol * (1 + jnp.abs(s))
    status = jnp.where((status == HomoclinicStatus.CONVERGED) & (big | ~jnp.isfinite(value)),
                       HomoclinicStatus.NOT_CONVERGED, status)
    point = HomoclinicPoint(p=path.param.get(at), saddle=h, lam=lam, saddle_quantity=lam[0] + lam[1],
                            residual=value, unstable=v_u, stable=v_s, status=status.astype(jnp.int32),
                            steps=steps)
    return s_new, point


def choose_branches(f, opts, path, params, a, b, bracketed, saddle, signs):
    """The branch reference directions (2, 2) and the split at ``a`` and ``b`` (a ``Split`` of batch (2,)): from
    ``signs`` (2,), or, where ``signs`` is NaN ("auto"), the pair of ``SIGNS`` whose split changes sign on
    ``[a, b]`` with the smallest values (bracketed), or with the smallest ``|split(a)|`` (a start point)."""
    params = jax.lax.stop_gradient(params)
    candidates = jnp.where(jnp.isnan(signs), jnp.asarray(SIGNS), signs)
    refs = jax.vmap(lambda sg: refs_at(f, path.at(params, a), saddle, sg))(candidates)
    ends = jax.vmap(lambda r: jax.vmap(lambda s: _split(f, opts, path, params, s, saddle, r))(jnp.stack([a, b])))(refs)
    values = ends.value                                                     # (4, 2), NaN where invalid
    change = jnp.where(bracketed, values[:, 0] * values[:, 1] < 0, jnp.all(jnp.isfinite(values), axis=1))
    score = jnp.where(change, jnp.where(bracketed, jnp.max(jnp.abs(values), axis=1), jnp.abs(values[:, 1])), jnp.inf)
    best = jnp.argmin(score)
    return refs[best], jax.tree_util.tree_map(lambda x: x[best], ends)


def _locate(f, opts, param, params, saddle, a, b, bracketed, signs, xtol, ptol, max_steps):
    """``locate_homoclinic`` for one problem (vmappable): the ``HomoclinicPoint``."""
    path = Path(param)
    refs, ends = choose_branches(f, opts, path, params, a, b, bracketed, saddle, signs)
    s, x, r, status, steps = root(f, opts, path, params, a, b, ends, bracketed, xtol, max_steps)
    return finish(f, opts, path, params, s, x, r, status, steps, ptol)[1]


_locate_jit = top_level_or_nested(_locate)


# ---- input checks shared by the public entry points -------------------------------------------------------

def check_problem(params, param: Param, f, saddle, name: str = "start"):
    """Validate params (one planar problem), the lens and a saddle guess; return ``(f, params, saddle)``."""
    as_param(param)
    params, f = one_problem(params, f, [param], "one problem per call, or jax.vmap.")
    saddle = saddle if isinstance(saddle, jax.core.Tracer) else jnp.asarray(saddle, float)
    if jnp.shape(saddle) != (2,):
        raise ValueError(f"{name}: expected one planar state of shape (2,), got {jnp.shape(saddle)} (homoclinic "
                         f"orbits are computed for planar systems).")
    check_finite(name, saddle)
    check_field(f, saddle, params, "h")
    return f, params, saddle


def split_options(radius, delta, t_max, opts) -> SplitOptions:
    """``SplitOptions`` from checked scalars."""
    check_numbers(dict(radius=radius, delta=delta, t_max=t_max))
    for name, value in (("radius", radius), ("delta", delta), ("t_max", t_max)):
        check_positive(name, value)
    if is_concrete(radius) and is_concrete(delta) and not float(delta) < float(radius):
        raise ValueError(f"delta: must be smaller than radius, got delta={float(delta)}, radius={float(radius)}.")
    if not isinstance(opts, FlowOptions):
        raise ValueError(f"opts: expected a FlowOptions, got {type(opts).__name__}.")
    return SplitOptions(radius=jnp.asarray(radius, float), delta=jnp.asarray(delta, float),
                        t_max=jnp.asarray(t_max, float), flow=opts)


def branch_signs(branches) -> jax.Array:
    """``(2,)`` signs from ``"auto"`` (NaN, NaN) or a pair ``(su, ss)`` of +-1."""
    if isinstance(branches, str) and branches == "auto":
        return jnp.full(2, jnp.nan)
    try:
        su, ss = (float(b) for b in branches)
    except (TypeError, ValueError):
        raise ValueError(f"branches: expected 'auto' or a pair (su, ss) of +1/-1, got {branches!r}.") from None
    if su not in (1.0, -1.0) or ss not in (1.0, -1.0):
        raise ValueError(f"branches: each sign must be +1 or -1, got {branches!r}.")
    return jnp.asarray([su, ss])


def check_steps(tol, ptol, max_newton):
    check_positive("tol", tol)
    check_positive("ptol", ptol)
    if isinstance(max_newton, bool) or not isinstance(max_newton, (int, np.integer)) or max_newton < 1:
        raise ValueError(f"max_newton: expected an int >= 1, got {max_newton!r}.")


#: ``xtol=`` -> ``tol=``, ``max_steps=`` -> ``max_newton=`` (one release), for locate_homoclinic and detect_homoclinic
STEP_ALIASES = dict(xtol="tol", max_steps="max_newton")


@renamed(guess="start", **STEP_ALIASES)
def locate_homoclinic(params, param: Param, start, *, f: VectorField | None = None, window=None, branches="auto",
                      radius=0.1, delta=1e-6, t_max=1000.0, tol=1e-12, ptol=1e-8, max_newton: int = 60,
                      opts: FlowOptions = FlowOptions()) -> HomoclinicPoint:
    """A saddle-loop homoclinic bifurcation of the planar ``dh/dt = f(h, params)`` in ``param``.

    ``start``: a guess (2,) of the saddle at the value ``p`` of ``param`` in ``params``: secant steps from ``p`` and ``p
    + 1e-4 (1 + |p|)``; or, with ``window=(lo, hi)``, a guess of the saddle at ``lo`` and a bracket with a sign change
    of the split function. (``(saddle, p)`` and ``(saddle, (lo, hi))`` are the deprecated forms.) The saddle is
    re-solved by Newton at every parameter value. ``branches``: ``(su, ss)`` picks the unstable and stable branches
    along ``su`` and ``ss`` times the eigenvectors (largest entry positive) at the start; ``"auto"`` tries the four
    pairs. ``radius``, ``delta``, ``t_max``: see ``SplitOptions``; ``tol`` the step tolerance in ``p``, at most
    ``max_newton`` root-finding steps; a final Newton step larger than ``ptol (1 + |p|)`` marks a jump (NOT_CONVERGED).
    ``p`` and ``saddle`` of the result are differentiable in ``params`` (implicit function theorem). Works under
    ``jax.vmap`` (of ``_locate``); bad input raises ``ValueError`` before compiling."""
    bracket = None if window is None else check_window(window)
    if isinstance(start, (tuple, list)) and len(start) == 2 and np.ndim(start[0]) == 1:
        deprecated("locate_homoclinic: start=(saddle, p) is deprecated; use start=saddle with p set in params "
                   "(param.set(params, p)), and window=(lo, hi) for a bracket.")
        if window is not None:
            raise ValueError("window: give the bracket in window= or in the deprecated (saddle, (lo, hi)), not both.")
        start, part = start
        part = part if isinstance(part, jax.core.Tracer) else jnp.asarray(part, float)
        if part.shape not in ((), (2,)):
            raise ValueError(f"start: the parameter part must be a value or a pair (lo, hi), got shape {part.shape}.")
        check_finite("start p", part)
        if part.shape == (2,):
            if is_concrete(part) and float(part[0]) == float(part[1]):
                raise ValueError(f"start: the bracket ends must differ, got {np.asarray(part).tolist()}.")
            bracket = (part[0], part[1])
        else:
            params = as_param(param).validate(params).set(params, part)
    f, params, saddle = check_problem(params, param, f, start)
    bracketed = bracket is not None
    p = jax.lax.stop_gradient(param.get(params))
    a, b = bracket if bracketed else (p, p + 1e-4 * (1 + jnp.abs(p)))
    signs = branch_signs(branches)
    check_steps(tol, ptol, max_newton)
    sopts = split_options(radius, delta, t_max, opts)
    return _locate_jit(f, sopts, param, params, saddle, a, b, jnp.asarray(bracketed), signs, jnp.asarray(tol, float),
                       jnp.asarray(ptol, float), int(max_newton))
