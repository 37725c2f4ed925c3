"""Fixed points from many seeds at once: damped Newton, deduplication, Jacobians, eigenvalues, kinds.

Everything below ``find_fixed_points`` works on one problem and is vmapped over seeds and parameter sets. Located points
are differentiable with respect to the parameters by the implicit function theorem: the returned state is
``h* - J⁻¹ f(h*, params)`` with ``h*`` and ``J`` held constant, whose derivative is ``-J⁻¹ ∂f/∂params``
and whose value is ``h*`` polished by one Newton step."""

from __future__ import annotations


import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._linalg import Kind, classify, eigvals, n_unstable, value_and_jacobian
from .core._newton import backtracking_newton, implicit_step
from .core._result import Result
from .core._status import Codes
from ._validate import check_choice, check_finite, check_positive, renamed
from .models._field import VectorField, batch_shape, resolve_box, resolve_field, validate_params


class SeedStatus(Codes):
    """How the Newton solve from one seed ended."""

    CONVERGED = 0, "the last full Newton step was below tol"
    MAX_STEPS = 1, "ran out of steps"
    NONFINITE = 2, "singular Jacobian or a NaN/inf appeared"
    STALLED = 3, "backtracking could not decrease |f|: a local minimum of |f| (e.g. a saddle-node's ghost)"


class FixedPoints(Result):
    """Deduplicated, classified equilibria of one problem (or a batch ``B`` of them), in fixed-size buffers. The first
    ``count`` rows hold distinct points sorted lexicographically by ``h``; the rest are padding (NaN, kind ``-1``).
    ``n`` is the number of seeds.

    Attributes: ``h`` (B..., n, d); ``count`` (B...,); ``kind`` (B..., n) ``Kind`` codes; ``eigenvalues``
    (B..., n, d) complex, sorted by descending real part; ``n_unstable`` (B..., n); ``residual`` (B..., n)
    ``max|f(h)|``; ``multiplicity`` (B..., n) seeds that converged to each point; ``eig_converged`` (B..., n);
    ``seed_status`` (B..., n) ``SeedStatus`` per seed; ``seed_steps`` (B..., n) Newton steps per seed."""

    h: jax.Array
    count: jax.Array
    kind: jax.Array
    eigenvalues: jax.Array
    n_unstable: jax.Array
    residual: jax.Array
    multiplicity: jax.Array
    eig_converged: jax.Array
    seed_status: jax.Array
    seed_steps: jax.Array

    # per point (``trim`` cuts them to ``count``); ``seed_status`` and ``seed_steps`` are per seed, kept whole
    _rows = ("h", "kind", "eigenvalues", "n_unstable", "residual", "multiplicity", "eig_converged")

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return tuple(self.count.shape)

    def kinds(self) -> list[str]:
        """Kind labels of the located points (one problem only)."""
        self._require_single("kinds")
        return [Kind(int(k)).label if k >= 0 else "unclassified" for k in np.asarray(self.kind[: int(self.count)])]

    def to_dict(self) -> dict:
        """JSON-ready ``{"fixed_points": [{"h", "kind", "eigenvalues": [[re, im], ...], "residual"}, ...]}``."""
        t = self.trim()
        ev = np.asarray(t.eigenvalues)
        return {"fixed_points": [
            {"h": np.asarray(t.h[i]).tolist(), "kind": label,
             "eigenvalues": [[float(z.real), float(z.imag)] for z in ev[i]],
             "residual": float(t.residual[i])} for i, label in enumerate(self.kinds())]}

    def _repr_batch(self, batch) -> str:
        counts = np.asarray(self.count)
        return (f"FixedPoints(batch {batch}, {self.h.shape[-2]} seeds each, count "
                f"min {counts.min()} / median {np.median(counts):g} / max {counts.max()})")

    def _repr_one(self) -> str:
        t = self.trim()
        d = t.h.shape[-1]
        lines = [f"FixedPoints: {int(self.count)} distinct from {self.seed_status.shape[0]} seeds "
                 f"({int(np.sum(np.asarray(self.seed_status) == 0))} converged)"]
        lines.append(f"  {'#':>2}  {'h':<{max(12, 11 * min(d, 4))}}  {'kind':<15} {'eigenvalues':<40} residual")
        for i, label in enumerate(self.kinds()):
            hs = " ".join(f"{v:+.6f}" for v in np.asarray(t.h[i])[:4]) + (" ..." if d > 4 else "")
            ev = ", ".join(_fmt_complex(z) for z in np.asarray(t.eigenvalues[i])[:4]) + (", ..." if d > 4 else "")
            lines.append(f"  {i:>2}  {hs:<{max(12, 11 * min(d, 4))}}  {label:<15} {ev:<40} {float(t.residual[i]):.1e}")
        return "\n".join(lines)


