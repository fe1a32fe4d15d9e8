"""Reading and writing images, with the format detected from the file's bytes.

Supported: PNG, JPEG, BMP and TIFF; 8-bit and 16-bit; gray, gray with alpha,
RGB, RGBA and palette images. 16-bit PNG goes through pypng because Pillow
decodes 16-bit color PNG to 8 bits. Every write goes to a temporary file in
the target folder that is renamed over the target only when complete.
"""

import contextlib
import io
import logging
import os
import struct
import sys
import tempfile
import threading
import warnings
import zlib
from pathlib import Path

import numpy as np
import png
import tifffile
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageReadError, ImageWriteError, InvalidInputError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "read_image",
    "write_image",
    "atomic_write",
    "check_output_path",
    "detect_format",
    "format_from_suffix",
]

log = logging.getLogger(__name__)

# Images above this many pixels are rejected before they are decoded, a
# defence against decompression bombs. About 100 megapixels.
DEFAULT_MAX_PIXELS = 100_000_000

# Exceptions that the decoders raise on a truncated or corrupt file. tifffile
# also raises IndexError, KeyError and TypeError on damaged tag tables.
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    struct.error,
    zlib.error,
    png.Error,
)

_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "TIFF"),
    (b"MM\x00+", "TIFF"),
    (b"BM", "BMP"),
)

_SUFFIXES = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}


def detect_format(data):
    """Return "PNG", "JPEG", "BMP" or "TIFF" from the leading bytes, else None."""
    for signature, name in _SIGNATURES:
        if data.startswith(signature):
            return name
    return None


def format_from_suffix(path):
    """Return the output format named by the file extension of ``path``."""
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIXES:
        known = ", ".join(sorted(_SUFFIXES))
        raise ImageWriteError(
            f"cannot tell the image format of {str(path)!r} from its extension; "
            f"use one of {known}."
        )
    return _SUFFIXES[suffix]


def read_image(path, *, max_pixels=DEFAULT_MAX_PIXELS):
    """Read an image file into an array, keeping its bit depth.

    Parameters
    ----------
    path : str or path-like
        Image file. The format is detected from the bytes, not the extension.
    max_pixels : int, optional
        Largest accepted ``height * width``, checked before decoding.

    Returns
    -------
    image : ndarray of shape (H, W) or (H, W, C)
        ``uint8`` or ``uint16`` (``float32`` for floating-point TIFF). Palette
        images are expanded to RGB, or RGBA when they have transparency. An
        EXIF orientation tag (JPEG, PNG, TIFF read by Pillow) is applied, so the
        array is upright as a viewer shows it. Of a TIFF with several pages
        only the first is read, with a logged warning.

    Raises
    ------
    ImageReadError
        The file is missing, a folder, empty, not in a supported format, or
        truncated or corrupt. The message names the file.
    InvalidInputError
        The image has more than ``max_pixels`` pixels, unsupported samples, or
        other than 1 to 4 samples per pixel.
    """
    path = Path(path)
    data = _read_bytes(path)
    kind = detect_format(data)
    if kind is None:
        raise ImageReadError(
            f"{str(path)!r} is not a PNG, JPEG, BMP or TIFF image (unknown file "
            "signature). Convert it to one of these formats."
        )

    try:
        if kind == "TIFF":
            image = _read_tiff(data, path, max_pixels)
        elif kind == "PNG" and _png_bit_depth(data) == 16:
            image = _read_png16(data, path, max_pixels)
        else:
            image = _read_with_pillow(data, path, max_pixels)
    except (ImageReadError, InvalidInputError):
        raise
    except _DECODE_ERRORS as error:
        raise ImageReadError(
            f"cannot decode {str(path)!r} as {kind}: {error}. The file may be "
            "truncated or corrupt."
        ) from error
    _check_layout(image, path)
    return image


def _check_layout(image, path):
    """Raise InvalidInputError unless ``image`` is gray, gray-alpha, RGB or RGBA."""
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (1, 2, 3, 4)):
        return
    raise InvalidInputError(
        f"{str(path)!r} has samples of shape {image.shape}; only gray, gray with "
        "alpha, RGB and RGBA images (1 to 4 samples per pixel) are supported."
    )


