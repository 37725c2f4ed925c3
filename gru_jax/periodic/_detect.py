"""Limit cycles found by simulation: many seeds run through a transient, each end is classified (fixed point,
limit cycle, not settled) by the first return to a Poincare section, and the cycles are refined by shooting
and deduplicated into fixed-size buffers.

``cycles_one`` works on one parameter set and is vmapped over a params batch."""

from __future__ import annotations

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx

from .._fixed_points import resolve_seeds
from .._ode import diffeqsolve
from .._validate import check_choice, check_positive
from ..core._result import Result
from ..core._status import Codes
from ..models._field import VectorField, batch_shape, resolve_field, validate_params
from ._flow import FlowOptions, flow
from ._shooting import OrbitStatus, PeriodicOrbit, arclength_samples, shoot


class TrajectoryEnd(Codes):
    """Where one seed's trajectory ended up after the transient (``LimitCycles.seed_end``)."""

    FIXED_POINT = 0, "at a fixed point: max|f| <= fp_tol at the end of the transient"
    LIMIT_CYCLE = 1, ("on a limit cycle: it returned to its Poincare section within return_tol, and shooting "
                      "converged (seed_cycle -1: the cycle did not fit in max_cycles, unrefined)")
    NOT_SETTLED = 2, ("not settled: no close return within max_period (or the shooting refinement of its return "
                      "failed; see the status of its row)")
    FAILED = 3, "the ODE solver failed (increase max_steps or loosen rtol/atol)"


class LimitCycles(Result):
    """Distinct limit cycles reached from many seeds (for one problem or a batch ``B``), in fixed-size buffers.

    ``cycles``: a ``PeriodicOrbit`` with shapes (B..., K) for ``K = max_cycles``: the first ``count`` rows are
    the distinct candidate cycles in seed order (``cycles.status`` says whether shooting converged; a row whose
    refinement failed is kept as data), the rest padding (NaN, status ``-1``). ``n_seeds`` (B..., K) seeds whose
    return led to each row. Per seed (B..., n): ``seed_end`` ``TrajectoryEnd`` codes; ``seed_cycle`` the row
    (``-1``: none); ``seed_state`` (B..., n, d) the state after the transient; ``seed_period`` the first-return
    time to its section (NaN without a close return)."""

    cycles: PeriodicOrbit
    count: jax.Array
    n_seeds: jax.Array
    seed_end: jax.Array
    seed_cycle: jax.Array
    seed_state: jax.Array
    seed_period: jax.Array

    _rows = ("cycles", "n_seeds")

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return tuple(self.count.shape)

    @property
    def n_stable(self) -> jax.Array:
        """Number of stable converged cycles (B...,)."""
        return jnp.sum(self.cycles.stable, axis=-1).astype(jnp.int32)

    def to_dict(self, params=None, f: VectorField | None = None, n: int = 64) -> dict:
        """JSON-ready ``{"cycles": [{"period", "amplitude", "stable", "status", "multipliers": [[re, im], ...],
        "x0", "n_seeds", "orbit"}, ...], "seeds": {end: count}}`` (one problem only). ``"orbit"``: ``n`` points
        evenly spaced in arclength, only when the ``params`` (and ``f`` for a user field) are given."""
        t = self.trim()
        c = t.cycles
        orbits = np.asarray(c.sample(params, n, f, by="arclength")) if params is not None and int(self.count) \
            else None
        rows = []
        for i in range(int(self.count)):
            row = {"period": float(c.period[i]), "amplitude": float(c.amplitude[i]), "stable": bool(c.stable[i]),
                   "status": OrbitStatus(int(c.status[i])).name.lower(),
                   "multipliers": [[float(z.real), float(z.imag)] for z in np.asarray(c.multipliers[i])],
                   "x0": np.asarray(c.x0[i]).tolist(), "n_seeds": int(t.n_seeds[i])}
            if orbits is not None:
                row["orbit"] = orbits[i].tolist()
            rows.append(row)
        ends = np.asarray(self.seed_end)
        return {"cycles": rows, "seeds": {e.name.lower(): int(np.sum(ends == e)) for e in TrajectoryEnd}}

    def _tally(self) -> str:
        ends = np.asarray(self.seed_end)
        return ", ".join(f"{int(np.sum(ends == e))} {e.name.lower().replace('_', ' ')}" for e in TrajectoryEnd)

    def _repr_batch(self, batch) -> str:
        counts = np.asarray(self.count)
        return (f"LimitCycles(batch {batch}, {self.seed_end.shape[-1]} seeds each, count min {counts.min()} / "
                f"max {counts.max()}; seeds: {self._tally()})")

    def _repr_one(self) -> str:
        t = self.trim()
        lines = [f"LimitCycles: {int(self.count)} from {self.seed_end.shape[-1]} seeds ({self._tally()})"]
        for i in range(int(self.count)):
            c = jax.tree_util.tree_map(lambda a: a[i], t.cycles)
            mu = ", ".join(f"{complex(z):.4g}" for z in np.asarray(c.multipliers)[:4])
            lines.append(f"  {i:>2}  period {float(c.period):.8g}  amplitude {float(c.amplitude):.4g}  "
                         f"{'stable' if bool(c.stable) else 'unstable' if int(c.status) == 0 else '-'}  "
                         f"multipliers [{mu}]  "
                         f"{OrbitStatus(int(c.status)).name.lower()}  seeds {int(t.n_seeds[i])}")
        return "\n".join(lines)


