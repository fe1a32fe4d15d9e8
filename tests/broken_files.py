"""Image files that readers must reject, generated on the fly for the tests.

Each function writes a file under a given folder and returns its path. The
oversized files have a valid header that claims a huge size, and no pixel
data, so that only a reader that decodes before it checks the size would
allocate memory.
"""

import io
import struct
import zlib

import numpy as np
import tifffile
from PIL import Image

# Width and height claimed by the oversized headers: 2.5e9 pixels, above
# every default limit, and small enough for the 16-bit size fields of JPEG.
HUGE_SIDE = 50_000


def small_image(shape=(24, 20, 3), seed=0):
    """Return a random uint8 image."""
    return np.random.default_rng(seed).integers(0, 256, shape).astype(np.uint8)


def encode(image, kind, **options):
    """Return the bytes of ``image`` saved by Pillow in format ``kind``."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=kind, **options)
    return buffer.getvalue()


def write_bytes(folder, name, data):
    path = folder / name
    path.write_bytes(data)
    return path


def truncated(folder, kind, suffix, keep=0.5):
    """Write an image cut after the fraction ``keep`` of its bytes."""
    data = encode(small_image(), kind)
    return write_bytes(folder, f"truncated.{suffix}", data[: int(len(data) * keep)])


def png_with_bad_crc(folder):
    """Write a PNG whose image data chunk fails its checksum."""
    data = bytearray(encode(small_image(), "PNG"))
    start = data.index(b"IDAT")
    length = struct.unpack(">I", data[start - 4 : start])[0]
    data[start + 4 + length // 2] ^= 0xFF
    return write_bytes(folder, "bad_crc.png", bytes(data))


def _png_chunk(kind, payload):
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))


def huge_png(folder, bit_depth=8):
    """Write a gray PNG header that claims HUGE_SIDE x HUGE_SIDE pixels."""
    header = struct.pack(">IIBBBBB", HUGE_SIDE, HUGE_SIDE, bit_depth, 0, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )
    return write_bytes(folder, f"huge{bit_depth}.png", data)


def huge_bmp(folder):
    """Write a BMP whose header claims HUGE_SIDE x HUGE_SIDE pixels."""
    data = bytearray(encode(small_image((8, 8)), "BMP"))
    # BITMAPINFOHEADER: width and height are signed 32-bit at bytes 18 and 22.
    data[18:26] = struct.pack("<ii", HUGE_SIDE, HUGE_SIDE)
    return write_bytes(folder, "huge.bmp", bytes(data))


def huge_jpeg(folder):
    """Write a JPEG whose start-of-frame segment claims HUGE_SIDE x HUGE_SIDE."""
    data = bytearray(encode(small_image((8, 8, 3)), "JPEG"))
    # Baseline SOF0: marker, length (2), precision (1), height (2), width (2).
    start = data.index(b"\xff\xc0")
    data[start + 5 : start + 9] = struct.pack(">HH", HUGE_SIDE, HUGE_SIDE)
    return write_bytes(folder, "huge.jpg", bytes(data))


def huge_tiff(folder):
    """Write a TIFF whose ImageWidth and ImageLength tags claim HUGE_SIDE."""
    path = folder / "huge.tif"
    tifffile.imwrite(path, small_image((8, 8)), photometric="minisblack")
    data = bytearray(path.read_bytes())
    with tifffile.TiffFile(path) as tif:
        tags = tif.pages[0].tags
        for name in ("ImageWidth", "ImageLength"):
            tag = tags[name]
            code = "<H" if tag.dtype == tifffile.DATATYPE.SHORT else "<I"
            offset = tag.valueoffset
            data[offset : offset + struct.calcsize(code)] = struct.pack(code, HUGE_SIDE)
    path.write_bytes(bytes(data))
    return path


def lzw_tiff_with_bad_codes(folder):
    """Write an LZW TIFF whose compressed strip has a run of invalid codes.

    Pillow decodes it with libtiff, which prints a warning to file descriptor 2.
    """
    data = bytearray(encode(small_image((40, 30, 3)), "TIFF", compression="tiff_lzw"))
    with tifffile.TiffFile(io.BytesIO(bytes(data))) as tif:
        start = tif.pages[0].dataoffsets[0]
        length = tif.pages[0].databytecounts[0]
    data[start + length // 4 : start + length // 4 + 64] = b"\xff" * 64
    return write_bytes(folder, "bad_codes.tif", bytes(data))


def tiff_with_bad_strip_offsets(folder):
    """Write a TIFF whose StripOffsets tag points past the end of the file.

    tifffile logs errors about the tag before it fails.
    """
    path = folder / "bad_offsets.tif"
    tifffile.imwrite(
        path, small_image((40, 30)), photometric="minisblack", rowsperstrip=4
    )
    data = bytearray(path.read_bytes())
    with tifffile.TiffFile(path) as tif:
        # A classic TIFF tag entry: code (2), type (2), count (4), then the
        # offset of the values when they do not fit in 4 bytes.
        entry = tif.pages[0].tags["StripOffsets"].offset
    data[entry + 8 : entry + 12] = struct.pack("<I", len(data) + 1000)
    path.write_bytes(bytes(data))
    return path


def jpeg_with_orientation(folder, image, orientation):
    """Write ``image`` as a JPEG whose EXIF orientation tag is ``orientation``."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    return write_bytes(
        folder, "rotated.jpg", encode(image, "JPEG", exif=exif, quality=95)
    )


def huge_png16(folder):
    """Write a 16-bit gray PNG header that claims HUGE_SIDE x HUGE_SIDE pixels."""
    return huge_png(folder, bit_depth=16)


# Every oversized file, one per reader path: Pillow, pypng, tifffile.
HUGE_FILE_WRITERS = [huge_png, huge_png16, huge_bmp, huge_jpeg, huge_tiff]
