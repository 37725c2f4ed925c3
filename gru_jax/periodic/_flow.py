"""The flow of ``dh/dt = f(h, params)`` over a time ``T`` on diffrax, with its derivatives from the variational
equation: the one engine under shooting, Floquet multipliers, manifolds and split functions.

Everything here works on one problem and vmaps; nothing raises from traced code: each call returns ``ok``."""

from __future__ import annotations

from typing import Any, Callable

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
from .._ode import diffeqsolve


class FlowOptions(eqx.Module):
    """ODE solver settings. ``rtol``/``atol`` are array leaves (no recompile when changed); ``solver`` (a diffrax
    solver) and ``max_steps`` are static."""

    rtol: jax.Array = eqx.field(converter=jnp.asarray, default=1e-10)
    atol: jax.Array = eqx.field(converter=jnp.asarray, default=1e-12)
    solver: Any = eqx.field(static=True, default_factory=diffrax.Tsit5)
    max_steps: int = eqx.field(static=True, default=20_000)


def _solve(rhs: Callable, y0, T, params, opts: FlowOptions, saveat: diffrax.SaveAt):
    """``rhs(y, params)`` from ``t = 0`` to ``T`` (negative ``T`` integrates backwards)."""
    T = jnp.asarray(T, jnp.result_type(float))
    sol = diffeqsolve(diffrax.ODETerm(lambda t, y, a: rhs(y, a)), opts.solver, 0.0, T, None, y0,
                      args=params, saveat=saveat, max_steps=opts.max_steps, throw=False,
                      stepsize_controller=diffrax.PIDController(rtol=opts.rtol, atol=opts.atol))
    ok = (sol.result == diffrax.RESULTS.successful) & (T != 0)
    return sol.ys, ok | (T == 0)


def flow(f: Callable, params, x0: jax.Array, T, opts: FlowOptions = FlowOptions()):
    """``x(T)`` (d,) from ``x(0) = x0`` (d,), and ``ok`` (). Differentiable in reverse mode (diffrax's
    checkpointed adjoint) in ``x0``, ``T`` and ``params``."""
    ys, ok = _solve(f, x0, T, params, opts, diffrax.SaveAt(t1=True))
    return ys[-1], ok


def orbit(f: Callable, params, x0: jax.Array, T, n: int, opts: FlowOptions = FlowOptions()):
    """The trajectory from ``x0`` sampled at ``n`` (static) evenly spaced times in ``[0, T]``: ``(xs (n, d), ok)``."""
    return _solve(f, x0, T, params, opts, diffrax.SaveAt(ts=jnp.linspace(0.0, 1.0, n) * T))


def variational(f: Callable, params, x0: jax.Array, T, opts: FlowOptions = FlowOptions(), dparams=None):
    """The flow and its derivatives from one integration of the variational equations.

    Returns ``(x, Phi, w, ok)``: ``x = x(T)`` (d,); ``Phi = dx(T)/dx0`` (d, d) (the monodromy matrix when ``x`` is
    periodic with period ``T``); ``w = dx(T)/dparams`` (d,) along the params tangent ``dparams`` (a pytree like
    ``params``; zeros if None). ``dx(T)/dT`` is ``f(x, params)``. ``Phi`` and ``w`` are error-controlled."""
    def rhs(y, q):
        x, phi, w = y
        fx, jvp = jax.linearize(lambda z: f(z, q), x)
        dphi = jax.vmap(jvp, in_axes=1, out_axes=1)(phi)
        fp = jnp.zeros_like(x) if dparams is None else jax.jvp(lambda r: f(x, r), (q,), (dparams,))[1]
        return fx, dphi, jvp(w) + fp

    y0 = (x0, jnp.eye(x0.shape[-1], dtype=x0.dtype), jnp.zeros_like(x0))
    (x, phi, w), ok = _solve(rhs, y0, T, params, opts, diffrax.SaveAt(t1=True))
    return x[-1], phi[-1], w[-1], ok


def shooting_system(f: Callable, params, X: jax.Array, T, x_ref: jax.Array, f_ref: jax.Array,
                    opts: FlowOptions = FlowOptions(), dparams=None):
    """The multiple-shooting system of a periodic orbit, its Jacobian and the monodromy matrix.

    ``X`` (M, d) holds the orbit at times ``0, T/M, ..., (M-1)T/M`` (M = 1: single shooting). Residual ``r`` (M d + 1,):
    ``r_i = phi(X_i, T/M) - X_{i+1 mod M}`` (flattened), then the phase condition ``(X_0 - x_ref)·f_ref`` (a Poincare
    section through ``x_ref`` normal to ``f_ref``). ``jac`` (M d + 1, M d + 2): derivatives in ``(X.ravel(), T, p)``,
    the last column along the params tangent ``dparams`` (zeros if None). ``monodromy`` (d, d) = ``Phi_{M-1} ...
    Phi_0``. ``ok`` () all segments solved."""
    M, d = X.shape
    x_end, phi, w, ok = jax.vmap(lambda x0: variational(f, params, x0, T / M, opts, dparams))(X)
    f_end = jax.vmap(lambda x: f(x, params))(x_end)
    nxt = jnp.roll(jnp.arange(M), -1)
    r = jnp.concatenate([(x_end - X[nxt]).ravel(), jnp.dot(X[0] - x_ref, f_ref)[None]])
    eye = jnp.eye(M, dtype=X.dtype)
    blocks = eye[:, :, None, None] * phi[:, None] - eye[nxt][:, :, None, None] * jnp.eye(d, dtype=X.dtype)
    top = jnp.concatenate([blocks.transpose(0, 2, 1, 3).reshape(M * d, M * d), (f_end / M).reshape(M * d, 1),
                           w.reshape(M * d, 1)], axis=1)
    phase = jnp.zeros(M * d + 2, X.dtype).at[:d].set(f_ref)
    jac = jnp.concatenate([top, phase[None]], axis=0)
    monodromy = jax.lax.fori_loop(0, M, lambda i, m: phi[i] @ m, jnp.eye(d, dtype=X.dtype))
    return r, jac, monodromy, jnp.all(ok)
