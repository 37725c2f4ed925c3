"""``sweep``: run an analysis over a grid of 1-3 parameters, or over an ensemble of parameter sets, in chunks.

The contract with analyses (``gru_jax.sweeps._analyses`` holds the built-in ones, e.g. ``gj.census``):

- An analysis is a callable ``analysis(params) -> dict[str, jax.Array]``. ``params`` is a params pytree (e.g. a
  ``GRUParams``) with ONE leading batch axis of size ``B``; every output has leading axis ``B`` and a fixed
  trailing shape (any dtype). Pure JAX and jit-able: it is traced once and compiled once per sweep.
- It may carry a ``name`` attribute (str), recorded in the result and the checkpoint manifest; otherwise its
  ``__name__`` is used. ``sweep`` gets the output shapes with ``jax.eval_shape`` before compiling.

Execution: the sweep's ``total`` parameter sets are cut into chunks of ``chunk`` sets; each chunk runs as one
call of the jitted analysis on ``chunk`` rows rounded up to a multiple of the device count (the short last
chunk is padded by repeating its last row, so one program compiles; padding rows are dropped). A grid chunk's
params are built inside the program from flat indices into the grid (the full batch of params never exists).
Each chunk's batch axis is sharded over ``devices`` (default ``jax.local_devices()``) with a ``NamedSharding``
on a 1-D mesh. Memory stays bounded by one chunk on the device plus the outputs on the host.

Checkpoints: with ``checkpoint=DIR``, ``DIR/manifest.json`` records the analysis name, a fingerprint (SHA-256)
of the grid values and base (or the ensemble), the chunk size and the output shapes/dtypes; each finished
chunk is written atomically (temporary file + ``os.replace``) to ``DIR/chunk-<k>.npz``. Rerunning with the
same inputs skips the finished chunks (a killed run loses nothing but the chunks in flight); another sweep in
the same directory raises ``ValueError`` before anything compiles. The result is assembled from the files.
The device count does not enter the manifest: a checkpoint resumes on another machine with the same chunk.

Multi-host recipe (every host sees the same shared file system and runs the same script)::

    # sweep_hosts.py -- run on each of N hosts, e.g. under SLURM: srun -N 4 python sweep_hosts.py
    import jax
    jax.distributed.initialize()          # or (coordinator_address="host0:1234", num_processes=N, process_id=i)
    import jax.numpy as jnp, gru_jax as gj

    base = gj.GRUParams.from_dict({"Uh": [[3.0, 0.6], [-0.5, 1.0]]})
    values = jnp.linspace(-3, 3, 2000)
    res = gj.sweep(gj.census, grid={"bh[0]": values, "bh[1]": values}, base=base, chunk=65536,
                checkpoint="/shared/runs/bh-grid")   # required with several processes
    if jax.process_index() == 0:
        res.save("/shared/runs/bh-grid.npz")

Process ``i`` of ``n`` (``jax.process_index()``/``jax.process_count()``, or ``hosts=(i, n)``) computes the chunks
``k = i, i + n, i + 2n, ...`` on its local devices, writes them to the shared checkpoint, then waits for the other
processes' chunk files and assembles the whole result. A host that dies can be restarted: it resumes."""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from pathlib import Path
from typing import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ..core._param import Param
from . import _checkpoint as ckpt
from ._result import SweepResult

MAX_AXES = 3
CPU_CHUNK, ACCELERATOR_CHUNK = 4096, 65536  # default parameter sets per call
POLL_S = 1.0  # how often a multi-host run looks for the other hosts' chunk files


