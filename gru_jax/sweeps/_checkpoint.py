"""A checkpoint directory of a sweep: ``manifest.json`` plus one ``chunk-<k>.npz`` per finished chunk.

Every file is written to a temporary name in the same directory, flushed to disk, then moved into place with
``os.replace`` (atomic on POSIX): a chunk file that exists is complete, whenever the writer was killed."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path

import jax
import numpy as np

FORMAT = 1
MANIFEST = "manifest.json"


def fingerprint(*trees) -> str:
    """SHA-256 of the structure, shapes, dtypes and bytes of every leaf of ``trees`` (hex)."""
    digest = hashlib.sha256()
    for tree in trees:
        leaves, treedef = jax.tree_util.tree_flatten(tree)
        digest.update(str(treedef).encode())
        for leaf in leaves:
            a = np.ascontiguousarray(np.asarray(leaf))
            digest.update(f"{a.dtype.str}{a.shape}".encode())
            digest.update(a.tobytes())
    return digest.hexdigest()


def chunk_path(directory: Path, k: int) -> Path:
    return directory / f"chunk-{k:06d}.npz"


def open_checkpoint(directory, manifest: dict) -> list[int]:
    """Create ``directory`` with ``manifest``, or check an existing manifest equals it; returns the finished
    chunk indices. Raises ``ValueError`` naming the differing entries when the directory holds another sweep."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"checkpoint {directory}: exists and is not a directory.")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / MANIFEST
    if path.exists():
        try:
            stored = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(f"checkpoint {directory}: unreadable {MANIFEST} ({err}).") from None
        differ = sorted(k for k in set(stored) | set(manifest) if stored.get(k) != manifest.get(k))
        if differ:
            raise ValueError(f"checkpoint {directory} holds a different sweep (differs in: {', '.join(differ)}); "
                             "use another directory or delete this one.")
    else:
        atomic_write(path, lambda fh: fh.write(json.dumps(manifest, indent=1).encode()))
    return [k for k in range(manifest["n_chunks"]) if chunk_path(directory, k).exists()]


def write_chunk(directory: Path, k: int, arrays: dict[str, np.ndarray]) -> None:
    """Store chunk ``k`` (every output with the chunk's rows leading) atomically."""
    atomic_write(chunk_path(directory, k), lambda fh: np.savez(fh, **arrays))


def read_chunk(directory: Path, k: int, outputs: dict, rows: int) -> dict[str, np.ndarray]:
    """Load chunk ``k``, checking its outputs' names, shapes (``rows`` leading) and dtypes against ``outputs``
    (name -> ``{"shape", "dtype"}``). Raises ``ValueError`` for a damaged or foreign file."""
    path = chunk_path(directory, k)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in outputs}
    except (OSError, KeyError, ValueError) as err:
        raise ValueError(f"checkpoint {directory}: damaged chunk file {path.name} ({err}); "
                         "delete it to recompute.") from None
    for name, spec in outputs.items():
        if arrays[name].shape != (rows, *spec["shape"]) or arrays[name].dtype.str != spec["dtype"]:
            raise ValueError(f"checkpoint {directory}: chunk file {path.name} has {name!r} of shape "
                             f"{arrays[name].shape} {arrays[name].dtype}, expected ({rows}, *{spec['shape']}) "
                             f"{spec['dtype']}; delete it to recompute.")
    return arrays


def atomic_write(path: Path, write) -> None:
    """Call ``write(fh)`` on a temporary file next to ``path``, sync it, and move it onto ``path``."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")  # unique across hosts, processes, threads
    try:
        with tmp.open("wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
