import numpy as np
import pytest

from mfinpaint import InvalidInputError, InvalidParameterError
from mfinpaint.masks import mask_from_alpha, mask_from_image, random_mask


def test_random_mask_follows_published_rule():
    mask = random_mask((512, 512), 0.9, seed=1)

    np.random.seed(1)
    kept = np.round(np.random.rand(512, 512) + 0.5 - 0.9)
    np.testing.assert_array_equal(mask, kept == 0)


def test_random_mask_rate():
    mask = random_mask((200, 300), 0.3, seed=5)

    assert mask.dtype == bool
    assert mask.mean() == pytest.approx(0.3, abs=0.01)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, float("nan")])
def test_random_mask_rejects_rate(rate):
    with pytest.raises(InvalidParameterError, match="missing_rate"):
        random_mask((4, 4), rate, seed=0)


def test_mask_from_gray_image_nonzero_is_missing():
    image = np.array([[0, 255], [1, 0]], dtype=np.uint8)

    np.testing.assert_array_equal(
        mask_from_image(image), [[False, True], [True, False]]
    )


def test_mask_from_color_image_any_channel():
    image = np.zeros((2, 2, 4), dtype=np.uint8)
    image[..., 3] = 255
    image[0, 1, 2] = 9

    np.testing.assert_array_equal(
        mask_from_image(image), [[False, True], [False, False]]
    )


def test_mask_from_alpha_transparent_pixels():
    image = np.full((2, 3, 4), 200, dtype=np.uint8)
    image[1, 2, 3] = 0

    assert mask_from_alpha(image).sum() == 1
    assert mask_from_alpha(image)[1, 2]


def test_mask_from_alpha_rejects_rgb():
    with pytest.raises(InvalidInputError, match="alpha"):
        mask_from_alpha(np.zeros((2, 2, 3)))