@dataclasses.dataclass(frozen=True)
class Plan:
    """What to sweep. ``kind``: ``"grid"`` or ``"ensemble"``; ``axes``: label -> 1-D values; ``shape``: the
    result's leading shape; grids carry ``params`` (lenses) and ``base``; ensembles carry ``members`` (host
    arrays with leading axis N)."""

    kind: str
    axes: dict
    shape: tuple
    params: tuple = ()
    base: object = None
    members: object = None

    @property
    def total(self) -> int:
        return int(np.prod(self.shape))

    def fingerprint(self) -> str:
        if self.kind == "grid":
            return ckpt.fingerprint(list(self.axes), list(self.axes.values()), self.base)
        return ckpt.fingerprint(self.members)

    def rows(self, start: int, stop: int, size: int) -> np.ndarray:
        """Row indices (size,) of a call: ``start .. stop-1``, padded with ``stop-1``."""
        return np.minimum(np.arange(start, start + size, dtype=index_dtype()), stop - 1)


def sweep(analysis: Callable, *, grid: Mapping | None = None, ensemble=None, base=None, chunk: int | None = None,
          checkpoint=None, progress: bool = True, devices: Sequence | None = None,
          hosts: tuple[int, int] | None = None) -> SweepResult:
    """Run ``analysis`` (see the module docstring) on every point of ``grid`` or every member of ``ensemble``.

    grid: ``{label: values (n_i,)}``, 1-3 entries, labels like ``"bh[0]"`` (``Param.from_label``) set in ``base`` (one
    parameter set); the points are the outer product, in the order given. ensemble: a params pytree with one leading
    batch axis N. chunk: parameter sets per call (default 4096 on a CPU, 65536 on an accelerator, at most the total).
    checkpoint: a directory to write chunks to and resume from. progress: a tqdm bar with ETA on stderr. devices: the
    devices to shard each chunk over (default all local ones). hosts: ``(index, count)`` of this process in a
    multi-host run (default from ``jax.distributed``).

    Returns a ``SweepResult`` with ``values[name]`` of shape ``grid shape + trailing`` (or ``(N,) + trailing``). Raises
    ``ValueError`` for bad input or a checkpoint of another sweep, before anything compiles."""
    name = analysis_name(analysis)
    plan = make_plan(grid, ensemble, base)
    chunk = check_chunk(chunk, plan.total, devices)
    mesh = make_mesh(devices)
    index, count = check_hosts(hosts, checkpoint)
    size = -(-chunk // mesh.size) * mesh.size
    step, outputs = make_step(analysis, plan, mesh, size)
    n_chunks = -(-plan.total // chunk)
    if checkpoint is None:
        sink = MemorySink(plan.total, outputs)
        with _progress(progress, plan.total, name) as bar:
            run_chunks(step, plan, range(n_chunks), chunk, size, sink.put, bar)
        values = sink.values
    else:
        directory = Path(checkpoint)
        done = set(ckpt.open_checkpoint(directory, make_manifest(name, plan, chunk, n_chunks, outputs)))
        todo = [k for k in range(index, n_chunks, count) if k not in done]
        put = lambda k, start, arrays: ckpt.write_chunk(directory, k, arrays)
        initial = sum(_chunk_rows(k, chunk, plan.total) for k in done)
        with _progress(progress, plan.total, name, initial) as bar:
            run_chunks(step, plan, todo, chunk, size, put, bar)
            wait_for_chunks(directory, n_chunks, chunk, plan.total, bar)
        values = assemble(directory, n_chunks, chunk, plan.total, outputs)
    values = {k: v.reshape(plan.shape + v.shape[1:]) for k, v in values.items()}
    return SweepResult(values, plan.axes, kind=plan.kind, analysis=name)


# ---- input checks ---------------------------------------------------------------------------------------

def make_plan(grid, ensemble, base) -> Plan:
    """Check the sweep's inputs and describe it. Raises ``ValueError``."""
    if (grid is None) == (ensemble is None):
        raise ValueError("sweep: give exactly one of grid= (parameter values around base=) or ensemble= "
                         "(a batch of parameter sets).")
    if grid is not None:
        return _grid_plan(grid, base)
    if base is not None:
        raise ValueError("sweep: base= goes with grid=; an ensemble holds whole parameter sets.")
    return _ensemble_plan(ensemble)


def _grid_plan(grid, base) -> Plan:
    if not isinstance(grid, Mapping) or not 1 <= len(grid) <= MAX_AXES:
        raise ValueError(f"sweep: grid must be a dict of 1 to {MAX_AXES} entries label -> values, got "
                         f"{len(grid) if isinstance(grid, Mapping) else type(grid).__name__}.")
    if base is None:
        raise ValueError("sweep: grid= needs base=, the parameter set whose entries the grid varies.")
    _check_tree("sweep: base", base)
    axes, params = {}, []
    for label, values in grid.items():
        if not isinstance(label, str):
            raise ValueError(f"sweep: grid labels are strings like 'bh[0]', got {label!r}.")
        param = Param.from_label(label).validate(base)
        if param.label in axes:
            raise ValueError(f"sweep: grid names {param.label} twice.")
        axes[param.label] = _axis_values(param.label, values)
        params.append(param)
    shape = tuple(len(v) for v in axes.values())
    return Plan("grid", axes, shape, params=tuple(params), base=base)


def _axis_values(label: str, values) -> np.ndarray:
    a = np.asarray(values)
    if a.dtype.kind not in "biuf":
        raise ValueError(f"sweep: grid values of {label} must be numbers, got dtype {a.dtype}.")
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"sweep: grid values of {label} must be a non-empty 1-D array, got shape {a.shape}.")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"sweep: grid values of {label} hold {int(np.sum(~np.isfinite(a)))} non-finite value(s).")
    return a.astype(jnp.result_type(float))


