"""Param: reading and writing one scalar entry of a params pytree (GRUParams, dict, bare array)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gru_jax as gj
from gru_jax.continuation import Param


def test_get_and_set_on_a_model_a_dict_and_a_scalar():
    p = gj.GRUParams.random(jax.random.key(0), 3, m=2)
    assert float(Param("Uh", 0, 1).get(p)) == float(p.Uh[0, 1])
    q = Param("Uh", 0, 1).set(p, 7.0)
    assert float(q.Uh[0, 1]) == 7.0 and float(p.Uh[0, 1]) != 7.0          # a copy; the original is untouched
    np.testing.assert_array_equal(np.delete(np.asarray(q.Uh).ravel(), 1), np.delete(np.asarray(p.Uh).ravel(), 1))
    assert float(Param("x", 1).set(p, -2.5).x[1]) == -2.5                  # input amplitude
    assert float(Param("bh", -1).get(p)) == float(p.bh[2])
    d = {"a": jnp.array([1.0, 2.0]), "b": jnp.ones(3)}
    assert float(Param("a", 1).set(d, 5.0)["a"][1]) == 5.0 and float(d["a"][1]) == 2.0
    assert float(Param().set(jnp.asarray(0.3), 0.9)) == 0.9
    assert float(Param().get(0.3)) == 0.3


def test_get_and_set_are_differentiable_in_value_and_params():
    p = gj.GRUParams.random(jax.random.key(1), 2)
    lens = Param("bh", 1)
    loss = lambda value, params: jnp.sum(lens.set(params, value).vector_field(jnp.array([0.2, -0.1])))
    g_value = jax.grad(loss)(0.4, p)
    eps = 1e-6
    np.testing.assert_allclose(g_value, (loss(0.4 + eps, p) - loss(0.4 - eps, p)) / (2 * eps), rtol=1e-7)
    g_params = jax.grad(lambda params: lens.get(params) ** 2)(p)
    # d(bh[1]^2)/d bh = (0, 2 bh[1]): an exact zero, compared with atol (one product: roundoff-level atol)
    np.testing.assert_allclose(g_params.bh, [0.0, 2 * float(p.bh[1])], rtol=0, atol=1e-15)
    np.testing.assert_array_equal(jax.grad(loss, argnums=1)(0.4, p).bh[1], 0.0)   # overwritten entry: no gradient


@pytest.mark.parametrize("lens, params, message", [
    (Param("Wq", 0), "gru", "has no field 'Wq'"),
    (Param("Uh", 0), "gru", "give exactly 2 index"),
    (Param("Uh", 0, 5), "gru", "index 5 is out of range for axis 1"),
    (Param("bh"), "gru", "give exactly 1 index"),
    (Param(), "gru", "not an array"),
    (Param("c"), "dict", "no key 'c'"),
    (Param("n"), "dict", "dtype int"),
])
def test_validate_names_field_index_and_shape(lens, params, message):
    params = gj.GRUParams.zeros(2) if params == "gru" else {"a": jnp.zeros(2), "n": jnp.arange(3)}
    with pytest.raises(ValueError, match=message):
        lens.validate(params)


def test_constructor_rejects_non_int_indices():
    with pytest.raises(ValueError, match="indices must be ints"):
        Param("bh", 0.5)
    with pytest.raises(ValueError, match="field must be a str"):
        Param(3)
    assert repr(Param("Uh", 0, 1)) == "Param('Uh', 0, 1)"


def test_labels_name_the_entry():
    assert [p.label for p in (Param("bh", 0), Param("Uh", 0, 1), Param("alpha"), Param())] == [
        "bh[0]", "Uh[0,1]", "alpha", "p"]


def test_labels_parse_back():
    for p in (Param("bh", 0), Param("Uh", 0, 1), Param("alpha"), Param("x", -1)):
        assert Param.from_label(p.label) == p
    assert Param.from_label(" Uh[ 1, 0 ] ") == Param("Uh", 1, 0)
    for bad in ("bh[", "bh[0", "[0]", "bh[a]", "0bh", ""):
        with pytest.raises(ValueError, match="label"):
            Param.from_label(bad)
