"""One base for every result: ``trim``, ``labels``, ``to_dict``, ``to_numpy``, ``save``/``load`` and a table
``__repr__``, and one ``join`` of two half-branches of opposite directions. A result is an ``eqx.Module`` (``Result``)
or a dataclass / plain class (``ResultMixin``) declaring with class attributes (not fields): ``_rows`` the per-row
fields (first axis after any batch axes: one entry per row; with a ``count`` field the first ``count`` rows are used,
the rest is NaN / -1 padding; a nested module such as ``LimitCycles.cycles`` is cut leaf by leaf); ``_kinds`` the
``IntEnum`` of the ``kind`` column (``labels``, ``of_kind``); ``_batch_field`` for results without ``count``, a field
whose shape is the batch shape (``"p"`` of a ``SpecialPoint``); ``_fields`` for a plain class only, its constructor's
keyword arguments, read back as attributes; ``_join_overlap``, ``_join_backward``, ``_join_forward``: see ``join``.
Nested results (also in lists / tuples / dicts) are trimmed, converted, saved and loaded with their parent."""

from __future__ import annotations

import dataclasses
import json
import os
import uuid
from pathlib import Path
from typing import Any, Callable, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._param import Param

FORMAT = 1
META = "__result__"         # the npz entry that describes the saved tree (JSON)
REPR_ROWS = 6               # rows shown by the table ``__repr__``

_REGISTRY: dict[str, list[type]] = {}


def require_single(count, what: str) -> None:
    """``ValueError`` if ``count`` has batch axes: ``what`` (e.g. ``"Branch.trim"``) needs one result."""
    if np.ndim(count):
        raise ValueError(f"{what}: this result holds a batch {np.shape(count)}; index one result first, e.g. "
                         f"jax.tree_util.tree_map(lambda a: a[0], result).")