# ---- one seed -----------------------------------------------------------------------------------------------

def first_return(f: VectorField, params, x_a: jax.Array, opts: dict, flow_opts: FlowOptions, max_returns: int):
    """Follow the trajectory from ``x_a`` (d,) through its upward crossings of the Poincare section through ``x_a``
    normal to ``f(x_a)`` (diffrax ``Event`` with a root find), until one lands within ``return_tol`` (max-norm) of
    ``x_a``, ``max_period`` has passed or ``max_returns`` crossings were seen. Returns ``(period, close, ok)``: the
    return time (NaN if no close return), whether a close return happened, and whether every solve succeeded."""
    f_a = f(x_a, params)

    def section(t, y, args, **kwargs):   # held positive at the start, which lies on the section
        return jnp.where(t > kwargs["t0"], jnp.dot(y - x_a, f_a), 1.0)

    event = diffrax.Event(section, optx.Newton(rtol=flow_opts.rtol, atol=flow_opts.atol), direction=True)
    controller = diffrax.PIDController(rtol=flow_opts.rtol, atol=flow_opts.atol)
    term = diffrax.ODETerm(lambda t, y, args: f(y, args))

    def cond(carry):
        x, elapsed, k, close, ok, done = carry
        return ~done & (k < max_returns)

    def body(carry):
        x, elapsed, k, close, ok, done = carry
        sol = diffeqsolve(term, flow_opts.solver, 0.0, opts["max_period"] - elapsed, None, x, args=params,
                          event=event, stepsize_controller=controller, max_steps=flow_opts.max_steps,
                          throw=False)
        hit = sol.result == diffrax.RESULTS.event_occurred
        y, elapsed = sol.ys[-1], elapsed + sol.ts[-1]
        close = hit & (jnp.max(jnp.abs(y - x_a)) <= opts["return_tol"])
        ok = hit | (sol.result == diffrax.RESULTS.successful)
        return y, elapsed, k + 1, close, ok, close | ~hit

    zero = jnp.zeros((), x_a.dtype)
    start = (x_a, zero, jnp.zeros((), jnp.int32), jnp.asarray(False), jnp.asarray(True), jnp.asarray(False))
    _, elapsed, _, close, ok, _ = jax.lax.while_loop(cond, body, start)
    return jnp.where(close, elapsed, jnp.nan), close, ok


def seed_end(f: VectorField, params, seed: jax.Array, opts: dict, flow_opts: FlowOptions, max_returns: int):
    """Transient from ``seed`` (d,), then the end's class. Returns ``(x_a, end, period)``: the state after the
    transient, a ``TrajectoryEnd`` code (``LIMIT_CYCLE`` meaning a close return, not yet refined) and the return
    time (NaN unless ``LIMIT_CYCLE``)."""
    x_a, ok = flow(f, params, seed, opts["t_transient"], flow_opts)
    fixed = jnp.max(jnp.abs(f(x_a, params))) <= opts["fp_tol"]
    go = ok & ~fixed & jnp.all(jnp.isfinite(x_a))
    period, close, ok_return = first_return(f, params, jnp.where(go, x_a, seed), opts, flow_opts,
                                            jnp.where(go, max_returns, 0))
    end = jnp.select([~ok | ~ok_return | ~jnp.all(jnp.isfinite(x_a)), fixed, close],
                     [TrajectoryEnd.FAILED, TrajectoryEnd.FIXED_POINT, TrajectoryEnd.LIMIT_CYCLE],
                     TrajectoryEnd.NOT_SETTLED)
    return x_a, end.astype(jnp.int32), period


# ---- dedupe -------------------------------------------------------------------------------------------------

