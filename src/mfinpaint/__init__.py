"""Image inpainting and matrix completion with smoothing matrix factorization."""

__version__ = "0.1.0"

from .batch import inpaint_batch
from .errors import (
    ConvergenceWarning,
    ImageReadError,
    ImageWriteError,
    InvalidInputError,
    InvalidParameterError,
    MfinpaintError,
    ScaleWarning,
    SingularSystemError,
)
from .inpaint import inpaint
from .masks import mask_from_alpha, mask_from_image, random_mask
from .metrics import psnr, rse, ssim
from .model import FitProgress, SmoothMF
from .tiles import inpaint_tiled

__all__ = [
    "ConvergenceWarning",
    "FitProgress",
    "ImageReadError",
    "ImageWriteError",
    "InvalidInputError",
    "InvalidParameterError",
    "MfinpaintError",
    "ScaleWarning",
    "SingularSystemError",
    "SmoothMF",
    "inpaint",
    "inpaint_batch",
    "inpaint_tiled",
    "mask_from_alpha",
    "mask_from_image",
    "psnr",
    "random_mask",
    "rse",
    "ssim",
]
