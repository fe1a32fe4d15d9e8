"""Image inpainting and matrix completion with smoothing matrix factorization."""

from .errors import (
    ConvergenceWarning,
    ImageReadError,
    ImageWriteError,
    InvalidInputError,
    InvalidParameterError,
    MfinpaintError,
    SingularSystemError,
)
from .model import FitProgress, SmoothMF

__version__ = "0.1.0"
from .inpaint import inpaint
from .masks import mask_from_alpha, mask_from_image, random_mask
from .metrics import psnr, rse, ssim
from .batch import inpaint_batch
from .tiles import inpaint_tiled
