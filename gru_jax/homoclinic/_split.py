"""The split function of a planar saddle: the signed distance between one branch of its unstable manifold and one
branch of its stable manifold, measured on a section. It is zero exactly at a saddle-loop homoclinic orbit and is
differentiable by the implicit function theorem.

The section is the line through ``q``, the first point of the stable branch (integrated backwards from ``delta``
along its eigenvector) at distance ``radius`` from the saddle, normal to ``f(q)``. The unstable branch is
integrated forwards from ``delta`` along its eigenvector to its first crossing of that line in the direction of
the flow (a diffrax event). Both event times are held constant (``stop_gradient``); the states are recomputed by
a differentiable flow over those times and the crossing is finished by one Newton step in time, so that the value
is the crossing's and its derivative is the implicit-function one."""

from __future__ import annotations

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import optimistix as optx

from .._fixed_points import SeedStatus, fixed_point
from .._linalg import value_and_jacobian
from .._ode import diffeqsolve
from ..core._result import Result
from ..core._status import Codes
from ..periodic._flow import FlowOptions, flow
from ._manifolds import saddle_eigen


class SplitOptions(eqx.Module):
    """Settings of the split function; all array leaves (changing them does not recompile).

    ``radius``: distance from the saddle of the section point on the stable branch (smaller than the loop);
    ``delta``: distance from the saddle of the branches' start points (``delta << radius``); ``t_max``: the
    longest time either branch is integrated; ``flow``: ODE solver settings."""

    radius: jax.Array = eqx.field(converter=jnp.asarray, default=0.1)
    delta: jax.Array = eqx.field(converter=jnp.asarray, default=1e-6)
    t_max: jax.Array = eqx.field(converter=jnp.asarray, default=1000.0)
    flow: FlowOptions = FlowOptions()


class SplitStatus(Codes):
    """How one evaluation of the split function ended (``Split.status``); ``.message`` says it in words."""

    OK = 0, "the unstable branch crossed the section"
    SADDLE_NOT_CONVERGED = 1, "Newton did not converge from the saddle guess"
    NOT_A_SADDLE = 2, "the equilibrium is not a saddle (needs one positive and one negative eigenvalue)"
    STABLE_BRANCH_SHORT = 3, ("backwards in time the stable branch never got `radius` away from the saddle within "
                              "t_max: decrease radius or increase t_max")
    NO_CROSSING = 4, ("the unstable branch did not cross the section in the flow direction within t_max (it tends "
                      "to another attractor, or t_max is too short)")
    NONFINITE = 5, "a non-finite value appeared"


class Split(Result):
    """One evaluation of the split function (any leading batch dims ``B``).

    ``value`` (B...) the signed distance along the section from the stable branch to the unstable one (NaN
    unless ``status`` is OK); ``status`` (B...) ``SplitStatus``; ``saddle`` (B..., 2); ``lam`` (B..., 2)
    ``(lambda_u, lambda_s)``; ``unstable``, ``stable`` (B..., 2) the unit eigenvectors pointing into the chosen
    branches; ``section`` (B..., 2) the section point ``q`` on the stable branch; ``crossing`` (B..., 2) the
    unstable branch's point on the section; ``times`` (B..., 2) the flight times of the unstable branch to the
    crossing and of the stable branch (backwards) to ``q``."""

    value: jax.Array
    status: jax.Array
    saddle: jax.Array
    lam: jax.Array
    unstable: jax.Array
    stable: jax.Array
    section: jax.Array
    crossing: jax.Array
    times: jax.Array

    _batch_field = "status"

    def _repr_one(self) -> str:
        return (f"Split(value={float(self.value):+.6e}, saddle={jnp.asarray(self.saddle).round(6).tolist()}, "
                f"lam={jnp.asarray(self.lam).round(6).tolist()}, {SplitStatus(int(self.status)).name})")


