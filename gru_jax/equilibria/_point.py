"""``locate_fold`` and ``locate_hopf``: one special point from a guess, by Newton on the minimally augmented
system, differentiable in the params by the implicit function theorem."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..models._field import VectorField
from .._validate import renamed
from ._continuation import _setup
from ..core._compile import top_level_or_nested
from ..core._inputs import start_point
from ._locate import fields, polish, refine
from ._palc import Problem, Settings
from ..core._param import Param, as_param
from ..core._result import Result
from ..core._status import LocateStatus, SpecialKind


class SpecialPoint(Result):
    """One located special point: ``kind`` () ``SpecialKind`` code (a Hopf-test zero with a real critical pair
    is a ``NEUTRAL_SADDLE``); ``p`` () the parameter (also ``.param``); ``h`` (d,); ``located`` ()
    ``LocateStatus`` code; ``residual`` () ``max|f|``; ``omega`` (), ``l1`` () the Hopf frequency and first
    Lyapunov coefficient (NaN otherwise). With a leading batch axis under ``vmap``."""

    kind: jax.Array
    p: jax.Array
    h: jax.Array
    located: jax.Array
    residual: jax.Array
    omega: jax.Array
    l1: jax.Array

    _batch_field = "p"

    @property
    def param(self) -> jax.Array:
        """The located parameter value (the same as ``p``)."""
        return self.p

    def _repr_one(self) -> str:
        hs = " ".join(f"{v:+.8f}" for v in self.h.tolist())
        extra = (f" omega={float(self.omega):.8g} l1={float(self.l1):+.6g}"
                 if int(self.kind) == SpecialKind.HOPF else "")
        return (f"SpecialPoint({SpecialKind(int(self.kind)).label}: p={float(self.p):+.12f} h=[{hs}]{extra}; "
                f"{LocateStatus(int(self.located)).message}; residual {float(self.residual):.1e})")


def _locate(problem: Problem, settings: Settings, u0: jax.Array, hopf: bool) -> SpecialPoint:
    u, status, border, jac = refine(problem.frozen().F, hopf, jax.lax.stop_gradient(u0), settings)
    u = polish(problem.F, hopf, u, status, border, jac, u0)
    return SpecialPoint(**fields(problem, u, SpecialKind.HOPF if hopf else SpecialKind.FOLD, status, hopf))


_compiled = top_level_or_nested(_locate)


def _locate_public(params, param, start, f, tol, max_newton, hopf: bool) -> SpecialPoint:
    params, h = start_point(start, params, as_param(param), pair=True)
    p = jax.lax.stop_gradient(param.validate(params).get(params))     # a guess: no derivative flows from it
    problem, h0, settings = _setup(params, param, h, f, "palc", 2, 1, direction=1, p_min=-jnp.inf, p_max=jnp.inf,
                                   tol=tol, max_newton=max_newton)     # the other Settings fields: their defaults
    if hopf and h0.shape[0] < 2:
        raise ValueError(f"locate_hopf needs a state of dimension >= 2, got {h0.shape[0]}.")
    u0 = jnp.concatenate([h0, jnp.asarray(p, h0.dtype)[None]])
    return _compiled(problem, settings, u0, hopf)


@renamed(guess="start")
def locate_fold(params, param: Param, start, *, f: VectorField | None = None, tol=1e-10,
                max_newton=10) -> SpecialPoint:
    """The fold (saddle-node) of the equilibria of ``dh/dt = f(h, params)`` in ``param`` nearest the guess ``start``: a
    state ``h0`` (d,) at the parameter value in ``params``, or a located point with ``.h`` and ``.p`` (a
    ``SpecialPoint``; ``(h, p)`` is the deprecated form). Newton (``tol``, at most ``max_newton`` steps) on
    ``(f, g) = 0``, ``g`` the bordered singularity test of ``f_h``. ``jax.grad`` of ``.p`` or ``.h`` w.r.t. the params
    is the implicit-function derivative; ``.located`` says whether Newton converged (never raises from traced code)."""
    return _locate_public(params, param, start, f, tol, max_newton, hopf=False)


@renamed(guess="start")
def locate_hopf(params, param: Param, start, *, f: VectorField | None = None, tol=1e-10,
                max_newton=10) -> SpecialPoint:
    """The Hopf point nearest the guess ``start``, as ``locate_fold`` with ``g`` the bordered test of ``2 f_h ⊙ I``;
    with the frequency ``omega`` and first Lyapunov coefficient ``l1`` (``< 0``: supercritical), all differentiable.
    A neutral saddle found instead is reported as such."""
    return _locate_public(params, param, start, f, tol, max_newton, hopf=True)
