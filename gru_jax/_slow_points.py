"""Slow points: local minima of the kinetic energy ``q(h) = |f(h)|² / 2`` found with optax.

Slow points show near-attractors (ghosts of saddle-nodes, pseudo line attractors) where no fixed point is."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ._linalg import value_and_jacobian
from .core._result import Result
from ._validate import check_positive
from .models._field import VectorField, batch_shape, resolve_field, validate_params
from ._fixed_points import resolve_seeds


class SlowPoints(Result):
    """Per seed, sorted by ``q`` ascending: ``h`` (B..., n, d); ``q`` (B..., n); ``speed`` (B..., n) ``|f(h)|``;
    ``singular_values`` (B..., n, d) of the Jacobian, ascending; ``slow_directions`` (B..., n, d, d), column
    ``k`` the right singular vector of singular value ``k`` (column 0 is the slowest direction)."""

    h: jax.Array
    q: jax.Array
    speed: jax.Array
    singular_values: jax.Array
    slow_directions: jax.Array

    def _repr_one(self) -> str:
        q = np.asarray(self.q)
        return f"SlowPoints(h {tuple(self.h.shape)}, q min {np.nanmin(q):.3g} / median {np.nanmedian(q):.3g})"


def _slow_points_one(f, params, seeds, steps, learning_rate):
    q = lambda h: 0.5 * jnp.sum(f(h, params) ** 2)
    opt = optax.adam(learning_rate)

    def step(carry, _):
        h, state = carry
        updates, state = opt.update(jax.grad(q)(h), state, h)
        return (optax.apply_updates(h, updates), state), None

    def descend(h0):
        (h, _), _ = jax.lax.scan(step, (h0, opt.init(h0)), None, length=steps)
        return h

    h = jax.vmap(descend)(seeds)
    values, jac = jax.vmap(lambda y: value_and_jacobian(f, y, params))(h)
    gram_eigs, vecs = jnp.linalg.eigh(jnp.swapaxes(jac, -1, -2) @ jac)   # ascending, on the device
    q_values = 0.5 * jnp.sum(values**2, axis=-1)
    order = jnp.argsort(q_values)
    return SlowPoints(h=h[order], q=q_values[order], speed=jnp.sqrt(2 * q_values[order]),
                      singular_values=jnp.sqrt(jnp.maximum(gram_eigs, 0.0))[order], slow_directions=vecs[order])


@eqx.filter_jit
def _slow_points_batch(f, params, seeds, steps, learning_rate, n_batch_dims):
    run = lambda p: _slow_points_one(f, p, seeds, steps, learning_rate)
    for _ in range(n_batch_dims):
        run = jax.vmap(run)
    return run(params)


def find_slow_points(params, *, f: VectorField | None = None, key: jax.Array | None = None, seeds=None,
                     n_seeds: int = 64, box=None, steps: int = 2000, learning_rate: float = 1e-2) -> SlowPoints:
    """Minimise ``q = |f(h)|²/2`` with Adam from many seeds (``seeds`` (n, d), or ``n_seeds`` uniform in the
    trapping box drawn with ``key``). Returns every seed's end point with ``q`` and the slow directions.
    ``steps`` is static (it sets the scan length); ``learning_rate`` is traced."""
    validate_params(params)
    f = resolve_field(params, f)
    check_positive("steps", steps)
    check_positive("learning_rate", learning_rate)
    seeds, _, _ = resolve_seeds(params, seeds, n_seeds, key=key, box=box)
    return _slow_points_batch(f, params, seeds, int(steps), jnp.asarray(learning_rate), len(batch_shape(params)))
