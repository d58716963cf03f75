"""Validation helpers: messages name the parameter and say what is allowed."""
import numpy as np
import pytest
from numpy.testing import assert_array_equal

from simengine import _validate as v


def test_as_float_array_converts_to_contiguous_float64():
    arr = v.as_float_array(np.arange(12, dtype=np.int32).reshape(3, 4).T, "x")
    assert arr.dtype == np.float64 and arr.flags.c_contiguous
    assert_array_equal(arr, np.arange(12).reshape(3, 4).T)


def test_as_float_array_iv():
    with pytest.raises(ValueError, match=r"`x` must be 1-D or 2-D; got 3-D"):
        v.as_float_array(np.zeros((2, 2, 2)), "x")
    with pytest.raises(ValueError, match="`x` must not be empty"):
        v.as_float_array([], "x")
    with pytest.raises(ValueError, match="`x` must be finite; it contains NaN"):
        v.as_float_array([1.0, np.nan], "x")
    with pytest.raises(ValueError, match="`x` must be finite; it contains inf"):
        v.as_float_array([1.0, np.inf], "x")
    with pytest.raises(TypeError, match="`x` must contain real numbers"):
        v.as_float_array(["a", "b"], "x")
    with pytest.raises(TypeError, match="`x` must contain real numbers"):
        v.as_float_array([1 + 2j], "x")
    with pytest.raises(TypeError, match="`x` must be array-like of real numbers; got a string"):
        v.as_float_array("123", "x")
    with pytest.raises(ValueError, match="`x` must be 1-D"):
        v.as_float_array(np.zeros((2, 2)), "x", ndim=1)
    assert v.as_float_array([np.nan], "x", finite=False).shape == (1,)
    assert v.as_float_array([], "x", allow_empty=True).shape == (0,)


def test_as_int_array_iv():
    assert_array_equal(v.as_int_array([1.0, 2.0], "k"), [1, 2])
    with pytest.raises(ValueError, match="`k` must contain whole numbers"):
        v.as_int_array([1.5], "k")
    with pytest.raises(ValueError, match="`k` must be >= 0; got -1"):
        v.as_int_array([-1, 2], "k", minimum=0)
    with pytest.raises(TypeError, match="`k` must contain integers"):
        v.as_int_array(["x"], "k")


@pytest.mark.parametrize("bad", [0.0, 1.0, 1.5, -0.1])
def test_check_probability_open(bad):
    with pytest.raises(ValueError, match=r"`alpha` must be in \(0, 1\); got"):
        v.check_probability(bad, "alpha")


def test_check_probability_iv():
    assert v.check_probability(0.05, "alpha") == 0.05
    assert v.check_probability(0.0, "rate", closed=True) == 0.0
    with pytest.raises(ValueError, match=r"`alpha` must be a finite number in \(0, 1\); got nan"):
        v.check_probability(float("nan"), "alpha")
    with pytest.raises(TypeError, match="`alpha` must be a real number; got '0.05'"):
        v.check_probability("0.05", "alpha")
    with pytest.raises(TypeError, match="`alpha` must be a real number; got True"):
        v.check_probability(True, "alpha")


def test_check_int_iv():
    assert v.check_positive_int(np.int64(3), "n") == 3
    with pytest.raises(ValueError, match="`n` must be an integer >= 1; got 0"):
        v.check_positive_int(0, "n")
    with pytest.raises(TypeError, match="`n` must be an integer; got 2.5"):
        v.check_positive_int(2.5, "n")
    with pytest.raises(TypeError, match="`n` must be an integer; got True"):
        v.check_positive_int(True, "n")
    with pytest.raises(ValueError, match=r"`k` must be an integer in \[1, 5\]; got 6"):
        v.check_int(6, "k", minimum=1, maximum=5)


def test_check_real_iv():
    assert v.check_real(2, "sd", low=0, low_inclusive=False) == 2.0
    with pytest.raises(ValueError, match=r"`sd` must be in \(0, inf\); got 0"):
        v.check_real(0.0, "sd", low=0, low_inclusive=False)
    with pytest.raises(ValueError, match="`sd` must be a finite number"):
        v.check_real(float("inf"), "sd", low=0)
    assert v.check_real(float("inf"), "df", low=1, allow_inf=True) == float("inf")


def test_check_choice_and_alternative_iv():
    assert v.alternative_code("two-sided") == 0
    assert v.alternative_code("less") == 1
    assert v.alternative_code("greater") == 2
    with pytest.raises(ValueError, match="`alternative` must be one of 'two-sided', 'less', 'greater'; got 'both'"):
        v.alternative_code("both")
    with pytest.raises(TypeError, match="`alternative` must be one of"):
        v.alternative_code(None)


def test_check_axis_and_bool_iv():
    assert v.check_axis(-1, "axis", 2) == 1
    with pytest.raises(ValueError, match=r"`axis` must be in \[-2, 1\] for 2-D input; got 2"):
        v.check_axis(2, "axis", 2)
    assert v.check_bool(np.True_, "reset") is True
    with pytest.raises(TypeError, match="`reset` must be True or False; got 1"):
        v.check_bool(1, "reset")
