"""``SweepResult``: the outputs of a sweep on its axes, with ``.npz`` save/load, xarray/pandas views and plots."""

from __future__ import annotations

import json

import numpy as np

from ..core._result import ResultMixin

FORMAT = 1    # of the files written before ``ResultMixin.save`` (still read by ``load``)


class SweepResult(ResultMixin):
    """Outputs of ``sweep``: ``values[name]`` has shape ``shape + trailing`` where ``shape`` is the grid shape
    (one entry per axis, in the order of ``axes``) or ``(N,)`` for an ensemble (axis ``"member"``).

    ``axes``: label -> 1-D values, ordered; ``kind``: ``"grid"`` or ``"ensemble"``; ``analysis``: its name. ``save`` /
    ``load``: an ``.npz`` file (no pickles)."""

    _fields = ("values", "axes", "kind", "analysis")

    def __init__(self, values: dict, axes: dict, *, kind: str, analysis: str):
        self.axes = {str(k): np.asarray(v) for k, v in axes.items()}
        self.values = {str(k): np.asarray(v) for k, v in values.items()}
        self.kind, self.analysis = kind, analysis
        shape = self.shape
        for name, value in self.values.items():
            if value.shape[: len(shape)] != shape:
                raise ValueError(f"SweepResult: {name!r} has shape {value.shape}, expected {shape} + trailing.")

    @property
    def shape(self) -> tuple[int, ...]:
        """The sweep's shape: one entry per axis."""
        return tuple(len(v) for v in self.axes.values())

    def _repr_one(self) -> str:
        axes = ", ".join(f"{k}: {len(v)} in [{_num(v.min())}, {_num(v.max())}]" for k, v in self.axes.items())
        rows = [f"SweepResult({self.kind} of {self.analysis!r}, shape {self.shape}; {axes})"]
        for name, value in self.values.items():
            summary = (f"min {_num(value.min())}, max {_num(value.max())}"
                       if value.size and value.dtype.kind in "biuf" else "")
            rows.append(f"  {name}: {value.dtype} {value.shape} {summary}".rstrip())
        return "\n".join(rows)

    # ---- files (save / load: ResultMixin) -------------------------------------------------------------
    @classmethod
    def _not_saved(cls, path, reason) -> ValueError:
        return ValueError(f"{path}: not a SweepResult file ({reason}).")

    @classmethod
    def _load_legacy(cls, data, path) -> "SweepResult":
        """A file of the format before ``ResultMixin.save`` (``meta``, ``axis<i>``, ``value<i>``)."""
        try:
            meta = json.loads(str(data["meta"][()]))
            axes = {k: data[f"axis{i}"] for i, k in enumerate(meta["axes"])}
            values = {k: data[f"value{i}"] for i, k in enumerate(meta["values"])}
        except (KeyError, ValueError, TypeError) as err:
            raise cls._not_saved(path, err) from None
        return cls(values, axes, kind=meta["kind"], analysis=meta["analysis"])

    # ---- views ----------------------------------------------------------------------------------------
    def to_xarray(self):
        """An ``xarray.Dataset``: one variable per output, dims = the axes then ``<name>_dim<i>`` trailing."""
        xr = _require("xarray")
        dims = list(self.axes)
        data = {name: (dims + [f"{name}_dim{i}" for i in range(v.ndim - len(dims))], v)
                for name, v in self.values.items()}
        return xr.Dataset(data, coords=dict(self.axes), attrs={"analysis": self.analysis, "kind": self.kind})

    def to_pandas(self):
        """A ``pandas.DataFrame`` indexed by the axes (a MultiIndex for 2-3 axes); an output with trailing
        dims spreads over columns ``name[i,...]``."""
        pd = _require("pandas")
        labels, grids = list(self.axes), list(self.axes.values())
        index = (pd.Index(grids[0], name=labels[0]) if len(grids) == 1
                 else pd.MultiIndex.from_product(grids, names=labels))
        n = int(np.prod(self.shape))
        columns = {}
        for name, value in self.values.items():
            flat, trailing = value.reshape((n, -1)), value.shape[len(self.shape):]
            for j, idx in enumerate(np.ndindex(*trailing)):    # a scalar output: one column, ``name``
                columns[f"{name}[{','.join(map(str, idx))}]" if trailing else name] = flat[:, j]
        return pd.DataFrame(columns, index=index)

    def plot(self, name: str, ax=None):
        """Draw the scalar output ``name``: a line over one axis, a ``pcolormesh`` map with a colorbar over
        two, a histogram for an ensemble. Returns the matplotlib ``Axes``."""
        from ..plot._mpl import plt

        value = self._scalar(name)
        if ax is None:
            _, ax = plt.subplots(figsize=(6.0, 4.5))
        labels, grids = list(self.axes), list(self.axes.values())
        if self.kind == "ensemble":
            ax.hist(value, bins=np.arange(value.min(), value.max() + 2) - 0.5 if value.dtype.kind in "biu" else "auto")
            ax.set(xlabel=name, ylabel="members")
        elif len(grids) == 1:
            ax.plot(grids[0], value)
            ax.set(xlabel=labels[0], ylabel=name)
        elif len(grids) == 2:
            mesh = ax.pcolormesh(grids[0], grids[1], value.T, shading="nearest")
            ax.set(xlabel=labels[0], ylabel=labels[1])
            ax.figure.colorbar(mesh, ax=ax, label=name)
        else:
            raise ValueError(f"plot: a {len(grids)}-axis grid has no map; select a slice of values[{name!r}].")
        ax.set_title(f"{self.analysis}: {name}")
        return ax

    def plot_events(self, ax=None, *, xlabel: str | None = None):
        """Draw the special-point clouds of a one-axis grid sweep of ``ContinuationEvents`` (outputs ``fold_p``,
        ``hopf_p``, ``branch_point_p``, each (n, S) NaN-padded): the continued parameter on x, the grid axis on
        y, e.g. over a census map ``plot(...)`` of the same two parameters. Returns the ``Axes``."""
        from ..plot._mpl import plt

        if self.kind != "grid" or len(self.axes) != 1:
            raise ValueError("plot_events: needs a sweep over one grid axis (the second parameter).")
        clouds = {k: self.values.get(f"{k}_p") for k in ("fold", "hopf", "branch_point")}
        if all(v is None for v in clouds.values()):
            raise ValueError(f"plot_events: no fold_p / hopf_p / branch_point_p outputs (a ContinuationEvents "
                             f"sweep has them); outputs are {list(self.values)}.")
        if ax is None:
            _, ax = plt.subplots(figsize=(6.0, 4.5))
        (label, grid), = self.axes.items()
        for (kind, values), (marker, colour) in zip(clouds.items(), EVENT_STYLE):
            found = np.isfinite(values) if values is not None else None
            if found is None or not found.any():
                continue
            y = np.broadcast_to(np.asarray(grid)[:, None], values.shape)
            ax.scatter(values[found], y[found], s=6, marker=marker, color=colour,
                       label=f"{kind.replace('_', ' ')} ({int(found.sum())})")
        ax.set_ylabel(label)
        if xlabel is not None:
            ax.set_xlabel(xlabel)
        ax.legend(fontsize=8, loc="best")
        return ax

    def _scalar(self, name: str) -> np.ndarray:
        if name not in self.values:
            raise ValueError(f"plot: no output {name!r}; outputs are {list(self.values)}.")
        value = self.values[name]
        if value.shape != self.shape:
            raise ValueError(f"plot: {name!r} has trailing dims {value.shape[len(self.shape):]}; "
                             "plot a scalar output.")
        return value


EVENT_STYLE = (("o", "#111111"), ("^", "#c0282d"), ("s", "#2ca02c"))   # fold, Hopf, branch point


def _num(x) -> str:
    return f"{x:.4g}" if isinstance(x, (float, np.floating)) else str(x)


def _require(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"SweepResult.to_{module} needs {module}: pip install {module}") from None
