import warnings

import numpy as np
import pytest
from skimage import data
from skimage.transform import resize

from mfinpaint import SmoothMF, inpaint, random_mask, tuning
from mfinpaint.errors import InvalidInputError, InvalidParameterError, ScaleWarning
from mfinpaint.tuning import initial_factors, mask_clustering, tune


@pytest.fixture(scope="module")
def camera_case():
    image = resize(data.camera(), (64, 64), anti_aliasing=True)
    mask = random_mask(image.shape, 0.7, seed=3)
    return image, mask


@pytest.fixture(scope="module")
def tuned(camera_case):
    image, mask = camera_case
    return tune(image, mask, max_rank=32, random_state=0)


def heldout_rse(model, image, heldout):
    truth = image[heldout]
    predicted = model.reconstruct()[heldout]
    return np.linalg.norm(truth - predicted) / np.linalg.norm(truth)


@pytest.mark.filterwarnings("ignore::mfinpaint.ConvergenceWarning")
def test_tune_beats_fixed_settings(camera_case, tuned):
    image, mask = camera_case
    train = mask.copy()
    train[tuned.heldout] = True
    plain = SmoothMF(
        rank=tuned.params["rank"], lam=1e-10, rho=0.1, max_iter=30, random_state=1
    ).fit(image, train)
    published = SmoothMF(
        rank=50, lam=10.0, rho=0.1, order=1, solver="cg", max_iter=100, random_state=1
    ).fit(image, train)
    published_plain = SmoothMF(
        rank=50, lam=1e-10, rho=0.1, order=1, solver="cg", max_iter=100, random_state=1
    ).fit(image, train)

    assert tuned.holdout_rse < heldout_rse(plain, image, tuned.heldout)
    assert tuned.holdout_rse < heldout_rse(published, image, tuned.heldout)
    assert tuned.holdout_rse < heldout_rse(published_plain, image, tuned.heldout)


def test_tune_holds_out_observed_pixels(camera_case, tuned):
    image, mask = camera_case
    rows, cols = tuned.heldout
    observed = int((~mask).sum())

    assert not mask[rows, cols].any()
    assert len(rows) == round(0.08 * observed)
    assert len(set(zip(rows.tolist(), cols.tolist()))) == len(rows)


def test_tune_reports_every_fit(tuned):
    best = min(trial["holdout_rse"] for trial in tuned.trials)

    assert set(tuned.params) == {"rank", "lam", "rho", "order", "lam1"}
    assert tuned.holdout_rse == best
    assert tuned.params["order"] in (1, 2)
    assert 16 <= tuned.params["rank"] <= 32
    assert tuned.factors[0].shape == (tuned.params["rank"], 64)
    assert tuned.factors[1].shape == (tuned.params["rank"], 64)


def test_tune_same_seed_same_result(camera_case, tuned):
    image, mask = camera_case

    again = tune(image, mask, max_rank=32, random_state=0)

    assert again.params == tuned.params
    assert again.holdout_rse == tuned.holdout_rse
    np.testing.assert_array_equal(again.heldout[0], tuned.heldout[0])


def test_tune_tries_first_order_mix(camera_case):
    image, mask = camera_case

    result = tune(image, mask, orders=(2,), mix=True, max_rank=16, random_state=0)

    lam = result.trials[0]["lam"]
    coarse = [t for t in result.trials if t["rank"] == 16 and t["rho"] == 0.01]
    mixed = [t["lam1"] / t["lam"] for t in coarse if t["lam1"] > 0]
    best = min(coarse, key=lambda t: t["holdout_rse"])
    assert lam > 0
    assert mixed[:2] == pytest.approx([0.1, 0.3])
    assert result.params["lam1"] == best["lam1"]


def test_tune_without_mix_keeps_lam1_zero(camera_case):
    image, mask = camera_case

    result = tune(image, mask, orders=(2,), max_rank=16, random_state=0)

    assert result.params["lam1"] == 0.0
    assert all(trial["lam1"] == 0.0 for trial in result.trials)


def test_tune_rejects_non_flag_mix(camera_case):
    image, mask = camera_case

    with pytest.raises(InvalidParameterError, match="mix"):
        tune(image, mask, mix="yes")


def test_inpaint_auto_rejects_fixed_lam1(camera_case):
    image, mask = camera_case

    with pytest.raises(InvalidParameterError, match="lam1"):
        inpaint(image, mask, auto=True, lam1=0.5)


