"""Unusual shapes and pixel formats, through inpaint and the command line."""

import broken_files
import numpy as np
import pytest
from PIL import Image

from mfinpaint import inpaint
from mfinpaint.cli import main
from mfinpaint.errors import InvalidInputError
from mfinpaint.io import read_image, write_image

FAST = ["--rank", "2", "--max-iter", "5", "--quiet"]

pytestmark = pytest.mark.filterwarnings("ignore::mfinpaint.ConvergenceWarning")


def one_missing_pixel(shape, index=1):
    mask = np.zeros(shape, dtype=bool)
    mask.flat[index] = True
    return mask


def write_mask(folder, mask):
    path = folder / "mask.png"
    write_image(path, mask.astype(np.uint8) * 255)
    return path


def max_rank(shape, color):
    """Return the largest rank of an RGB image of ``shape`` fitted with ``color``."""
    if color == "joint":
        return min(shape[0], 3 * shape[1])
    return min(shape)


SMALL_SHAPES = [(1, 9), (9, 1), (2, 2), (1, 2), (3, 3)]


@pytest.mark.parametrize("shape", SMALL_SHAPES)
@pytest.mark.parametrize("solver", ["exact", "cg"])
@pytest.mark.parametrize("order", [1, 2])
def test_small_shape_inpaint(shape, solver, order):
    image = np.linspace(0.2, 0.8, shape[0] * shape[1]).reshape(shape)
    mask = one_missing_pixel(shape)

    restored = inpaint(
        image, mask, solver=solver, order=order, max_iter=20, random_state=0
    )

    assert restored.shape == shape
    assert np.isfinite(restored).all()
    np.testing.assert_array_equal(restored[~mask], image[~mask])


@pytest.mark.parametrize("shape", [(1, 9), (9, 1), (2, 2), (3, 3)])
@pytest.mark.parametrize("color", [None, "luma", "joint", "channels"])
def test_small_shape_auto(shape, color):
    mask = one_missing_pixel(shape)
    if color is None:
        image, options = np.linspace(0.2, 0.8, mask.size).reshape(shape), {}
    else:
        image = broken_files.small_image((*shape, 3))
        options = {"channel_axis": -1, "color": color}

    restored, info = inpaint(image, mask, auto=True, return_info=True, **options)

    expected = image / 255.0 if color else image
    assert restored.shape == image.shape
    assert np.isfinite(restored).all()
    assert info["params"]["rank"] <= max_rank(shape, color)
    np.testing.assert_array_equal(restored[~mask], expected[~mask])


def test_auto_single_observed_pixel_rejected():
    image = np.array([[0.2, 0.8]])
    mask = np.array([[False, True]])

    with pytest.raises(InvalidInputError, match="at least 2 observed entries, one"):
        inpaint(image, mask, auto=True)


@pytest.mark.parametrize("shape", [(1, 9), (9, 1), (2, 2)])
@pytest.mark.parametrize("color", ["luma", "joint"])
def test_small_color_image_default_rank(shape, color):
    # The default rank 32 is lowered to the smaller side, and the chroma
    # rank of luma to half of that, at least 1.
    image = broken_files.small_image((*shape, 3))
    mask = one_missing_pixel(shape)

    restored, info = inpaint(
        image, mask, channel_axis=-1, color=color, return_info=True
    )

    assert restored.shape == image.shape
    assert all(model.rank <= max_rank(shape, color) for model in info["models"])
    np.testing.assert_array_equal(restored[~mask], image[~mask] / 255.0)


def test_wide_image_inpaint():
    rng = np.random.default_rng(0)
    image = np.outer(
        np.linspace(0.2, 0.8, 10), 0.5 + 0.5 * np.sin(np.arange(5000) / 300)
    )
    mask = rng.random(image.shape) < 0.3

    restored, info = inpaint(
        image, mask, lam=1.0, rho=1e-3, max_iter=10, random_state=0, return_info=True
    )

    assert restored.shape == (10, 5000)
    assert info["models"][0].rank == 10
    np.testing.assert_array_equal(restored[~mask], image[~mask])
    assert np.abs(restored - image)[mask].mean() < 0.05


def test_wide_image_auto():
    image = np.outer(
        np.linspace(0.2, 0.8, 10), 0.5 + 0.5 * np.sin(np.arange(5000) / 300)
    )
    mask = np.random.default_rng(0).random(image.shape) < 0.3

    restored, info = inpaint(image, mask, auto=True, return_info=True)

    assert restored.shape == (10, 5000)
    assert info["params"]["rank"] <= 10
    np.testing.assert_array_equal(restored[~mask], image[~mask])
    assert np.abs(restored - image)[mask].mean() < 0.05


@pytest.mark.parametrize("shape", SMALL_SHAPES + [(10, 5000)])
def test_small_shape_command_line(tmp_path, shape):
    source = tmp_path / "image.png"
    image = np.linspace(0.1, 0.9, shape[0] * shape[1]).reshape(shape)
    write_image(source, image)
    mask = write_mask(tmp_path, one_missing_pixel(shape))
    output = tmp_path / "out.png"

    status = main(
        [
            "inpaint",
            str(source),
            "-o",
            str(output),
            "--mask",
            str(mask),
            "--reference",
            str(source),
            "--rank",
            "1",
            "--max-iter",
            "5",
            "--quiet",
        ]
    )

    restored = read_image(output)
    original = read_image(source)
    kept = ~one_missing_pixel(shape)
    assert status == 0
    assert restored.shape == shape
    np.testing.assert_array_equal(restored[kept], original[kept])