def _ensemble_plan(ensemble) -> Plan:
    _check_tree("sweep: ensemble", ensemble)
    leaves = jax.tree_util.tree_leaves(ensemble)
    if not leaves or any(np.ndim(a) == 0 for a in leaves):
        raise ValueError("sweep: ensemble must be a params pytree whose array leaves share a leading batch axis.")
    sizes = {np.shape(a)[0] for a in leaves}
    if len(sizes) != 1 or 0 in sizes:
        raise ValueError(f"sweep: ensemble leaves must share one non-empty leading batch axis, got sizes "
                         f"{sorted(sizes)}.")
    n = sizes.pop()
    return Plan("ensemble", {"member": np.arange(n)}, (n,), members=jax.tree_util.tree_map(np.asarray, ensemble))


def _check_tree(what: str, tree) -> None:
    if hasattr(tree, "validate"):
        tree.validate()
    for leaf in jax.tree_util.tree_leaves(tree):
        a = np.asarray(leaf)
        if a.dtype.kind not in "biufc":
            raise ValueError(f"{what}: leaves must be numeric arrays, got dtype {a.dtype}.")
        if a.dtype.kind in "fc" and not np.all(np.isfinite(a)):
            raise ValueError(f"{what}: {int(np.sum(~np.isfinite(a)))} non-finite value(s) (NaN or inf).")


def check_chunk(chunk, total: int, devices) -> int:
    """The chunk size: ``chunk`` if a positive int, else the backend's default; at most ``total``."""
    if chunk is None:
        platform = (devices[0] if devices else jax.local_devices()[0]).platform
        chunk = CPU_CHUNK if platform == "cpu" else ACCELERATOR_CHUNK
    elif isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk <= 0:
        raise ValueError(f"sweep: chunk must be a positive int (parameter sets per call), got {chunk!r}.")
    return int(min(chunk, total))


def make_mesh(devices) -> Mesh:
    """A 1-D mesh (axis ``"batch"``) over ``devices`` (default: all local devices)."""
    devices = jax.local_devices() if devices is None else list(devices)
    if not devices or not all(isinstance(d, jax.Device) for d in devices):
        raise ValueError(f"sweep: devices must be a non-empty list of jax devices, got {devices!r}.")
    return Mesh(np.asarray(devices), ("batch",))