def _fmt_complex(z: complex) -> str:
    return f"{z.real:+.5f}" if z.imag == 0 else f"{z.real:+.5f}{z.imag:+.5f}j"


# ---- one problem ------------------------------------------------------------------------------------------

def newton(f: VectorField, params, h0: jax.Array, lo, hi, xtol, max_steps, max_step):
    """Damped Newton from one seed (d,), kept in the box ``[lo, hi]``: ``core.backtracking_newton`` on ``f`` with steps
    of largest component at most ``max_step``. Returns ``(h, status, steps)``; ``STALLED`` when the step is cut below
    ``MIN_FRACTION`` of the Newton step. Converged when the Newton step at an accepted point is at most ``xtol``
    (max-norm): this is invariant to rescaling the rows of ``f``, so slow rates ``1 - z`` do not fake convergence."""
    res = backtracking_newton(lambda h: (*value_and_jacobian(f, h, params), True, ()), h0, xtol, max_steps,
                              lambda h, dx: max_step / jnp.max(jnp.abs(dx)), project=lambda h: jnp.clip(h, lo, hi))
    status = jnp.select([res.converged, ~res.finite, res.stalled],
                        [SeedStatus.CONVERGED, SeedStatus.NONFINITE, SeedStatus.STALLED], SeedStatus.MAX_STEPS)
    return res.v, status.astype(jnp.int32), res.iterations


def dedupe(h: jax.Array, ok: jax.Array, tol) -> tuple[jax.Array, jax.Array]:
    """Mark the first of each cluster of points within ``tol`` (max-norm) of each other. h: (n, d); ok: (n,) which rows
    are valid. Returns ``(unique (n,) bool, multiplicity (n,) int32)``: the number of valid rows represented by each
    unique row."""
    n = h.shape[0]
    close = ok[:, None] & ok[None, :] & (jnp.max(jnp.abs(h[:, None, :] - h[None, :, :]), axis=-1) <= tol)
    first = jnp.argmax(close, axis=1)
    unique = ok & (first == jnp.arange(n))
    multiplicity = jnp.sum((first[:, None] == jnp.arange(n)[None, :]) & ok[:, None], axis=0)
    return unique, multiplicity.astype(jnp.int32)


def locate_one(f: VectorField, params, seeds: jax.Array, lo, hi, opts: dict):
    """Solve from ``seeds`` (n, d), dedupe, sort and polish for one parameter set. Returns
    ``(h, valid, multiplicity, value, jac, status, steps)``: distinct points first in ``h`` (n, d) with ``valid`` (n,),
    the field ``value`` (n, d) and Jacobian ``jac`` (n, d, d) there, per-seed status."""
    n, d = seeds.shape
    h, status, steps = jax.vmap(lambda s: newton(f, params, s, lo, hi, opts["xtol"], opts["max_steps"],
                                                 opts["max_step"]))(seeds)
    ok = status == SeedStatus.CONVERGED
    unique, multiplicity = dedupe(h, ok, opts["dedup_tol"])
    key = jnp.round(h * 1e6)   # sort on rounded coordinates so that rounding noise cannot reorder rows
    order = jnp.lexsort(tuple(key[:, i] for i in reversed(range(d))) + (~unique,))
    h, valid, multiplicity = h[order], unique[order], jnp.where(unique, multiplicity, 0)[order]
    safe = jnp.where(valid[:, None], h, 0.5 * (lo + hi))
    h = jax.vmap(lambda y: implicit_step(lambda x: f(x, params), y, value_and_jacobian(f, y, params)[1]))(safe)
    value, jac = jax.vmap(lambda y: value_and_jacobian(f, y, params))(h)
    return h, valid, multiplicity, value, jac, status, steps


