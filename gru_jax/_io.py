"""Read and write ``GRUParams`` as ``.json`` (nested lists) or ``.npz`` (arrays), one parameter set per file. Keys are
the ``GRUParams`` fields ``Uz Ur Uh bz br bh bhn Wz Wr Wh x`` (missing ones are zero, ``d`` comes from ``Uh``) plus an
optional ``"reset"``: ``"before"`` or ``"after"`` (a 0-d string array in ``.npz``)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from .models._gru import FIELDS, GRUParams

FORMATS = (".json", ".npz")


def load_params(path) -> GRUParams:
    """Load one parameter set. Raises ``ValueError("<path>: <problem>")`` for any problem with the file."""
    path = Path(path)
    try:
        entries = _read(path)
        reset = entries.pop("reset", "before")
        if not isinstance(reset, str):
            raise ValueError(f"'reset' must be the string \"before\" or \"after\", got {reset!r}")
        unknown = sorted(set(entries) - set(FIELDS))
        if unknown:
            raise ValueError(f"unknown key(s) {unknown}; allowed keys are {list(FIELDS) + ['reset']}")
        return GRUParams.from_dict({k: _numeric(k, v) for k, v in entries.items()}, reset=reset)
    except ValueError as err:
        raise ValueError(f"{path}: {str(err).rstrip('.')}") from None


def save_params(path, params: GRUParams) -> Path:
    """Write one (unbatched) parameter set to ``path`` (``.json`` or ``.npz``); returns the path."""
    path = Path(path)
    _check_format(path)
    params.validate()
    if params.batch_shape:
        raise ValueError(f"save_params: expected one parameter set, got a batch {params.batch_shape}.")
    arrays = {k: np.asarray(getattr(params, k), dtype=float) for k in FIELDS}
    if path.suffix == ".json":
        path.write_text(json.dumps({**{k: a.tolist() for k, a in arrays.items()}, "reset": params.reset}))
    else:
        with path.open("wb") as fh:  # an open file keeps numpy from appending a second ".npz"
            np.savez(fh, **arrays, reset=np.array(params.reset))
    return path


def _check_format(path: Path) -> None:
    if path.suffix not in FORMATS:
        raise ValueError(f"unknown extension {path.suffix or '(none)'!r}; expected one of {list(FORMATS)}")


def _read(path: Path) -> dict:
    """The raw entries of a file: a dict of key -> nested lists / arrays / strings."""
    _check_format(path)
    try:
        if path.suffix == ".json":
            entries = json.loads(path.read_text())
        else:
            with np.load(path, allow_pickle=False) as data:
                entries = {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise ValueError("no such file") from None
    except IsADirectoryError:
        raise ValueError("is a directory, not a file") from None
    except OSError as err:
        raise ValueError(f"cannot read the file ({err.strerror or err})") from None
    except UnicodeDecodeError:
        raise ValueError("not a text file (expected UTF-8 JSON)") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}") from None
    except (ValueError, zipfile.BadZipFile, EOFError):
        raise ValueError("not a valid .npz archive of numeric arrays (as written by numpy.savez)") from None
    if not isinstance(entries, dict):
        raise ValueError(f"expected a JSON object of arrays, got a {type(entries).__name__}")
    reset = entries.get("reset")
    if isinstance(reset, np.ndarray) and reset.ndim == 0 and reset.dtype.kind in "US":
        entries["reset"] = str(reset[()])
    return entries


def _numeric(key: str, value) -> np.ndarray:
    if isinstance(value, str) or (isinstance(value, np.ndarray) and value.dtype.kind not in "biuf"):
        raise ValueError(f"{key!r}: expected an array of numbers")
    try:
        return np.asarray(value, dtype=float)
    except (ValueError, TypeError):
        raise ValueError(f"{key!r}: expected an array of numbers (a number or equal-length nested lists)") from None
