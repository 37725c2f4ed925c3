"""The plain-JAX LU (no LAPACK): solves and log-determinants against numpy, singular matrices, vmap, gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gru_jax._linalg import slogdet, solve


@pytest.mark.parametrize("n", [3, 4, 7, 33])
def test_solve_and_slogdet_match_numpy(rng, n):
    a = rng.normal(size=(8, n, n)) + np.diag(rng.normal(size=n)) * 1e-3     # pivoting matters
    b = rng.normal(size=(8, n))
    x = jax.jit(jax.vmap(solve))(a, b)
    np.testing.assert_allclose(np.asarray(x), np.linalg.solve(a, b[..., None])[..., 0], rtol=1e-9, atol=1e-11)
    sign, logabs = jax.jit(jax.vmap(slogdet))(a)
    ref_sign, ref_logabs = np.linalg.slogdet(a)
    np.testing.assert_array_equal(np.asarray(sign), ref_sign)
    np.testing.assert_allclose(np.asarray(logabs), ref_logabs, rtol=1e-12, atol=1e-12)


def test_singular_matrices_give_lapack_like_results():
    a = np.diag([1.0, 2.0, 0.0, 3.0])
    assert tuple(map(float, slogdet(a))) == (0.0, -np.inf)
    assert not np.all(np.isfinite(np.asarray(solve(a, np.ones(4)))))
    a = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 2.0]])     # needs a row swap: det = -2
    np.testing.assert_allclose(np.asarray(slogdet(a)), [-1.0, np.log(2.0)], atol=1e-15)


def test_solve_gradient_matches_the_closed_form(rng):
    a, b = rng.normal(size=(5, 5)), rng.normal(size=5)
    grad = jax.grad(lambda m: jnp.sum(solve(m, b)))(a)
    x = np.linalg.solve(a, b)
    np.testing.assert_allclose(np.asarray(grad), -np.outer(np.linalg.solve(a.T, np.ones(5)), x), rtol=1e-9)