def test_gray_16_bit_inpaint():
    image = np.random.default_rng(0).integers(0, 65536, (12, 10)).astype(np.uint16)
    mask = one_missing_pixel(image.shape, 7)

    restored = inpaint(image, mask, rank=2, max_iter=5, random_state=0)

    assert restored.dtype == np.float64
    np.testing.assert_array_equal(restored[~mask], image[~mask] / 65535.0)


def test_gray_16_bit_command_line(tmp_path):
    image = np.random.default_rng(0).integers(0, 65536, (12, 10)).astype(np.uint16)
    source = tmp_path / "gray16.png"
    write_image(source, image, bit_depth=16)
    output = tmp_path / "out.png"

    status = main(
        ["inpaint", str(source), "-o", str(output), "--missing-rate", "0.3", *FAST]
    )

    mask = np.random.RandomState(1).rand(12, 10) < 0.3
    restored = read_image(output)
    assert status == 0
    assert restored.dtype == np.uint16
    np.testing.assert_array_equal(restored[~mask], image[~mask])


@pytest.mark.parametrize("channels, mode", [(4, "RGBA"), (2, "LA")])
def test_alpha_marks_missing_pixels(tmp_path, channels, mode):
    image = broken_files.small_image((20, 16, channels))
    image[..., -1] = 255
    image[3:6, 2:5, -1] = 0
    source = tmp_path / "alpha.png"
    Image.fromarray(image, mode).save(source)
    output = tmp_path / "out.png"

    status = main(["inpaint", str(source), "-o", str(output), *FAST])

    restored = read_image(output)
    missing = image[..., -1] == 0
    assert status == 0
    assert restored.shape == image.shape
    assert (restored[..., -1] == 255).all()
    np.testing.assert_array_equal(restored[~missing], image[~missing])


@pytest.mark.parametrize("color", ["luma", "channels", "joint"])
@pytest.mark.parametrize("auto", [False, True])
def test_rgba_inpaint_with_channel_axis(color, auto):
    # luma applies to 3 channels only, so 4 channels are fitted one by one.
    image = broken_files.small_image((10, 8, 4))
    mask = one_missing_pixel((10, 8), 11)
    params = {"max_iter": 5} if auto else {"rank": 2, "max_iter": 5}

    restored = inpaint(
        image, mask, channel_axis=-1, color=color, auto=auto, random_state=0, **params
    )

    assert restored.shape == (10, 8, 4)
    assert np.isfinite(restored).all()
    np.testing.assert_array_equal(restored[~mask], image[~mask] / 255.0)


def test_channels_first_inpaint():
    image = broken_files.small_image((3, 10, 8))
    mask = one_missing_pixel((10, 8), 5)

    restored = inpaint(image, mask, channel_axis=0, rank=2, max_iter=5, random_state=0)

    assert restored.shape == (3, 10, 8)
    np.testing.assert_array_equal(restored[:, ~mask], image[:, ~mask] / 255.0)


@pytest.mark.parametrize("transparency", [False, True])
def test_palette_command_line(tmp_path, transparency):
    palette = Image.fromarray(broken_files.small_image((20, 16, 3))).quantize(16)
    source = tmp_path / "palette.png"
    options = {"transparency": 0} if transparency else {}
    palette.save(source, **options)
    expected = read_image(source)
    output = tmp_path / "out.png"

    status = main(
        ["inpaint", str(source), "-o", str(output), "--missing-rate", "0.3", *FAST]
    )

    restored = read_image(output)
    mask = np.random.RandomState(1).rand(20, 16) < 0.3
    assert status == 0
    assert expected.shape == (20, 16, 4 if transparency else 3)
    assert restored.shape == expected.shape
    np.testing.assert_array_equal(restored[~mask], expected[~mask])


def test_jpeg_orientation_applied(tmp_path):
    image = broken_files.small_image((12, 20, 3))
    source = broken_files.jpeg_with_orientation(tmp_path, image, 6)

    upright = read_image(source)
    stored = np.asarray(Image.open(source))

    # Orientation 6: the stored image is shown turned 90 degrees clockwise.
    assert stored.shape == (12, 20, 3)
    assert upright.shape == (20, 12, 3)
    np.testing.assert_array_equal(upright, np.rot90(stored, k=-1))


def test_jpeg_orientation_command_line(tmp_path):
    source = broken_files.jpeg_with_orientation(
        tmp_path, broken_files.small_image((12, 20, 3)), 6
    )
    missing = np.zeros((20, 12), dtype=bool)
    missing[5:8, 3:6] = True
    mask = write_mask(tmp_path, missing)
    output = tmp_path / "out.png"

    status = main(
        ["inpaint", str(source), "-o", str(output), "--mask", str(mask), *FAST]
    )

    restored = read_image(output)
    upright = read_image(source)
    assert status == 0
    assert restored.shape == (20, 12, 3)
    np.testing.assert_array_equal(restored[~missing], upright[~missing])


def test_jpeg_mask_in_stored_orientation_rejected(tmp_path, capsys):
    source = broken_files.jpeg_with_orientation(
        tmp_path, broken_files.small_image((12, 20, 3)), 6
    )
    mask = write_mask(tmp_path, one_missing_pixel((12, 20)))

    status = main(
        [
            "inpaint",
            str(source),
            "-o",
            str(tmp_path / "out.png"),
            "--mask",
            str(mask),
            *FAST,
        ]
    )

    err = capsys.readouterr().err
    assert status == 2
    assert "20 x 12" in err
    assert "12 x 20" in err