class ResultMixin:
    """The shared methods of all results (see the module docstring for the class attributes they read)."""

    _rows: ClassVar[tuple[str, ...]] = ()
    _kinds: ClassVar[Any] = None
    _batch_field: ClassVar[str | None] = None
    _fields: ClassVar[tuple[str, ...]] = ()
    _join_overlap: ClassVar[int] = 1
    _join_backward: ClassVar[dict[str, Callable]] = {}
    _join_forward: ClassVar[dict[str, Callable]] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _REGISTRY.setdefault(cls.__name__, []).append(cls)

    # ---- structure ------------------------------------------------------------------------------------------
    @classmethod
    def _field_names(cls) -> tuple[str, ...]:
        if dataclasses.is_dataclass(cls):
            return tuple(f.name for f in dataclasses.fields(cls))
        return tuple(cls._fields)

    def _has_count(self) -> bool:
        return "count" in self._field_names()

    def _batch_shape(self) -> tuple[int, ...]:
        """The batch shape: that of ``count``, or of ``_batch_field``; ``()`` for one result."""
        name = "count" if self._has_count() else self._batch_field
        return () if name is None else tuple(np.shape(getattr(self, name)))

    def _require_single(self, what: str) -> None:
        require_single(np.empty(self._batch_shape()), f"{type(self).__name__}.{what}")

    def _n_rows(self) -> int | None:
        """Rows in the buffers (one result), or ``None`` without per-row fields."""
        leaves = [x for name in self._rows for x in jax.tree_util.tree_leaves(getattr(self, name))]
        return int(np.shape(leaves[0])[len(self._batch_shape())]) if leaves else None

    def _replace(self, **changes):
        if dataclasses.is_dataclass(self):
            return dataclasses.replace(self, **changes)
        return type(self)(**{k: changes.get(k, getattr(self, k)) for k in self._field_names()})

    # ---- trim, labels ---------------------------------------------------------------------------------------
    def trim(self):
        """Drop the padding: the per-row fields cut to the first ``count`` rows, nested results trimmed (one result
        only: a batch raises ``ValueError``). A result without ``count`` has no padding of its own."""
        changes = {}
        if self._has_count():
            self._require_single("trim")
            k = int(self.count)
            changes = {name: jax.tree_util.tree_map(lambda a: a[:k], getattr(self, name)) for name in self._rows}
        changes.update({name: getattr(self, name).trim() for name in self._field_names()
                        if name not in changes and isinstance(getattr(self, name), ResultMixin)})
        return self._replace(**changes) if changes else self

    def _used_kinds(self, what: str) -> np.ndarray:
        if self._kinds is None:
            raise TypeError(f"{type(self).__name__}.{what}: this result has no kind column.")
        self._require_single(what)
        kinds = np.asarray(self.kind)
        return kinds[: int(self.count)] if self._has_count() else kinds

    def labels(self) -> list[str]:
        """Labels of the used rows' ``kind`` codes (e.g. ``"fold"``); without a kind column, of its ``special``."""
        if self._kinds is None and isinstance(getattr(self, "special", None), ResultMixin):
            return self.special.labels()
        return [self._kinds(int(k)).label for k in self._used_kinds("labels")]

    def of_kind(self, kind) -> np.ndarray:
        """Row indices (one result) of the used rows of one kind."""
        return np.flatnonzero(self._used_kinds("of_kind") == int(kind))

    # ---- conversion ----------------------------------------------------------------------------------------
    def to_numpy(self) -> dict[str, np.ndarray]:
        """Every array field as a numpy array (padding kept), keyed by field name; nested results' fields under dotted
        keys (``"special.kind"``, ``"branches.0.h"``). Python values (names, settings) are left out."""
        arrays: dict[str, np.ndarray] = {}
        _encode(self, "", arrays)
        return arrays

    def to_dict(self) -> dict:
        """A nested dict: used rows (a batch kept whole) as numpy arrays, nested results as dicts, the rest as is."""
        r = self.trim() if self._has_count() and not self._batch_shape() else self
        return {name: _plain(getattr(r, name)) for name in r._field_names()}

    # ---- files ----------------------------------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write to ``path`` (an ``.npz`` file, no pickles; the name is used as given); read it back with ``load``.
        Everything is converted before the file is opened, and the file appears only once written completely; an
        unwritable path raises ``OSError`` naming it. Returns the path."""
        path = Path(path)
        what = f"{type(self).__name__}.save"
        arrays: dict[str, np.ndarray] = {}
        meta = np.asarray(json.dumps({"format": FORMAT, "class": type(self).__name__,
                                      "tree": _encode(self, "", arrays)}))
        parent = path.parent
        if path.is_dir():
            raise IsADirectoryError(f"{what}: cannot write {path}: it is a directory.")
        if not parent.is_dir():
            raise FileNotFoundError(f"{what}: cannot write {path}: the directory {parent} does not exist.")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise PermissionError(f"{what}: cannot write {path}: the directory {parent} is not writable.")
        tmp = parent / f".{path.name}.{uuid.uuid4().hex[:12]}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            with os.fdopen(fd, "wb") as fh:    # an open file keeps numpy from appending a second ".npz"
                np.savez(fh, **{META: meta}, **arrays)
            os.replace(tmp, path)
        except BaseException as err:
            tmp.unlink(missing_ok=True)
            if isinstance(err, OSError):
                raise type(err)(f"{what}: cannot write {path}: {err.strerror or err}.") from err
            raise
        return path

    @classmethod
    def load(cls, path):
        """Read a result written by ``save`` (arrays, dtypes, nested results and names exactly as saved). ``ValueError``
        if the file holds something else; ``FileNotFoundError`` if there is none."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{cls.__name__}.load: no file {path}.")
        try:
            data = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as err:
            raise cls._not_saved(path, err) from None
        if not hasattr(data, "files"):
            raise cls._not_saved(path, "a single .npy array")
        with data:
            if META not in data.files:
                return cls._load_legacy(data, path)
            try:
                out = _decode(json.loads(str(data[META][()]))["tree"], data)
            except (KeyError, ValueError, TypeError) as err:
                raise cls._not_saved(path, err) from None
        if not isinstance(out, cls):
            raise cls._not_saved(path, f"it holds a {type(out).__name__}")
        return out

    @classmethod
    def _not_saved(cls, path, reason) -> ValueError:
        return ValueError(f"{path}: not a saved {cls.__name__} result ({reason}).")

    @classmethod
    def _load_legacy(cls, data, path):
        """A file without ``__result__``: one array per field (``FixedPoints`` files written before this format)."""
        names = cls._field_names()
        missing = sorted(set(names) - set(data.files))
        if missing:
            raise cls._not_saved(path, f"missing {missing}")
        convert = jnp.asarray if issubclass(cls, eqx.Module) else np.asarray
        return cls(**{name: convert(data[name]) for name in names})

    # ---- repr -----------------------------------------------------------------------------------------------
    def __repr__(self) -> str:
        batch = self._batch_shape()
        return self._repr_batch(batch) if batch else self._repr_one()

    def _repr_batch(self, batch: tuple[int, ...]) -> str:
        name = type(self).__name__
        if self._has_count() and self._rows:
            c = np.asarray(self.count)
            return f"{name}(batch {batch}, {self._n_rows()} rows each, count min {c.min()} / max {c.max()})"
        return f"{name}(batch {batch})"

    def _repr_one(self) -> str:
        """A header (class name, rows used, scalar fields) and a table of the first rows."""
        names = self._field_names()
        rows = [r for r in self._rows if r in names]
        n = self._n_rows()
        k = int(self.count) if self._has_count() else n
        scalars, others, nested = [], [], []
        for name in names:
            value = getattr(self, name)
            if name in rows or name == "count":
                continue
            if isinstance(value, ResultMixin):
                nested.append(value)
            elif isinstance(value, (str, int, float, bool)) or (_is_array(value) and np.ndim(value) == 0):
                scalars.append(f"{name}={_cell(value)}")
            elif _is_array(value):
                others.append(f"  {name} {np.shape(value)}: {_cell(value)}")
        head = f"{type(self).__name__}:"
        if n is not None:
            head += f" {k} of {n} rows" if self._has_count() else f" {k} rows"
        if scalars:
            head += ("; " if n is not None else " ") + ", ".join(scalars)
        lines = [head] + others
        if rows and k:
            table = [["#"] + rows] + [[str(i)] + [_cell(jax.tree_util.tree_leaves(getattr(self, r))[0][i])
                                                  for r in rows] for i in range(min(k, REPR_ROWS))]
            widths = [max(len(line[j]) for line in table) for j in range(len(table[0]))]
            lines += ["  " + "  ".join(c.rjust(w) if j == 0 else c.ljust(w) for j, (c, w) in
                                        enumerate(zip(line, widths))).rstrip() for line in table]
            if k > REPR_ROWS:
                lines.append(f"  ... {k - REPR_ROWS} more")
        lines += ["  " + repr(r).replace("\n", "\n  ") for r in nested]
        return "\n".join(lines)