def _event_time(rhs, params, x0, event_fn, t_max, opts: FlowOptions):
    """The first time in ``(0, t_max]`` at which ``event_fn(x, params)`` crosses zero upwards along
    ``dx/dt = rhs(x, params)`` from ``x0``, the state then, and whether it happened; not differentiated."""
    params, x0 = jax.lax.stop_gradient((params, x0))
    root = optx.Newton(rtol=1e-12, atol=1e-14)
    event = diffrax.Event(lambda t, y, args, **kw: event_fn(y, args), root_finder=root, direction=True)
    sol = diffeqsolve(diffrax.ODETerm(lambda t, y, a: rhs(y, a)), opts.solver, 0.0, t_max, None, x0,
                      args=params, saveat=diffrax.SaveAt(t1=True), event=event, max_steps=opts.max_steps,
                      stepsize_controller=diffrax.PIDController(rtol=opts.rtol, atol=opts.atol),
                      throw=False)
    return jax.lax.stop_gradient((sol.ts[-1], sol.ys[-1])) + (sol.event_mask,)


def _oriented(v, ref):
    return v * jnp.where(v @ ref < 0, -1.0, 1.0)


def saddle_at(f, params, guess: jax.Array, u_ref: jax.Array, s_ref: jax.Array):
    """The saddle near ``guess`` (2,) by Newton, ``lam`` (2,) ``(lambda_u, lambda_s)`` and the unit eigenvectors
    ``v_u``, ``v_s`` (2,) oriented along ``u_ref``, ``s_ref``; ``converged``, ``is_saddle``."""
    h, seed = fixed_point(params, guess, f=f)
    _, jac = value_and_jacobian(f, h, params)
    _, lam, vectors, has = saddle_eigen(jac)
    converged = seed == SeedStatus.CONVERGED
    good = converged & jnp.all(has)
    v_u, v_s = (_oriented(jnp.where(good, v, jnp.ones(2)), ref) for v, ref in zip(vectors, (u_ref, s_ref)))
    return h, lam, v_u, v_s, converged, jnp.all(has)


def split_one(f, params, saddle_guess: jax.Array, u_ref: jax.Array, s_ref: jax.Array,
              opts: SplitOptions = SplitOptions(), differentiable: bool = True) -> Split:
    """The split function for one planar problem (vmappable). ``saddle_guess`` (2,) is refined by Newton; the
    branches are those along the eigenvectors with a positive dot product with ``u_ref`` (unstable) and ``s_ref``
    (stable), each (2,). ``differentiable`` (static): the event states recomputed by a differentiable flow (the
    value is differentiable in ``params`` by the IFT); without it, half the integrations (for searches)."""
    h, lam, v_u, v_s, converged, is_saddle = saddle_at(f, params, saddle_guess, u_ref, s_ref)
    x_u, x_s = h + opts.delta * v_u, h + opts.delta * v_s

    # the section point: backwards along the stable branch to distance `radius`
    away = lambda x, a: jnp.sum((x - h) ** 2) - opts.radius**2
    t_s, q, hit_s = _event_time(lambda x, a: -f(x, a), params, x_s, away, opts.t_max, opts.flow)
    q, ok_s = flow(f, params, x_s, -t_s, opts.flow) if differentiable else (q, True)
    fq = f(q, params)
    normal = jnp.stack([-fq[1], fq[0]]) / jnp.linalg.norm(fq)

    # the unstable branch to its first crossing of the section in the flow direction
    g = lambda x, a: (x - q) @ fq
    t_u, x, hit_u = _event_time(f, params, x_u, g, opts.t_max, opts.flow)
    x, ok_u = flow(f, params, x_u, t_u, opts.flow) if differentiable else (x, True)
    fx = f(x, params)
    crossing = x - g(x, params) / (fq @ fx) * fx                 # one differentiable Newton step in time
    value = normal @ (crossing - q)
    status = jnp.select([~converged, ~is_saddle, ~(hit_s & ok_s), ~(hit_u & ok_u), ~jnp.isfinite(value)],
                        [SplitStatus.SADDLE_NOT_CONVERGED, SplitStatus.NOT_A_SADDLE, SplitStatus.STABLE_BRANCH_SHORT,
                         SplitStatus.NO_CROSSING, SplitStatus.NONFINITE], SplitStatus.OK).astype(jnp.int32)
    ok = status == SplitStatus.OK
    return Split(value=jnp.where(ok, value, jnp.nan), status=status, saddle=h, lam=lam, unstable=v_u,
                 stable=v_s, section=q, crossing=crossing, times=jnp.stack([t_u, t_s]))
