"""Stable and unstable manifolds of a saddle: its eigen-directions and the one-dimensional branches as sampled
curves (for plots, and the start points of the split function)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._fixed_points import SeedStatus, fixed_point
from .._linalg import eigvals, n_unstable, solve, value_and_jacobian
from .._validate import check_finite, check_positive
from ..core._inputs import check_field, check_numbers, one_problem
from ..core._result import Result
from ..core._status import Codes
from ..models._field import VectorField
from ..periodic._flow import FlowOptions, orbit


class ManifoldStatus(Codes):
    """How ``saddle_manifolds`` ended (``Manifolds.status``); ``.message`` says it in words."""

    OK = 0, "both one-dimensional manifolds computed"
    SADDLE_NOT_CONVERGED = 1, "Newton did not converge from the saddle guess"
    NOT_A_SADDLE = 2, ("no one-dimensional manifold: the equilibrium has neither exactly one unstable nor exactly "
                       "one stable eigenvalue")
    INTEGRATION_FAILED = 3, "the ODE solver failed on a branch (max_steps or a non-finite state); see branch_ok"


def real_eigenvector(jac: jax.Array, lam) -> jax.Array:
    """Unit eigenvector (d,) of ``jac`` (d, d) for a simple real eigenvalue ``lam``, oriented so that its
    largest-magnitude entry is positive. Closed form (differentiable) for d = 2, inverse iteration otherwise."""
    d = jac.shape[0]
    a = jac - lam * jnp.eye(d, dtype=jac.dtype)
    if d == 1:
        v = jnp.ones(1, jac.dtype)
    elif d == 2:   # a null vector of a rank-one 2x2 matrix is orthogonal to either row: take the longer one
        c0, c1 = jnp.stack([a[0, 1], -a[0, 0]]), jnp.stack([a[1, 1], -a[1, 0]])
        v = jnp.where(c0 @ c0 >= c1 @ c1, c0, c1)
    else:
        shift = 1e-8 * jnp.maximum(1.0, jnp.abs(lam))
        v = jnp.ones(d, jac.dtype) + jnp.arange(d, dtype=jac.dtype) / d
        for _ in range(3):
            v = solve(a - shift * jnp.eye(d, dtype=jac.dtype), v)
            v = v / jnp.linalg.norm(v)
    v = v / jnp.linalg.norm(v)
    return v * jnp.where(v[jnp.argmax(jnp.abs(v))] < 0, -1.0, 1.0)


def saddle_eigen(jac: jax.Array, hyperbolic_tol=1e-8):
    """The one-dimensional eigen-directions of an equilibrium with Jacobian ``jac`` (d, d).

    Returns ``(eigenvalues (d,) complex sorted by descending real part, lam (2,), vectors (2, d), has (2,))``:
    row 0 the unstable, row 1 the stable eigenvalue and unit eigenvector; ``has[i]`` says whether that
    manifold is one-dimensional (exactly one eigenvalue of that sign); the other rows are NaN. For d = 2 the
    eigenvalues of a saddle come from the trace and determinant, differentiably."""
    d = jac.shape[0]
    ev, _ = eigvals(jax.lax.stop_gradient(jac))
    n_up = n_unstable(ev, hyperbolic_tol)
    n_down = n_unstable(-ev, hyperbolic_tol)
    has = jnp.stack([n_up == 1, n_down == 1])
    if d == 2:
        tr, det = jnp.trace(jac), jnp.linalg.det(jac)
        root = jnp.sqrt(jnp.maximum(tr**2 / 4 - det, 0.0))
        lam = tr / 2 + jnp.stack([root, -root])
    else:
        lam = jax.lax.stop_gradient(jnp.stack([ev[0].real, ev[-1].real]))
    lam = jnp.where(has, lam, 0.0)
    vectors = jnp.stack([real_eigenvector(jac, lam[0]), real_eigenvector(jac, lam[1])])
    return ev, jnp.where(has, lam, jnp.nan), jnp.where(has[:, None], vectors, jnp.nan), has


class Manifolds(Result):
    """The one-dimensional invariant manifolds of one saddle, sampled at ``n`` times.

    ``saddle`` (d,); ``eigenvalues`` (d,) complex, sorted by descending real part; ``lam`` (2,) the unstable and
    stable eigenvalue of the one-dimensional manifolds; ``vectors`` (2, d) their unit eigenvectors (largest entry
    positive); ``unstable`` (2, n, d) the branches leaving along ``+vectors[0]`` and ``-vectors[0]`` at times
    ``t``; ``stable`` (2, n, d) the branches along ``±vectors[1]`` at times ``-t`` (integrated backwards);
    ``t`` (n,); ``branch_ok`` (2, 2) [unstable/stable, +/-]; ``status`` () ``ManifoldStatus``. A manifold that
    is not one-dimensional (e.g. the stable one of a saddle with several stable eigenvalues) is NaN."""

    saddle: jax.Array
    eigenvalues: jax.Array
    lam: jax.Array
    vectors: jax.Array
    unstable: jax.Array
    stable: jax.Array
    t: jax.Array
    branch_ok: jax.Array
    status: jax.Array

    _batch_field = "status"

    @property
    def message(self) -> str:
        return ManifoldStatus(int(self.status)).message

    def _repr_batch(self, batch) -> str:
        return f"Manifolds(batch {batch}, {self.t.shape[-1]} samples per branch)"

    def _repr_one(self) -> str:
        h = " ".join(f"{v:+.6f}" for v in np.asarray(self.saddle)[:4])
        lam = np.asarray(self.lam)
        return (f"Manifolds: saddle [{h}], lambda_u={lam[0]:+.6g}, lambda_s={lam[1]:+.6g}, "
                f"{self.t.shape[-1]} samples per branch over t in [0, {float(self.t[-1]):g}]; "
                f"{ManifoldStatus(int(self.status)).name}")


def manifolds_one(f: VectorField, params, saddle: jax.Array, T, n: int, delta, opts: FlowOptions) -> Manifolds:
    """``saddle_manifolds`` for one problem (vmappable): refine the saddle, integrate the four branches."""
    h, seed = fixed_point(params, saddle, f=f)
    _, jac = value_and_jacobian(f, h, params)
    ev, lam, vectors, has = saddle_eigen(jac)
    signs = jnp.array([1.0, -1.0])

    def branches(v, T):
        starts = h + delta * signs[:, None] * jnp.where(jnp.isfinite(v), v, 0.0)
        return jax.vmap(lambda x0: orbit(f, params, x0, T, n, opts))(starts)

    (up, ok_up), (down, ok_down) = branches(vectors[0], T), branches(vectors[1], -T)
    branch_ok = jnp.stack([ok_up & has[0], ok_down & has[1]])
    nan_unless = lambda a, keep: jnp.where(keep[:, None, None], a, jnp.nan)
    status = jnp.select([seed != SeedStatus.CONVERGED, ~jnp.any(has), ~jnp.all(branch_ok | ~has[:, None])],
                        [ManifoldStatus.SADDLE_NOT_CONVERGED, ManifoldStatus.NOT_A_SADDLE,
                         ManifoldStatus.INTEGRATION_FAILED], ManifoldStatus.OK)
    return Manifolds(saddle=h, eigenvalues=ev, lam=lam, vectors=vectors,
                     unstable=nan_unless(up, has[0] & ok_up), stable=nan_unless(down, has[1] & ok_down),
                     t=jnp.linspace(0.0, 1.0, n) * T, branch_ok=branch_ok, status=status.astype(jnp.int32))


_manifolds = eqx.filter_jit(manifolds_one)


def saddle_manifolds(params, saddle, *, f: VectorField | None = None, T=30.0, n: int = 200, delta=1e-6,
                     opts: FlowOptions = FlowOptions()) -> Manifolds:
    """The unstable and stable manifolds of the saddle near ``saddle`` (d,) of ``dh/dt = f(h, params)``.

    The saddle is refined by Newton; each one-dimensional manifold (one eigenvalue of that sign: both for a
    planar saddle, the unstable one for any d when exactly one eigenvalue is unstable) is sampled as two
    branches of ``n`` (static) points over time ``T`` (the stable ones backwards), starting ``delta`` from the
    saddle along the eigenvectors. ``T`` and ``delta`` are traced. Raises ``ValueError`` for bad input, before
    compiling; works under ``jax.vmap`` (call ``manifolds_one`` directly there)."""
    params, f = one_problem(params, f, [], "one saddle at a time, or jax.vmap.")
    saddle = jnp.asarray(saddle, float)
    dim = getattr(params, "dim", None)
    if saddle.ndim != 1 or (isinstance(dim, (int, np.integer)) and saddle.shape != (dim,)):
        raise ValueError(f"saddle: expected one state of shape ({dim if dim else 'd'},), got {saddle.shape}.")
    check_finite("saddle", saddle)
    check_field(f, saddle, params, "saddle")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n: expected an int >= 2 (a static number of samples), got {n!r}.")
    check_numbers(dict(T=T, delta=delta))
    check_positive("T", T)
    check_positive("delta", delta)
    if not isinstance(opts, FlowOptions):
        raise ValueError(f"opts: expected a FlowOptions, got {type(opts).__name__}.")
    return _manifolds(f, params, saddle, jnp.asarray(T, float), int(n), jnp.asarray(delta, float), opts)
