"""The ``gru-jax`` command.

    gru-jax demo [--out DIR]
    gru-jax fixed-points PARAMS [--seeds N] [--seeding random|grid] [--seed INT] [--json]

Problems with the input print one line ``gru-jax: error: ...`` on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys

PROG = "gru-jax"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Dynamics of continuous-time GRUs in JAX.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="phase portraits of the 2-D rotation family (PNG files)")
    demo.add_argument("--out", default="out/demo", metavar="DIR", help="output folder (default: %(default)s)")

    fp = commands.add_parser("fixed-points", help="find and classify the fixed points of a GRU")
    fp.add_argument("params", metavar="PARAMS", help="a .json or .npz file with keys Uz Ur Uh bz br bh bhn Wz Wr "
                    "Wh x (missing ones are zero) and optionally reset")
    fp.add_argument("--seeds", type=_positive_int, default=None, metavar="N",
                    help="number of Newton seeds (default: 4096 for d <= 2, 1024 otherwise)")
    fp.add_argument("--seeding", choices=("random", "grid"), default=None,
                    help="seed placement (default: grid for d <= 2, random otherwise)")
    fp.add_argument("--seed", type=int, default=0, metavar="INT", help="random key for --seeding random")
    fp.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


def main(argv=None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error already reported by argparse
        return int(exit_.code or 0)
    try:
        return _fixed_points(args) if args.command == "fixed-points" else _demo(args)
    except ValueError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
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


def _demo(args) -> int:
    from ._demo import run_demo

    for path in run_demo(args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