@contextlib.contextmanager
def _native_stderr_discarded():
    """Discard what C code writes to file descriptor 2 while the body runs.

    libtiff, which Pillow uses for compressed TIFF, prints its warnings and
    errors there ("Using code not yet in table."), and read_image raises its
    own error instead. The redirection is process-wide, so it is done only
    while no other thread runs, whose output it would swallow.
    """
    if threading.active_count() > 1:
        yield
        return

    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as sink:
            os.dup2(sink.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _read_bytes(path):
    if not path.exists():
        raise ImageReadError(f"file not found: {str(path)!r}.")
    if path.is_dir():
        raise ImageReadError(f"{str(path)!r} is a folder, not an image file.")
    if not path.is_file():
        # Reading a FIFO or a device such as /dev/zero could block or never end.
        raise ImageReadError(f"{str(path)!r} is not a regular file.")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ImageReadError(f"cannot read {str(path)!r}: {error.strerror}.") from error
    if not data:
        raise ImageReadError(f"{str(path)!r} is empty (0 bytes).")
    return data


def _check_pixels(path, height, width, max_pixels):
    if height * width > max_pixels:
        raise InvalidInputError(
            f"{str(path)!r} has {width} x {height} = {width * height} pixels, more "
            f"than the limit of {max_pixels}. Raise it with --max-pixels (max_pixels) "
            "if you trust the file."
        )


def _png_bit_depth(data):
    # IHDR follows the 8-byte signature: length, type, width, height, depth.
    return data[24] if len(data) > 25 else 0


def _read_png16(data, path, max_pixels):
    width, height = struct.unpack(">II", data[16:24])
    _check_pixels(path, height, width, max_pixels)
    width, height, rows, info = png.Reader(bytes=data).asDirect()
    image = np.vstack([np.asarray(row, dtype=np.uint16) for row in rows])
    image = image.reshape(height, width, info["planes"])
    return image[..., 0] if info["planes"] == 1 else image


def _read_tiff(data, path, max_pixels):
    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        if len(tif.pages) > 1:
            log.warning(
                "%r has %d pages; only the first is read", str(path), len(tif.pages)
            )
        page = tif.pages[0]
        _check_pixels(path, page.imagelength, page.imagewidth, max_pixels)
        if not _tifffile_decodes(page):
            with _native_stderr_discarded():
                return _read_with_pillow(data, path, max_pixels)
        image = page.asarray()
    if image.dtype.kind == "f":
        return image.astype(np.float32)
    if image.dtype == bool:
        return image.astype(np.uint8) * 255
    if image.dtype not in (np.uint8, np.uint16):
        raise InvalidInputError(
            f"{str(path)!r} stores {image.dtype} samples; only 8-bit, 16-bit and "
            "floating-point TIFF are supported."
        )
    if image.ndim == 3 and image.shape[0] in (3, 4) and image.shape[2] > 4:
        image = np.moveaxis(image, 0, -1)
    return image


def _tifffile_decodes(page):
    """Return whether tifffile returns the pixel values of ``page`` as they are.

    tifffile returns palette indices, CMYK and YCbCr samples unconverted, and it
    needs the imagecodecs package for LZW and JPEG compression. Pillow converts
    those to RGB and decodes those compressions, so it reads such pages instead.
    """
    photometric = tifffile.PHOTOMETRIC
    return (
        page.photometric in (photometric.MINISBLACK, photometric.RGB)
        and page.compression in tifffile.TIFF.DECOMPRESSORS
        and page.predictor in tifffile.TIFF.PREDICTORS
    )


_PILLOW_MODES = {
    "1": "L",
    "CMYK": "RGB",
    "YCbCr": "RGB",
    "LAB": "RGB",
    "HSV": "RGB",
    "RGBX": "RGB",
    "RGBa": "RGBA",
    "La": "LA",
    "PA": "RGBA",
}


def _read_with_pillow(data, path, max_pixels):
    with warnings.catch_warnings():
        # Pillow warns about damaged tags that it skips. A file that it cannot
        # decode still raises.
        warnings.filterwarnings("ignore", category=UserWarning, module="PIL")
        image = _open_with_pillow(data, path, max_pixels)
        image.load()
        image = ImageOps.exif_transpose(image)

    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode in _PILLOW_MODES:
        image = image.convert(_PILLOW_MODES[image.mode])

    array = np.asarray(image)
    if image.mode == "F":
        return array.astype(np.float32)
    if array.dtype.kind in "iu" and array.dtype.itemsize > 1:
        if array.min() < 0 or array.max() > 65535:
            raise InvalidInputError(
                f"{str(path)!r} has values outside 0..65535, so it is not an 8-bit "
                "or 16-bit image."
            )
        return array.astype(np.uint16)
    return array


def _open_with_pillow(data, path, max_pixels):
    """Open ``data`` with Pillow, reading only the header, and check its size.

    ``max_pixels`` replaces Pillow's own decompression-bomb limit, so that a
    caller can raise it above Pillow's limit.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError:
            image = _open_without_pillow_limit(data)
        except UnidentifiedImageError as error:
            raise ImageReadError(
                f"cannot decode {str(path)!r}: Pillow does not recognise its header, "
                "so the file may be truncated or corrupt."
            ) from error
    width, height = image.size
    _check_pixels(path, height, width, max_pixels)
    return image


def _open_without_pillow_limit(data):
    # NOTE: Image.MAX_IMAGE_PIXELS is global, so a thread that opens an image
    # at the same moment also skips Pillow's limit. read_image checks max_pixels
    # before it decodes, whatever Pillow's limit is.
    limit = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = None
        return Image.open(io.BytesIO(data))
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def check_output_path(path):
    """Raise ImageWriteError unless a file can be created at ``path``.

    ``path`` must not be a folder, and its nearest existing ancestor folder
    must be writable. This function creates nothing, and :func:`atomic_write`
    creates the missing folders when it writes.
    """
    path = Path(path)
    try:
        exists, is_folder, is_file = path.exists(), path.is_dir(), path.is_file()
        folder = path.absolute().parent
        while not folder.exists():
            folder = folder.parent
    except OSError as error:
        raise ImageWriteError(
            f"invalid output path {str(path)!r}: {error.strerror}."
        ) from error

    if is_folder:
        raise ImageWriteError(f"output {str(path)!r} is a folder; give a file name.")
    if exists and not is_file:
        # Renaming over a device such as /dev/null would replace the device.
        raise ImageWriteError(f"output {str(path)!r} is not a regular file.")
    if not folder.is_dir():
        raise ImageWriteError(
            f"cannot write {str(path)!r}: {str(folder)!r} is a file, not a folder."
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ImageWriteError(
            f"cannot write {str(path)!r}: folder {str(folder)!r} is not writable."
        )


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file beside ``path`` and rename it to ``path`` on success.

    If the body raises, including on KeyboardInterrupt, the temporary file is
    removed and ``path`` is left as it was.
    """
    path = Path(path)
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # A long name is cut so that the temporary name of an ASCII name fits
        # the 255-byte limit of common file systems.
        handle, temporary = tempfile.mkstemp(
            dir=folder, prefix=f".{path.name[:200]}.", suffix=".part"
        )
    except OSError as error:
        raise ImageWriteError(
            f"cannot write to folder {str(folder)!r}: {error.strerror}. Choose a "
            "writable place."
        ) from error

    try:
        with os.fdopen(handle, mode) as stream:
            yield stream
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def to_integer_image(image, bit_depth):
    """Convert a float image in [0, 1] to ``uint8`` or ``uint16`` by rounding."""
    if bit_depth not in (8, 16):
        raise InvalidInputError(f"bit_depth must be 8 or 16, got {bit_depth!r}.")
    image = np.asarray(image)
    if image.dtype == np.uint8 and bit_depth == 8:
        return image
    if image.dtype == np.uint16 and bit_depth == 16:
        return image
    if image.dtype.kind in "ui":
        raise InvalidInputError(
            f"cannot write a {image.dtype} image as {bit_depth}-bit; pass floats in [0, 1]."
        )
    top = 255 if bit_depth == 8 else 65535
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    return np.round(np.clip(image, 0.0, 1.0) * top).astype(dtype)


def write_image(path, image, *, bit_depth=8):
    """Write an image atomically in the format named by the extension of ``path``.

    Parameters
    ----------
    path : str or path-like
        Output file; ``.png``, ``.jpg``, ``.jpeg``, ``.bmp``, ``.tif`` or ``.tiff``.
    image : ndarray of shape (H, W) or (H, W, C)
        Float values in [0, 1], or ``uint8``/``uint16`` matching ``bit_depth``.
    bit_depth : {8, 16}, default=8
        Sample size in the file. JPEG and BMP store 8 bits only.
    """
    kind = format_from_suffix(path)
    if bit_depth == 16 and kind in ("JPEG", "BMP"):
        raise ImageWriteError(
            f"{kind} stores 8 bits per sample, so {str(path)!r} cannot hold a "
            "16-bit image. Use .png or .tif."
        )
    image = to_integer_image(image, bit_depth)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (
        image.ndim == 3 and image.shape[2] not in (2, 3, 4)
    ):
        raise InvalidInputError(f"cannot write an image of shape {image.shape}.")
    if kind == "JPEG" and image.ndim == 3 and image.shape[2] in (2, 4):
        image = image[..., :-1] if image.shape[2] == 4 else image[..., 0]
    if kind == "BMP" and image.ndim == 3 and image.shape[2] == 2:
        image = image[..., 0]

    try:
        with atomic_write(path) as stream:
            if kind == "TIFF":
                stream.write(_encode_tiff(image))
            elif kind == "PNG" and bit_depth == 16:
                _write_png16(stream, image)
            else:
                options = {"quality": 95} if kind == "JPEG" else {}
                Image.fromarray(image).save(stream, format=kind, **options)
    except OSError as error:
        if isinstance(error, ImageWriteError):
            raise
        raise ImageWriteError(f"cannot write {str(path)!r}: {error}.") from error


def _encode_tiff(image):
    buffer = io.BytesIO()
    if image.ndim == 2:
        tifffile.imwrite(buffer, image, photometric="minisblack")
    elif image.shape[2] == 2:
        tifffile.imwrite(
            buffer, image, photometric="minisblack", extrasamples=["unassalpha"]
        )
    else:
        extra = ["unassalpha"] if image.shape[2] == 4 else None
        tifffile.imwrite(buffer, image, photometric="rgb", extrasamples=extra)
    return buffer.getvalue()


def _write_png16(stream, image):
    height, width = image.shape[:2]
    planes = 1 if image.ndim == 2 else image.shape[2]
    writer = png.Writer(
        width,
        height,
        greyscale=planes in (1, 2),
        alpha=planes in (2, 4),
        bitdepth=16,
    )
    writer.write(stream, image.reshape(height, width * planes))
