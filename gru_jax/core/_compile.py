"""Which program a call takes: with ``COMPILER_OPTIONS`` at top level, plain where staged into an enclosing trace."""

from __future__ import annotations

import equinox as eqx

# The loop is latency bound (many small ops): LLVM optimisation level 0 cuts the CPU compile time by about 40% and ran
# no slower here (3-D GRU branch: 15 s instead of 25 s to compile, 7 ms vs 10 ms to run). JAX accepts compiler options
# only on a top-level jit, so inside a user's jit/grad trace the plain jit is used.
COMPILER_OPTIONS = {"xla_backend_optimization_level": 0}

try:    # JAX's trace context (private in jax 0.10.2; jax.core exports only Trace and Tracer)
    from jax._src.core import EvalTrace as _EvalTrace, trace_ctx as _trace_ctx
    from jax._src.interpreters.ad import JVPTrace as _JVPTrace
    from jax._src.interpreters.batching import BatchTrace as _BatchTrace
    _EAGER = (_EvalTrace, _BatchTrace, _JVPTrace)
except ImportError:  # pragma: no cover - a JAX that moved them: every call takes the plain jit
    _trace_ctx, _EAGER = None, ()


def compiles_at_top_level() -> bool:
    """Whether a jit called now compiles its own XLA program, so that it may carry ``compiler_options``: true outside
    any trace and under eager transformations (``vmap``, ``jvp``, nested); false where staged into an enclosing program
    (``jit``, ``grad``/``vjp``/``linearize``, ``lax.scan``, ``checkpoint``, ``eval_shape``, any unknown trace). Read
    from the trace chain, not the arguments (tracers under ``vmap`` too; a ``jit`` may close over constants)."""
    trace = _trace_ctx.trace if _trace_ctx is not None else None
    if trace is None:
        return False
    while isinstance(trace, _EAGER):
        trace = getattr(trace, "parent_trace", None)
    return trace is None


def top_level_or_nested(fn):
    """``fn`` jitted with ``COMPILER_OPTIONS`` and plainly, called as ``compiles_at_top_level`` says."""
    top, nested = eqx.filter_jit(fn, compiler_options=COMPILER_OPTIONS), eqx.filter_jit(fn)

    def call(*args):
        return (top if compiles_at_top_level() else nested)(*args)
    return call