def check_hosts(hosts, checkpoint) -> tuple[int, int]:
    """``(index, count)`` of this process; several processes need a (shared) checkpoint directory."""
    index, count = (jax.process_index(), jax.process_count()) if hosts is None else hosts
    if not (isinstance(index, int) and isinstance(count, int) and 0 <= index < count):
        raise ValueError(f"sweep: hosts must be (index, count) with 0 <= index < count, got {hosts!r}.")
    if count > 1 and checkpoint is None:
        raise ValueError(f"sweep: a run over {count} processes needs checkpoint= (a directory all of them share).")
    return index, count


def analysis_name(analysis) -> str:
    """The analysis's ``name`` attribute, else its ``__name__``, else its type's name."""
    if not callable(analysis):
        raise ValueError(f"sweep: analysis must be a callable params -> dict of arrays, got {analysis!r}.")
    return str(getattr(analysis, "name", None) or getattr(analysis, "__name__", None) or type(analysis).__name__)


# ---- the compiled step ----------------------------------------------------------------------------------

def make_step(analysis, plan: Plan, mesh: Mesh, size: int):
    """The sharded, jitted call ``rows (size,) -> outputs`` and the output specs ``name -> (trailing, dtype)``. Shapes
    come from ``jax.eval_shape`` (nothing compiles here); raises ``ValueError`` if the analysis does not return a dict
    of arrays with leading axis ``size``."""
    batch, replicated = NamedSharding(mesh, PartitionSpec("batch")), NamedSharding(mesh, PartitionSpec())
    grid = plan.params if plan.kind == "grid" else None
    try:
        jitted = _jitted(analysis, grid, plan.shape if grid else None, mesh)
    except TypeError:  # an unhashable analysis: compile for this sweep only
        jitted = _jitted.__wrapped__(analysis, grid, plan.shape if grid else None, mesh)
    if grid:
        consts = jax.device_put((tuple(plan.axes.values()), plan.base), replicated)
        shapes = jax.eval_shape(jitted, jax.ShapeDtypeStruct((size,), index_dtype()), *consts)
        call = lambda rows: jitted(jax.device_put(rows, batch), *consts)
    else:
        shapes = jax.eval_shape(jitted, jax.tree_util.tree_map(
            lambda a: jax.ShapeDtypeStruct((size,) + a.shape[1:], a.dtype), plan.members))
        call = lambda rows: jitted(jax.device_put(jax.tree_util.tree_map(lambda a: a[rows], plan.members), batch))
    return call, _output_specs(shapes, size)


@functools.lru_cache(maxsize=16)
def _jitted(analysis, params, shape, mesh):
    """``analysis`` jitted with its batch axis sharded over ``mesh``: on grid rows ``(rows, values, base)`` when
    ``params`` (the grid's lenses) is given, else on ensemble chunks. Cached, so that sweeps of the same
    analysis and grid shape (any values, any base) reuse one compiled program."""
    batch, replicated = NamedSharding(mesh, PartitionSpec("batch")), NamedSharding(mesh, PartitionSpec())
    if params is None:
        return jax.jit(analysis, in_shardings=batch, out_shardings=batch)
    def fn(rows, values, base):
        return analysis(grid_params(rows, values, base, params, shape))
    return jax.jit(fn, in_shardings=(batch, replicated, replicated), out_shardings=batch)


def index_dtype() -> np.dtype:
    """Flat grid indices: int64 under x64, else int32."""
    return np.dtype(jnp.result_type(int))


def grid_params(rows, values, base, params, shape):
    """Params with batch axis (B,) for flat grid indices ``rows`` (B,): ``base`` with ``params[i]`` set to
    ``values[i][j_i]``, where ``(j_0, ...)`` unravels each row in ``shape``."""
    coords = jnp.unravel_index(rows, shape)
    def one(index):
        p = base
        for param, v, j in zip(params, values, index):
            p = param.set(p, v[j])
        return p
    return jax.vmap(one)(coords)


