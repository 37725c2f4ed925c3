"""matplotlib with a headless backend when there is no display (imported by the modules of ``gru_jax.plot``,
and lazily by the plot methods of sweep results)."""

import os
import sys

import matplotlib

if ("matplotlib.pyplot" not in sys.modules and not os.environ.get("MPLBACKEND")
        and sys.platform.startswith("linux") and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")):
    matplotlib.use("Agg")  # headless: render to files

import matplotlib.pyplot as plt  # noqa: E402  (after the backend choice)

__all__ = ["plt"]
