"""``bifurcation_diagram``: every equilibrium branch of a system in a parameter window, and its special points.

1. Discovery: ``find_fixed_points`` at ``sample`` parameter values across the window (its ends included).
2. Every discovered equilibrium is continued both ways inside the window, in batches of one compiled program
   (``_switch.run_lanes``); a branch on a kept one is the same curve and dropped; a closed loop is kept once around.
3. At every branch point on one kept branch only, the other branch is switched onto (repeated, up to ``max_branches``).
4. The special points of all branches, each once: fold, branch point, Hopf (neutral saddles dropped; a fold found at a
   branch point, as on a pitchfork's side branch, is the branch point).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from .._fixed_points import find_fixed_points, resolve_seeds
from .._validate import check_choice, check_window, renamed
from ..models._field import batch_shape, validate_params
from ..core._result import ResultMixin
from ._branch import Branch, SpecialPoints
from ._continuation import METHODS, _setup
from ..core._param import Param, as_param
from ._point import SpecialPoint
from ..core._status import BranchStatus, LocateStatus, SpecialKind
from ._switch import LANES, SwitchStatus, check_lanes, old_direction, run_lanes

SAME_CURVE = 1e-3     # a point within this scaled max-norm distance of a branch's curve lies on it
SAME_POINT = 1e-5     # special points within this scaled distance are one
KINDS = (SpecialKind.FOLD, SpecialKind.BRANCH_POINT, SpecialKind.HOPF)
JSON_TYPE = {SpecialKind.FOLD: "fold", SpecialKind.BRANCH_POINT: "branch point", SpecialKind.HOPF: "hopf"}


@dataclasses.dataclass(repr=False)
class DiagramPoints(ResultMixin):
    """The special points of a diagram, one row each (numpy columns, K rows): ``kind`` ``SpecialKind`` code; ``p``,
    ``h`` (K, d) the point; ``l1``, ``omega`` (NaN unless Hopf); ``located`` ``LocateStatus`` code; ``n_unstable`` at
    the point; ``branch`` the lowest index of the branches it was found on; ``switch`` the ``SwitchStatus`` of the
    switch made there (-1: none; a branch point on two kept branches needs none)."""

    kind: np.ndarray
    p: np.ndarray
    h: np.ndarray
    l1: np.ndarray
    omega: np.ndarray
    located: np.ndarray
    n_unstable: np.ndarray
    branch: np.ndarray
    switch: np.ndarray

    # labels(): "fold", "branch point" or "Hopf" per row
    _rows = ("kind", "p", "h", "l1", "omega", "located", "n_unstable", "branch", "switch")
    _kinds = SpecialKind

    def __len__(self) -> int:
        return len(self.kind)

    def __getitem__(self, k: int) -> SpecialPoint:
        """Row ``k`` as a ``SpecialPoint`` (e.g. the start of a cycle family at a Hopf point); residual NaN."""
        return SpecialPoint(kind=jnp.asarray(self.kind[k]), p=jnp.asarray(self.p[k]), h=jnp.asarray(self.h[k]),
                            located=jnp.asarray(self.located[k]), residual=jnp.asarray(jnp.nan),
                            omega=jnp.asarray(self.omega[k]), l1=jnp.asarray(self.l1[k]))

    def _repr_one(self) -> str:
        lines = [f"{len(self)} special point(s)"]
        for i, label in enumerate(self.labels()):
            hs = " ".join(f"{v:+.6f}" for v in self.h[i][:4]) + (" ..." if self.h.shape[1] > 4 else "")
            extra = f"  omega={self.omega[i]:.6g} l1={self.l1[i]:+.4g}" if self.kind[i] == SpecialKind.HOPF else ""
            lines.append(f"  {i:>2} {label:<13} p={self.p[i]:+.10f}  h=[{hs}]  n_unstable={self.n_unstable[i]}  "
                         f"{LocateStatus(int(self.located[i])).name.lower()}  branch {self.branch[i]}{extra}")
        return "\n".join(lines)


@dataclasses.dataclass(repr=False)
class Diagram(ResultMixin):
    """A bifurcation diagram: ``branches`` (trimmed ``Branch``es with numpy leaves, each a distinct curve),
    ``special_points`` (a ``DiagramPoints`` table), the continued ``param`` and the window ``span``."""

    branches: list[Branch]
    special_points: DiagramPoints
    param: Param
    span: tuple[float, float]

    def _repr_one(self) -> str:
        a, b = self.span
        lines = [f"Diagram: {self.param!r} in [{a:g}, {b:g}]: {len(self.branches)} branch(es)"]
        for i, br in enumerate(self.branches):
            p, n_unst = np.asarray(br.p), np.asarray(br.n_unstable)
            ends = " / ".join(BranchStatus(int(s)).name for s in np.asarray(br.status))
            lines.append(f"  {i:>2} {int(br.count):>4} points  p in [{p.min():+.6g}, {p.max():+.6g}]  "
                         f"n_unstable {sorted(set(n_unst.tolist()))}  ends {ends}")
        return "\n".join(lines + [repr(self.special_points)])

    def to_dict(self) -> dict:
        """JSON-ready: ``{"branches": [{"param", "h", "stable"}], "special_points": [{"type", "param", "h", "l1",
        "located"}]}`` (``stable``: no unstable eigenvalue; ``l1`` None unless Hopf)."""
        sp = self.special_points
        return {
            "branches": [{"param": np.asarray(br.p).tolist(), "h": np.asarray(br.h).tolist(),
                          "stable": (np.asarray(br.n_unstable) == 0).tolist()} for br in self.branches],
            "special_points": [{"type": JSON_TYPE[SpecialKind(int(sp.kind[i]))], "param": float(sp.p[i]),
                                "h": sp.h[i].tolist(), "l1": float(sp.l1[i]) if np.isfinite(sp.l1[i]) else None,
                                "located": bool(sp.located[i] == LocateStatus.CONVERGED)} for i in range(len(sp))]}

    @classmethod
    def _load_legacy(cls, data, path) -> "Diagram":
        """A diagram file of the format before ``Result.save`` (``n_branches``, ``b<i>.<field>``, ``sp.<field>``)."""
        if "n_branches" not in data.files:
            raise cls._not_saved(path, "no n_branches entry")
        get = lambda prefix, names: {k: data[f"{prefix}.{k}"] for k in names}
        _names = lambda module_cls: [f.name for f in dataclasses.fields(module_cls)]
        branches = [Branch(**get(f"b{i}", [n for n in _names(Branch) if n != "special"]),
                           special=SpecialPoints(**get(f"b{i}.special", _names(SpecialPoints))))
                    for i in range(int(data["n_branches"]))]
        points = DiagramPoints(**get("sp", _names(DiagramPoints)))
        field = None if bool(data["param_none"]) else str(data["param_field"])
        param = Param(field, *(int(i) for i in data["param_index"]))
        return cls(branches, points, param, tuple(float(x) for x in data["span"]))


# ---- geometry in scaled (h, p) coordinates -------------------------------------------------------------------

def curve_distance(q: np.ndarray, branch: Branch, scale: np.ndarray) -> float:
    """Scaled max-norm distance from ``q`` (d+1,) to the cubic Hermite curve through the rows of ``branch`` (trimmed)
    and their tangents, on the segments next to its two rows nearest ``q`` (the foot by a few Newton steps)."""
    u = np.column_stack([np.asarray(branch.h), np.asarray(branch.p)]) / scale
    x = q / scale
    n = len(u)
    near = np.argsort(np.linalg.norm(u - x, axis=1))[:2]
    best = np.min(np.max(np.abs(u[near] - x), axis=1))
    segs = sorted({(i - 1, i) for i in near if i > 0} | {(i, i + 1) for i in near if i + 1 < n})
    if not segs:
        return float(best)
    i, j = np.array(segs).T
    a, c = u[i], u[j]
    length = np.linalg.norm((c - a) * scale, axis=1, keepdims=True)          # chord length in (h, p)
    m0, m1 = length * np.asarray(branch.tangent)[i] / scale, length * np.asarray(branch.tangent)[j] / scale
    # P(s) = a + m0 s + k2 s^2 + k3 s^3, the Hermite cubic in power form
    k2, k3 = 3 * (c - a) - 2 * m0 - m1, 2 * (a - c) + m0 + m1
    chord = c - a
    s = np.clip(np.sum((x - a) * chord, axis=1) / np.maximum(np.sum(chord**2, axis=1), 1e-300), 0.0, 1.0)[:, None]
    for _ in range(4):
        r = a + m0 * s + k2 * s**2 + k3 * s**3 - x
        d1, d2 = m0 + 2 * k2 * s + 3 * k3 * s**2, 2 * k2 + 6 * k3 * s
        g, hess = np.sum(r * d1, axis=1, keepdims=True), np.sum(d1 * d1 + r * d2, axis=1, keepdims=True)
        s = np.clip(s - g / np.where(hess > 0, hess, np.inf), 0.0, 1.0)
    foot = a + m0 * s + k2 * s**2 + k3 * s**3
    return float(min(best, np.min(np.max(np.abs(foot - x), axis=1))))


def on_any(q: np.ndarray, branches: list[Branch], scale: np.ndarray) -> bool:
    return any(curve_distance(q, b, scale) <= SAME_CURVE for b in branches)


def representatives(branch: Branch) -> np.ndarray:
    """Four rows (4, d+1) at 1/5 .. 4/5 along a trimmed branch: away from its ends and from the middle, where it may
    meet another branch (a switched branch starts next to the branch point, in its middle)."""
    n = int(branch.count)
    rows = np.unique(np.clip(np.round(np.array([0.2, 0.4, 0.6, 0.8]) * (n - 1)).astype(int), 0, n - 1))
    return np.column_stack([np.asarray(branch.h)[rows], np.asarray(branch.p)[rows]])


def is_new(branch: Branch, kept: list[Branch], scale: np.ndarray) -> bool:
    """A branch is new unless most of its representative rows lie on kept branches."""
    reps = representatives(branch)
    return sum(on_any(q, kept, scale) for q in reps) * 2 <= len(reps)


def take(branch: Branch, i0: int, i1: int, status) -> Branch:
    """Rows ``i0 .. i1 - 1`` of a trimmed branch with the special points inside them (intervals re-indexed)."""
    rows = {k: np.asarray(getattr(branch, k))[i0:i1] for k in Branch._rows}
    sp = branch.special
    inside = (np.asarray(sp.interval)[:, 0] >= i0) & (np.asarray(sp.interval)[:, 1] < i1)
    kept = {k: np.asarray(getattr(sp, k))[inside] for k in SpecialPoints._rows}
    kept["interval"] = kept["interval"] - i0
    n_sp = np.asarray(int(inside.sum()), np.int32)
    return Branch(**rows, count=np.asarray(i1 - i0, np.int32), status=np.asarray(status, np.int32),
                  special=SpecialPoints(**kept, count=n_sp, n_detected=n_sp))


def once_around(branch: Branch, start: int) -> Branch:
    """A trimmed joined branch; a closed loop (either way) cut to one turn from its first point."""
    first, last = (int(s) for s in np.asarray(branch.status))
    if last == BranchStatus.CLOSED_LOOP:
        return take(branch, start, int(branch.count), (BranchStatus.START, last))
    if first == BranchStatus.CLOSED_LOOP:
        return take(branch, 0, start + 1, (first, BranchStatus.START))
    return branch


# ---- special points ------------------------------------------------------------------------------------------

def collect(branches: list[Branch], scale: np.ndarray) -> list[dict]:
    """Special points of all branches, each once, as dicts with ``members``: the ``(branch, slot)`` pairs where it was
    found. Branch points first (a fold found at one is merged into it), located ones first (they represent the
    point); neutral saddles and points whose location gave NaN are dropped."""
    rows = []
    order = sorted((int(k != SpecialKind.BRANCH_POINT), int(br.special.located[s] != LocateStatus.CONVERGED), b, s)
                   for b, br in enumerate(branches) for s, k in enumerate(np.asarray(br.special.kind)) if k in KINDS)
    for *_, b, s in order:
        sp = branches[b].special
        u = np.append(np.asarray(sp.h[s]), float(sp.p[s]))
        if not np.all(np.isfinite(u)):
            continue
        same = [r for r in rows if np.max(np.abs(r["u"] - u) / scale) <= _reach(branches[b], s, scale)
                and r["kind"] in (int(sp.kind[s]), SpecialKind.BRANCH_POINT)]
        if same:
            same[0]["members"].append((b, s))
            continue
        rows.append(dict(u=u, kind=int(sp.kind[s]), l1=float(sp.l1[s]), omega=float(sp.omega[s]),
                         located=int(sp.located[s]), n_unstable=int(sp.n_unstable[s]), members=[(b, s)]))
    return rows


def _reach(branch: Branch, slot: int, scale: np.ndarray) -> float:
    """How far (scaled) a special point may lie from its twin: ``SAME_POINT`` if located, else the size of the
    segment of branch rows that brackets it (where a failed location leaves it)."""
    if int(branch.special.located[slot]) == LocateStatus.CONVERGED:
        return SAME_POINT
    i, j = np.asarray(branch.special.interval[slot])
    u = np.column_stack([np.asarray(branch.h), np.asarray(branch.p)])
    return max(SAME_POINT, float(np.max(np.abs(u[j] - u[i]) / scale)))


def table(rows: list[dict], switched: dict, d: int) -> DiagramPoints:
    """The ``DiagramPoints`` of ``collect``'s rows, sorted by parameter; ``switched`` maps ``(branch, slot)`` to the
    ``SwitchStatus`` of a switch made there."""
    rows = sorted(rows, key=lambda r: (r["u"][-1], r["kind"]))
    col = lambda get, dtype=np.int32: np.array([get(r) for r in rows], dtype)
    u = col(lambda r: r["u"], float).reshape(-1, d + 1)
    return DiagramPoints(**{k: col(lambda r: r[k], float if k in ("l1", "omega") else np.int32)
                            for k in ("kind", "l1", "omega", "located", "n_unstable")}, p=u[:, -1], h=u[:, :-1],
                         branch=col(lambda r: min(b for b, _ in r["members"])),
                         switch=col(lambda r: next((switched[m] for m in r["members"] if m in switched), -1)))


# ---- the driver ----------------------------------------------------------------------------------------------

def _check(window, sample, max_branches, n_seeds) -> tuple[float, float]:
    a, b = (float(x) for x in check_window(window, finite=True))
    counts = [("sample", sample, 2), ("max_branches", max_branches, 1)]
    if n_seeds is not None:
        counts.append(("n_seeds", n_seeds, 1))
    for name, value, low in counts:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name}: expected an int >= {low}, got {value!r}.")
    return a, b


@renamed(span="window")
def bifurcation_diagram(params, param: Param, window, *, f=None, n_seeds: int | None = None, key=None, box=None,
                        sample: int = 3, max_branches: int = 32, follow_branch_points: bool = True, eps=1e-3,
                        method: str = "palc", ds=0.01, ds_min=1e-6, ds_max=0.1, tol=1e-10, max_newton=10,
                        grow=1.5, hyperbolic_tol=1e-8, max_points: int = 400, max_special: int = 16,
                        lanes: int = LANES) -> Diagram:
    """The equilibrium branches of ``dh/dt = f(h, params)`` for ``param`` in ``window = (a, b)`` (finite) and their
    folds, branch points and Hopf points. Equilibria are found (``find_fixed_points``: ``n_seeds`` seeds in ``box``,
    default the model's state box; a grid of 4096 for d <= 2, else 1024 random ones drawn with ``key``) at ``sample``
    values evenly spread over the window, ends included, and continued both ways inside it (options as
    ``continue_equilibria_both``; ``lanes`` one-way branches per compiled batch); duplicates of a kept curve are
    dropped. With ``follow_branch_points`` the other branch at each branch point met by one kept branch only is switched
    onto (``eps`` from it, see ``switch_branch``), until none is left or ``max_branches`` are kept. Raises
    ``ValueError`` for bad input (window, Param, batched or non-finite params, sizes) before compiling.
    """
    as_param(param)
    a, b = _check(window, sample, max_branches, n_seeds)
    check_choice("method", method, METHODS)
    check_lanes(lanes, eps)
    validate_params(params)
    if batch_shape(params):
        raise ValueError(f"params holds a batch {batch_shape(params)}: build one diagram per parameter set.")
    param.validate(params)
    d = getattr(params, "dim", None)
    if d is None and box is None:
        raise ValueError("box: these params have no `dim` or state_box(); pass box=(lo, hi), the region where "
                         "equilibria are sought.")
    small = isinstance(d, (int, np.integer)) and d <= 2 or box is not None and np.size(box[0]) <= 2
    seeds, lo, hi = resolve_seeds(params, None, n_seeds or (4096 if small else 1024), key=key,
                                  seeding="grid" if small else "random", box=box)
    d = seeds.shape[1]
    problem, _, settings = _setup(param.set(params, a), param, np.zeros(d), f, method, max_points, max_special,
                                  direction=1, ds=ds, ds_min=ds_min, ds_max=ds_max, p_min=a, p_max=b, tol=tol,
                                  max_newton=max_newton, grow=grow, hyperbolic_tol=hyperbolic_tol)
    scale = np.append(np.asarray(hi, float) - np.asarray(lo, float), b - a)
    run = lambda u0, t_old, switching: run_lanes(problem, settings, u0, t_old, float(eps), switching, max_points,
                                                 max_special, lanes)

    starts = discover(problem, param, np.linspace(a, b, sample), seeds, lo, hi, hyperbolic_tol)
    kept = continue_starts(starts, run, scale, lanes // 2, max_branches)
    switched = follow(kept, run, scale, lanes // 2, max_branches) if follow_branch_points else {}
    return Diagram(kept, table(collect(kept, scale), switched, d), param, (a, b))


def continue_starts(starts: np.ndarray, run, scale, size: int, max_branches: int) -> list[Branch]:
    """The distinct branches through the discovered equilibria ``starts`` (K, d+1), ``size`` at a time; a start
    already on a kept branch is skipped."""
    kept: list[Branch] = []
    while len(starts) and len(kept) < max_branches:
        fresh = starts[[not on_any(q, kept, scale) for q in starts]]
        batch, starts = fresh[:size], fresh[size:]
        if len(batch):
            add(kept, run(batch, np.ones_like(batch), np.zeros(len(batch), bool)), scale, max_branches)
    return kept


def follow(kept: list[Branch], run, scale, size: int, max_branches: int) -> dict:
    """Switch at every branch point met by one kept branch only, adding the new branches to ``kept`` (repeated
    for them). Returns ``{(branch, slot): SwitchStatus code}`` of the switches made."""
    switched: dict = {}
    while len(kept) < max_branches:
        todo = [r["members"][0] for r in collect(kept, scale) if r["kind"] == SpecialKind.BRANCH_POINT
                and len({i for i, _ in r["members"]}) == 1 and not any(m in switched for m in r["members"])][:size]
        if not todo:
            break
        u_bp = np.array([np.append(kept[i].special.h[s], kept[i].special.p[s]) for i, s in todo])
        t_old = np.array([old_direction(kept[i], s) for i, s in todo])
        result = run(u_bp, t_old, np.ones(len(todo), bool))
        switched.update({at: int(status) for at, status in zip(todo, result[1])})
        add(kept, result, scale, max_branches)
    return switched


def discover(problem, param: Param, values: np.ndarray, seeds, lo, hi, hyperbolic_tol) -> np.ndarray:
    """Equilibria (K, d+1) as ``(h, p)`` rows at each parameter value (one compiled fixed-point search)."""
    found = []
    for p in values:
        fp = find_fixed_points(param.set(problem.params, jnp.asarray(p)), f=problem.f, seeds=seeds,
                               box=(lo, hi), hyperbolic_tol=hyperbolic_tol).trim()
        found += [np.append(np.asarray(h), p) for h in np.asarray(fp.h)]
    return np.array(found, float).reshape(-1, seeds.shape[1] + 1)


def add(kept: list[Branch], result, scale: np.ndarray, max_branches: int) -> None:
    """Keep the new curves of a batch (``run_lanes`` output), longest first."""
    branches, status, start = result
    for i in np.argsort(-np.asarray(branches.count), kind="stable"):
        if status[i] != SwitchStatus.SWITCHED or int(branches.count[i]) < 2 or len(kept) >= max_branches:
            continue
        one = jax.tree_util.tree_map(lambda x: x[i], branches).trim()
        one = once_around(jax.tree_util.tree_map(np.asarray, one), int(start[i]))
        if is_new(one, kept, scale):
            kept.append(one)
