"""Periodic orbits by (multiple) shooting on diffrax, with their Floquet multipliers.

A damped Newton iteration (``core.backtracking_newton``) solves ``shooting_system`` (``_flow``) for the orbit points
``X`` (M, d) and the period ``T``. The located orbit is differentiable in the parameters by the implicit function
theorem: the result is one more Newton step from the converged point with the Jacobian held constant
(``core.implicit_step``, as for equilibria), whose derivative is ``-J⁻¹ ∂r/∂params``. Reverse mode only
(diffrax's checkpointed adjoint)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._eig import eigvals
from .._validate import check_finite, check_positive
from ..core._newton import backtracking_newton, implicit_step
from ..core._result import Result
from ..core._status import Codes
from ..models._field import VectorField, batch_shape, resolve_field, validate_params
from ._flow import FlowOptions, flow, orbit, shooting_system


class OrbitStatus(Codes):
    """How the shooting solve for one periodic orbit ended; ``.message`` says it in words."""

    CONVERGED = 0, "converged: the last Newton step was below tol"
    MAX_ITER = 1, "not converged within max_newton iterations (or backtracking could not reduce the residual)"
    NONFINITE = 2, "the shooting system became singular or non-finite"
    COLLAPSED = 3, "the period went to <= 0 or the orbit shrank to an equilibrium (amplitude below min_amplitude)"
    FLOW_FAILED = 4, "the ODE solver failed on a segment (increase max_steps or loosen rtol/atol)"


class PeriodicOrbit(Result):
    """A periodic orbit (or a batch ``B`` of them) with its Floquet multipliers.

    Attributes: ``X`` (B..., M, d) orbit points at times ``0, T/M, ..., (M-1)T/M``; ``period`` (B...,); ``multipliers``
    (B..., d) complex eigenvalues of the monodromy matrix, by descending modulus; ``amplitude`` (B...,) max over
    components of (max - min) along the orbit (from points evenly spaced in arclength); ``residual`` (B...,) max-norm of
    the shooting residual at the last Newton iterate; ``status`` (B...,) ``OrbitStatus`` codes; ``newton`` (B...,)
    Newton iterations. Derived: ``x0``, ``trivial_error``, ``n_unstable``, ``stable``."""

    X: jax.Array
    period: jax.Array
    multipliers: jax.Array
    amplitude: jax.Array
    residual: jax.Array
    status: jax.Array
    newton: jax.Array

    _batch_field = "period"

    @property
    def x0(self) -> jax.Array:
        """The point on the phase section (B..., d)."""
        return self.X[..., 0, :]

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return tuple(self.period.shape)

    @property
    def trivial_error(self) -> jax.Array:
        """``min |mu - 1|`` (B...,): the multiplier 1 of the flow direction, computed; an accuracy indicator."""
        return jnp.min(jnp.abs(self.multipliers - 1.0), axis=-1)

    @property
    def n_unstable(self) -> jax.Array:
        """Number (B...,) of multipliers outside the unit circle, not counting the trivial one."""
        mu = self.multipliers
        trivial = jnp.argmin(jnp.abs(mu - 1.0), axis=-1)[..., None] == jnp.arange(mu.shape[-1])
        return jnp.sum(~trivial & (jnp.abs(mu) > 1.0), axis=-1).astype(jnp.int32)

    @property
    def stable(self) -> jax.Array:
        """Converged and every non-trivial multiplier inside the unit circle (B...,) bool."""
        return (self.status == OrbitStatus.CONVERGED) & (self.n_unstable == 0)

    def sample(self, params, n: int, f: VectorField | None = None, *, by: str = "time") -> jax.Array:
        """``n`` points (B..., n, d) along one period from ``x0``: evenly spaced in time (``by="time"``, the last
        point closes the orbit) or in arclength (``by="arclength"``, better for plots of orbits with slow and fast
        parts). ``params`` as given to ``periodic_orbit`` (a batched model is vmapped over its own batch dims)."""
        if by not in ("time", "arclength"):
            raise ValueError(f"by: unknown option {by!r}; choose 'time' or 'arclength'.")
        field = resolve_field(params, f)
        one = (lambda p, x, T: orbit(field, p, x, T, int(n))[0]) if by == "time" else \
            (lambda p, x, T: arclength_samples(field, p, x, T, int(n))[0])
        return _batched(one, params, self.batch_shape)(params, self.x0, self.period)

    def _repr_batch(self, batch) -> str:
        st = np.asarray(self.status)
        return (f"PeriodicOrbit(batch {batch}, M={self.X.shape[-2]}, d={self.X.shape[-1]}; "
                f"{int(np.sum(st == 0))}/{st.size} converged, {int(np.sum(np.asarray(self.stable)))} stable)")

    def _repr_one(self) -> str:
        mu = ", ".join(f"{complex(z):.6g}" for z in np.asarray(self.multipliers))
        status = OrbitStatus(int(self.status))
        stability = ("not converged" if status != OrbitStatus.CONVERGED else "stable" if bool(self.stable) else
                     f"unstable ({int(self.n_unstable)} multiplier(s) outside the unit circle)")
        return (f"PeriodicOrbit: period {float(self.period):.10g}, amplitude {float(self.amplitude):.6g}, {stability}\n"
                f"  multipliers [{mu}] (trivial error {float(self.trivial_error):.1e})\n"
                f"  x0 {np.array2string(np.asarray(self.x0), precision=6)}, M={self.X.shape[-2]}\n"
                f"  {status.name.lower()} ({status.message}) after {int(self.newton)} Newton steps, "
                f"residual {float(self.residual):.1e}")


def _batched(fn, params, batch: tuple[int, ...]):
    """``fn(params, *arrays)`` vmapped over the leading ``batch`` dims of the arrays; ``params`` is vmapped over
    its own ``batch_shape`` (which must lead ``batch``) and shared over the remaining dims."""
    own = batch_shape(params)
    if tuple(batch[:len(own)]) != own:
        raise ValueError(f"params: batch {own} does not lead the batch {batch} of the orbits.")
    for axis in reversed(range(len(batch))):
        fn = jax.vmap(fn, in_axes=(0 if axis < len(own) else None, 0, 0))
    return fn


# ---- samples ------------------------------------------------------------------------------------------------

def arclength_samples(f: VectorField, params, x0: jax.Array, T, n: int, opts: FlowOptions = FlowOptions()):
    """``n`` points (n, d) evenly spaced in arclength along the trajectory from ``x0`` over time ``T`` (the
    length from the flow of ``(x, s)`` with ``s' = |f|``, then the flow of ``f/|f|``), and ``ok``."""
    def with_length(y, p):
        v = f(y[:-1], p)
        return jnp.append(v, jnp.linalg.norm(v))

    def unit(y, p):
        v = f(y, p)
        size = jnp.linalg.norm(v)
        return v / jnp.where(size > 0, size, 1.0)

    end, ok_length = flow(with_length, params, jnp.append(x0, 0.0), T, opts)
    length = jnp.where(jnp.isfinite(end[-1]), end[-1], 0.0)
    xs, ok = orbit(unit, params, x0, length, n, opts)
    return xs, ok & ok_length


# ---- one problem --------------------------------------------------------------------------------------------

def residual(f: VectorField, params, X: jax.Array, T, x_ref: jax.Array, f_ref: jax.Array,
             opts: FlowOptions = FlowOptions()):
    """The residual (M d + 1,) of ``shooting_system`` from the flow alone (no variational equations: cheaper
    to compile and to differentiate), and ``ok``."""
    ends, ok = jax.vmap(lambda x: flow(f, params, x, T / X.shape[0], opts))(X)
    r = jnp.append((ends - jnp.roll(X, -1, axis=0)).ravel(), jnp.dot(X[0] - x_ref, f_ref))
    return r, jnp.all(ok)


def shoot(f: VectorField, params, x0: jax.Array, period, opts: dict, n_segments: int = 1,
          flow_opts: FlowOptions = FlowOptions(), n_samples: int = 64):
    """Damped Newton for one periodic orbit from the guess ``x0`` (d,) and ``period`` (). vmappable.

    ``opts``: traced ``tol``, ``max_newton``, ``max_step``, ``min_amplitude``. Returns ``(PeriodicOrbit, samples)``,
    ``samples`` (n_samples, d) evenly spaced in arclength along the orbit. Each iteration integrates the variational
    equations once (at the trial point); a trial is accepted when the residual's 2-norm decreases, else the step is
    halved. Converged when the Newton step is at most ``tol`` (max-norm in ``X``; in ``T`` relative to ``max(1, T)``).
    """
    M, d = n_segments, x0.shape[-1]
    fixed = jax.lax.stop_gradient(params)
    x_ref, f_ref = x0, f(x0, params)
    ref = jax.lax.stop_gradient((x_ref, f_ref))
    T0 = jnp.asarray(period, x0.dtype)
    X0 = (jax.lax.stop_gradient(x0)[None] if M == 1
          else orbit(f, fixed, jax.lax.stop_gradient(x0), T0 * (M - 1) / M, M, flow_opts)[0])

    def evaluate(z):
        X, T = z[:-1].reshape(M, d), z[-1]
        r, jac, monodromy, ok = shooting_system(f, fixed, X, T, *ref, flow_opts)
        return r, jac[:, :-1], ok & (T > 0), (jac[:, :-1], monodromy)

    # the size of a step: max-norm in X, in T relative to max(1, T); the cap: max_step in X, half the period in T
    measure = lambda z, dz: jnp.maximum(jnp.max(jnp.abs(dz[:-1])), jnp.abs(dz[-1]) / jnp.maximum(1.0, jnp.abs(z[-1])))
    cap = lambda z, dz: jnp.minimum(opts["max_step"] / jnp.max(jnp.abs(dz[:-1])), 0.5 * z[-1] / jnp.abs(dz[-1]))
    z0 = jnp.append(X0.ravel(), T0)
    res = backtracking_newton(evaluate, z0, opts["tol"], opts["max_newton"], cap, measure,
                              aux0=(jnp.full((z0.size,) * 2, jnp.nan, x0.dtype), jnp.full((d, d), jnp.nan, x0.dtype)),
                              exact_roots=False, stop_if_start_fails=True)
    jac, monodromy = res.aux
    z = jax.lax.stop_gradient(res.v)

    # implicit-function step (when converged) with the last Jacobian held constant: its derivative is -J^-1 dr/dparams
    X, T = z[:-1].reshape(M, d), z[-1]
    r, ok = residual(f, params, X, T, x_ref, f_ref, flow_opts)
    z = implicit_step(lambda _: jnp.where(res.converged, r, 0.0), z, jac)   # r is the residual at z
    X, T = z[:-1].reshape(M, d), z[-1]

    mu, mu_ok = eigvals(monodromy)
    mu = jnp.where(mu_ok, mu[jnp.argsort(-jnp.abs(mu))], jnp.nan)
    samples, samples_ok = arclength_samples(f, fixed, jax.lax.stop_gradient(X[0]),
                                            jnp.where(T > 0, jax.lax.stop_gradient(T), 1.0), n_samples, flow_opts)
    amplitude = jnp.max(jnp.max(samples, axis=0) - jnp.min(samples, axis=0))
    status = jnp.select(
        [~ok | ~samples_ok | ~res.accepted, ~res.finite | ~jnp.all(jnp.isfinite(z)),
         (T <= 0) | ~(amplitude >= opts["min_amplitude"]), res.converged],
        [OrbitStatus.FLOW_FAILED, OrbitStatus.NONFINITE, OrbitStatus.COLLAPSED, OrbitStatus.CONVERGED],
        OrbitStatus.MAX_ITER)
    result = PeriodicOrbit(X=X, period=T, multipliers=mu, amplitude=amplitude,
                           residual=jnp.max(jnp.abs(jax.lax.stop_gradient(r))),
                           status=status.astype(jnp.int32), newton=res.iterations)
    return result, samples


# ---- public entry point -------------------------------------------------------------------------------------

@eqx.filter_jit
def _shoot_batch(f, params, x0, period, opts, n_segments, flow_opts, batch):
    one = lambda p, x, T: shoot(f, p, x, T, opts, n_segments, flow_opts)[0]
    return _batched(one, params, batch)(params, x0, period)


def periodic_orbit(params, x0, period, *, f: VectorField | None = None, n_segments: int = 1, tol: float = 1e-10,
                   max_newton: int = 30, max_step: float = 0.5, min_amplitude: float = 1e-6,
                   rtol: float = 1e-10, atol: float = 1e-12, max_steps: int = 20_000) -> PeriodicOrbit:
    """A periodic orbit of ``dh/dt = f(h, params)`` near the guess ``x0`` (d,) with period near ``period``.

    Solves the multiple-shooting system with ``n_segments`` segments (initial points from integrating the
    guess over one guessed period) by damped Newton; the phase condition is the Poincare section through
    ``x0`` normal to ``f(x0)``. Newton steps are capped at ``max_step`` in the state (max-norm) and half the
    period; ``tol`` bounds the last step (state max-norm, period relative to ``max(1, T)``); an orbit with
    amplitude below ``min_amplitude`` has collapsed onto an equilibrium. ``rtol``/``atol``/``max_steps``: the
    ODE solver's. Floquet multipliers are the eigenvalues of the monodromy matrix (pure-JAX ``eigvals``).

    Batches: a model with a ``batch_shape`` B (e.g. a batched ``GRUParams``) gives one orbit per member, with
    ``x0`` (d,) or (B..., d) and ``period`` () or (B...); other params are shared and a batch of guesses
    ``x0`` (N..., d) gives one orbit per guess. Differentiable in params by the implicit function theorem
    (reverse mode). Raises ``ValueError`` for bad shapes, non-finite values or options, before compiling."""
    validate_params(params)
    f = resolve_field(params, f)
    x0, period = jnp.asarray(x0, float), jnp.asarray(period, float)
    d = getattr(params, "dim", x0.shape[-1] if x0.ndim else None)
    if x0.ndim < 1 or x0.shape[-1] != d:
        raise ValueError(f"x0: expected shape (..., {d}) (d from the params), got {x0.shape}.")
    batch = batch_shape(params) or x0.shape[:-1]
    try:
        x0 = jnp.broadcast_to(x0, batch + (d,))
        period = jnp.broadcast_to(period, batch)
    except ValueError:
        raise ValueError(f"x0 {x0.shape} and period {period.shape} do not match the batch {batch} "
                         f"(x0: (d,) or (*batch, d); period: () or batch).") from None
    check_finite("x0", x0)
    check_finite("period", period)
    check_positive("period", period)
    if isinstance(n_segments, bool) or not isinstance(n_segments, (int, np.integer)) or n_segments < 1:
        raise ValueError(f"n_segments: expected an int >= 1, got {n_segments!r}.")
    for name, value in (("tol", tol), ("max_newton", max_newton), ("max_step", max_step),
                        ("min_amplitude", min_amplitude), ("rtol", rtol), ("atol", atol), ("max_steps", max_steps)):
        check_positive(name, value)
    opts = {k: jnp.asarray(v) for k, v in dict(tol=tol, max_newton=max_newton, max_step=max_step,
                                                 min_amplitude=min_amplitude).items()}
    return _shoot_batch(f, params, x0, period, opts, int(n_segments),
                        FlowOptions(rtol=rtol, atol=atol, max_steps=int(max_steps)), batch)