class Result(ResultMixin, eqx.Module):
    """Base of the ``eqx.Module`` results (see ``ResultMixin``)."""


# ---- join -------------------------------------------------------------------------------------------------
def join(backward, forward):
    """One result from two continuations of the same start in opposite directions: ``backward``'s used rows reversed,
    then ``forward``'s without the start row they share (``_join_overlap = 1``; ``0`` for slot buffers such as special
    points, which share none). Buffers of ``Nb`` and ``Nf`` rows give ``Nb + Nf - overlap`` rows, the first ``count``
    used (``count = 0`` when ``backward`` has none), the rest padding (NaN / -1). Per class, ``_join_backward[name](a,
    offset)`` / ``_join_forward[name](a, offset)`` transform a field's backward / forward rows before the merge (e.g.
    tangents flip sign; ``offset``: the parent's backward ``count`` for a nested buffer, whose special points re-index
    their rows, else ``None``). ``status`` takes the two far ends, ``n_detected`` is summed, nested buffers with a
    ``count`` are joined alike, static fields come from ``forward``. Pure ``jax.numpy``: jit and vmap freely."""
    return _join(backward, forward, None)


_COMBINE = {"status": lambda b, f: jnp.stack([b[1], f[1]]),             # the two far ends
            "n_detected": lambda b, f: (b + f).astype(jnp.int32)}


def _join(backward, forward, offset):
    cls = type(forward)
    if type(backward) is not cls:
        raise TypeError(f"join: both halves must be of one type, got {type(backward).__name__} and {cls.__name__}.")
    cb, cf = jnp.asarray(backward.count), jnp.asarray(forward.count)
    overlap = cls._join_overlap
    nb, nf = backward._n_rows(), forward._n_rows()
    idx = jnp.arange(max(nb + nf - overlap, 0))
    back = idx < cb
    src_b = jnp.clip(cb - 1 - idx, 0, max(nb - 1, 0))
    src_f = jnp.clip(idx - cb + overlap, 0, max(nf - 1, 0))
    count = (jnp.where(cb > 0, cb + cf - 1, 0) if overlap else cb + cf).astype(jnp.int32)
    used = idx < count

    def merge(a, c):
        col = lambda m: m.reshape(m.shape + (1,) * (a.ndim - 1))
        pick = jnp.where(col(back), _take(a, src_b), _take(c, src_f))
        pad = jnp.nan if jnp.issubdtype(a.dtype, jnp.inexact) else (False if a.dtype == bool else -1)
        return jnp.where(col(used), pick, pad)

    identity = lambda a, n: a
    out = {}
    for name in cls._field_names():
        b, f = getattr(backward, name), getattr(forward, name)
        if name == "count":
            out[name] = count
        elif name in cls._rows:
            b = cls._join_backward.get(name, identity)(b, offset)
            f = cls._join_forward.get(name, identity)(f, offset)
            out[name] = jax.tree_util.tree_map(merge, b, f)
        elif isinstance(f, ResultMixin) and f._has_count():
            out[name] = _join(b, f, cb)
        elif name in _COMBINE:
            out[name] = _COMBINE[name](b, f)
        elif _is_array(f) or isinstance(f, ResultMixin):
            raise TypeError(f"join: {cls.__name__}.{name} is neither a row field nor has a join rule.")
    return forward._replace(**out)


