import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "quality.py"


@pytest.mark.parametrize("option", ["--report-only", "--methods=OpenCV NS"])
def test_quality_missing_csv_is_usage_error(tmp_path, option):
    csv_path = tmp_path / "absent.csv"

    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--quick",
            option,
            "--csv",
            str(csv_path),
            "--docs",
            str(tmp_path / "docs"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"{csv_path}" in result.stderr
    assert "not found" in result.stderr
    assert not (tmp_path / "docs").exists()
