"""Built-in analyses for parameter sweeps (the contract: ``gru_jax.sweeps._sweep``), and a random-GRU ensemble
generator. Options are checked when an analysis is built (``ValueError``); the batch shape (B,) is checked when it is
called (shapes are static, so also under ``jit``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .._fixed_points import SeedStatus, find_fixed_points, fixed_point
from .._linalg import Kind, classify, eigvals, n_unstable, value_and_jacobian
from .._validate import check_choice, check_window, renamed
from ..continuation import continue_equilibria
from ..core._param import as_param
from ..core._status import BranchStatus, LocateStatus, SpecialKind
from ..models import GRUParams
from ..models._field import batch_shape, resolve_field
from ..homoclinic import HomoclinicStatus, detect_homoclinic
from ..periodic import OrbitStatus, TrajectoryEnd, find_limit_cycles

# ---- topology code ----------------------------------------------------------------------------------------

KIND_KEYS = tuple(f"n_{k.name.lower()}" for k in Kind)   # n_stable_node, ..., n_non_hyperbolic (Kind order)
TOPOLOGY_BASE = 100                                      # two decimal digits per kind


def encode_topology(counts: jax.Array) -> jax.Array:
    """Counts per ``Kind`` (..., 6) -> int64 code (...,): two decimal digits per kind, ``Kind`` order from the
    most significant pair, e.g. 4 stable nodes, 1 unstable node, 4 saddles -> ``04_00_01_00_04_00`` =
    40001000400. ``-1`` when some count exceeds 99 (not encodable)."""
    weights = jnp.asarray([TOPOLOGY_BASE ** (len(Kind) - 1 - k) for k in range(len(Kind))], jnp.int64)
    code = jnp.sum(counts.astype(jnp.int64) * weights, axis=-1)
    return jnp.where(jnp.all(counts < TOPOLOGY_BASE, axis=-1), code, -1)


def decode_topology(code) -> dict[str, np.ndarray]:
    """Inverse of ``encode_topology``: code (...,) -> ``{"n_stable_node": (...,), ...}`` (``KIND_KEYS``),
    counts as int64 numpy arrays; ``-1`` codes decode to ``-1`` counts."""
    code = np.asarray(code, np.int64)
    return {key: np.where(code < 0, -1, (code // TOPOLOGY_BASE ** (len(Kind) - 1 - k)) % TOPOLOGY_BASE)
            for k, key in enumerate(KIND_KEYS)}


def describe_topology(code: int) -> str:
    """A code in words, e.g. ``"9 points: 4 stable node, 4 saddle, 1 unstable node"``."""
    if code < 0:
        return "not encodable (a count > 99)"
    counts = {k: int(v) for k, v in decode_topology(code).items()}
    parts = [f"{counts[key]} {kind.label}" for key, kind in zip(KIND_KEYS, Kind) if counts[key]]
    return f"{sum(counts.values())} points" + (": " + ", ".join(parts) if parts else "")


# ---- option checks --------------------------------------------------------------------------------------

def _positive(integer: bool = False, **values) -> None:
    """``ValueError`` for the first of ``values`` (name -> value) that is not a positive int (number)."""
    types = (int, np.integer) if integer else (int, float, np.number)
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, types) or not np.isfinite(value) or value <= 0:
            raise ValueError(f"{name}: expected a positive {'int' if integer else 'number'}, got {value!r}.")


def _state(name: str, h0) -> jax.Array | None:
    if h0 is None:
        return None
    h0 = np.asarray(h0, float)
    if h0.ndim != 1 or not np.all(np.isfinite(h0)):
        raise ValueError(f"{name}: expected a finite state of shape (d,), got {h0!r}.")
    return jnp.asarray(h0)


def _one_batch_axis(params, name: str) -> int:
    batch = batch_shape(params)
    if len(batch) != 1:
        raise ValueError(f"{name}: expected params with one leading batch axis (B, ...), got batch shape {batch}.")
    return batch[0]


def _start(h0, params, name: str, arg: str = "h0") -> jax.Array:
    d = getattr(params, "dim", None)
    if h0 is None:
        if d is None:
            raise ValueError(f"{name}: this model has no `dim`; pass {arg}.")
        return jnp.zeros(d)
    if d is not None and h0.shape != (d,):
        raise ValueError(f"{name}: {arg} has shape {h0.shape}, the model has d={d}.")
    return h0


# ---- analyses ---------------------------------------------------------------------------------------------

class Census:
    """Fixed-point census: how many equilibria of each stability kind, per parameter set.

    ``n_seeds`` seeds (``seeding="grid"`` or ``"random"`` with ``key``) in the model's state box, solved, deduplicated
    and classified by ``find_fixed_points`` (its ``tol``, ``max_newton``, ``dedup_tol``, ``hyperbolic_tol``). Outputs,
    each (B,): ``n_fixed``; one count per ``Kind`` (``KIND_KEYS``: ``n_stable_node``, ``n_stable_focus``,
    ``n_unstable_node``, ``n_unstable_focus``, ``n_saddle``, ``n_non_hyperbolic``); ``n_stable`` (nodes + foci);
    ``topology`` (``encode_topology`` of the counts); ``n_failed_seeds`` (seeds that hit ``max_newton`` or went
    non-finite: a hint that points were missed); ``all_converged``: every found point has a converged eigen-solve, a
    kind, and ``max|f| <= residual_tol``. A point without a kind (non-finite eigenvalues) counts in ``n_fixed`` only,
    and makes ``all_converged`` false. Counts depend on the seeds: a point no seed reaches is missed."""

    @renamed(xtol="tol", max_steps="max_newton")
    def __init__(self, n_seeds: int = 64, seeding: str = "grid", hyperbolic_tol: float = 1e-8, *,
                 key: jax.Array | None = None, tol: float = 1e-10, max_newton: int = 30, dedup_tol: float = 1e-7,
                 residual_tol: float = 1e-9, batch_size: int | None = None, name: str = "census"):
        check_choice("seeding", seeding, ("grid", "random"))
        _positive(n_seeds=n_seeds, max_newton=max_newton, integer=True)
        _positive(hyperbolic_tol=hyperbolic_tol, tol=tol, dedup_tol=dedup_tol, residual_tol=residual_tol)
        if batch_size is not None:
            _positive(batch_size=batch_size, integer=True)
        if not jax.config.jax_enable_x64:
            raise ValueError("Census: the topology code needs 64-bit integers; enable jax_enable_x64.")
        self.name = name
        self.key = jax.random.key(0) if key is None else key
        self.options = dict(n_seeds=n_seeds, seeding=seeding, hyperbolic_tol=hyperbolic_tol, tol=tol,
                            max_newton=max_newton, dedup_tol=dedup_tol, batch_size=batch_size)
        self.residual_tol = residual_tol

    def __repr__(self) -> str:
        return f"Census({', '.join(f'{k}={v!r}' for k, v in self.options.items())})"

    def __call__(self, params) -> dict[str, jax.Array]:
        """params with batch (B,) -> dict of (B,) arrays (see the class docstring)."""
        _one_batch_axis(params, self.name)
        fps = find_fixed_points(params, key=self.key, **self.options)
        counts = jnp.stack([jnp.sum(fps.kind == k, axis=-1) for k in Kind], axis=-1).astype(jnp.int32)
        valid = jnp.arange(fps.kind.shape[-1]) < fps.count[:, None]
        good = fps.eig_converged & (fps.kind >= 0) & (fps.residual <= self.residual_tol)
        failed = (fps.seed_status == SeedStatus.MAX_STEPS) | (fps.seed_status == SeedStatus.NONFINITE)
        out = {"n_fixed": fps.count, **{key: counts[:, k] for k, key in enumerate(KIND_KEYS)}}
        out["n_stable"] = out["n_stable_node"] + out["n_stable_focus"]
        out["topology"] = encode_topology(counts)
        out["n_failed_seeds"] = jnp.sum(failed, axis=-1).astype(jnp.int32)
        out["all_converged"] = jnp.all(good | ~valid, axis=-1)
        return out


class Stability:
    """Stability of the equilibrium reached by Newton from ``h0`` (default: the origin), per parameter set.

    Outputs: ``h`` (B, d); ``max_real`` (B,) the largest real part of the Jacobian's eigenvalues; ``kind`` (B,) ``Kind``
    code; ``n_unstable`` (B,); ``converged`` (B,) bool: Newton converged, the eigen-solve converged and
    ``max|f| <= residual_tol``. Newton (``fixed_point``: step below ``tol``, at most ``max_newton`` steps) is damped to
    ``max_step`` (max-norm)."""

    @renamed(xtol="tol", max_steps="max_newton")
    def __init__(self, h0=None, *, tol: float = 1e-12, max_newton: int = 100, max_step: float = 0.5,
                 hyperbolic_tol: float = 1e-8, residual_tol: float = 1e-9, name: str = "stability"):
        _positive(max_newton=max_newton, integer=True)
        _positive(tol=tol, max_step=max_step, hyperbolic_tol=hyperbolic_tol, residual_tol=residual_tol)
        self.h0 = _state("h0", h0)
        self.name = name
        self.tol, self.max_newton, self.max_step = tol, max_newton, max_step
        self.hyperbolic_tol, self.residual_tol = hyperbolic_tol, residual_tol

    def __call__(self, params) -> dict[str, jax.Array]:
        """params with batch (B,) -> dict (see the class docstring)."""
        _one_batch_axis(params, self.name)
        h0 = _start(self.h0, params, self.name)
        opts = {k: jnp.asarray(getattr(self, k))
                for k in ("tol", "max_newton", "max_step", "hyperbolic_tol", "residual_tol")}
        return _stability(params, h0, opts)


@jax.jit
def _stability(params, h0: jax.Array, opts: dict) -> dict[str, jax.Array]:
    """``Stability`` for params with batch (B,) from h0 (d,); options traced (one compile per shape)."""
    field = resolve_field(params, None)

    def one(p):
        h, status = fixed_point(p, h0, tol=opts["tol"], max_newton=opts["max_newton"], max_step=opts["max_step"])
        value, jac = value_and_jacobian(field, h, p)
        return h, status, value, jac

    h, status, value, jac = jax.vmap(one)(params)
    ev, ev_ok = eigvals(jac)
    residual = jnp.max(jnp.abs(value), axis=-1)
    tol = opts["hyperbolic_tol"]
    return {"h": h, "max_real": jnp.max(ev.real, axis=-1), "kind": classify(ev, tol), "n_unstable": n_unstable(ev, tol),
            "converged": (status == SeedStatus.CONVERGED) & ev_ok & (residual <= opts["residual_tol"])}


EVENT_KINDS = (("fold", SpecialKind.FOLD), ("hopf", SpecialKind.HOPF), ("branch_point", SpecialKind.BRANCH_POINT))


def _pack(values: jax.Array, mask: jax.Array) -> jax.Array:
    """Move the masked entries of values (S, ...) to the front, in order; NaN after them."""
    order = jnp.argsort(~mask, stable=True)
    empty = jnp.sort(~mask).reshape(mask.shape + (1,) * (values.ndim - 1))
    return jnp.where(empty, jnp.nan, values[order])


class ContinuationEvents:
    """Special points along one parameter axis, per parameter set: one continuation each (vmapped).

    For every member, ``param`` is set to ``window[0]`` and the equilibrium near the state ``start`` (default: the
    origin) is continued (``continue_equilibria``, pseudo-arclength) with ``param`` increasing at the start, inside
    ``window = (lo, hi)`` (finite), for at most ``max_points`` points. Only the branch through that start is followed.
    Outputs: ``n_fold``, ``n_hopf``, ``n_branch_point`` (B,) located points of each kind; ``fold_p``, ``hopf_p``,
    ``branch_point_p`` (B, max_special) their parameter values in branch order, NaN-padded, and ``fold_h``, ``hopf_h``,
    ``branch_point_h`` (B, max_special, d) their states (the seeds of codim-2 curves); ``hopf_l1`` (B, max_special)
    first Lyapunov coefficients of the Hopf points (< 0: supercritical); ``n_points`` (B,) branch rows; ``end_status``
    (B,) ``BranchStatus`` of the last row; ``converged`` (B,) bool: the branch left the window or closed, every detected
    point was located, and none was dropped for lack of slots."""

    @renamed(span="window", h0="start")
    def __init__(self, param, window, start=None, *, max_special: int = 8, max_points: int = 400, ds: float = 0.01,
                 ds_max: float = 0.05, tol: float = 1e-10, hyperbolic_tol: float = 1e-8,
                 name: str = "continuation_events"):
        self.param = as_param(param, labels=True)
        lo, hi = (float(v) for v in check_window(window, finite=True))
        _positive(max_special=max_special, max_points=max_points, integer=True)
        if max_points < 2:
            raise ValueError(f"max_points: expected an int >= 2, got {max_points}.")
        _positive(ds=ds, ds_max=ds_max, tol=tol, hyperbolic_tol=hyperbolic_tol)
        if ds > ds_max:
            raise ValueError(f"ds: must be <= ds_max, got ds={ds}, ds_max={ds_max}.")
        self.window, self.start, self.name = (lo, hi), _state("start", start), name
        self.max_special, self.max_points = max_special, max_points
        self.settings = dict(ds=ds, ds_max=ds_max, tol=tol, hyperbolic_tol=hyperbolic_tol)

    def __call__(self, params) -> dict[str, jax.Array]:
        """params with batch (B,) -> dict (see the class docstring)."""
        _one_batch_axis(params, self.name)
        h0 = _start(self.start, params, self.name, "start")
        lo, hi = self.window

        def one(p):
            p = self.param.set(p, lo)
            return continue_equilibria(p, self.param, h0, window=(lo, hi), max_points=self.max_points,
                                       max_special=self.max_special, **self.settings)

        branch = jax.vmap(one)(params)
        sp = branch.special
        used = jnp.arange(self.max_special) < sp.count[:, None]
        located = used & (sp.located == LocateStatus.CONVERGED)
        out = {}
        for label, kind in EVENT_KINDS:
            mask = located & (sp.kind == kind)
            out[f"n_{label}"] = jnp.sum(mask, axis=-1).astype(jnp.int32)
            out[f"{label}_p"] = jax.vmap(_pack)(sp.p, mask)
            out[f"{label}_h"] = jax.vmap(_pack)(sp.h, mask)
        out["hopf_l1"] = jax.vmap(_pack)(sp.l1, located & (sp.kind == SpecialKind.HOPF))
        end = branch.status[:, 1]
        out.update(n_points=branch.count, end_status=end)
        out["converged"] = (((end == BranchStatus.LEFT_WINDOW) | (end == BranchStatus.CLOSED_LOOP))
                            & jnp.all(located | ~used, axis=-1) & (sp.n_detected <= self.max_special))
        return out


class Cycles:
    """Limit cycles reached by simulation, per parameter set (``find_limit_cycles`` with ``n_seeds`` seeds on a
    grid, or random with ``key``; other options passed on). Outputs: ``n_cycles`` (B,) distinct converged
    cycles; ``n_stable_cycles`` (B,); ``period``, ``amplitude`` (B, max_cycles) of the converged cycles, NaN-padded;
    ``stable`` (B, max_cycles) bool; ``n_fixed_point_seeds``, ``n_cycle_seeds``, ``n_not_settled_seeds`` (B,) where
    the seeds ended (``TrajectoryEnd``). Simulation finds attracting cycles only."""

    def __init__(self, n_seeds: int = 16, seeding: str = "grid", *, key: jax.Array | None = None,
                 max_cycles: int = 4, name: str = "cycles", **options):
        check_choice("seeding", seeding, ("grid", "random"))
        _positive(n_seeds=n_seeds, max_cycles=max_cycles, integer=True)
        self.name = name
        self.options = dict(n_seeds=n_seeds, seeding=seeding, key=jax.random.key(0) if key is None else key,
                            max_cycles=max_cycles, **options)

    def __repr__(self) -> str:
        return f"Cycles({', '.join(f'{k}={v!r}' for k, v in self.options.items() if k != 'key')})"

    def __call__(self, params) -> dict[str, jax.Array]:
        """params with batch (B,) -> dict (see the class docstring)."""
        _one_batch_axis(params, self.name)
        found = find_limit_cycles(params, **self.options)
        c = found.cycles
        ok = c.status == OrbitStatus.CONVERGED
        count = lambda end: jnp.sum(found.seed_end == end, axis=-1).astype(jnp.int32)
        return {"n_cycles": jnp.sum(ok, axis=-1).astype(jnp.int32),
                "n_stable_cycles": jnp.sum(ok & c.stable, axis=-1).astype(jnp.int32),
                "period": jnp.where(ok, c.period, jnp.nan), "amplitude": jnp.where(ok, c.amplitude, jnp.nan),
                "stable": ok & c.stable, "n_fixed_point_seeds": count(TrajectoryEnd.FIXED_POINT),
                "n_cycle_seeds": count(TrajectoryEnd.LIMIT_CYCLE),
                "n_not_settled_seeds": count(TrajectoryEnd.NOT_SETTLED)}


class HomoclinicEvents:
    """Saddle-loop homoclinic points along one parameter axis, per (planar) parameter set: the split function at
    every entry of ``values`` in one vmapped call from the saddle near the state ``start`` (2,), sign changes located
    (``detect_homoclinic``; its ``branches``, ``radius``, ``delta``, ``t_max`` and other options). Outputs:
    ``n_homoclinic`` (B,); ``homoclinic_p`` (B, max_points) the located parameter values, NaN-padded;
    ``homoclinic_h`` (B, max_points, 2) the saddles; ``saddle_quantity`` (B, max_points) (< 0: the cycle born is
    stable); ``n_brackets`` (B,) sign changes found (more than located: raise ``max_points``). With a grid axis
    for a second parameter these are the homoclinic point clouds of a two-parameter map."""

    @renamed(saddle="start")
    def __init__(self, param, values, start, *, max_points: int = 4, name: str = "homoclinic_events", **options):
        self.param = as_param(param, labels=True)
        self.values = np.asarray(values, float)
        if self.values.ndim != 1 or len(self.values) < 2 or not np.all(np.diff(self.values) > 0):
            raise ValueError("values: expected a strictly increasing 1-D array of at least 2 parameter values.")
        self.start = _state("start", start)
        if self.start is None or self.start.shape != (2,):
            raise ValueError(f"start: expected a planar state of shape (2,) near the saddle, got {start!r}.")
        _positive(max_points=max_points, integer=True)
        self.name, self.max_points, self.options = name, max_points, options

    def __call__(self, params) -> dict[str, jax.Array]:
        """params with batch (B,) -> dict (see the class docstring)."""
        _one_batch_axis(params, self.name)
        found = jax.vmap(lambda p: detect_homoclinic(p, self.param, self.values, self.start,
                                                     max_points=self.max_points, **self.options))(params)
        pts = found.points
        ok = pts.status == HomoclinicStatus.CONVERGED
        return {"n_homoclinic": jnp.sum(ok, axis=-1).astype(jnp.int32),
                "homoclinic_p": jax.vmap(_pack)(pts.p, ok), "homoclinic_h": jax.vmap(_pack)(pts.saddle, ok),
                "saddle_quantity": jax.vmap(_pack)(pts.saddle_quantity, ok), "n_brackets": found.n_brackets}


# ---- ensembles -------------------------------------------------------------------------------------------

def random_grus(key: jax.Array, n: int, d: int, scale: float = 4.0, *, bias_scale: float = 1.0, m: int = 0,
                reset: bool = True, update: bool = True, reset_mode: str = "before") -> GRUParams:
    """``n`` random GRUs of ``d`` units (batch (n,)): ``GRUParams.random(key, d, m, scale=, bias_scale=,
    batch=(n,))``, recurrent weights with std ``scale/sqrt(d)``, biases with std ``bias_scale``.

    ``reset=False``: no reset gate, ``Ur = br = 0`` (so ``r = 1/2``) and ``Uh`` (and ``bhn``) doubled, so the
    effective ``r * Uh`` has the requested scale. ``update=False``: ``Uz = bz = 0`` (``z = 1/2``, constant
    rate: the same equilibria and kinds as without an update gate, eigenvalues halved); input weights of a
    removed gate are zeroed too. ``reset_mode``: ``"before"`` or ``"after"`` (the PyTorch convention)."""
    _positive(n=n, d=d, integer=True)
    _positive(scale=scale, bias_scale=bias_scale)
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 0:
        raise ValueError(f"m: expected an int >= 0, got {m!r}.")
    check_choice("reset_mode", reset_mode, ("before", "after"))
    p = GRUParams.random(key, d, m, scale=scale, bias_scale=bias_scale, reset=reset_mode, batch=(n,))
    fields = {}
    if not reset:
        fields.update(Ur=jnp.zeros_like(p.Ur), br=jnp.zeros_like(p.br), Wr=jnp.zeros_like(p.Wr),
                      Uh=2.0 * p.Uh, bhn=2.0 * p.bhn)
    if not update:
        fields.update(Uz=jnp.zeros_like(p.Uz), bz=jnp.zeros_like(p.bz), Wz=jnp.zeros_like(p.Wz))
    return GRUParams(**{k: fields.get(k, getattr(p, k)) for k in p.__dataclass_fields__ if k != "reset"},
                     reset=reset_mode).validate()


ANALYSES = {"census": Census, "stability": Stability, "cycles": Cycles}   # name -> factory needing no arguments (CLI)

__all__ = ["ANALYSES", "Census", "ContinuationEvents", "Cycles", "HomoclinicEvents", "KIND_KEYS", "Stability",
           "decode_topology", "describe_topology", "encode_topology", "random_grus"]
