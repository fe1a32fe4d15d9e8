"""SmoothMF accepts what a NumPy or scikit-learn user would pass, or rejects it clearly."""

import warnings

import numpy as np
import pytest

from mfinpaint import SmoothMF
from mfinpaint.errors import (
    InvalidInputError,
    InvalidParameterError,
    ScaleWarning,
    SingularSystemError,
)

pytestmark = pytest.mark.filterwarnings("ignore::mfinpaint.ConvergenceWarning")


def smooth_matrix():
    Y = np.outer(np.linspace(0, 1, 12), np.linspace(1, 2, 10))
    missing = np.zeros(Y.shape, dtype=bool)
    missing[::3, ::2] = True
    return Y, missing


def small_model(**params):
    return SmoothMF(**{"rank": 2, "rho": 1e-3, "lam": 1.0, "random_state": 0, **params})


def test_masked_array_entries_are_missing():
    Y, missing = smooth_matrix()
    corrupted = Y.copy()
    corrupted[missing] = 1e6
    masked = np.ma.array(corrupted, mask=missing)

    filled = small_model(max_iter=20).fit_transform(masked)

    assert isinstance(filled, np.ndarray)
    assert not isinstance(filled, np.ma.MaskedArray)
    assert np.abs(filled - Y).max() < 0.1


def test_masked_array_mask_joins_mask_argument():
    Y, missing = smooth_matrix()
    masked = np.ma.array(Y, mask=np.zeros_like(missing))
    masked[0, 0] = np.ma.masked

    model = small_model(max_iter=3).fit(masked, missing)
    filled = model.fit_transform(masked, missing)

    assert filled[0, 0] == pytest.approx(model.reconstruct()[0, 0])
    assert np.array_equal(filled[~missing][1:], Y[~missing][1:])


@pytest.mark.parametrize(
    "init",
    [
        (np.full((2, 12), "a"), np.zeros((2, 10))),
        (np.zeros((2, 12)), np.zeros((2, 10)) + 1j),
        (np.zeros((2, 12)), np.zeros((2, 10), dtype=object)),
    ],
    ids=["string", "complex", "object"],
)
def test_init_of_non_real_type_rejected(init):
    Y, missing = smooth_matrix()
    with pytest.raises(InvalidParameterError, match="must be a real numeric array"):
        small_model(max_iter=2).fit(Y, missing, init=init)


@pytest.mark.parametrize("verbose", ["yes", 2, None])
def test_verbose_must_be_bool(verbose):
    Y, missing = smooth_matrix()
    with pytest.raises(InvalidParameterError, match="verbose must be True or False"):
        small_model(verbose=verbose).fit(Y, missing)


def test_callback_factors_are_read_only():
    Y, missing = smooth_matrix()

    def overwrite(progress):
        progress.W[:] = np.nan

    with pytest.raises(ValueError, match="read-only"):
        small_model(max_iter=2).fit(Y, missing, callback=overwrite)


def test_callback_sees_fit_factors():
    Y, missing = smooth_matrix()
    seen = []
    model = small_model(max_iter=3, solver="cg").fit(
        Y, missing, callback=lambda progress: seen.append(progress.W.copy())
    )

    assert len(seen) == 3
    assert np.array_equal(seen[-1], model.W_)


@pytest.mark.parametrize("result", [np.array([1, 0]), "stop", 1])
def test_callback_result_must_be_bool(result):
    Y, missing = smooth_matrix()
    with pytest.raises(InvalidParameterError, match="callback must return None"):
        small_model(max_iter=2).fit(Y, missing, callback=lambda progress: result)


def test_callback_numpy_true_stops_fit():
    Y, missing = smooth_matrix()
    model = small_model(max_iter=5).fit(Y, missing, callback=lambda p: np.True_)
    assert model.n_iter_ == 1
    assert len(model.objective_) == 1


def test_failed_refit_keeps_previous_fit():
    Y, missing = smooth_matrix()
    model = small_model(max_iter=4, solver="cg").fit(Y, missing)
    W, objective = model.W_.copy(), list(model.objective_)

    def fail(progress):
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        model.fit(Y[:6, :5], missing[:6, :5], callback=fail)

    assert np.array_equal(model.W_, W)
    assert model.objective_ == objective
    assert model.n_iter_ == 4


def test_get_params_accepts_deep():
    model = small_model()
    assert model.get_params(deep=True) == model.get_params()
    assert model.get_params(deep=False)["rank"] == 2


def test_singular_error_names_scaling():
    Y, _ = smooth_matrix()
    with pytest.raises(SingularSystemError, match="scale Y to values near 1"):
        small_model(max_iter=10).fit(Y * 1e150)


@pytest.mark.parametrize("scale", [1e-50, 1e45])
def test_svd_start_outside_float32_range(scale):
    # The SVD start runs in float32, where 1e-50 is 0 and 1e45 is inf. With
    # rho and lam scaled like Y, the fill scales with Y.
    Y, missing = smooth_matrix()
    params = {"start": "svd", "max_iter": 3}
    reference = small_model(**params).fit_transform(Y, missing)

    model = small_model(**params, rho=1e-3 * scale, lam=1.0 * scale)
    filled = model.fit_transform(Y * scale, missing) / scale

    assert np.isfinite(filled).all()
    assert np.abs(filled - reference).max() < 0.05


def test_float32_rejects_values_beyond_range():
    Y, missing = smooth_matrix()
    with pytest.raises(InvalidInputError, match="beyond the float32 maximum"):
        small_model(dtype=np.float32).fit(Y * 1e40, missing)


def test_positional_parameters_keep_their_order():
    model = SmoothMF(5, 0.2, 3.0, 2, "cg", 7)

    assert model.rank == 5
    assert model.rho == 0.2
    assert model.lam == 3.0
    assert model.order == 2
    assert model.solver == "cg"
    assert model.max_iter == 7
    assert model.lam1 == 0.0


def test_weights_far_above_data_warn():
    Y, missing = smooth_matrix()

    with pytest.warns(ScaleWarning, match="pulled toward 0"):
        small_model(max_iter=2).fit(Y * 1e-6, missing)


@pytest.mark.parametrize("scale", [1.0, 1e-6])
def test_weights_scaled_with_data_do_not_warn(scale):
    Y, missing = smooth_matrix()
    model = small_model(max_iter=2, rho=1e-3 * scale, lam=1.0 * scale)

    with warnings.catch_warnings():
        warnings.simplefilter("error", ScaleWarning)
        model.fit(Y * scale, missing)

    assert np.isfinite(model.reconstruct()).all()


def test_scale_warning_names_large_weight():
    Y, missing = smooth_matrix()
    model = small_model(max_iter=2, rho=1e-3, lam=1.0, order=2, lam1=1e4)

    with pytest.warns(ScaleWarning) as caught:
        model.fit(Y, missing)

    message = str(caught[0].message)
    assert message.startswith("lam1 10000 is more than 1000 times")
    assert "rho or lam" not in message