def _polyline_distance(x: jax.Array, points: jax.Array) -> jax.Array:
    """Euclidean distance () from ``x`` (d,) to the polyline through ``points`` (S, d)."""
    a, b = points[:-1], points[1:]
    ab = b - a
    length2 = jnp.sum(ab**2, axis=-1)
    t = jnp.clip(jnp.sum((x - a) * ab, axis=-1) / jnp.where(length2 > 0, length2, 1.0), 0.0, 1.0)
    return jnp.min(jnp.linalg.norm(x - (a + t[:, None] * ab), axis=-1))


def same_cycle(x0: jax.Array, period: jax.Array, samples: jax.Array, ok: jax.Array, tol, period_rtol) -> jax.Array:
    """Cluster cycles: row ``i`` (x0 (n, d), period (n,), orbit samples (n, S, d), ok (n,)) and row ``j`` are the
    same cycle when one's ``x0`` lies within ``tol`` of the other's sampled orbit and the periods agree to
    ``period_rtol``. Returns ``root`` (n,): the first row of each row's cluster (rows not ok: themselves)."""
    n = x0.shape[0]
    dist = jax.vmap(lambda x: jax.vmap(lambda s: _polyline_distance(x, s))(samples))(x0)   # x0_i to orbit_j
    same_period = jnp.abs(period[:, None] - period[None, :]) <= period_rtol * jnp.maximum(period[:, None],
                                                                                         period[None, :])
    close = ok[:, None] & ok[None, :] & (jnp.minimum(dist, dist.T) <= tol) & same_period
    root = jnp.where(ok, jnp.argmax(close, axis=1), jnp.arange(n))
    # root[i] <= i; follow the pointers to the cluster's first row (closeness need not be transitive)
    return jax.lax.fori_loop(0, max(1, int(np.ceil(np.log2(max(n, 2))))), lambda _, r: r[r], root)


# ---- one problem --------------------------------------------------------------------------------------------

def pad(a: jax.Array, valid: jax.Array) -> jax.Array:
    """``a`` (n, ...) where ``valid`` (n,), else NaN (inexact dtypes) or -1."""
    mask = valid.reshape(valid.shape + (1,) * (a.ndim - 1))
    return jnp.where(mask, a, jnp.nan if jnp.issubdtype(a.dtype, jnp.inexact) else -1)


def cycles_one(f: VectorField, params, seeds: jax.Array, opts: dict, flow_opts: FlowOptions, n_segments: int,
               max_cycles: int, max_returns: int, n_samples: int) -> LimitCycles:
    """Limit cycles reached from ``seeds`` (n, d) for one parameter set."""
    n, K = seeds.shape[0], max_cycles
    x_a, end, period = jax.vmap(lambda s: seed_end(f, params, s, opts, flow_opts, max_returns))(seeds)
    candidate = end == TrajectoryEnd.LIMIT_CYCLE

    # cluster the raw returns, refine one representative per cluster (at most K) by shooting
    samples = jax.vmap(lambda x, T: arclength_samples(f, params, x, T, n_samples, flow_opts)[0])(
        x_a, jnp.where(candidate, period, 0.0))
    root = same_cycle(x_a, period, samples, candidate, opts["dedup_tol"], opts["period_rtol"])
    first = candidate & (root == jnp.arange(n))
    rank = jnp.cumsum(first) - 1
    seed_row = jnp.where(candidate & (rank[root] < K), rank[root], -1)
    rep = jnp.nonzero(first, size=K, fill_value=0)[0]
    row_valid = jnp.arange(K) < jnp.sum(first)
    orbits, orbit_samples = jax.vmap(lambda x, T, budget: shoot(
        f, params, x, T, {**opts, "max_newton": budget}, n_segments, flow_opts, n_samples))(
        x_a[rep], jnp.where(row_valid, period[rep], 1.0), jnp.where(row_valid, opts["max_newton"], 0))

    # merge rows that refined to the same cycle, then compact
    converged = row_valid & (orbits.status == OrbitStatus.CONVERGED)
    row_root = same_cycle(orbits.x0, orbits.period, orbit_samples, converged, opts["dedup_tol"], opts["period_rtol"])
    keep = row_valid & (row_root == jnp.arange(K))
    position = jnp.where(row_valid, (jnp.cumsum(keep) - 1)[row_root], -1)
    seed_cycle = jnp.where(seed_row >= 0, position[seed_row], -1)
    refined = converged[jnp.maximum(seed_row, 0)] | (seed_row < 0)
    end = jnp.where(candidate & ~refined, TrajectoryEnd.NOT_SETTLED, end).astype(jnp.int32)
    count = jnp.sum(keep).astype(jnp.int32)
    order = jnp.nonzero(keep, size=K, fill_value=0)[0]
    filled = jnp.arange(K) < count
    cycles = jax.tree_util.tree_map(lambda a: pad(a[order], filled), orbits)
    n_seeds = jnp.sum(seed_cycle[None, :] == jnp.arange(K)[:, None], axis=1).astype(jnp.int32)
    return LimitCycles(cycles=cycles, count=count, n_seeds=n_seeds, seed_end=end, seed_cycle=seed_cycle,
                       seed_state=x_a, seed_period=period)


