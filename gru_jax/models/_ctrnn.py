"""A continuous-time RNN, ``tau dh/dt = -h + W tanh(h) + b``: the engine's reference non-GRU model."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._validate import check_finite


class CTRNNParams(eqx.Module):
    """``W``: (B..., d, d), ``b``: (B..., d), ``tau``: (B..., d) positive time constants."""

    W: jax.Array
    b: jax.Array
    tau: jax.Array

    @property
    def dim(self) -> int:
        return self.W.shape[-1]

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return tuple(self.W.shape[:-2])

    def validate(self) -> "CTRNNParams":
        w = np.shape(self.W)
        if len(w) < 2 or w[-1] != w[-2]:
            raise ValueError(f"CTRNNParams.W: expected shape (..., d, d), got {w}.")
        for name in ("b", "tau"):
            if tuple(np.shape(getattr(self, name))) != w[:-1]:
                raise ValueError(f"CTRNNParams.{name}: expected shape {w[:-1]}, got {np.shape(getattr(self, name))}.")
        for name in ("W", "b", "tau"):
            check_finite(f"CTRNNParams.{name}", getattr(self, name))
        return self

    @classmethod
    def create(cls, W, b, tau=None) -> "CTRNNParams":
        W, b = jnp.asarray(W, float), jnp.asarray(b, float)
        tau = jnp.ones_like(b) if tau is None else jnp.asarray(tau, float)
        return cls(W, b, tau).validate()

    def vector_field(self, h: jax.Array) -> jax.Array:
        """``dh/dt`` (d,) at ``h`` (d,)."""
        return (-h + self.W @ jnp.tanh(h) + self.b) / self.tau

    def state_box(self) -> tuple[jax.Array, jax.Array]:
        """Forward-invariant box ``|h_i| <= sum_j |W_ij| + |b_i|``."""
        r = jnp.sum(jnp.abs(self.W), axis=-1) + jnp.abs(self.b)
        return -r, r
