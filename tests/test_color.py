import warnings

import numpy as np
import pytest
from skimage import data
from skimage.transform import resize

from mfinpaint import inpaint, random_mask
from mfinpaint.colorspace import rgb_to_ycbcr, ycbcr_to_rgb
from mfinpaint.errors import InvalidParameterError, ScaleWarning

FAST = {"rank": 8, "max_iter": 5}


@pytest.fixture(scope="module")
def rgb():
    return resize(data.astronaut()[::4, ::4], (48, 40), anti_aliasing=True)


@pytest.mark.parametrize("color", ["luma", "channels", "joint"])
def test_color_mode_keeps_observed(rgb, color):
    mask = random_mask(rgb.shape[:2], 0.6, seed=2)

    restored = inpaint(rgb, mask, channel_axis=-1, color=color, **FAST)

    assert restored.shape == rgb.shape
    assert restored.dtype == np.float64
    np.testing.assert_array_equal(restored[~mask], rgb[~mask])
    assert restored.min() >= 0.0
    assert restored.max() <= 1.0
    assert np.abs(restored[mask] - rgb[mask]).mean() < 0.1


def test_channels_first_axis(rgb):
    image = np.moveaxis(rgb, -1, 0)
    mask = random_mask(rgb.shape[:2], 0.5, seed=4)

    restored = inpaint(image, mask, channel_axis=0, **FAST)

    assert restored.shape == image.shape
    np.testing.assert_array_equal(restored[:, ~mask], image[:, ~mask])


def test_luma_keeps_observed_with_channel_masks(rgb):
    mask = np.random.default_rng(5).random(rgb.shape) < 0.5

    restored = inpaint(rgb, mask, channel_axis=-1, color="luma", **FAST)

    np.testing.assert_array_equal(restored[~mask], rgb[~mask])


def test_ycbcr_round_trip(rgb):
    ycbcr = rgb_to_ycbcr(rgb)

    np.testing.assert_allclose(ycbcr_to_rgb(ycbcr), rgb, atol=1e-12)
    np.testing.assert_allclose(ycbcr[..., 0], rgb @ [0.299, 0.587, 0.114])
    assert np.abs(ycbcr[..., 1:]).max() <= 0.5


def test_auto_returns_tuned_params(rgb):
    mask = random_mask(rgb.shape[:2], 0.7, seed=6)

    restored, info = inpaint(rgb, mask, channel_axis=-1, auto=True, return_info=True)

    np.testing.assert_array_equal(restored[~mask], rgb[~mask])
    assert info["params"] == info["tuning"].params
    assert len(info["models"]) == 3
    for model in info["models"]:
        assert model.rank == info["params"]["rank"]


def test_auto_luma_halves_chroma_rank(rgb):
    mask = random_mask(rgb.shape[:2], 0.7, seed=6)

    _, info = inpaint(
        rgb, mask, channel_axis=-1, color="luma", auto=True, return_info=True
    )

    assert info["models"][0].rank == info["params"]["rank"]
    assert info["models"][1].rank == max(info["params"]["rank"] // 2, 1)
    assert info["models"][2].rank == max(info["params"]["rank"] // 2, 1)


def test_auto_rejects_fixed_rank(rgb):
    mask = random_mask(rgb.shape[:2], 0.7, seed=6)

    with pytest.raises(InvalidParameterError, match="auto=True"):
        inpaint(rgb, mask, channel_axis=-1, auto=True, rank=4)


@pytest.mark.parametrize("color", ["channels", "luma"])
def test_scale_warning_once_per_image(rgb, color):
    mask = random_mask(rgb.shape[:2], 0.6, seed=2)
    dark = rgb * 0.002

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        inpaint(dark, mask, channel_axis=-1, color=color, **FAST)

    scale = [w for w in caught if issubclass(w.category, ScaleWarning)]
    assert len(scale) == 1
    assert str(scale[0].message).endswith("of 3 channels)")
