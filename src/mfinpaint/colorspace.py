"""Luminance and chroma channels of RGB images for fitting color separately.

Uses the full-range YCbCr transform of JPEG (ITU-R BT.601 weights) with the
chroma channels centred on 0, so values in [0, 1] map to luma in [0, 1] and
chroma in [-0.5, 0.5]. Detail is mostly in luma; chroma is smoother.
"""

import numpy as np

__all__ = ["rgb_to_ycbcr", "ycbcr_to_rgb"]

# Rows give Y, Cb and Cr as combinations of R, G and B.
_RGB_TO_YCBCR = np.array(
    [
        [0.299, 0.587, 0.114],
        [-0.168736, -0.331264, 0.5],
        [0.5, -0.418688, -0.081312],
    ]
)
_YCBCR_TO_RGB = np.linalg.inv(_RGB_TO_YCBCR)


def rgb_to_ycbcr(rgb):
    """Convert an array of shape (..., 3) from RGB to centred YCbCr."""
    return rgb @ _RGB_TO_YCBCR.T


def ycbcr_to_rgb(ycbcr):
    """Convert an array of shape (..., 3) from centred YCbCr back to RGB."""
    return ycbcr @ _YCBCR_TO_RGB.T