def test_tune_rejects_bad_holdout(camera_case):
    image, mask = camera_case

    with pytest.raises(InvalidParameterError, match="holdout"):
        tune(image, mask, holdout=0.9)


@pytest.mark.filterwarnings("ignore::mfinpaint.ConvergenceWarning")
def test_fit_starts_from_init(camera_case):
    image, mask = camera_case
    start = initial_factors(image, mask, 8)
    W_start = start[0].copy()

    warm = SmoothMF(rank=8, lam=3.0, rho=0.01, max_iter=1).fit(image, mask, init=start)
    cold = SmoothMF(rank=8, lam=3.0, rho=0.01, max_iter=1, random_state=0).fit(
        image, mask
    )

    assert warm.objective_[0] < cold.objective_[0]
    np.testing.assert_array_equal(start[0], W_start)


def test_fit_rejects_init_of_wrong_shape(camera_case):
    image, mask = camera_case
    W, X = initial_factors(image, mask, 8)

    with pytest.raises(InvalidParameterError, match="init factors have shapes"):
        SmoothMF(rank=4).fit(image, mask, init=(W, X))


def test_tune_reports_iterations(tuned):
    best = next(
        trial for trial in tuned.trials if trial["holdout_rse"] == tuned.holdout_rse
    )

    assert 1 <= tuned.iterations <= 4
    assert best["iterations"] == tuned.iterations


def test_holdout_follows_block_mask():
    missing = np.zeros((64, 64), dtype=bool)
    missing[8:24, 8:24] = True
    missing[40:56, 30:46] = True

    result = tune(
        np.random.default_rng(0).random((64, 64)),
        missing,
        holdout=0.05,
        max_rank=4,
        random_state=1,
    )

    heldout_mask = np.zeros_like(missing)
    heldout_mask[result.heldout] = True
    # Whole 16 x 16 pieces of a shifted block are held out, so most held-out
    # pixels have all four neighbours held out or missing.
    padded = np.pad(heldout_mask | missing, 1)
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    assert heldout_mask.sum() == round(0.05 * (~missing).sum())
    assert not (heldout_mask & missing).any()
    assert inner[heldout_mask].mean() > 0.5


def test_random_holdout_is_scattered():
    missing = np.zeros((64, 64), dtype=bool)
    missing[8:24, 8:24] = True

    result = tune(
        np.random.default_rng(0).random((64, 64)),
        missing,
        holdout=0.05,
        holdout_pattern="random",
        max_rank=4,
        random_state=1,
    )

    heldout_mask = np.zeros_like(missing)
    heldout_mask[result.heldout] = True
    padded = np.pad(heldout_mask | missing, 1)
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    assert heldout_mask.sum() == round(0.05 * (~missing).sum())
    assert inner[heldout_mask].mean() < 0.1


def test_tune_rejects_bad_holdout_pattern(camera_case):
    image, mask = camera_case

    with pytest.raises(InvalidParameterError, match="holdout_pattern"):
        tune(image, mask, holdout_pattern="blocks")


def test_inpaint_auto_fits_tuned_iterations(camera_case):
    image, mask = camera_case

    _, info = inpaint(
        image, mask, auto=True, tune_options={"max_rank": 16}, return_info=True
    )

    assert info["params"]["rank"] == 16
    assert info["iterations"] <= info["tuning"].iterations


def test_inpaint_rejects_tune_options_without_auto(camera_case):
    image, mask = camera_case

    with pytest.raises(InvalidParameterError, match="auto=True"):
        inpaint(image, mask, tune_options={"mix": "yes"})


def test_inpaint_rejects_unknown_tune_option(camera_case):
    image, mask = camera_case

    with pytest.raises(InvalidParameterError, match="max_ranks"):
        inpaint(image, mask, auto=True, tune_options={"max_ranks": 16})


def test_mask_clustering_separates_patterns():
    scattered = random_mask((64, 64), 0.9, seed=2)
    blocks = np.zeros((64, 64), dtype=bool)
    blocks[8:24, 8:24] = True
    rows = np.zeros((64, 64), dtype=bool)
    rows[10:12] = True

    assert abs(mask_clustering(scattered) - 1.0) < 0.1
    assert mask_clustering(blocks) > 3
    assert mask_clustering(rows) > 3
    assert mask_clustering(np.zeros((4, 4), dtype=bool)) == 0.0


