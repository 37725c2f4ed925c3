"""The ``gru-jax`` command.

    gru-jax demo [--out DIR]
    gru-jax fixed-points PARAMS [--seeds N] [--seeding random|grid] [--seed INT] [--json]
    gru-jax continue PARAMS --param NAME:i[,j] --from A --to B [--json] [--plot FILE]
                            [--param2 NAME:i[,j] --curve fold|hopf [--from2 A --to2 B]]
    gru-jax sweep PARAMS --grid NAME:i[,j]=A:B:N [--grid ...] --analysis NAME --out DIR
                         [--chunk N] [--plot OUTPUT] [--no-progress]
    gru-jax cycles PARAMS [--seeds N] [--seed INT] [--json] [--plot FILE]
    gru-jax homoclinic PARAMS --param NAME:i[,j] --from A --to B [--period-max T] [--json]

Problems with the input (files, options, windows, output paths) print one line ``gru-jax COMMAND: error: ...`` on
stderr and exit with status 2, checked before anything is computed or written."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
from pathlib import Path

PROG = "gru-jax"


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line on stderr (status 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _number(parse, ok, what: str):
    """An argparse type: ``parse(text)`` (``int``, ``float``, or another such type) that passes ``ok``."""

    def check(text: str):
        try:
            value = parse(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value

    return check


_positive_int = _number(int, lambda v: v > 0, "a positive integer")
_seed = _number(int, lambda v: 0 <= v < 2**63, "an integer from 0 to 2**63-1")      # a random key
_finite = _number(float, math.isfinite, "a finite number")
_positive_number = _number(_finite, lambda v: v > 0, "a positive number")


def _output(folder: bool):
    """An argparse type: a path this command can write (``_check_output``), checked before anything runs."""

    def check(text: str) -> Path:
        try:
            return _check_output(Path(text), folder)
        except OSError as err:  # e.g. a folder on the way that may not be searched
            raise argparse.ArgumentTypeError(f"{text}: {err.strerror}") from None

    return check


def _check_output(path: Path, folder: bool) -> Path:
    """Raise unless ``path`` can be written, writing nothing: a file must be an image (an extension matplotlib
    writes) in an existing writable folder; a folder may be missing (it is made in its nearest existing one)."""
    if folder:
        if path.exists() and not path.is_dir():
            raise argparse.ArgumentTypeError(f"{path}: exists and is not a directory")
        parent = path
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
    else:
        from matplotlib.backend_bases import FigureCanvasBase

        formats = FigureCanvasBase.get_supported_filetypes()
        if path.is_dir():
            raise argparse.ArgumentTypeError(f"{path}: is a directory")
        if path.suffix[1:].lower() not in formats:
            raise argparse.ArgumentTypeError(f"{path}: unknown image format {path.suffix or '(none)'!r}; use one of "
                                             f"{' '.join('.' + f for f in sorted(formats))}")
        parent = path.parent
        if not parent.exists():
            raise argparse.ArgumentTypeError(f"{path}: no such directory {parent}")
        if path.exists() and not os.access(path, os.W_OK):
            raise argparse.ArgumentTypeError(f"{path}: the file is not writable")
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"{path}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{path}: directory {parent} is not writable")
    return path


def _check_window(low: str, high: str, a: float, b: float) -> None:
    """Raise ``ValueError`` unless the window ``low``..``high`` is ``a < b``."""
    if not a < b:
        raise ValueError(f"{low} must be < {high} (got {a} >= {b})")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Dynamics of continuous-time GRUs in JAX.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="phase portraits of the 2-D rotation family (PNG files)")
    demo.add_argument("--out", default="out/demo", type=_output(folder=True), metavar="DIR",
                      help="output folder (default: %(default)s)")

    fp = commands.add_parser("fixed-points", help="find and classify the fixed points of a GRU")
    fp.add_argument("params", metavar="PARAMS", help="a .json or .npz file with keys Uz Ur Uh bz br bh bhn Wz Wr "
                    "Wh x (missing ones are zero) and optionally reset")
    fp.add_argument("--seeds", type=_positive_int, default=None, metavar="N",
                    help="number of Newton seeds (default: 4096 for d <= 2, 1024 otherwise)")
    fp.add_argument("--seeding", choices=("random", "grid"), default=None,
                    help="seed placement (default: grid for d <= 2, random otherwise)")
    fp.add_argument("--seed", type=_seed, default=0, metavar="INT", help="random key for --seeding random")
    fp.add_argument("--json", action="store_true", help="print JSON instead of a table")

    co = commands.add_parser("continue", help="bifurcation diagram of the equilibria in one parameter; "
                             "with --param2, codim-2 curves through its folds or Hopf points")
    co.add_argument("params", metavar="PARAMS", help="a .json or .npz GRU parameter file (as for fixed-points)")
    _add_span(co, "the continued entry, e.g. bh:0 or Uh:0,1")
    co.add_argument("--param2", type=_param_spec, metavar="NAME:i[,j]",
                    help="second parameter: continue codim-2 curves (needs --curve)")
    co.add_argument("--curve", choices=("fold", "hopf"), help="which codim-2 curves to continue")
    co.add_argument("--from2", type=_finite, metavar="A", help="window of --param2 (default: unbounded)")
    co.add_argument("--to2", type=_finite, metavar="B", help="window of --param2 (default: unbounded)")
    co.add_argument("--plot", type=_output(folder=False), metavar="FILE",
                    help="also draw the diagram to this image file")
    co.add_argument("--json", action="store_true", help="print JSON instead of a table")

    sw = commands.add_parser("sweep", help="run an analysis over a grid of 1-3 parameters (resumable; writes "
                             "DIR/result.npz and, for 1-2 axes, a PNG map)")
    sw.add_argument("params", metavar="PARAMS", help="a .json or .npz GRU parameter file: the base of the grid")
    sw.add_argument("--grid", required=True, action="append", type=_grid_spec, metavar="NAME:i[,j]=A:B:N",
                    help="one axis: N values from A to B of an entry, e.g. bh:0=-3:3:400 (1 to 3 axes)")
    sw.add_argument("--analysis", required=True, metavar="NAME", help="a built-in analysis, e.g. census")
    sw.add_argument("--out", required=True, type=_output(folder=True), metavar="DIR", help="output folder: "
                    "result.npz, the PNG map and the checkpoint (rerun the same command to resume)")
    sw.add_argument("--chunk", type=_positive_int, default=None, metavar="N", help="parameter sets per call")
    sw.add_argument("--plot", metavar="OUTPUT",
                    help="the output to map (default: n_stable, else the first numeric scalar one)")
    sw.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")

    cy = commands.add_parser("cycles", help="limit cycles reached by simulation from many initial states: "
                             "period, amplitude, Floquet multipliers, stability")
    cy.add_argument("params", metavar="PARAMS", help="a .json or .npz GRU parameter file (as for fixed-points)")
    cy.add_argument("--seeds", type=_positive_int, default=64, metavar="N", help="initial states (default: 64)")
    cy.add_argument("--seed", type=_seed, default=0, metavar="INT", help="random key for the initial states")
    cy.add_argument("--plot", type=_output(folder=False), metavar="FILE",
                    help="also draw the phase portrait with the cycles (2-D only)")
    cy.add_argument("--json", action="store_true", help="print JSON instead of a table")

    ho = commands.add_parser("homoclinic", help="homoclinic (saddle-loop) and SNIC bifurcations in one parameter: "
                             "the cycle families born at the Hopf points, followed to their ends (2-D)")
    ho.add_argument("params", metavar="PARAMS", help="a .json or .npz file of a 2-D GRU")
    _add_span(ho, "the parameter, e.g. bh:0 or Uh:0,1")
    ho.add_argument("--period-max", type=_positive_number, default=500.0, metavar="T",
                    help="a family whose period passes T ends at a homoclinic or SNIC point (default: %(default)s)")
    ho.add_argument("--json", action="store_true", help="print JSON instead of a summary")
    return parser


def _add_span(parser, param_help: str) -> None:
    """``--param NAME:i[,j] --from A --to B``: one parameter and its span."""
    parser.add_argument("--param", required=True, type=_param_spec, metavar="NAME:i[,j]", help=param_help)
    parser.add_argument("--from", dest="start", required=True, type=_finite, metavar="A", help="start of the span")
    parser.add_argument("--to", dest="stop", required=True, type=_finite, metavar="B", help="end of the span")


def _param_spec(text: str):
    """``NAME:i[,j]`` -> ``Param(NAME, i, j)`` (checked against the model later)."""
    from .continuation import Param

    name, sep, index = text.partition(":")
    try:
        indices = [int(i) for i in index.split(",")] if sep else []
    except ValueError:
        indices = None
    if not name or indices is None:
        raise argparse.ArgumentTypeError(f"expected NAME:i or NAME:i,j (e.g. bh:0, Uh:0,1), got {text!r}")
    return Param(name, *indices)


def _grid_spec(text: str):
    """``NAME:i[,j]=A:B:N`` -> ``(label, values)`` with ``N`` values from ``A`` to ``B``."""
    import numpy as np

    param, sep, span = text.partition("=")
    parts = span.split(":")
    try:
        start, stop, n = float(parts[0]), float(parts[1]), int(parts[2])
    except (ValueError, IndexError):
        n = 0
    if not sep or len(parts) != 3 or n <= 0 or not np.isfinite([start, stop]).all():
        raise argparse.ArgumentTypeError(f"expected NAME:i[,j]=A:B:N (e.g. bh:0=-3:3:400), got {text!r}")
    if not start < stop:
        raise argparse.ArgumentTypeError(f"{text!r}: A must be < B (got {start} >= {stop})")
    return _param_spec(param).label, np.linspace(start, stop, n)


def main(argv=None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error already reported by argparse
        return int(exit_.code or 0)
    try:
        return {"fixed-points": _fixed_points, "continue": _continue, "demo": _demo, "sweep": _sweep,
                "cycles": _cycles, "homoclinic": _homoclinic}[args.command](args)
    except (ValueError, OSError) as err:  # bad input, or a file that cannot be read or written
        message = f"{err.filename}: {err.strerror}" if isinstance(err, OSError) and err.filename else str(err)
        print(f"{PROG} {args.command}: error: {' '.join(message.split())}", file=sys.stderr)
        return 2


def _fixed_points(args) -> int:
    with contextlib.redirect_stdout(sys.stderr):  # keep stdout for the result alone
        import jax

        from . import find_fixed_points
        from ._io import load_params

        params = load_params(args.params)
        small = params.dim <= 2
        result = find_fixed_points(params, n_seeds=args.seeds or (4096 if small else 1024),
                                   seeding=args.seeding or ("grid" if small else "random"),
                                   key=jax.random.key(args.seed))
    print(json.dumps(result.to_dict()) if args.json else repr(result))
    return 0


def _continue(args) -> int:
    _check_window("--from", "--to", args.start, args.stop)
    if (args.param2 is None) != (args.curve is None):
        raise ValueError("--param2 and --curve go together: give both or neither.")
    if args.param2 is None and (args.from2, args.to2) != (None, None):
        raise ValueError("--from2 and --to2 bound --param2: give them with --param2 and --curve.")
    window2 = (-math.inf if args.from2 is None else args.from2, math.inf if args.to2 is None else args.to2)
    _check_window("--from2", "--to2", *window2)
    with contextlib.redirect_stdout(sys.stderr):  # keep stdout for the result alone
        from . import bifurcation_diagram, codim2_curves
        from ._io import load_params

        params = load_params(args.params)
        for param in [p for p in (args.param, args.param2) if p is not None]:
            param.validate(params)
        result = diagram = bifurcation_diagram(params, args.param, (args.start, args.stop))
        if args.param2 is not None:
            result = codim2_curves(params, diagram, args.param2, kind=args.curve,
                                   window=((args.start, args.stop), window2))
        if args.plot:
            from . import plot

            axes = (plot.bifurcation_diagram(diagram) if args.param2 is None
                    else plot.two_parameter_diagram(result.curves))
            axes.figure.savefig(args.plot, dpi=120)
    print(json.dumps(result.to_dict()) if args.json else repr(result))
    return 0


def _sweep(args) -> int:
    from ._io import load_params
    from .sweeps._analyses import ANALYSES
    from .sweeps._sweep import sweep

    if args.analysis not in ANALYSES:
        raise ValueError(f"--analysis: unknown analysis {args.analysis!r}; choose one of {sorted(ANALYSES)}.")
    grid = dict(args.grid)
    if len(grid) != len(args.grid):
        raise ValueError("--grid: each parameter may appear once.")
    if args.plot and len(grid) > 2:
        raise ValueError(f"--plot: a {len(grid)}-axis grid has no map; give at most 2 --grid axes.")
    params, out = load_params(args.params), args.out
    with contextlib.redirect_stdout(sys.stderr):  # keep stdout for the list of files
        result = sweep(ANALYSES[args.analysis](), grid=grid, base=params, chunk=args.chunk,
                       checkpoint=out / "checkpoint", progress=args.progress)
    print(repr(result))
    print(f"wrote {result.save(out / 'result.npz')}")
    if len(result.axes) <= 2:
        name = args.plot or _default_map(result)
        result.plot(name).figure.savefig(out / f"{name}.png", dpi=120)
        print(f"wrote {out / f'{name}.png'}")
    return 0


def _default_map(result) -> str:
    """``n_stable`` if the analysis has it, else its first numeric (not boolean) scalar output by name."""
    scalars = [k for k, v in result.values.items() if v.shape == result.shape and v.dtype.kind in "iuf"]
    if not scalars:
        raise ValueError("--plot: the analysis has no numeric scalar output to map.")
    return "n_stable" if "n_stable" in scalars else scalars[0]


def _cycles(args) -> int:
    with contextlib.redirect_stdout(sys.stderr):  # keep stdout for the result alone
        import jax

        from . import find_limit_cycles
        from ._io import load_params

        params = load_params(args.params)
        if args.plot and params.dim != 2:
            raise ValueError(f"--plot: phase portraits are 2-D; this GRU has {params.dim} units.")
        result = find_limit_cycles(params, n_seeds=args.seeds, key=jax.random.key(args.seed))
        if args.plot:
            from . import plot

            plot.phase_portrait(params, cycles=result).figure.savefig(args.plot, dpi=120)
    print(json.dumps(result.to_dict(params)) if args.json else repr(result))
    return 0


def _homoclinic(args) -> int:
    _check_window("--from", "--to", args.start, args.stop)
    with contextlib.redirect_stdout(sys.stderr):  # keep stdout for the result alone
        from ._io import load_params
        from .homoclinic._report import homoclinic_report

        params = load_params(args.params)
        if params.dim != 2:
            raise ValueError(f"{args.params}: homoclinic needs a 2-D GRU; this one has {params.dim} units.")
        args.param.validate(params)
        report = homoclinic_report(params, args.param, (args.start, args.stop), max_period=args.period_max)
    print(json.dumps(report) if args.json else _report_text(report))
    return 0


def _report_text(report: dict) -> str:
    lines = [f"{len(report['hopf'])} Hopf point(s), {len(report['homoclinic'])} homoclinic / SNIC point(s), "
             f"{len(report['cycle_folds'])} fold(s) of cycles"]
    for h in report["hopf"]:
        lines.append(f"  Hopf        p={h['param']:+.10f}  omega={h['omega']:.6g}  l1={h['l1']:+.4g}  "
                     f"family ends: {h['family_end']}")
    for h in report["homoclinic"]:
        sq = "" if h["saddle_quantity"] is None else f"  saddle quantity {h['saddle_quantity']:+.6g}"
        lines.append(f"  {h['kind']:<11} p={h['param']:+.10f}  at [{' '.join(f'{v:+.6f}' for v in h['saddle'])}]{sq}")
    for c in report["cycle_folds"]:
        lines.append(f"  cycle fold  p={c['param']:+.10f}  period {c['period']:.6g}")
    return "\n".join(lines)


def _demo(args) -> int:
    from ._demo import run_demo

    for path in run_demo(args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
