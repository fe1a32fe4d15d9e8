import csv
import json

import numpy as np
import pytest
from skimage import data
from skimage.transform import resize

from mfinpaint.cli import main
from mfinpaint.io import read_image, write_image
from mfinpaint.masks import mask_from_image

FAST = ["--rank", "8", "--max-iter", "15", "--quiet"]


@pytest.fixture
def rgb_path(tmp_path):
    image = data.astronaut()[100:164, 180:260]
    path = tmp_path / "rgb.png"
    write_image(path, image)
    return path


@pytest.fixture
def gray16_path(tmp_path):
    image = resize(data.camera(), (60, 70), anti_aliasing=True)
    path = tmp_path / "gray16.tif"
    write_image(path, image, bit_depth=16)
    return path


def write_mask(tmp_path, shape, seed=0):
    mask = np.random.default_rng(seed).random(shape) < 0.4
    path = tmp_path / "mask.png"
    write_image(path, mask.astype(np.uint8) * 255)
    return path, mask


def test_inpaint_rgb_restores_every_channel(tmp_path, rgb_path, capsys):
    original = read_image(rgb_path)
    mask_path, mask = write_mask(tmp_path, original.shape[:2])
    damaged = original.copy()
    damaged[mask] = 0
    write_image(tmp_path / "damaged.png", damaged)
    output = tmp_path / "out.png"

    status = main(
        [
            "inpaint",
            str(tmp_path / "damaged.png"),
            "-o",
            str(output),
            "--mask",
            str(mask_path),
            "--reference",
            str(rgb_path),
            *FAST,
        ]
    )

    restored = read_image(output)
    assert status == 0
    assert restored.shape == original.shape
    assert restored.dtype == np.uint8
    np.testing.assert_array_equal(restored[~mask], original[~mask])
    for channel in range(3):
        error = np.abs(
            restored[..., channel][mask].astype(float) - original[..., channel][mask]
        )
        assert error.mean() < 25
    assert "PSNR" in capsys.readouterr().out


def test_inpaint_16_bit_keeps_depth(tmp_path, gray16_path):
    output = tmp_path / "out.tif"
    report = tmp_path / "report.json"

    status = main(
        [
            "inpaint",
            str(gray16_path),
            "-o",
            str(output),
            "--missing-rate",
            "0.5",
            "--report",
            str(report),
            *FAST,
        ]
    )

    original = read_image(gray16_path)
    restored = read_image(output)
    mask = np.random.RandomState(1).rand(*original.shape) < 0.5
    values = json.loads(report.read_text())
    assert status == 0
    assert restored.dtype == np.uint16
    np.testing.assert_array_equal(restored[~mask], original[~mask])
    assert values["missing_fraction"] == pytest.approx(mask.mean())
    assert values["rse"] < 0.2
    assert values["channels"] == 1
    for key in (
        "psnr",
        "ssim",
        "seconds",
        "iterations",
        "rank",
        "lam",
        "rho",
        "order",
        "solver",
        "height",
        "width",
    ):
        assert key in values


def test_inpaint_16_bit_rgb_png(tmp_path):
    image = (resize(data.astronaut()[::8, ::8], (64, 64)) * 65535).astype(np.uint16)
    source = tmp_path / "rgb16.png"
    write_image(source, image, bit_depth=16)
    output = tmp_path / "out.png"

    status = main(
        ["inpaint", str(source), "-o", str(output), "--missing-rate", "0.3", *FAST]
    )

    restored = read_image(output)
    mask = np.random.RandomState(1).rand(64, 64) < 0.3
    assert status == 0
    assert restored.dtype == np.uint16
    assert restored.shape == (64, 64, 3)
    np.testing.assert_array_equal(restored[~mask], image[~mask])
    assert not np.array_equal(restored[mask], image[mask] * 0)


def test_masked_output_hides_pixels(tmp_path, rgb_path):
    masked = tmp_path / "masked.png"

    main(
        [
            "inpaint",
            str(rgb_path),
            "-o",
            str(tmp_path / "o.png"),
            "--missing-rate",
            "0.5",
            "--masked",
            str(masked),
            *FAST,
        ]
    )

    hidden = ~mask_from_image(read_image(masked))
    mask = np.random.RandomState(1).rand(*hidden.shape) < 0.5
    assert np.all(hidden[mask])


def test_existing_output_needs_force(tmp_path, rgb_path, capsys):
    output = tmp_path / "out.png"
    output.write_bytes(b"keep me")

    status = main(
        ["inpaint", str(rgb_path), "-o", str(output), "--missing-rate", "0.5", *FAST]
    )

    err = capsys.readouterr().err
    assert status == 2
    assert "--force" in err
    assert len(err.strip().splitlines()) == 1
    assert output.read_bytes() == b"keep me"


