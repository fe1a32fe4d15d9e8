import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

# The published 512 x 512 panda photograph, from MFINPAINT_PANDA or from the
# data folder beside the checkout.
PANDA = Path(
    os.environ.get("MFINPAINT_PANDA")
    or Path(__file__).resolve().parents[2] / "shared" / "data" / "gaint_panda.bmp"
)


@pytest.fixture
def panda_path():
    """Path of the published panda image, skipping the test when it is absent."""
    if not PANDA.exists():
        pytest.skip(f"the published test image is not at {PANDA}")
    return PANDA
