"""Topology atlas of a GRU ensemble and a vectorized search for GRUs with many fixed points.

Both work on the host with numpy after batched JAX calls: the census of a whole ensemble runs in one vmapped program per
chunk; grouping, ranking and merging are cheap."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from .._fixed_points import find_fixed_points, make_seeds
from .._linalg import Kind
from ._analyses import KIND_KEYS, Census, _positive, decode_topology, describe_topology, random_grus


# ---- atlas ------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class TopologyAtlas:
    """Distinct fixed-point configurations of an ensemble, most frequent first (``K`` of them).

    ``topology`` (K,) codes (``decode_topology``); ``counts`` (K, 6) points per ``Kind``; ``n_members`` (K,) members
    with that configuration; ``example`` (K,) flat index of the first such member; ``examples`` those members' params
    (batch (K,)) when params were given, else None; ``n_total`` members looked at; ``n_excluded`` members left out
    because their census did not converge (``all_converged`` false) or their topology was not encodable."""

    topology: np.ndarray
    counts: np.ndarray
    n_members: np.ndarray
    example: np.ndarray
    examples: object
    n_total: int
    n_excluded: int

    def table(self, top: int | None = None) -> str:
        """The configurations as text, one line each: members, fraction, example index, description."""
        lines = [f"{len(self.topology)} configurations in {self.n_total} GRUs ({self.n_excluded} excluded: "
                 f"census not converged)", f"{'members':>9} {'fraction':>9} {'example':>8}  configuration"]
        for code, m, ex in list(zip(self.topology, self.n_members, self.example))[:top]:
            lines.append(f"{m:>9} {m / self.n_total:>9.4f} {ex:>8}  {describe_topology(int(code))}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.table(top=20)


def topology_atlas(census_values: dict, params=None) -> TopologyAtlas:
    """Group an ensemble by fixed-point configuration.

    census_values: ``Census`` outputs with any common shape S (e.g. a sweep's grid), at least ``topology``
    and ``all_converged``; params: optional, the ensemble with leading batch dims S (their flat index is ``example``).
    Members whose census did not converge are counted in ``n_excluded``, not grouped."""
    missing = {"topology", "all_converged"} - set(census_values)
    if missing:
        raise ValueError(f"census_values: missing {sorted(missing)}; pass the outputs of Census.")
    code = np.asarray(census_values["topology"]).reshape(-1)
    ok = np.asarray(census_values["all_converged"]).reshape(-1).astype(bool)
    if ok.shape != code.shape:
        raise ValueError(f"census_values: topology has {code.size} entries, all_converged {ok.size}.")
    keep = ok & (code >= 0)
    members = np.flatnonzero(keep)
    topology, first, n_members = np.unique(code[keep], return_index=True, return_counts=True)
    order = np.lexsort((topology, -n_members))
    topology, example, n_members = topology[order], members[first[order]], n_members[order]
    decoded = decode_topology(topology)
    counts = np.stack([decoded[k] for k in KIND_KEYS], axis=-1).reshape(len(topology), len(KIND_KEYS))
    examples = None
    if params is not None:
        batch = tuple(params.batch_shape)
        n = int(np.prod(batch))
        if n != code.size:
            raise ValueError(f"params: {n} members, census_values: {code.size}.")
        flat = jax.tree_util.tree_map(lambda a: a.reshape((n,) + a.shape[len(batch):]), params)
        examples = _take(flat, example)
    return TopologyAtlas(topology, counts, n_members, example, examples, int(code.size), int(code.size - keep.sum()))


# ---- exact count on a fine seed grid ------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Verified:
    """Fixed points of one GRU from a fine seed grid: ``h`` (k, d), ``kind`` (k,) ``Kind`` codes, ``n_seeds``;
    ``converged``: every point's eigen-solve converged with ``max|f| <= 1e-9``."""

    h: np.ndarray
    kind: np.ndarray
    n_seeds: int
    converged: bool

    @property
    def count(self) -> int:
        return len(self.kind)

    def describe(self) -> str:
        counts = [int(np.sum(self.kind == k)) for k in Kind]
        parts = [f"{c} {k.label}" for c, k in zip(counts, Kind) if c]
        return f"{self.count} points: " + ", ".join(parts)


def verify_fixed_points(params, n_seeds: int = 16384, *, block: int = 4096, dedup_tol: float = 1e-7) -> Verified:
    """All fixed points of one GRU (no batch) from ``n_seeds`` grid seeds in its state box, solved in blocks
    of ``block`` seeds (``find_fixed_points`` dedupes within a block in O(block²) memory) and merged here."""
    if params.batch_shape:
        raise ValueError(f"verify_fixed_points: one GRU at a time, got batch {params.batch_shape}.")
    lo, hi = (np.asarray(a, float) for a in params.state_box())
    seeds = np.asarray(make_seeds(lo, hi, n_seeds, seeding="grid"))
    hs, kinds, ok = [], [], True
    for start in range(0, len(seeds), block):
        fps = find_fixed_points(params, seeds=seeds[start:start + block], dedup_tol=dedup_tol).trim()
        hs.append(np.asarray(fps.h))
        kinds.append(np.asarray(fps.kind))
        ok &= bool(np.all(np.asarray(fps.eig_converged)) and np.all(np.asarray(fps.residual) <= 1e-9))
    h, kind = np.concatenate(hs), np.concatenate(kinds)
    keep = _first_of_clusters(h, dedup_tol)
    return Verified(h[keep], kind[keep], len(seeds), ok)


def _first_of_clusters(h: np.ndarray, tol: float) -> np.ndarray:
    """Indices of the first of each group of rows of h (n, d) within ``tol`` (max-norm) of an earlier kept row."""
    kept: list[int] = []
    for i in range(len(h)):
        if not any(np.max(np.abs(h[i] - h[j])) <= tol for j in kept):
            kept.append(i)
    return np.asarray(kept, int)


# ---- evolutionary search ----------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class SearchResult:
    """Outcome of ``max_fixed_points_search``.

    ``best``: the GRU (no batch) with the most verified fixed points; ``verified``: its ``Verified`` at the finest grid;
    ``counts_by_grid``: ``{n_seeds: count}`` for the best at every verification grid; ``candidates``:
    ``(screen count, {n_seeds: verified count})`` for every verified candidate; ``history``: best screening count after
    the random round and after each generation; ``n_evaluated``: GRUs screened in all."""

    best: object
    verified: Verified
    counts_by_grid: dict
    candidates: list
    history: list
    n_evaluated: int


def _screen(run, params, chunk: int) -> np.ndarray:
    """Fixed-point counts (B,) of a batch by ``run`` (a jitted ``Census``), in chunks of ``chunk`` (the last
    one padded, so one compile); a census that did not converge counts -1."""
    out = []
    n = params.batch_shape[0]
    for start in range(0, n, chunk):
        part = jax.tree_util.tree_map(lambda a: a[start:start + chunk], params)
        pad = chunk - part.batch_shape[0]
        part = jax.tree_util.tree_map(lambda a: jnp.concatenate([a, jnp.repeat(a[:1], pad, axis=0)]), part)
        res = run(part)
        out.append(np.where(np.asarray(res["all_converged"]), np.asarray(res["n_fixed"]), -1)[:chunk - pad])
    return np.concatenate(out)


def _take(params, idx):
    return jax.tree_util.tree_map(lambda a: a[jnp.asarray(idx)], params)


def _concat(*batches):
    return jax.tree_util.tree_map(lambda *a: jnp.concatenate(a), *batches)


def _best(score: np.ndarray, k: int, key) -> np.ndarray:
    """Indices of the ``k`` highest scores, ties broken at random (keeps the elite diverse on plateaus)."""
    shuffle = np.asarray(jax.random.permutation(key, len(score)))
    return shuffle[np.argsort(-score[shuffle], kind="stable")[:k]]


def _mutate(key, elite, n_children: int, sigma: float):
    """``n_children`` perturbed copies of each elite member: every non-zero leaf gets Gaussian noise of std
    ``sigma`` times that leaf's RMS over the elite (zero leaves, e.g. a removed gate, stay zero)."""
    leaves, tree = jax.tree_util.tree_flatten(elite)
    keys = jax.random.split(key, len(leaves))
    def child(k, a):
        rep = jnp.repeat(a, n_children, axis=0)
        rms = jnp.sqrt(jnp.mean(a**2))
        return rep + sigma * rms * jax.random.normal(k, rep.shape, rep.dtype)
    return jax.tree_util.tree_unflatten(tree, [child(k, a) for k, a in zip(keys, leaves)])


def max_fixed_points_search(key: jax.Array, n: int, d: int = 2, *, scales=(4.0, 8.0, 16.0, 32.0, 64.0),
                            bias_ratio: float = 0.5, screen_seeds: int = 1024, generations: int = 5,
                            top_k: int = 16, n_children: int = 16, sigma: float = 0.1, n_verify: int = 8,
                            verify_grids=(4096, 16384), chunk: int | None = None, reset: bool = True) -> SearchResult:
    """Search for a ``d``-unit GRU with as many fixed points as possible.

    1. ``n`` random GRUs (``random_grus``, no update gate: ``z`` does not move equilibria), split evenly over
       ``scales`` with bias std ``bias_ratio * scale``, screened by a census on ``screen_seeds`` grid seeds.
    2. ``generations`` rounds: the ``top_k`` best (ties at random) are kept and each makes ``n_children``
       mutants (``_mutate``, relative noise ``sigma``); parents and children are ranked together.
    3. The ``n_verify`` best of the final population are re-counted by ``verify_fixed_points`` on each grid
       of ``verify_grids``; the best has the most points on the finest grid, a finalist whose eigen-solves all
       converged before one whose did not (ties: the better screened); see ``SearchResult.verified``.

    Screening runs in jitted chunks of ``chunk`` GRUs (default 256 on a CPU, 512 on an accelerator: the census dedupe
    holds ``chunk * screen_seeds**2 * d`` floats)."""
    chunk = (256 if jax.default_backend() == "cpu" else 512) if chunk is None else chunk
    _positive(n=n, d=d, screen_seeds=screen_seeds, top_k=top_k, n_children=n_children, n_verify=n_verify, chunk=chunk,
              integer=True)
    if isinstance(generations, bool) or not isinstance(generations, (int, np.integer)) or generations < 0:
        raise ValueError(f"generations: expected an int >= 0, got {generations!r}.")
    if not scales or any(not np.isfinite(s) or s <= 0 for s in scales) or n < len(scales):
        raise ValueError(f"scales: expected positive numbers, at most n of them, got {scales!r}.")
    if not sigma > 0 or not bias_ratio > 0:
        raise ValueError(f"sigma and bias_ratio: must be > 0, got {sigma!r}, {bias_ratio!r}.")
    if not verify_grids or any(int(g) < 1 for g in verify_grids):
        raise ValueError(f"verify_grids: expected positive seed counts, got {verify_grids!r}.")
    census = jax.jit(Census(n_seeds=screen_seeds, seeding="grid"))
    keys = jax.random.split(key, len(scales) + generations)
    per = n // len(scales)
    pop = _concat(*(random_grus(k, per, d, s, bias_scale=bias_ratio * s, reset=reset, update=False)
                    for k, s in zip(keys, scales)))
    score = _screen(census, pop, chunk)
    history, n_evaluated = [int(score.max())], len(score)
    for g in range(generations):
        k_tie, k_mut = jax.random.split(keys[len(scales) + g])
        elite = _best(score, top_k, k_tie)
        children = _mutate(k_mut, _take(pop, elite), n_children, sigma)
        child_score = _screen(census, children, chunk)
        pop, score = _concat(_take(pop, elite), children), np.concatenate([score[elite], child_score])
        history.append(int(score.max()))
        n_evaluated += len(child_score)
    finalists = np.argsort(-score, kind="stable")[:n_verify]   # parents first among ties: screened more often
    candidates, best = [], None
    for i in finalists:
        one = jax.tree_util.tree_map(lambda a: a[int(i)], pop)
        checks = {int(g): verify_fixed_points(one, int(g)) for g in verify_grids}
        fine, counts = checks[int(verify_grids[-1])], {g: v.count for g, v in checks.items()}
        candidates.append((int(score[i]), counts))
        if best is None or (fine.converged, fine.count) > (best[1].converged, best[1].count):
            best = (one, fine, counts)
    return SearchResult(best[0], best[1], best[2], candidates, history, n_evaluated)


__all__ = ["SearchResult", "TopologyAtlas", "Verified", "max_fixed_points_search", "topology_atlas",
           "verify_fixed_points"]