@eqx.filter_jit
def _cycles_batch(f, params, seeds, opts, flow_opts, n_segments, max_cycles, max_returns, n_samples, batch):
    run = lambda p: cycles_one(f, p, seeds, opts, flow_opts, n_segments, max_cycles, max_returns, n_samples)
    if not batch:
        return run(params)
    total = int(np.prod(batch))
    flat = jax.tree_util.tree_map(lambda a: a.reshape((total,) + a.shape[len(batch):]), params)
    out = jax.vmap(run)(flat)
    return jax.tree_util.tree_map(lambda a: a.reshape(batch + a.shape[1:]), out)


# ---- public entry point -------------------------------------------------------------------------------------

def find_limit_cycles(params, *, f: VectorField | None = None, key: jax.Array | None = None, n_seeds: int = 64,
                      seeds: jax.Array | None = None, seeding: str = "random", box=None,
                      t_transient: float = 300.0, max_period: float = 300.0, max_cycles: int = 8,
                      max_returns: int = 8, fp_tol: float = 1e-6, return_tol: float = 1e-4,
                      dedup_tol: float = 1e-3, period_rtol: float = 1e-2, n_segments: int = 1, tol: float = 1e-10,
                      max_newton: int = 30, min_amplitude: float = 1e-6, n_samples: int = 128,
                      rtol: float = 1e-10, atol: float = 1e-12, max_steps: int = 20_000) -> LimitCycles:
    """Limit cycles of ``dh/dt = f(h, params)`` reached by simulation from many seeds.

    Seeds as in ``find_fixed_points`` (``seeds`` (n, d), or ``n_seeds`` drawn in ``box`` / the model's ``state_box()``
    with ``key`` or on a grid). Each seed is integrated for ``t_transient``; its end ``x_a`` is a fixed point when
    ``max|f(x_a)| <= fp_tol``, else it is followed through the upward crossings of the Poincare section through ``x_a``
    normal to ``f(x_a)`` (at most ``max_returns`` crossings within ``max_period``): a crossing within ``return_tol``
    (max-norm) of ``x_a`` is a cycle candidate with that period. Candidates are clustered (one's point within
    ``dedup_tol`` of the other's orbit, sampled at ``n_samples`` points evenly spaced in arclength, and periods within
    ``period_rtol``), one per cluster is refined by ``periodic_orbit`` (``n_segments``, ``tol``, ``max_newton``,
    ``min_amplitude``), and refined rows that found the same cycle are merged; at most ``max_cycles`` rows are kept.
    ``rtol``/``atol``/``max_steps``: the ODE solver's (also the event root finder's tolerances). A model with a
    ``batch_shape`` is solved for every member (same seeds) in one compiled call. Tolerances and times are traced (no
    recompile). Raises ``ValueError`` for bad shapes, values or options, before compiling."""
    validate_params(params)
    f = resolve_field(params, f)
    check_choice("seeding", seeding, ("random", "grid"))
    for name, value in (("n_seeds", n_seeds), ("t_transient", t_transient), ("max_period", max_period),
                        ("fp_tol", fp_tol), ("return_tol", return_tol), ("dedup_tol", dedup_tol),
                        ("period_rtol", period_rtol), ("tol", tol), ("max_newton", max_newton),
                        ("min_amplitude", min_amplitude), ("rtol", rtol), ("atol", atol)):
        check_positive(name, value)
    for name, value, low in (("max_cycles", max_cycles, 1), ("max_returns", max_returns, 1),
                             ("n_segments", n_segments, 1), ("n_samples", n_samples, 2), ("max_steps", max_steps, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name}: expected an int >= {low}, got {value!r}.")
    seeds, _, _ = resolve_seeds(params, seeds, n_seeds, key=key, seeding=seeding, box=box)
    opts = {k: jnp.asarray(v, float) for k, v in dict(
        t_transient=t_transient, max_period=max_period, fp_tol=fp_tol, return_tol=return_tol, dedup_tol=dedup_tol,
        period_rtol=period_rtol, tol=tol, min_amplitude=min_amplitude, max_step=0.5).items()}
    opts["max_newton"] = jnp.asarray(max_newton, jnp.int32)
    return _cycles_batch(f, params, seeds, opts, FlowOptions(rtol=rtol, atol=atol, max_steps=int(max_steps)),
                         int(n_segments), int(max_cycles), int(max_returns), int(n_samples), batch_shape(params))
