"""``locate_fold`` and ``locate_hopf``: one special point from a guess, by Newton on the minimally augmented
system, differentiable in the params by the implicit function theorem."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from .._validate import check_finite
from ..models._field import VectorField
from ._continuation import _setup, _top_level_or_nested
from ._locate import augmented, polish, refine
from ._lyapunov import hopf_point
from ._palc import Problem, Settings
from ._param import Param
from ._status import LocateStatus, SpecialKind


class SpecialPoint(eqx.Module):
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

    @property
    def param(self) -> jax.Array:
        """The located parameter value (the same as ``p``)."""
        return self.p

    def __repr__(self) -> str:
        if jnp.ndim(self.p):
            return f"SpecialPoint(batch {jnp.shape(self.p)})"
        hs = " ".join(f"{v:+.8f}" for v in self.h.tolist())
        extra = (f" omega={float(self.omega):.8g} l1={float(self.l1):+.6g}"
                 if int(self.kind) == SpecialKind.HOPF else "")
        return (f"SpecialPoint({SpecialKind(int(self.kind)).label}: p={float(self.p):+.12f} h=[{hs}]{extra}; "
                f"{LocateStatus(int(self.located)).message}; residual {float(self.residual):.1e})")


def _locate(problem: Problem, settings: Settings, u0: jax.Array, hopf: bool) -> SpecialPoint:
    frozen = problem.frozen()
    u, status, border, jac = refine(frozen.F, hopf, jax.lax.stop_gradient(u0), settings)
    good = (status == LocateStatus.CONVERGED) & jnp.all(jnp.isfinite(u))
    safe_u, safe_jac = jnp.where(good, u, u0), jnp.where(good, jac, jnp.eye(u.shape[0], dtype=u.dtype))
    u = jnp.where(good, polish(augmented(problem.F, hopf, border), safe_u, safe_jac), u)
    h, p = u[:-1], u[-1]
    g = lambda y: problem.f(y, problem.at(p))
    kind = jnp.asarray(SpecialKind.HOPF if hopf else SpecialKind.FOLD, jnp.int32)
    omega = l1 = jnp.full((), jnp.nan, u.dtype)
    if hopf:
        _, omega, l1 = hopf_point(g, h, jax.jacfwd(g)(h))
        kind = jnp.where(jnp.isfinite(omega), kind, SpecialKind.NEUTRAL_SADDLE).astype(jnp.int32)
    return SpecialPoint(kind=kind, p=p, h=h, located=status.astype(jnp.int32), residual=jnp.max(jnp.abs(g(h))),
                        omega=omega, l1=l1)


_compiled = _top_level_or_nested(_locate)


def _locate_public(params, param, guess, f, tol, max_newton, hopf: bool) -> SpecialPoint:
    h, p = (guess.h, guess.p) if hasattr(guess, "h") and hasattr(guess, "p") else guess
    if jnp.ndim(p) != 0:
        raise ValueError(f"guess: expected (h, p) with a scalar p, got p of shape {jnp.shape(p)}.")
    check_finite("guess p", p)
    if not isinstance(param, Param):
        raise ValueError(f"param: expected a Param, e.g. Param('bh', 0), got {type(param).__name__}.")
    params = param.validate(params).set(params, p)
    problem, h0, settings = _setup(params, param, h, f, "palc", 2, 1, direction=1, ds=0.01, ds_min=1e-6,
                                   ds_max=0.1, p_min=-jnp.inf, p_max=jnp.inf, tol=tol, max_newton=max_newton,
                                   grow=1.5, hyperbolic_tol=1e-8)
    if hopf and h0.shape[0] < 2:
        raise ValueError(f"locate_hopf needs a state of dimension >= 2, got {h0.shape[0]}.")
    u0 = jnp.concatenate([h0, jnp.asarray(p, h0.dtype)[None]])
    return _compiled(problem, settings, u0, hopf)


def locate_fold(params, param: Param, guess, *, f: VectorField | None = None, tol=1e-10,
                max_newton=10) -> SpecialPoint:
    """The fold (saddle-node) of the equilibria of ``dh/dt = f(h, params)`` in ``param`` nearest the guess
    ``(h, p)`` ((d,), ()), or an object with ``.h`` and ``.p`` such as a slot of ``SpecialPoints``: Newton on
    ``(f, g) = 0``, ``g`` the bordered singularity test of ``f_h``. ``jax.grad`` of ``.p`` or ``.h`` w.r.t. the
    params is the implicit-function derivative; ``.located`` says whether Newton converged (never raises from
    traced code)."""
    return _locate_public(params, param, guess, f, tol, max_newton, hopf=False)


def locate_hopf(params, param: Param, guess, *, f: VectorField | None = None, tol=1e-10,
                max_newton=10) -> SpecialPoint:
    """The Hopf point nearest the guess ``(h, p)``, as ``locate_fold`` with ``g`` the bordered test of the
    bialternate product ``2 f_h ⊙ I``; with the frequency ``omega`` and first Lyapunov coefficient ``l1``
    (``< 0``: supercritical), all differentiable. A neutral saddle found instead is reported as such."""
    return _locate_public(params, param, guess, f, tol, max_newton, hopf=True)