def test_bad_rank_is_one_line_error(tmp_path, rgb_path, capsys):
    output = tmp_path / "out.png"

    status = main(
        [
            "inpaint",
            str(rgb_path),
            "-o",
            str(output),
            "--missing-rate",
            "0.5",
            "--rank",
            "1000",
            "--quiet",
        ]
    )

    err = capsys.readouterr().err
    assert status == 2
    assert "rank" in err
    assert "Traceback" not in err
    assert not output.exists()
    assert list(tmp_path.glob("*.part")) == []


def test_experiment_writes_results(tmp_path):
    image = tmp_path / "small.png"
    write_image(image, resize(data.camera(), (48, 40)))
    outdir = tmp_path / "results"

    status = main(
        [
            "experiment",
            str(image),
            "-o",
            str(outdir),
            "--ranks",
            "2,4",
            "--lams",
            "10,1e-10",
            "--max-iter",
            "5",
            "--quiet",
        ]
    )

    rows = list(csv.DictReader((outdir / "results.csv").open()))
    assert status == 0
    assert len(rows) == 4
    assert set(rows[0]) == {
        "rank",
        "lam",
        "solver",
        "rse",
        "psnr",
        "ssim",
        "seconds",
        "iterations",
    }
    assert (outdir / "figure.png").stat().st_size > 1000
    assert (outdir / "convergence.png").stat().st_size > 1000


def test_auto_report_has_tuned_values(tmp_path, rgb_path, capsys):
    output = tmp_path / "out.png"
    report = tmp_path / "report.json"

    status = main(
        [
            "inpaint",
            str(rgb_path),
            "-o",
            str(output),
            "--missing-rate",
            "0.8",
            "--auto",
            "--report",
            str(report),
            "--quiet",
        ]
    )

    values = json.loads(report.read_text())
    out = capsys.readouterr().out
    assert status == 0
    assert values["auto"] is True
    assert values["color"] == "channels"
    assert values["order"] in (1, 2)
    assert values["rank"] >= 1
    assert values["lam"] > 0
    assert values["rho"] > 0
    assert values["lam1"] >= 0
    assert values["tuning"]["fits"] >= 6
    assert values["tuning"]["iterations"] >= 1
    assert 0 < values["tuning"]["holdout_rse"] < 1
    assert "auto:" in out
    assert f"rank {values['rank']} " in out
    assert f"lam {values['lam']:.4g} " in out
    assert f"rho {values['rho']:.4g} " in out
    assert f"order {values['order']} " in out
    assert f"lam1 {values['lam1']:.4g} " in out
    assert f"iterations {values['tuning']['iterations']} " in out


def test_auto_with_rank_is_usage_error(tmp_path, rgb_path, capsys):
    output = tmp_path / "out.png"

    status = main(
        [
            "inpaint",
            str(rgb_path),
            "-o",
            str(output),
            "--missing-rate",
            "0.8",
            "--auto",
            "--rank",
            "4",
            "--quiet",
        ]
    )

    assert status == 2
    assert "--auto" in capsys.readouterr().err
    assert not output.exists()


def test_auto_help_keeps_lam1_at_zero(capsys):
    # The command line has no way to turn on tune(mix=True), so --auto
    # always sets lam1 to 0 and its help must not promise to tune it.
    with pytest.raises(SystemExit) as caught:
        main(["inpaint", "--help"])

    help_text = " ".join(capsys.readouterr().out.split())
    assert caught.value.code == 0
    assert "keeps λ₁ at 0" in help_text
    assert "order and λ₁ by" not in help_text


def test_auto_black_image_rse_is_null(tmp_path, capsys):
    source = tmp_path / "black.png"
    write_image(source, np.zeros((20, 24), dtype=np.uint8))
    output = tmp_path / "out.png"
    report = tmp_path / "report.json"

    status = main(
        [
            "inpaint",
            str(source),
            "-o",
            str(output),
            "--missing-rate",
            "0.5",
            "--auto",
            "--report",
            str(report),
            "--quiet",
        ]
    )

    values = json.loads(report.read_text())
    out = capsys.readouterr().out
    assert status == 0
    assert values["rse"] is None
    assert values["tuning"]["holdout_rse"] == pytest.approx(0.0, abs=1e-6)
    assert "RSE n/a" in out
    assert read_image(output).max() == 0
