"""Properties that hold for any small matrix, mask and parameter setting."""

import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mfinpaint import SmoothMF, inpaint

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@st.composite
def problems(draw, max_side=8):
    """Draw ``(Y, mask, params)`` with at least one observed entry."""
    rows = draw(st.integers(1, max_side))
    columns = draw(st.integers(1, max_side))
    values = draw(
        hnp.arrays(np.float64, (rows, columns), elements=st.floats(-1.0, 1.0))
    )
    mask = draw(hnp.arrays(np.bool_, (rows, columns)))
    mask.flat[draw(st.integers(0, rows * columns - 1))] = False
    params = {
        "rank": draw(st.integers(1, min(rows, columns))),
        "rho": draw(st.floats(1e-3, 1.0)),
        "lam": draw(st.sampled_from([0.0, 0.1, 1.0, 10.0])),
        "order": draw(st.sampled_from([1, 2])),
        "solver": draw(st.sampled_from(["exact", "cg"])),
        "max_iter": draw(st.integers(1, 15)),
        "random_state": draw(st.integers(0, 2**32 - 1)),
    }
    return values, mask, params


def fit(values, mask, params):
    model = SmoothMF(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        filled = model.fit_transform(values, mask)
    return model, filled


@SETTINGS
@given(problems())
def test_filled_matrix_is_finite(problem):
    values, mask, params = problem

    model, filled = fit(values, mask, params)

    assert filled.shape == values.shape
    assert np.isfinite(filled).all()
    assert np.isfinite(model.W_).all()
    assert np.isfinite(model.X_).all()


@SETTINGS
@given(problems())
def test_observed_entries_unchanged(problem):
    values, mask, params = problem
    values_with_nan = np.where(mask, np.nan, values)

    _, filled = fit(values_with_nan, mask, params)

    np.testing.assert_array_equal(filled[~mask], values[~mask])


@SETTINGS
@given(problems())
def test_same_random_state_same_result(problem):
    values, mask, params = problem

    first, filled_first = fit(values, mask, params)
    second, filled_second = fit(values, mask, params)

    np.testing.assert_array_equal(filled_first, filled_second)
    np.testing.assert_array_equal(first.W_, second.W_)
    assert first.objective_ == second.objective_


@SETTINGS
@given(problems())
def test_exact_objective_non_increasing(problem):
    values, mask, params = problem
    params = {**params, "solver": "exact", "tol": 0.0}

    model, _ = fit(values, mask, params)

    objective = np.array(model.objective_)
    increase = np.diff(objective)
    # Each half-step minimises the objective exactly, so it can only rise by
    # rounding error.
    assert np.all(increase <= 1e-9 * np.abs(objective[:-1]) + 1e-12)


@SETTINGS
@given(problems(max_side=6), st.sampled_from(["luma", "channels", "joint"]))
def test_inpaint_color_keeps_observed(problem, color):
    values, mask, params = problem
    rng = np.random.default_rng(params["random_state"])
    image = rng.integers(0, 256, (*values.shape, 3)).astype(np.uint8)
    params = {**params, "rank": 1}

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        restored = inpaint(image, mask, channel_axis=-1, color=color, **params)

    assert restored.shape == image.shape
    assert np.all((restored >= 0.0) & (restored <= 1.0))
    np.testing.assert_array_equal(restored[~mask], image[~mask] / 255.0)


@SETTINGS
@given(problems(max_side=6), st.sampled_from(["luma", "channels", "joint"]))
def test_inpaint_same_result_twice(problem, color):
    values, mask, params = problem
    rng = np.random.default_rng(params["random_state"])
    image = rng.integers(0, 256, (*values.shape, 3)).astype(np.uint8)
    params = {**params, "rank": 1}

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = inpaint(image, mask, channel_axis=-1, color=color, **params)
        second = inpaint(image, mask, channel_axis=-1, color=color, **params)

    assert np.isfinite(first).all()
    np.testing.assert_array_equal(first, second)