def _output_specs(shapes, size: int) -> dict:
    if not isinstance(shapes, Mapping) or not shapes:
        raise ValueError(f"sweep: the analysis must return a non-empty dict name -> array, got "
                         f"{type(shapes).__name__}.")
    specs = {}
    for name, s in shapes.items():
        if not isinstance(name, str) or name.startswith("__"):
            raise ValueError(f"sweep: output names must be strings not starting with '__', got {name!r}.")
        if not isinstance(s, jax.ShapeDtypeStruct) or s.shape[:1] != (size,):
            raise ValueError(f"sweep: output {name!r} must be an array with leading batch axis {size}, "
                             f"got {getattr(s, 'shape', s)}.")
        specs[name] = {"shape": list(s.shape[1:]), "dtype": np.dtype(s.dtype).str}
    return specs


# ---- running and collecting -----------------------------------------------------------------------------

def run_chunks(step, plan: Plan, todo, chunk: int, size: int, put, bar) -> None:
    """Run the chunks ``todo``; ``put(k, start, arrays)`` receives each finished one (host arrays of its rows,
    padding dropped). The next chunk is dispatched before the previous one is fetched, keeping devices busy."""
    pending = None
    for k in todo:
        start, stop = k * chunk, min((k + 1) * chunk, plan.total)
        out = step(plan.rows(start, stop, size))
        if pending is not None:
            _finish(*pending, put, bar)
        pending = (k, start, stop - start, out)
    if pending is not None:
        _finish(*pending, put, bar)


def _finish(k: int, start: int, rows: int, out, put, bar) -> None:
    put(k, start, {name: np.asarray(a)[:rows] for name, a in jax.device_get(out).items()})
    bar.update(rows)


class MemorySink:
    """Outputs ``values[name]`` (total, *trailing) on the host, filled chunk by chunk."""

    def __init__(self, total: int, outputs: dict):
        self.values = {k: np.empty((total, *s["shape"]), np.dtype(s["dtype"])) for k, s in outputs.items()}

    def put(self, k: int, start: int, arrays: dict) -> None:
        for name, a in arrays.items():
            self.values[name][start:start + len(a)] = a


def make_manifest(name: str, plan: Plan, chunk: int, n_chunks: int, outputs: dict) -> dict:
    """The JSON-ready description of a sweep that a checkpoint must match to resume."""
    manifest = {"format": ckpt.FORMAT, "analysis": name, "kind": plan.kind, "axes": list(plan.axes),
                "shape": list(plan.shape), "fingerprint": plan.fingerprint(), "chunk": chunk,
                "n_chunks": n_chunks, "outputs": outputs}
    return json.loads(json.dumps(manifest))


def wait_for_chunks(directory, n_chunks: int, chunk: int, total: int, bar) -> None:
    """Block until every chunk file exists (the other processes of a multi-host run write theirs)."""
    missing = [k for k in range(n_chunks) if not ckpt.chunk_path(directory, k).exists()]
    while missing:
        time.sleep(POLL_S)
        still = [k for k in missing if not ckpt.chunk_path(directory, k).exists()]
        bar.update(sum(_chunk_rows(k, chunk, total) for k in set(missing) - set(still)))
        missing = still


def assemble(directory, n_chunks: int, chunk: int, total: int, outputs: dict) -> dict:
    """The outputs (total, *trailing) read back from the chunk files."""
    sink = MemorySink(total, outputs)
    for k in range(n_chunks):
        arrays = ckpt.read_chunk(directory, k, outputs, _chunk_rows(k, chunk, total))
        sink.put(k, k * chunk, arrays)
    return sink.values


def _chunk_rows(k: int, chunk: int, total: int) -> int:
    return min(chunk, total - k * chunk)


def _progress(enabled: bool, total: int, name: str, initial: int = 0):
    """A tqdm bar over parameter sets (rate and ETA); ``initial`` sets were done by an earlier run."""
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=f"sweep {name}", unit="set", unit_scale=True,
                disable=not enabled, dynamic_ncols=True, smoothing=0.1)
