"""Trajectories of ``dh/dt = f(h, params)`` with diffrax, batched over initial states and parameter sets."""

from __future__ import annotations

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._validate import check_choice, check_finite, check_positive
from .models._field import VectorField, batch_shape, resolve_field, validate_params
from ._ode import diffeqsolve
from .core._result import Result
from .core._status import Codes

SOLVERS = {"tsit5": diffrax.Tsit5, "dopri5": diffrax.Dopri5, "dopri8": diffrax.Dopri8,
           "kvaerno5": diffrax.Kvaerno5, "heun": diffrax.Heun, "euler": diffrax.Euler}


class TrajectoryStatus(Codes):
    """How one trajectory's solve ended (``Trajectory.status``)."""

    SUCCESS = 0, "reached t1"
    MAX_STEPS = 1, "the solver used max_steps before reaching t1"
    FAILED = 2, "any other diffrax failure (step size collapsed, non-finite values, ...)"


class Trajectory(Result):
    """``ts`` (n_save,); ``hs`` (B..., N..., n_save, d) for params batch ``B`` and initial states ``N``;
    ``status`` (B..., N...) ``TrajectoryStatus`` codes; ``num_steps`` (B..., N...) accepted solver steps."""

    ts: jax.Array
    hs: jax.Array
    status: jax.Array
    num_steps: jax.Array

    @property
    def final(self) -> jax.Array:
        """The last saved states (B..., N..., d)."""
        return self.hs[..., -1, :]

    def _repr_one(self) -> str:
        st = np.asarray(self.status)
        return (f"Trajectory(hs {tuple(self.hs.shape)}, t in [{float(self.ts[0]):g}, {float(self.ts[-1]):g}], "
                f"{int(np.sum(st == 0))}/{st.size} succeeded)")


def _solve_one(f, solver, adaptive, max_steps, params, h0, ts, rtol, atol, dt0):
    term = diffrax.ODETerm(lambda t, y, args: f(y, args))
    controller = diffrax.PIDController(rtol=rtol, atol=atol) if adaptive else diffrax.ConstantStepSize()
    sol = diffeqsolve(term, solver, ts[0], ts[-1], dt0, h0, args=params, saveat=diffrax.SaveAt(ts=ts),
                      stepsize_controller=controller, max_steps=max_steps, throw=False)
    status = jnp.where(sol.result == diffrax.RESULTS.successful, TrajectoryStatus.SUCCESS,
                       jnp.where(sol.result == diffrax.RESULTS.max_steps_reached, TrajectoryStatus.MAX_STEPS,
                                 TrajectoryStatus.FAILED))
    return sol.ys, status.astype(jnp.int32), sol.stats["num_accepted_steps"]


@eqx.filter_jit
def _simulate_batch(f, solver, adaptive, max_steps, params, h0, ts, rtol, atol, dt0, n_param_dims, n_state_dims):
    run = lambda p, y: _solve_one(f, solver, adaptive, max_steps, p, y, ts, rtol, atol, dt0)
    for _ in range(n_state_dims):
        run = jax.vmap(run, in_axes=(None, 0))
    for _ in range(n_param_dims):
        run = jax.vmap(run, in_axes=(0, None))
    return run(params, h0)


def simulate(params, h0, *, f: VectorField | None = None, t0: float = 0.0, t1: float = 100.0, ts=None,
             n_save: int = 201, solver: str | diffrax.AbstractSolver = "tsit5", rtol: float = 1e-8,
             atol: float = 1e-10, dt0: float | None = None, max_steps: int = 100_000) -> Trajectory:
    """Integrate from initial states ``h0`` (N..., d) for every parameter set in ``params`` (batch ``B``).

    Saves at ``ts`` (n_save,) if given, else at ``n_save`` evenly spaced times in ``[t0, t1]``. ``solver``: a name in
    ``SOLVERS`` or any diffrax solver; adaptive solvers use a PID controller with ``rtol``/``atol``, fixed-step ones
    (``euler``, ``heun``) need ``dt0``. Never raises from inside the solve: each trajectory carries a
    ``TrajectoryStatus``. Tolerances, ``t0``/``t1``/``ts`` and ``dt0`` are traced (no recompile)."""
    validate_params(params)
    f = resolve_field(params, f)
    if isinstance(solver, str):
        check_choice("solver", solver, SOLVERS)
        solver = SOLVERS[solver]()
    elif not isinstance(solver, diffrax.AbstractSolver):
        raise ValueError(f"solver: expected a name in {sorted(SOLVERS)} or a diffrax solver, got {solver!r}.")
    adaptive = isinstance(solver, diffrax.AbstractAdaptiveSolver)
    if not adaptive and dt0 is None:
        raise ValueError(f"dt0: the fixed-step solver {type(solver).__name__} needs a step size dt0.")
    h0 = jnp.asarray(h0, float)
    d = getattr(params, "dim", h0.shape[-1] if h0.ndim else None)
    if h0.ndim < 1 or h0.shape[-1] != d:
        raise ValueError(f"h0: expected shape (..., {d}) (d from the params), got {h0.shape}.")
    check_finite("h0", h0)
    ts = jnp.linspace(t0, t1, int(n_save)) if ts is None else jnp.asarray(ts, float)
    if ts.ndim != 1 or ts.shape[0] < 2 or not np.all(np.diff(np.asarray(ts)) > 0):
        raise ValueError(f"ts: expected an increasing 1-D array of at least 2 times, got shape {ts.shape}.")
    for name, value in (("rtol", rtol), ("atol", atol), ("max_steps", max_steps)):
        check_positive(name, value)
    if dt0 is not None:
        check_positive("dt0", dt0)
    ys, status, steps = _simulate_batch(f, solver, adaptive, int(max_steps), params, h0, ts, jnp.asarray(rtol),
                                        jnp.asarray(atol), None if dt0 is None else jnp.asarray(dt0),
                                        len(batch_shape(params)), h0.ndim - 1)
    return Trajectory(ts=ts, hs=ys, status=status, num_steps=steps)
