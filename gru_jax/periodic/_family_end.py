"""Why a family of cycles ends when its period grows without bound (homoclinic saddle-loop or SNIC), and where
it ends when it shrinks onto a Hopf point.

Infinite period: the slowest point of the last orbit is refined by Newton to an equilibrium at the same ``p``. A
hyperbolic saddle near the orbit means a homoclinic orbit (saddle-loop, or saddle-focus if its leading eigenvalue
is complex); an equilibrium with a near-zero eigenvalue, or none near the orbit (a bottleneck, the ghost of a
saddle-node), means a SNIC. The period law of the last rows (``dT/dp = t_T / t_p`` along the family; the laws are
in ``FamilyEnd``) supports the verdict."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .._eig import eigvals
from .._fixed_points import SeedStatus, fixed_point
from ._cycle_branch import FamilyEnd, FamilyEndKind
from ._cycle_palc import CycleProblem
from ._flow import orbit

N_SAMPLES = 512        # points of the last orbit searched for the slowest one
N_FIT = 6              # last resolved rows used by the period laws
NEAR = 0.25            # an equilibrium farther than NEAR * amplitude from the slowest point is not "on" the orbit
ZERO_TOL = 1e-3        # |Re λ| below ZERO_TOL * max|λ| is a zero eigenvalue (a saddle-node)
RATE_TOL = 0.25        # the fitted rate within 25% of λ_u supports a homoclinic verdict
EXPONENT_TOL = 0.5     # the fitted exponent within 0.5 of 3 supports a SNIC verdict


def _slope(x, y, w):
    """Weighted least-squares slope of ``y`` against ``x`` (rows with ``w = 0`` ignored)."""
    sw = jnp.sum(w)
    xm, ym = jnp.sum(w * x) / sw, jnp.sum(w * y) / sw
    return jnp.sum(w * (x - xm) * (y - ym)) / jnp.sum(w * (x - xm) ** 2)


def _intercept(columns, y, w):
    """The constant coefficient of a weighted least-squares fit ``y ≈ c0 + Σ c_k columns_k``."""
    a = jnp.stack([jnp.ones_like(y)] + list(columns), axis=1) * w[:, None]
    return jnp.linalg.lstsq(a, y * w)[0][0]


def infinite_period(problem: CycleProblem, u_rows, t_rows, used, floor) -> FamilyEnd:
    """Classify the end of a family whose last used row exceeded ``period_max``, from its rows ``u_rows`` (N, n)
    with tangents ``t_rows`` (N, n) and ``used`` (N,) (a prefix). The period laws use the last ``N_FIT`` rows
    whose ``|t_p|`` is above ``floor`` (below it ``p`` is constant to the corrector's accuracy). Its ``kind`` is
    ``HOMOCLINIC``, ``HOMOCLINIC_FOCUS``, ``SNIC``, or ``PERIOD_MAX`` when unclassified."""
    X, T, p = problem.split(u_rows[jnp.sum(used) - 1])
    prm = problem.at(p)
    xs, _ = orbit(problem.f, prm, X[0], T, N_SAMPLES, problem.opts)
    speed = jnp.linalg.norm(jax.vmap(lambda x: problem.f(x, prm))(xs), axis=1)
    slowest = xs[jnp.argmin(speed)]
    eq, seed = fixed_point(prm, slowest, f=problem.f)
    amp = jnp.max(jnp.linalg.norm(X - jnp.mean(X, axis=0), axis=1))
    found = (seed == SeedStatus.CONVERGED) & (jnp.linalg.norm(eq - slowest) <= NEAR * amp)
    ev, ev_ok = eigvals(jax.jacfwd(lambda x: problem.f(x, prm))(jnp.where(found, eq, slowest)))
    found = found & ev_ok
    re = ev.real
    scale = jnp.max(jnp.abs(ev))
    zero = jnp.min(jnp.abs(re)) <= ZERO_TOL * scale
    lam_u = jnp.min(jnp.where(re > 0, re, jnp.inf))
    lam_s = jnp.max(jnp.where(re < 0, re, -jnp.inf))
    saddle = found & ~zero & jnp.isfinite(lam_u) & jnp.isfinite(lam_s)
    complex_ = jnp.abs(ev.imag) > 1e-10 * scale
    focus = jnp.any(complex_ & ((re == lam_u) | (re == lam_s)))         # a complex leading eigenvalue
    kind = jnp.select([saddle & focus, saddle, ~found | zero],
                      [FamilyEndKind.HOMOCLINIC_FOCUS, FamilyEndKind.HOMOCLINIC, FamilyEndKind.SNIC],
                      FamilyEndKind.PERIOD_MAX).astype(jnp.int32)

    # period laws over the last resolved rows: ln|dT/dp| against T (rate) and ln T (exponent); p* by extrapolation
    n_x = problem.n_segments * problem.d
    T_rows, p_rows = u_rows[:, n_x], u_rows[:, n_x + 1]
    log_slope = jnp.log(jnp.abs(t_rows[:, n_x] / t_rows[:, n_x + 1]))
    resolved = used & (jnp.abs(t_rows[:, n_x + 1]) > floor) & jnp.isfinite(log_slope)
    from_end = jnp.cumsum(resolved[::-1])[::-1]                     # resolved rows at or after each row
    w = (resolved & (from_end <= N_FIT)).astype(u_rows.dtype)
    safe = lambda a: jnp.where(w > 0, a, 1.0)
    T_safe, log_slope = safe(T_rows), safe(log_slope)
    rate = _slope(T_safe, log_slope, w)
    exponent = _slope(jnp.log(T_safe), log_slope, w)
    T_ref = jnp.max(w * T_rows)                                      # the last resolved period
    ratio = T_ref / T_safe
    p_snic = _intercept([ratio**2, ratio**3], safe(p_rows), w)
    p_homoclinic = _intercept([jnp.exp(-lam_u * (T_safe - T_ref))], safe(p_rows), w)
    homoclinic = (kind == FamilyEndKind.HOMOCLINIC) | (kind == FamilyEndKind.HOMOCLINIC_FOCUS)
    last = jnp.sum(used) - 1
    p_homoclinic = jnp.where(resolved[last], p_homoclinic, p)       # p no longer moves: the last row is closer
    p_end = jnp.where(homoclinic, p_homoclinic, jnp.where(kind == FamilyEndKind.SNIC, p_snic, jnp.nan))
    agrees = jnp.where(homoclinic, jnp.abs(rate / lam_u - 1.0) <= RATE_TOL, jnp.abs(exponent - 3.0) <= EXPONENT_TOL)
    nan = jnp.full((), jnp.nan, u_rows.dtype)
    return FamilyEnd(kind=kind, equilibrium=jnp.where(found, eq, jnp.nan), eigenvalues=jnp.where(found, ev, jnp.nan),
                     saddle_quantity=jnp.where(saddle, lam_u + lam_s, nan), slowest=slowest, speed=jnp.min(speed),
                     p_end=p_end, rate=rate, exponent=exponent,
                     law_agrees=agrees & (kind != FamilyEndKind.PERIOD_MAX))


def hopf_end(problem: CycleProblem, u_rows, n_rows) -> FamilyEnd:
    """The end of a family that shrank onto an equilibrium: Newton from the last cycle's node mean, and ``p_end``
    by inverse interpolation of ``p`` as a polynomial in the squared amplitude (smooth at a Hopf point) through
    the last three rows ``u_rows`` (3, n) (the last two when ``n_rows`` < 3), evaluated at zero amplitude."""
    X, _, p = problem.split(u_rows[-1])
    prm = problem.at(p)
    centre = jnp.mean(X, axis=0)
    eq, seed = fixed_point(prm, centre, f=problem.f)
    ev, ev_ok = eigvals(jax.jacfwd(lambda x: problem.f(x, prm))(eq))
    found = (seed == SeedStatus.CONVERGED) & ev_ok
    a2 = jax.vmap(lambda u: jnp.max(jnp.sum((problem.split(u)[0] - jnp.mean(problem.split(u)[0], 0)) ** 2, 1)))(u_rows)
    ps = u_rows[:, -1]
    linear = ps[2] - a2[2] * (ps[2] - ps[1]) / (a2[2] - a2[1])
    quadratic = sum(ps[i] * jnp.prod(jnp.array([a2[j] / (a2[j] - a2[i]) for j in range(3) if j != i]))
                    for i in range(3))
    return no_end(problem.d, u_rows.dtype, FamilyEndKind.HOPF)._replace(
        equilibrium=jnp.where(found, eq, jnp.nan), eigenvalues=jnp.where(found, ev, jnp.nan), slowest=centre,
        speed=jnp.linalg.norm(problem.f(centre, prm)), p_end=jnp.where(n_rows >= 3, quadratic, linear))


def no_end(d: int, dtype, kind=-1) -> FamilyEnd:
    """A ``FamilyEnd`` of NaNs of ``kind`` (by default ``-1``: the family ended otherwise, window, max points, ...)."""
    nan = jnp.full((), jnp.nan, dtype)
    return FamilyEnd(kind=jnp.asarray(kind, jnp.int32), equilibrium=jnp.full(d, jnp.nan, dtype),
                     eigenvalues=jnp.full(d, jnp.nan + 0j), saddle_quantity=nan, slowest=jnp.full(d, jnp.nan, dtype),
                     speed=nan, p_end=nan, rate=nan, exponent=nan, law_agrees=jnp.asarray(False))