def summarise(h, valid, multiplicity, value, jac, status, steps, hyperbolic_tol) -> FixedPoints:
    """Eigenvalues and kinds of located points with any leading batch dims, in one batched eigen-solve
    (the pure-JAX ``eigvals`` is several times faster on one large batch than under ``vmap``)."""
    d = h.shape[-1]
    ev, ev_ok = eigvals(jnp.where(valid[..., None, None], jac, -jnp.eye(d, dtype=jac.dtype)))
    pad = lambda a, fill: jnp.where(valid.reshape(valid.shape + (1,) * (a.ndim - valid.ndim)), a, fill)
    return FixedPoints(
        h=pad(h, jnp.nan), count=jnp.sum(valid, axis=-1).astype(jnp.int32),
        kind=pad(classify(ev, hyperbolic_tol), -1), eigenvalues=pad(ev, jnp.nan),
        n_unstable=pad(n_unstable(ev, hyperbolic_tol), -1),
        residual=pad(jnp.max(jnp.abs(value), axis=-1), jnp.nan), multiplicity=multiplicity,
        eig_converged=valid & ev_ok, seed_status=status, seed_steps=steps)


@eqx.filter_jit
def _fixed_points_batch(f, params, seeds, lo, hi, opts, batch: tuple[int, ...], batch_size: int):
    """Every member of a params batch ``batch``, in sequential chunks of ``batch_size`` vmapped members. Chunks bound
    the loop state (it stays in cache on a CPU) and let each chunk's Newton loop stop early."""
    if not batch:   # one parameter set
        return summarise(*locate_one(f, params, seeds, lo, hi, opts), opts["hyperbolic_tol"])
    total = int(np.prod(batch))
    n_chunks = -(-total // batch_size)
    def chunked(a):
        a = a.reshape((total,) + a.shape[len(batch):])
        a = jnp.concatenate([a, jnp.repeat(a[:1], n_chunks * batch_size - total, axis=0)])
        return a.reshape((n_chunks, batch_size) + a.shape[1:])
    def run(chunk):
        return summarise(*jax.vmap(lambda p: locate_one(f, p, seeds, lo, hi, opts))(chunk), opts["hyperbolic_tol"])
    out = jax.lax.map(run, jax.tree_util.tree_map(chunked, params))
    return jax.tree_util.tree_map(lambda a: a.reshape((-1,) + a.shape[2:])[:total].reshape(batch + a.shape[2:]), out)


def default_batch_size() -> int | None:
    """Parameter sets per chunk: 16 on a CPU (measured fastest for d = 2), all at once on an accelerator."""
    return 16 if jax.default_backend() == "cpu" else None


# ---- public entry point -------------------------------------------------------------------------------------

def make_seeds(lo, hi, n_seeds: int, *, key: jax.Array | None = None, seeding: str = "random") -> jax.Array:
    """Seeds (n, d) in the box ``[lo, hi]``: uniform random with ``key``, or the centres of a regular grid
    with ``ceil(n_seeds ** (1/d))`` cells per axis (``seeding="grid"``)."""
    check_choice("seeding", seeding, ("random", "grid"))
    lo, hi = jnp.asarray(lo), jnp.asarray(hi)
    d = lo.shape[0]
    if seeding == "random":
        key = jax.random.key(0) if key is None else key
        return lo + (hi - lo) * jax.random.uniform(key, (n_seeds, d), lo.dtype)
    per_axis = int(np.ceil(n_seeds ** (1.0 / d) - 1e-9))
    if per_axis ** d > 10**7:
        raise ValueError(f"seeding='grid': {per_axis}^{d} seeds is too many; use seeding='random' for d={d}.")
    centres = (np.arange(per_axis) + 0.5) / per_axis
    grid = np.stack(np.meshgrid(*([centres] * d), indexing="ij"), axis=-1).reshape(-1, d)
    return lo + (hi - lo) * jnp.asarray(grid, lo.dtype)


def resolve_seeds(params, seeds, n_seeds: int, *, key=None, seeding: str = "random", box=None):
    """Seeds (n, d) and the box ``(lo, hi)`` that keeps iterates: ``seeds`` if given (checked), else
    ``make_seeds`` in ``box`` or the model's ``state_box()``. Without a box, given seeds get ``(-inf, inf)``.
    Raises ``ValueError`` for bad shapes, non-finite seeds or a missing box, before compiling."""
    d = getattr(params, "dim", None)
    if seeds is not None:
        seeds = jnp.asarray(seeds, float)
        if seeds.ndim != 2 or (d is not None and seeds.shape[1] != d):
            raise ValueError(f"seeds: expected shape (n, {d if d is not None else 'd'}), got {seeds.shape}.")
        check_finite("seeds", seeds)
        d = seeds.shape[1]
    if d is None and box is None:
        raise ValueError("this model has no `dim`: pass seeds=array (n, d) or box=(lo, hi).")
    if seeds is not None and box is None and not hasattr(params, "state_box"):
        lo, hi = np.full(d, -np.inf), np.full(d, np.inf)
    else:
        lo, hi = resolve_box(params, box, d)
    if seeds is None:
        seeds = make_seeds(lo, hi, int(n_seeds), key=key, seeding=seeding)
    return seeds, lo, hi


@renamed(xtol="tol", max_steps="max_newton")
def find_fixed_points(params, *, f: VectorField | None = None, key: jax.Array | None = None,
                      seeds: jax.Array | None = None, n_seeds: int = 64, seeding: str = "random",
                      box=None, tol: float = 1e-10, max_newton: int = 30, max_step: float = 0.5,
                      dedup_tol: float = 1e-7, hyperbolic_tol: float = 1e-8,
                      batch_size: int | None = None) -> FixedPoints:
    """Equilibria of ``dh/dt = f(h, params)`` from many seeds at once, deduplicated and classified.

    params: a model (``GRUParams``, ``CTRNNParams``, ...) or any pytree used by ``f``; a model with a ``batch_shape`` is
    solved for every member of the batch in one vmapped call (same seeds for all). Seeds: ``seeds`` (n, d) if given,
    else ``n_seeds`` drawn uniformly in the trapping box (``key``, default ``jax.random.key(0)``) or on a grid
    (``seeding="grid"``). ``box=(lo, hi)`` overrides the model's ``state_box()``. Newton stops at a step below ``tol``
    (at most ``max_newton`` steps, each capped at ``max_step``); points within ``dedup_tol`` (max-norm) are merged; an
    eigenvalue with ``|Re λ| <= hyperbolic_tol * max(1, max|λ|)`` makes the point non-hyperbolic. Tolerances are
    traced (no recompile). A batch runs in chunks of ``batch_size`` members (default ``default_batch_size()``). Raises
    ``ValueError`` for bad shapes, non-finite values or unknown options, before compiling."""
    validate_params(params)
    f = resolve_field(params, f)
    check_choice("seeding", seeding, ("random", "grid"))
    for name, value in (("n_seeds", n_seeds), ("tol", tol), ("max_newton", max_newton), ("max_step", max_step),
                        ("dedup_tol", dedup_tol), ("hyperbolic_tol", hyperbolic_tol)):
        check_positive(name, value)
    seeds, lo, hi = resolve_seeds(params, seeds, n_seeds, key=key, seeding=seeding, box=box)
    opts = {k: jnp.asarray(v) for k, v in dict(xtol=tol, max_steps=max_newton, max_step=max_step,
                                                 dedup_tol=dedup_tol, hyperbolic_tol=hyperbolic_tol).items()}
    batch = batch_shape(params)
    if batch_size is not None:
        check_positive("batch_size", batch_size)
    size = int(np.prod(batch)) if batch else 1
    size = min(size, int(batch_size or default_batch_size() or size))
    return _fixed_points_batch(f, params, seeds, jnp.asarray(lo), jnp.asarray(hi), opts, batch, size)


@renamed(xtol="tol", max_steps="max_newton")
def fixed_point(params, h0: jax.Array, *, f: VectorField | None = None, tol: float = 1e-12,
                max_newton: int = 100, max_step: float = 0.5) -> tuple[jax.Array, jax.Array]:
    """Refine one equilibrium from a guess ``h0`` (d,) by damped Newton (step below ``tol``, at most
    ``max_newton`` steps); differentiable in ``params`` by the implicit function theorem. Returns ``(h (d,),
    status)`` with a ``SeedStatus`` code. Works under ``jit``/``vmap``/``grad``."""
    f = resolve_field(params, f)
    inf = jnp.full(jnp.shape(h0), jnp.inf)
    h, status, _ = newton(f, jax.lax.stop_gradient(params), jnp.asarray(h0, float), -inf, inf,
                          tol, max_newton, max_step)
    return implicit_step(lambda x: f(x, params), h, value_and_jacobian(f, h, params)[1]), status