def test_auto_pattern_matches_chosen_pattern():
    image = np.random.default_rng(0).random((64, 64))
    blocks = np.zeros((64, 64), dtype=bool)
    blocks[8:24, 8:24] = True
    scattered = random_mask((64, 64), 0.5, seed=2)

    for mask, pattern in ((blocks, "mask"), (scattered, "random")):
        auto = tune(image, mask, max_rank=4, random_state=1)
        chosen = tune(image, mask, holdout_pattern=pattern, max_rank=4, random_state=1)
        np.testing.assert_array_equal(auto.heldout[0], chosen.heldout[0])
        np.testing.assert_array_equal(auto.heldout[1], chosen.heldout[1])


def test_tune_black_image_scores_absolute_error():
    image = np.zeros((12, 16))
    mask = random_mask(image.shape, 0.5, seed=0)

    result = tune(image, mask, max_rank=4, random_state=0)

    assert np.isfinite(result.holdout_rse)
    assert result.holdout_rse < 1e-6
    assert set(result.params) == {"rank", "lam", "rho", "order", "lam1"}


@pytest.mark.parametrize("orders", [3, None])
def test_tune_rejects_orders_not_sequence(orders):
    image = np.random.default_rng(0).random((8, 8))
    mask = random_mask(image.shape, 0.5, seed=0)

    with pytest.raises(InvalidParameterError, match="orders must be a sequence"):
        tune(image, mask, orders=orders)


@pytest.mark.parametrize(
    "mask",
    [
        np.ones((3, 3, 3), dtype=bool),
        np.array([[0.5, 0.0]]),
        None,
        "mask",
    ],
)
def test_mask_clustering_rejects_bad_mask(mask):
    with pytest.raises(InvalidInputError, match="2-D bool or integer"):
        mask_clustering(mask)


def test_mask_clustering_takes_integer_mask():
    assert mask_clustering([[1, 0], [0, 1]]) == 0.0
    assert mask_clustering(np.array([[1, 1], [0, 0]], dtype=np.uint8)) == 0.5


def test_auto_channels_disjoint_masks():
    image = np.random.default_rng(0).random((12, 15, 3))
    # Each pixel is missing in exactly one channel, so the channel mean has
    # no observed pixel but every channel has two thirds of its pixels.
    mask = np.zeros(image.shape, dtype=bool)
    channel_of_pixel = np.arange(12 * 15).reshape(12, 15) % 3
    for channel in range(3):
        mask[..., channel] = channel_of_pixel == channel

    restored, info = inpaint(
        image,
        mask,
        channel_axis=-1,
        auto=True,
        tune_options={"max_rank": 4},
        return_info=True,
    )

    assert restored.shape == image.shape
    assert np.isfinite(restored).all()
    np.testing.assert_array_equal(restored[~mask], image[~mask])
    assert info["tuning"] is not None
    assert info["params"]["rank"] <= 4


def test_tune_max_rank_below_start_rank():
    image = np.random.default_rng(0).random((24, 24))
    mask = random_mask(image.shape, 0.5, seed=0)

    result = tune(image, mask, max_rank=3, random_state=0)

    assert result.params["rank"] <= 3
    assert all(trial["rank"] <= 3 for trial in result.trials)


def test_svd_factors_randomized_above_limit(monkeypatch):
    rng = np.random.default_rng(3)
    Y = rng.standard_normal((60, 4)) @ rng.standard_normal((4, 50))
    Y += 1e-3 * rng.standard_normal(Y.shape)
    U, S, Vt = np.linalg.svd(Y, full_matrices=False)
    best = (U[:, :4] * S[:4]) @ Vt[:4]
    monkeypatch.setattr(tuning, "EXACT_SVD_LIMIT", 10)

    W, X = tuning.svd_factors(Y, 4)

    assert W.shape == (4, 60)
    assert X.shape == (4, 50)
    assert np.linalg.norm(W.T @ X - best) < 1e-8 * np.linalg.norm(best)


def scale_warnings(caught):
    return [w for w in caught if issubclass(w.category, ScaleWarning)]


def test_tune_hides_trial_scale_warnings(camera_case):
    image, mask = camera_case
    dark = image * 0.002

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tune(dark, mask, max_rank=8, random_state=0)

    assert scale_warnings(caught) == []


def test_auto_scale_warning_once(camera_case):
    # Every lam that tune tries is above 1000 times 1e-5, so the final fit
    # warns, and only it does.
    image, mask = camera_case
    dark = image * 1e-5

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        inpaint(dark, mask, auto=True, tune_options={"max_rank": 8})

    assert len(scale_warnings(caught)) == 1