def _take(a, src):
    if a.shape[0] == 0:
        return jnp.zeros(src.shape + a.shape[1:], a.dtype)
    return a[src]


# ---- encoding for files and dicts ---------------------------------------------------------------------------
def _is_array(x) -> bool:
    return isinstance(x, (np.ndarray, np.generic, jax.Array))


def _plain(value):
    """``to_dict`` of one field value."""
    if isinstance(value, ResultMixin):
        return value.to_dict()
    if _is_array(value):
        return np.asarray(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _cell(value) -> str:
    """A value for the table ``__repr__``: a number, or the first entries of an array."""
    a = np.asarray(value)
    if a.ndim == 0:
        return _scalar(a[()])
    flat = a.ravel()
    return "[" + " ".join(_scalar(v) for v in flat[:4]) + (" ...]" if flat.size > 4 else "]")


def _scalar(x) -> str:
    if isinstance(x, (complex, np.complexfloating)):
        return f"{x.real:+.6g}{x.imag:+.6g}j"
    if isinstance(x, (float, np.floating)):
        return f"{x:+.6g}"
    return str(x)


def _key(prefix: str, name, index: int) -> str:
    name = str(name)
    safe = name and all(c.isalnum() or c in "_[],-" for c in name)
    return f"{prefix}{name if safe else index}"


def _encode(value, key: str, arrays: dict):
    """The JSON description of ``value``; its arrays go into ``arrays`` under dotted keys from ``key``."""
    prefix = f"{key}." if key else ""
    if isinstance(value, ResultMixin):
        return {"result": type(value).__name__,
                "fields": {name: _encode(getattr(value, name), _key(prefix, name, i), arrays)
                           for i, name in enumerate(value._field_names())}}
    if _is_array(value):
        a = np.asarray(value)
        if a.dtype.kind not in "biufcSU":
            raise TypeError(f"save: cannot store {key!r} of dtype {a.dtype} without pickles.")
        while key in arrays:
            key += "_"
        arrays[key] = a
        return {"array": key, "jax": isinstance(value, jax.Array), "scalar": isinstance(value, np.generic)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"value": value}
    if isinstance(value, (list, tuple)):
        return {"list" if isinstance(value, list) else "tuple":
                [_encode(v, f"{prefix}{i}", arrays) for i, v in enumerate(value)]}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError(f"save: {key!r} has non-str keys.")
        return {"dict": [[k, _encode(v, _key(prefix, k, i), arrays)] for i, (k, v) in enumerate(value.items())]}
    if isinstance(value, Param):
        return {"param": [value.field, *value.index]}
    raise TypeError(f"save: cannot store {key!r} of type {type(value).__name__}.")


def _decode(node: dict, data):
    if "result" in node:
        return _result_class(node["result"])(**{name: _decode(v, data) for name, v in node["fields"].items()})
    if "array" in node:
        a = data[node["array"]]
        return jnp.asarray(a) if node.get("jax") else (a[()] if node.get("scalar") else a)
    if "value" in node:
        return node["value"]
    if "list" in node:
        return [_decode(v, data) for v in node["list"]]
    if "tuple" in node:
        return tuple(_decode(v, data) for v in node["tuple"])
    if "dict" in node:
        return {k: _decode(v, data) for k, v in node["dict"]}
    if "param" in node:
        return Param(*node["param"])
    raise ValueError(f"unknown entry {node!r}")


def _result_class(name: str) -> type:
    classes = _REGISTRY.get(name, [])
    if len(classes) != 1:
        raise ValueError(f"no unique result class {name!r} ({len(classes)} known)")
    return classes[0]
