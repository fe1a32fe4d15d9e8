"""Bad input to the library raises an mfinpaint error that names the value."""

import os
import warnings

import broken_files
import numpy as np
import pytest
import tifffile
from PIL import Image

from mfinpaint import SmoothMF, inpaint
from mfinpaint.difference import apply_laplacian
from mfinpaint.errors import (
    ImageReadError,
    ImageWriteError,
    InvalidInputError,
    InvalidParameterError,
    MfinpaintError,
    SingularSystemError,
)
from mfinpaint.io import atomic_write, check_output_path, read_image, write_image
from mfinpaint.masks import mask_from_image

pytestmark = pytest.mark.filterwarnings("ignore::mfinpaint.ConvergenceWarning")


def random_matrix(shape=(12, 10), missing_rate=0.4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random(shape), rng.random(shape) < missing_rate


# Input files.


def read_error(path, **options):
    with pytest.raises(MfinpaintError) as caught:
        read_image(path, **options)
    return caught.value


@pytest.mark.parametrize(
    "kind, suffix", [("PNG", "png"), ("JPEG", "jpg"), ("BMP", "bmp"), ("TIFF", "tif")]
)
@pytest.mark.parametrize("keep", [0.02, 0.5, 0.9])
def test_read_truncated_file(tmp_path, kind, suffix, keep):
    path = broken_files.truncated(tmp_path, kind, suffix, keep)

    error = read_error(path)

    assert isinstance(error, ImageReadError)
    assert str(path) in str(error)


def test_read_png_with_bad_checksum(tmp_path):
    path = broken_files.png_with_bad_crc(tmp_path)

    error = read_error(path)

    assert isinstance(error, ImageReadError)
    assert "bad_crc.png" in str(error)


@pytest.mark.parametrize(
    "name, content",
    [
        ("notes.png", b"just some text"),
        ("empty.png", b""),
        ("anim.gif", broken_files.encode(broken_files.small_image(), "GIF")),
        ("photo.webp", broken_files.encode(broken_files.small_image(), "WEBP")),
    ],
)
def test_read_not_an_image(tmp_path, name, content):
    path = broken_files.write_bytes(tmp_path, name, content)

    error = read_error(path)

    assert isinstance(error, ImageReadError)
    assert name in str(error)


def test_read_missing_file(tmp_path):
    error = read_error(tmp_path / "nowhere.png")

    assert isinstance(error, ImageReadError)
    assert "nowhere.png" in str(error)
    assert "not found" in str(error)


def test_read_folder(tmp_path):
    error = read_error(tmp_path)

    assert isinstance(error, ImageReadError)
    assert "folder" in str(error)


def test_read_fifo_rejected(tmp_path):
    path = tmp_path / "pipe.png"
    os.mkfifo(path)

    error = read_error(path)

    assert isinstance(error, ImageReadError)
    assert "not a regular file" in str(error)


def test_read_device_rejected():
    error = read_error("/dev/null")

    assert isinstance(error, ImageReadError)
    assert "/dev/null" in str(error)


def test_write_over_folder_rejected(tmp_path):
    with pytest.raises(ImageWriteError, match="is a folder; give a file name"):
        check_output_path(tmp_path)


def test_write_over_fifo_rejected(tmp_path):
    path = tmp_path / "pipe.png"
    os.mkfifo(path)

    with pytest.raises(ImageWriteError, match="not a regular file"):
        check_output_path(path)


def test_read_error_is_oserror(tmp_path):
    with pytest.raises(OSError):
        read_image(tmp_path / "nowhere.png")


def test_read_unsupported_sample_type(tmp_path):
    path = tmp_path / "int32.tif"
    Image.fromarray(np.arange(20, dtype=np.int32).reshape(4, 5)).save(path)

    error = read_error(path)

    assert isinstance(error, InvalidInputError)
    assert "int32.tif" in str(error)


def test_read_five_samples_rejected(tmp_path):
    path = tmp_path / "five.tif"
    tifffile.imwrite(
        path,
        broken_files.small_image((6, 5, 5)),
        photometric="minisblack",
        planarconfig="contig",
    )

    with pytest.raises(InvalidInputError, match=r"\(6, 5, 5\)") as caught:
        read_image(path)

    assert "five.tif" in str(caught.value)


def test_read_multi_page_tiff_warns(tmp_path, caplog):
    path = tmp_path / "stack.tif"
    stack = broken_files.small_image((3, 6, 5))
    tifffile.imwrite(path, stack, photometric="minisblack")

    image = read_image(path)

    np.testing.assert_array_equal(image, stack[0])
    assert "3 pages" in caplog.text


@pytest.mark.parametrize("seed", range(8))
def test_read_damaged_tiff_header(tmp_path, seed):
    # Damaged tag tables make tifffile raise IndexError or TypeError too.
    rng = np.random.default_rng(seed)
    path = tmp_path / "damaged.tif"
    write_image(path, broken_files.small_image())
    data = bytearray(path.read_bytes())
    for position in rng.integers(8, 200, size=3):
        data[position] = rng.integers(0, 256)
    path.write_bytes(bytes(data))

    try:
        read_image(path)
    except MfinpaintError as error:
        assert "damaged.tif" in str(error)


# TIFF pages that tifffile cannot convert go through Pillow.


@pytest.mark.parametrize(
    "mode, options",
    [
        ("P", {}),
        ("CMYK", {}),
        ("RGB", {"compression": "tiff_lzw"}),
        ("RGB", {"compression": "jpeg"}),
    ],
)
def test_tiff_matches_pillow_conversion(tmp_path, mode, options):
    image = Image.fromarray(broken_files.small_image()).convert(mode)
    path = tmp_path / "image.tif"
    image.save(path, **options)

    expected = np.asarray(Image.open(path).convert("RGB"))

    np.testing.assert_array_equal(read_image(path), expected)


# Size limit.


@pytest.mark.parametrize("write", broken_files.HUGE_FILE_WRITERS)
def test_huge_header_rejected_before_decoding(tmp_path, write):
    path = write(tmp_path)

    error = read_error(path)

    assert isinstance(error, InvalidInputError)
    assert "--max-pixels" in str(error)
    assert str(path) in str(error)
    assert str(broken_files.HUGE_SIDE**2) in str(error)


def test_max_pixels_above_pillow_limit(tmp_path, monkeypatch):
    path = tmp_path / "image.png"
    write_image(path, broken_files.small_image((50, 50)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)

    image = read_image(path, max_pixels=10_000)

    assert image.shape == (50, 50)
    assert Image.MAX_IMAGE_PIXELS == 100


def test_max_pixels_limit_is_inclusive(tmp_path):
    path = tmp_path / "image.bmp"
    write_image(path, broken_files.small_image((20, 30)))

    assert read_image(path, max_pixels=600).shape == (20, 30)
    with pytest.raises(InvalidInputError, match="--max-pixels"):
        read_image(path, max_pixels=599)


# Output files.


def test_write_under_regular_file(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    target = blocker / "out.png"

    with pytest.raises(ImageWriteError, match="file.txt"):
        check_output_path(target)
    with pytest.raises(ImageWriteError):
        write_image(target, np.zeros((4, 4)))
    assert blocker.read_text() == "not a folder"


def test_write_creates_missing_folder(tmp_path):
    target = tmp_path / "new" / "deeper" / "out.png"

    check_output_path(target)
    write_image(target, np.zeros((4, 4)))

    assert read_image(target).shape == (4, 4)


def test_write_name_too_long(tmp_path):
    target = tmp_path / ("x" * 300 + ".png")

    with pytest.raises(ImageWriteError, match="invalid output path"):
        check_output_path(target)


def test_write_long_name_leaves_no_part_file(tmp_path):
    target = tmp_path / ("x" * 240 + ".png")

    write_image(target, np.zeros((4, 4)))

    assert target.exists()
    assert list(tmp_path.glob("*.part")) == []


def test_atomic_write_interrupted_keeps_old_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")

    with pytest.raises(KeyboardInterrupt):
        with atomic_write(target, "w") as stream:
            stream.write("partial")
            raise KeyboardInterrupt

    assert target.read_text() == "old"
    assert list(tmp_path.glob(".*.part")) == []


def test_write_unknown_extension(tmp_path):
    with pytest.raises(ImageWriteError, match=r"\.gif"):
        write_image(tmp_path / "out.gif", np.zeros((4, 4)))
    assert not (tmp_path / "out.gif").exists()


# Masks.


def test_mask_shape_mismatch_names_both_shapes():
    image = np.zeros((9, 8))

    with pytest.raises(InvalidInputError) as caught:
        inpaint(image, np.zeros((8, 9), dtype=bool))

    assert "(8, 9)" in str(caught.value)
    assert "(9, 8)" in str(caught.value)


def test_mask_image_16_bit_nonzero_is_missing():
    image = np.array([[0, 1], [65535, 0]], dtype=np.uint16)

    np.testing.assert_array_equal(
        mask_from_image(image), [[False, True], [True, False]]
    )


def test_mask_image_color_any_channel_nonzero():
    image = np.zeros((2, 3, 3), dtype=np.uint16)
    image[0, 0, 1] = 1
    image[1, 2, 2] = 40000

    expected = [[True, False, False], [False, False, True]]
    np.testing.assert_array_equal(mask_from_image(image), expected)


def test_mask_image_gray_alpha_ignores_alpha():
    image = np.zeros((2, 2, 2), dtype=np.uint8)
    image[..., 1] = 255
    image[1, 1, 0] = 3

    np.testing.assert_array_equal(
        mask_from_image(image), [[False, False], [False, True]]
    )


def test_mask_of_counts_rejected():
    with pytest.raises(InvalidInputError, match="mask_from_image"):
        inpaint(np.zeros((4, 4)), np.full((4, 4), 255, dtype=np.uint8))


def test_mask_without_missing_returns_input(caplog):
    image = broken_files.small_image((6, 7))

    restored = inpaint(image, np.zeros((6, 7), dtype=bool))

    np.testing.assert_array_equal(restored, image / 255.0)
    assert "no pixel" in caplog.text


def test_mask_every_pixel_missing():
    with pytest.raises(InvalidInputError, match="every pixel"):
        inpaint(np.zeros((5, 5)), np.ones((5, 5), dtype=bool))


def test_matrix_every_entry_missing():
    Y, _ = random_matrix()

    with pytest.raises(InvalidInputError, match="every entry"):
        SmoothMF(rank=2).fit(Y, np.ones(Y.shape, dtype=bool))


@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("order", [1, 2])
def test_missing_line_restored_by_smoothing(axis, order):
    rows, columns = np.mgrid[0:24, 0:20]
    image = 0.2 + 0.3 * rows / 23.0 + 0.3 * columns / 19.0
    mask = np.zeros(image.shape, dtype=bool)
    if axis == 0:
        mask[11] = True
    else:
        mask[:, 9] = True
    mask[::5, ::3] = True

    restored = inpaint(
        image, mask, rank=3, lam=1.0, rho=1e-3, order=order, random_state=0
    )

    line = mask.all(axis=1 - axis)
    assert line.sum() == 1
    error = np.abs(restored - image)[mask]
    assert error.max() < 0.02


def test_missing_column_with_no_smoothing_still_finite():
    image = np.tile(np.linspace(0.1, 0.9, 10), (8, 1))
    mask = np.zeros(image.shape, dtype=bool)
    mask[:, 4] = True

    restored = inpaint(image, mask, rank=2, lam=0.0, rho=0.1, random_state=0)

    assert np.isfinite(restored).all()


@pytest.mark.parametrize("color", ["luma", "channels"])
def test_channel_without_observed_pixel(color):
    image = broken_files.small_image((8, 6, 3))
    mask = np.zeros(image.shape, dtype=bool)
    mask[..., 1] = True
    mask[2, 3, 0] = True

    with pytest.raises(InvalidInputError, match="channel 1 has no observed pixel"):
        inpaint(image, mask, channel_axis=-1, color=color, rank=2)


def test_joint_fills_channel_without_observed_pixel():
    image = broken_files.small_image((8, 6, 3))
    mask = np.zeros(image.shape, dtype=bool)
    mask[..., 1] = True

    restored = inpaint(image, mask, channel_axis=-1, color="joint", rank=2, max_iter=5)

    assert np.isfinite(restored).all()
    np.testing.assert_array_equal(restored[~mask], image[~mask] / 255.0)


def test_luma_every_pixel_missing_in_some_channel():
    image = broken_files.small_image((6, 6, 3))
    mask = np.zeros(image.shape, dtype=bool)
    channel = np.arange(36).reshape(6, 6) % 3
    for c in range(3):
        mask[..., c] = channel == c

    with pytest.raises(InvalidInputError, match="color='channels'"):
        inpaint(image, mask, channel_axis=-1, color="luma", rank=2)
    restored = inpaint(
        image, mask, channel_axis=-1, color="channels", rank=2, max_iter=5
    )
    np.testing.assert_array_equal(restored[~mask], image[~mask] / 255.0)


# Values.


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_observed_value_counted(bad):
    Y, mask = random_matrix()
    observed = np.argwhere(~mask)[:3]
    Y[tuple(observed.T)] = bad

    with pytest.raises(InvalidInputError, match="Y has 3 observed entries"):
        SmoothMF(rank=2).fit(Y, mask)
    with pytest.raises(InvalidInputError, match="3 observed values"):
        inpaint(Y, mask)


def test_non_finite_image_without_missing_pixel():
    image = np.full((4, 4), 0.5)
    image[0, 0] = np.nan

    with pytest.raises(InvalidInputError, match="1 observed values"):
        inpaint(image, np.zeros((4, 4), dtype=bool))


@pytest.mark.parametrize("scale, shift", [(255.0, 0.0), (1.0, -0.5)])
def test_float_image_outside_unit_range(scale, shift):
    image = np.linspace(0.0, 1.0, 30).reshape(5, 6) * scale + shift
    mask = np.eye(5, 6, dtype=bool)

    with pytest.raises(InvalidInputError, match=r"\[0, 1\]") as caught:
        inpaint(image, mask, rank=2)

    assert f"{image[~mask].max():g}" in str(caught.value)


def test_empty_image_rejected():
    with pytest.raises(InvalidInputError, match="empty"):
        inpaint(np.zeros((0, 5)), np.zeros((0, 5), dtype=bool))


def test_nan_at_missing_entries_is_allowed():
    Y, mask = random_matrix()
    Y[mask] = np.nan

    filled = SmoothMF(rank=2, max_iter=5, random_state=0).fit_transform(Y, mask)
    restored = inpaint(Y, mask, rank=2, max_iter=5, random_state=0)

    assert np.isfinite(filled).all()
    assert np.isfinite(restored).all()


def test_nan_means_missing_without_mask():
    Y, mask = random_matrix()
    Y[mask] = np.nan

    filled = SmoothMF(rank=2, max_iter=5, random_state=0).fit_transform(Y)

    assert np.isfinite(filled).all()
    np.testing.assert_array_equal(filled[~mask], Y[~mask])


# Parameters.


PARAMETER_CASES = [
    ("rank", 0),
    ("rank", 11),
    ("rank", -3),
    ("rank", 2.0),
    ("rank", "3"),
    ("rank", None),
    ("rank", True),
    ("rho", -0.1),
    ("rho", float("nan")),
    ("rho", "0.1"),
    ("rho", None),
    ("rho", False),
    ("rho", 1e101),
    ("lam", -1.0),
    ("lam", float("inf")),
    ("lam", 1e300),
    ("lam", "10"),
    ("lam", None),
    ("lam1", -0.5),
    ("lam1", float("nan")),
    ("lam1", "0.1"),
    ("lam1", None),
    ("order", 0),
    ("order", 3),
    ("order", 1.0),
    ("order", True),
    ("order", "1"),
    ("order", None),
    ("tol", float("nan")),
    ("tol", float("inf")),
    ("tol", -1e-5),
    ("tol", "1e-5"),
    ("max_iter", 0),
    ("max_iter", -1),
    ("max_iter", 2.5),
    ("max_iter", None),
    ("max_iter", True),
    ("solver", "newton"),
    ("solver", None),
    ("random_state", "seed"),
    ("random_state", True),
    ("random_state", 1.5),
    ("random_state", -1),
    ("dtype", "not a type"),
    ("dtype", np.int32),
]


@pytest.mark.parametrize("name, value", PARAMETER_CASES)
def test_invalid_parameter_names_it(name, value):
    Y, mask = random_matrix()
    model = SmoothMF(rank=2, max_iter=3).set_params(**{name: value})

    with pytest.raises(InvalidParameterError) as caught:
        model.fit(Y, mask)

    assert name in str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, TypeError)


@pytest.mark.parametrize(
    "name, value", [("rank", 0), ("lam", -1.0), ("order", 3), ("lam1", -1.0)]
)
def test_invalid_parameter_through_inpaint(name, value):
    with pytest.raises(InvalidParameterError, match=name):
        inpaint(np.zeros((6, 6)), np.eye(6, dtype=bool), **{name: value})


@pytest.mark.parametrize(
    "segments, message",
    [
        ([3, 3], "add up to 6, but Y has 10 columns"),
        ([6, 6], "add up to 12"),
        ([0, 10], "at least 1, got 0"),
        ([-2, 12], "at least 1, got -2"),
        ([5.5, 4.5], "must be an integer, got 5.5"),
        ("ab", "sequence of ints"),
        ([], "sequence of ints"),
        (10, "sequence of ints"),
    ],
)
def test_invalid_column_segments(segments, message):
    Y, mask = random_matrix()

    with pytest.raises(InvalidParameterError, match="column_segments") as caught:
        SmoothMF(rank=2, max_iter=2).fit(Y, mask, column_segments=segments)

    assert message in str(caught.value)


def test_callback_must_be_callable():
    Y, mask = random_matrix()

    with pytest.raises(InvalidParameterError, match="callback must be callable"):
        SmoothMF(rank=2, max_iter=2).fit(Y, mask, callback=5)


def test_tune_without_orders():
    from mfinpaint.tuning import tune

    Y, mask = random_matrix()

    with pytest.raises(InvalidParameterError, match="orders"):
        tune(Y, mask, orders=())


@pytest.mark.parametrize("name", ["auto", "keep_observed", "verbose", "return_info"])
def test_inpaint_flag_must_be_bool(name):
    with pytest.raises(InvalidParameterError, match=name):
        inpaint(np.full((6, 6), 0.5), np.eye(6, dtype=bool), **{name: "no"})


@pytest.mark.parametrize("random_state", ["seed", -1])
@pytest.mark.parametrize("auto", [False, True])
def test_inpaint_rejects_invalid_random_state(random_state, auto):
    # Without auto, inpaint starts from the SVD of a smoothed fill and draws
    # nothing from random_state, but a bad value is still an error.
    image = np.linspace(0.0, 1.0, 64).reshape(8, 8)

    with pytest.raises(InvalidParameterError, match="random_state"):
        inpaint(image, np.eye(8, dtype=bool), auto=auto, random_state=random_state)


@pytest.mark.parametrize("color, rank, limit", [("luma", 11, 10), ("joint", 13, 12)])
def test_color_rank_above_smaller_side(color, rank, limit):
    image = broken_files.small_image((12, 10, 3))
    mask = np.eye(12, 10, dtype=bool)

    with pytest.raises(InvalidParameterError, match=f"at most {limit}, got {rank}"):
        inpaint(image, mask, channel_axis=-1, color=color, rank=rank)


@pytest.mark.parametrize("channel_axis", [3, -4, "last", 1.0, True])
def test_invalid_channel_axis(channel_axis):
    image = np.zeros((5, 6, 3))

    with pytest.raises(InvalidParameterError, match="channel_axis"):
        inpaint(image, np.eye(5, 6, dtype=bool), channel_axis=channel_axis)


def test_rank_may_equal_smaller_side():
    Y, mask = random_matrix((7, 5))

    model = SmoothMF(rank=5, max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(Y, mask)

    assert model.W_.shape == (5, 7)


@pytest.mark.parametrize("rate", [-0.01, 1.0, 2.0, float("nan"), "0.5", None])
def test_random_mask_rate_outside_range(rate):
    from mfinpaint import random_mask

    with pytest.raises(InvalidParameterError, match="missing_rate"):
        random_mask((4, 4), rate, seed=0)


def test_rse_of_empty_selection():
    from mfinpaint import rse

    with pytest.raises(InvalidInputError, match="selects no entry"):
        rse(np.ones((3, 3)), np.ones((3, 3)), np.zeros((3, 3), dtype=bool))


# Singular systems.


def singular_problem(line):
    Y, mask = random_matrix()
    if line == "row":
        mask[3] = True
    else:
        mask[:, 4] = True
    return Y, mask


@pytest.mark.parametrize("solver", ["exact", "cg"])
@pytest.mark.parametrize("line", ["row", "column"])
def test_no_ridge_no_smoothing_empty_line(solver, line):
    Y, mask = singular_problem(line)
    model = SmoothMF(rank=3, rho=0.0, lam=0.0, solver=solver, random_state=0)

    with pytest.raises(SingularSystemError) as caught:
        model.fit(Y, mask)

    message = str(caught.value)
    assert "rho = 0 and lam = 0" in message
    assert f"1 {line} (" in message
    assert "rho > 0" in message


@pytest.mark.parametrize("solver", ["exact", "cg"])
def test_no_ridge_no_smoothing_rank_above_counts(solver):
    Y, mask = random_matrix((12, 10), missing_rate=0.7)
    model = SmoothMF(rank=8, rho=0.0, lam=0.0, solver=solver, random_state=0)

    with pytest.raises(SingularSystemError, match="fewer than rank = 8"):
        model.fit(Y, mask)


@pytest.mark.parametrize("solver", ["exact", "cg"])
@pytest.mark.parametrize("order", [1, 2])
def test_no_ridge_with_smoothing_empty_row_is_solved(solver, order):
    Y, mask = singular_problem("row")
    model = SmoothMF(
        rank=3,
        rho=0.0,
        lam=1.0,
        order=order,
        solver=solver,
        max_iter=10,
        random_state=0,
    )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        filled = model.fit_transform(Y, mask)

    assert np.isfinite(filled).all()


def test_zero_data_exact_no_ridge_singular():
    # Zero data makes the first W zero, so with rho = lam = 0 the Gram
    # matrices of the X half-step are zero although every entry is observed.
    Y = np.zeros((6, 5))
    model = SmoothMF(rank=2, rho=0.0, lam=0.0, max_iter=50, random_state=0)

    with pytest.raises(SingularSystemError, match="singular"):
        model.fit(Y, np.zeros(Y.shape, dtype=bool))


@pytest.mark.parametrize("rho", [0.0, 1e-3])
def test_zero_data_cg_gives_zeros(rho):
    # The factors decay towards zero until p.T A p underflows.
    Y = np.zeros((7, 7))
    mask = np.eye(7, dtype=bool)
    model = SmoothMF(
        rank=3, rho=rho, lam=0.0, solver="cg", max_iter=200, random_state=6
    )

    filled = model.fit_transform(Y, mask)

    assert np.isfinite(model.W_).all()
    assert np.isfinite(model.X_).all()
    assert np.abs(filled).max() < 1e-3


@pytest.mark.parametrize(("solver", "lam1"), [("exact", 1e8), ("cg", 1e15)])
def test_float32_large_lam1_error_names_lam1(solver, lam1):
    # float32 loses the data terms next to a first-order weight this large,
    # while lam = 3 is harmless, so the advice must point at lam1 too.
    Y, mask = random_matrix()
    model = SmoothMF(
        rank=2, lam=3.0, lam1=lam1, order=2, solver=solver, dtype=np.float32
    )

    with pytest.raises(SingularSystemError) as caught:
        model.fit(Y, mask)

    message = str(caught.value)
    assert "lam1" in message
    assert "float64" in message


def test_overflowing_values_raise_singular():
    Y = np.full((6, 5), 1e200)
    model = SmoothMF(rank=2, max_iter=5, random_state=0)

    with np.errstate(over="ignore", invalid="ignore"):
        with pytest.raises(SingularSystemError, match="NaN or infinite"):
            model.fit(Y, np.eye(6, 5, dtype=bool))


# Shapes smaller than the difference order.


@pytest.mark.parametrize("length", [1, 2])
def test_laplacian_of_short_segment_is_zero(length):
    V = np.arange(3.0 * length).reshape(3, length)

    np.testing.assert_array_equal(apply_laplacian(V, 2), np.zeros_like(V))


@pytest.mark.parametrize("shape", [(1, 9), (9, 1)])
def test_cg_order_two_on_single_line(shape):
    image = np.linspace(0.2, 0.8, 9).reshape(shape)
    mask = np.zeros(shape, dtype=bool)
    mask.flat[4] = True

    restored = inpaint(image, mask, order=2, solver="cg", max_iter=10, random_state=0)

    assert restored.shape == shape
    assert np.isfinite(restored).all()
