"""The continuous-time GRU (CT-GRU) as a pytree of parameters and its vector field.

Reset-before (Cho et al., the paper's convention)::

    z = σ(Wz x + Uz h + bz),  r = σ(Wr x + Ur h + br)
    dh/dt = (1 - z) ⊙ (tanh(Wh x + Uh (r ⊙ h) + bh) - h)

Reset-after (PyTorch ``nn.GRU``, cuDNN, Keras ``reset_after=True``), with the hidden-side candidate bias
``bhn`` (PyTorch's ``b_hn``)::

    n = tanh(Wh x + bh + r ⊙ (Uh h + bhn)),   dh/dt = (1 - z) ⊙ (n - h)

One discrete GRU step ``h' = z ⊙ h + (1 - z) ⊙ n`` is exactly one forward-Euler step (dt = 1) of the ODE."""

from __future__ import annotations

from typing import Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._validate import check_choice, check_finite

RESETS = ("before", "after")
SQUARE = ("Uz", "Ur", "Uh")
VECTORS = ("bz", "br", "bh", "bhn")
INPUTS = ("Wz", "Wr", "Wh")
FIELDS = SQUARE + VECTORS + INPUTS + ("x",)


class GRUParams(eqx.Module):
    """CT-GRU parameters; every leaf may carry the same leading batch dims ``B``.

    Shapes: ``Uz, Ur, Uh``: (B..., d, d); ``bz, br, bh, bhn``: (B..., d); ``Wz, Wr, Wh``: (B..., d, m);
    ``x``: (B..., m), a constant input (``m = 0`` when there is none). ``reset`` is ``"before"`` or ``"after"``."""

    Uz: jax.Array
    Ur: jax.Array
    Uh: jax.Array
    bz: jax.Array
    br: jax.Array
    bh: jax.Array
    bhn: jax.Array
    Wz: jax.Array
    Wr: jax.Array
    Wh: jax.Array
    x: jax.Array
    reset: str = eqx.field(static=True, default="before")

    # ---- shapes -------------------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return self.Uh.shape[-1]

    @property
    def input_dim(self) -> int:
        return self.x.shape[-1]

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return tuple(self.Uh.shape[:-2])

    def validate(self) -> "GRUParams":
        """Check shapes (always) and finiteness (when concrete); return ``self``. Raises ``ValueError``."""
        check_choice("GRUParams.reset", self.reset, RESETS)
        uh = np.shape(self.Uh)
        if len(uh) < 2 or uh[-1] != uh[-2]:
            raise ValueError(f"GRUParams.Uh: expected a square matrix of shape (..., d, d), got {uh}.")
        d, batch, m = uh[-1], uh[:-2], np.shape(self.x)[-1] if np.ndim(self.x) else -1
        if m < 0:
            raise ValueError(f"GRUParams.x: expected shape (..., m), got {np.shape(self.x)}.")
        expected = {**{k: (d, d) for k in SQUARE}, **{k: (d,) for k in VECTORS},
                    **{k: (d, m) for k in INPUTS}, "x": (m,)}
        for name, shape in expected.items():
            value = getattr(self, name)
            full = batch + shape
            if tuple(np.shape(value)) != full:
                raise ValueError(f"GRUParams.{name}: expected shape {full} (d={d} from Uh, m={m} from x, "
                                 f"batch {batch}), got {tuple(np.shape(value))}.")
            check_finite(f"GRUParams.{name}", value)
        return self

    # ---- dynamics -----------------------------------------------------------------------------------
    def gates(self, h: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        """Update gate ``z``, reset gate ``r`` and candidate ``n`` at state ``h`` (d,) for one parameter set."""
        z = jax.nn.sigmoid(self.Wz @ self.x + self.Uz @ h + self.bz)
        r = jax.nn.sigmoid(self.Wr @ self.x + self.Ur @ h + self.br)
        if self.reset == "before":
            n = jnp.tanh(self.Wh @ self.x + self.Uh @ (r * h) + self.bh)
        else:
            n = jnp.tanh(self.Wh @ self.x + self.bh + r * (self.Uh @ h + self.bhn))
        return z, r, n

    def vector_field(self, h: jax.Array) -> jax.Array:
        """``dh/dt`` (d,) at ``h`` (d,)."""
        z, _, n = self.gates(h)
        return (1.0 - z) * (n - h)

    def discrete_step(self, h: jax.Array) -> jax.Array:
        """One step of the discrete GRU, ``z ⊙ h + (1 - z) ⊙ n``; (d,) -> (d,)."""
        z, _, n = self.gates(h)
        return z * h + (1.0 - z) * n

    def state_box(self) -> tuple[jax.Array, jax.Array]:
        """A forward-invariant box holding every fixed point: ``[-1, 1]^d`` (constant, so usable under jit)."""
        ones = np.ones(self.dim)
        return -ones, ones

    # ---- constructors -------------------------------------------------------------------------------
    @classmethod
    def zeros(cls, d: int, m: int = 0, reset: str = "before", dtype=None) -> "GRUParams":
        """All weights and biases zero: ``d`` units, ``m`` inputs."""
        dtype = dtype or jnp.result_type(float)
        z = lambda *s: jnp.zeros(s, dtype)
        return cls(Uz=z(d, d), Ur=z(d, d), Uh=z(d, d), bz=z(d), br=z(d), bh=z(d), bhn=z(d),
                   Wz=z(d, m), Wr=z(d, m), Wh=z(d, m), x=z(m), reset=reset).validate()

    @classmethod
    def random(cls, key: jax.Array, d: int, m: int = 0, *, scale: float = 1.0, bias_scale: float = 1.0,
               reset: str = "before", batch: tuple[int, ...] = ()) -> "GRUParams":
        """Gaussian weights with std ``scale/sqrt(d)`` and biases with std ``bias_scale``; optional batch."""
        keys = iter(jax.random.split(key, len(FIELDS)))
        def draw(name, shape):
            std = bias_scale if name in VECTORS or name == "x" else scale / np.sqrt(max(d, 1))
            return std * jax.random.normal(next(keys), tuple(batch) + shape, jnp.result_type(float))
        shapes = {**{k: (d, d) for k in SQUARE}, **{k: (d,) for k in VECTORS},
                  **{k: (d, m) for k in INPUTS}, "x": (m,)}
        leaves = {k: draw(k, s) for k, s in shapes.items()}
        if reset == "before":
            leaves["bhn"] = jnp.zeros_like(leaves["bhn"])
        return cls(**leaves, reset=reset).validate()

    @classmethod
    def from_dict(cls, arrays: Mapping[str, object], reset: str | None = None) -> "GRUParams":
        """From a mapping with any of the keys ``Uz Ur Uh bz br bh bhn Wz Wr Wh x`` (missing ones are zero).

        ``d`` comes from ``Uh``; ``m`` from ``x`` or the input weights. A ``"reset"`` entry is honoured unless ``reset``
        is given. Unknown keys raise ``ValueError``."""
        arrays = dict(arrays)
        stored = str(arrays.pop("reset", "before"))
        reset = stored if reset is None else reset
        unknown = sorted(set(arrays) - set(FIELDS))
        if unknown:
            raise ValueError(f"GRUParams.from_dict: unknown key(s) {unknown}; allowed keys are {list(FIELDS)}.")
        if "Uh" not in arrays:
            raise ValueError("GRUParams.from_dict: 'Uh' is required (it sets the dimension d).")
        arrays = {k: jnp.asarray(np.asarray(v, dtype=float)) for k, v in arrays.items()}
        uh = arrays["Uh"].shape
        if len(uh) != 2 or uh[0] != uh[1]:
            raise ValueError(f"GRUParams.Uh: expected a square matrix of shape (d, d), got {uh}.")
        d = uh[0]
        m = next((a.shape[-1] for k, a in arrays.items() if k in INPUTS + ("x",) and a.ndim >= 1), 0)
        base = cls.zeros(d, m, reset=reset)
        return eqx.tree_at(lambda p: [getattr(p, k) for k in arrays], base, list(arrays.values())).validate()

    @classmethod
    def rotation(cls, alpha: float, gain: float = 3.0, *, bz: float = 0.0, br: float = 0.0) -> "GRUParams":
        """The 2-D rotation family: ``Uh = gain * R(alpha)``, uniform gate biases, everything else zero."""
        c, s = jnp.cos(alpha), jnp.sin(alpha)
        p = cls.zeros(2)
        return eqx.tree_at(lambda q: (q.Uh, q.bz, q.br), p,
                           (gain * jnp.array([[c, -s], [s, c]]), jnp.full(2, bz, p.bz.dtype),
                            jnp.full(2, br, p.br.dtype)))

    @classmethod
    def from_pytorch(cls, weight_ih, weight_hh, bias_ih, bias_hh, x=None) -> "GRUParams":
        """From one layer of ``torch.nn.GRU``/``GRUCell`` (gate order r, z, n), as ``reset="after"``.

        ``weight_ih``: (3d, m), ``weight_hh``: (3d, d), ``bias_ih``, ``bias_hh``: (3d,), ``x``: (m,) a constant input
        (zeros if omitted). Input- and hidden-side biases of the r and z gates are summed."""
        w_ih, w_hh = np.asarray(weight_ih, float), np.asarray(weight_hh, float)
        b_ih, b_hh = np.asarray(bias_ih, float), np.asarray(bias_hh, float)
        d = w_hh.shape[-1]
        if w_hh.shape != (3 * d, d) or b_ih.shape != (3 * d,) or b_hh.shape != (3 * d,) or w_ih.shape[0] != 3 * d:
            raise ValueError(f"from_pytorch: expected weight_hh (3d, d), weight_ih (3d, m), biases (3d,); got "
                             f"{w_hh.shape}, {w_ih.shape}, {b_ih.shape}, {b_hh.shape}.")
        m = w_ih.shape[1]
        rows = lambda a, k: a[k * d:(k + 1) * d]
        x = np.zeros(m) if x is None else np.asarray(x, float)
        return cls.from_dict(dict(
            Ur=rows(w_hh, 0), Uz=rows(w_hh, 1), Uh=rows(w_hh, 2),
            br=rows(b_ih, 0) + rows(b_hh, 0), bz=rows(b_ih, 1) + rows(b_hh, 1),
            bh=rows(b_ih, 2), bhn=rows(b_hh, 2),
            Wr=rows(w_ih, 0), Wz=rows(w_ih, 1), Wh=rows(w_ih, 2), x=x), reset="after")

    @classmethod
    def from_equinox(cls, cell, x=None) -> "GRUParams":
        """From an ``equinox.nn.GRUCell`` (gate order r, z, n; ``bias`` on the input side, ``bias_n`` inside the
        reset), as ``reset="after"``; ``x``: (m,) a constant input (zeros if omitted)."""
        d = cell.hidden_size
        bias = np.zeros(3 * d) if cell.bias is None else np.asarray(cell.bias, float)
        bias_n = np.zeros(d) if cell.bias_n is None else np.asarray(cell.bias_n, float)
        return cls.from_pytorch(cell.weight_ih, cell.weight_hh, bias, np.concatenate([np.zeros(2 * d), bias_n]), x)


def vector_field(h: jax.Array, params: GRUParams) -> jax.Array:
    """The CT-GRU vector field in the engine's ``f(h, params)`` form: (d,) -> (d,)."""
    return params.vector_field(h)


def discrete_step(h: jax.Array, params: GRUParams) -> jax.Array:
    """One discrete GRU step in ``f(h, params)`` form: (d,) -> (d,)."""
    return params.discrete_step(h)
