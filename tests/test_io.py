import numpy as np
import pytest
from PIL import Image

from mfinpaint.errors import ImageReadError, ImageWriteError
from mfinpaint.io import read_image, write_image


def random_image(shape, dtype, seed=0):
    top = np.iinfo(dtype).max
    return np.random.default_rng(seed).integers(0, top + 1, shape).astype(dtype)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("shape", [(9, 7), (9, 7, 2), (9, 7, 3), (9, 7, 4)])
def test_16_bit_round_trip(tmp_path, suffix, shape):
    image = random_image(shape, np.uint16)
    path = tmp_path / f"image{suffix}"

    write_image(path, image, bit_depth=16)
    back = read_image(path)

    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, image)


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif"])
@pytest.mark.parametrize("shape", [(9, 7), (9, 7, 3)])
def test_8_bit_round_trip(tmp_path, suffix, shape):
    image = random_image(shape, np.uint8)
    path = tmp_path / f"image{suffix}"

    write_image(path, image, bit_depth=8)

    np.testing.assert_array_equal(read_image(path), image)


def test_format_detected_from_bytes(tmp_path):
    image = random_image((5, 6, 3), np.uint8)
    path = tmp_path / "actually_png.bmp"
    Image.fromarray(image).save(path, format="PNG")

    np.testing.assert_array_equal(read_image(path), image)


def test_panda_is_png_with_alpha(panda_path):
    image = read_image(panda_path)

    assert image.shape == (512, 512, 4)
    assert image.dtype == np.uint8


def test_palette_image_expands_to_rgb(tmp_path):
    image = Image.fromarray(random_image((6, 6, 3), np.uint8)).quantize(8)
    image.save(tmp_path / "palette.png")

    back = read_image(tmp_path / "palette.png")

    assert back.shape == (6, 6, 3)
    assert back.dtype == np.uint8


def test_jpeg_read(tmp_path):
    Image.fromarray(random_image((16, 16, 3), np.uint8)).save(tmp_path / "a.jpg")

    assert read_image(tmp_path / "a.jpg").shape == (16, 16, 3)


def test_float_image_written_as_rounded_integers(tmp_path):
    write_image(tmp_path / "f.png", np.array([[0.0, 0.5, 1.0]]), bit_depth=8)

    np.testing.assert_array_equal(read_image(tmp_path / "f.png"), [[0, 128, 255]])


def test_sixteen_bit_jpeg_rejected(tmp_path):
    with pytest.raises(ImageWriteError, match="8 bits"):
        write_image(tmp_path / "a.jpg", np.zeros((4, 4)), bit_depth=16)
    assert not (tmp_path / "a.jpg").exists()


def test_unknown_signature_rejected(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("hello")

    with pytest.raises(ImageReadError, match="notes.png"):
        read_image(path)


def test_truncated_png_rejected(tmp_path):
    path = tmp_path / "cut.png"
    Image.fromarray(random_image((64, 64, 3), np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:200])

    with pytest.raises(ImageReadError, match="cut.png"):
        read_image(path)


def test_pixel_limit(tmp_path):
    path = tmp_path / "big.png"
    Image.fromarray(np.zeros((50, 50), np.uint8)).save(path)

    with pytest.raises(ValueError, match="--max-pixels"):
        read_image(path, max_pixels=2000)
