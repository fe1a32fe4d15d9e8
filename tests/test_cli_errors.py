"""Bad input to the command line: one line on stderr, status 2, no output."""

import errno
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import broken_files
import numpy as np
import pytest
import tifffile

import mfinpaint.cli as cli
import mfinpaint.io
from mfinpaint.cli import main
from mfinpaint.io import read_image, write_image

FAST = ["--rank", "2", "--max-iter", "5", "--quiet"]

pytestmark = pytest.mark.filterwarnings("ignore::mfinpaint.ConvergenceWarning")


def inpaint_argv(source, output, *options):
    """Return the arguments that restore ``source`` into ``output`` at 50 % missing."""
    return ["inpaint", source, "-o", output, "--missing-rate", "0.5", *FAST, *options]


def run(argv, capsys):
    """Run the command line and return its status, stdout and stderr lines."""
    status = main([str(item) for item in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err.strip().splitlines()


def assert_one_line_error(status, err, *fragments):
    assert status == 2
    assert len(err) == 1
    assert err[0].startswith("mfinpaint: error: ")
    for fragment in fragments:
        assert fragment in err[0]


def assert_nothing_written(folder, *names):
    for name in names:
        assert not (folder / name).exists()
    assert list(folder.glob("**/*.part")) == []


@pytest.fixture
def gray_path(tmp_path):
    path = tmp_path / "gray.png"
    write_image(path, broken_files.small_image((16, 12)))
    return path


def write_mask(folder, mask, name="mask.png", dtype=np.uint8):
    path = folder / name
    top = np.iinfo(dtype).max
    write_image(path, mask.astype(dtype) * top, bit_depth=8 * np.dtype(dtype).itemsize)
    return path


# Input files.


BROKEN_INPUTS = {
    "text": lambda folder: broken_files.write_bytes(folder, "notes.png", b"hello"),
    "empty": lambda folder: broken_files.write_bytes(folder, "empty.png", b""),
    "truncated": lambda folder: broken_files.truncated(folder, "PNG", "png"),
    "corrupt": broken_files.png_with_bad_crc,
    "gif": lambda folder: broken_files.write_bytes(
        folder, "anim.gif", broken_files.encode(broken_files.small_image(), "GIF")
    ),
    "missing": lambda folder: folder / "nowhere.png",
    "folder": lambda folder: folder,
}


@pytest.mark.parametrize("case", sorted(BROKEN_INPUTS))
def test_broken_input_file(tmp_path, capsys, case):
    source = BROKEN_INPUTS[case](tmp_path)
    output = tmp_path / "out" / "restored.png"

    status, out, err = run(
        ["inpaint", source, "-o", output, "--missing-rate", "0.5", *FAST], capsys
    )

    assert_one_line_error(status, err, str(source))
    assert out == ""
    assert not output.exists()
    assert list(tmp_path.glob("**/*.part")) == []


@pytest.mark.parametrize(
    "write",
    [broken_files.lzw_tiff_with_bad_codes, broken_files.tiff_with_bad_strip_offsets],
)
def test_damaged_tiff_one_line(tmp_path, write):
    # A subprocess, because libtiff writes to file descriptor 2 and tifffile
    # logs through the root logger, which pytest takes over in-process.
    source = write(tmp_path)

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mfinpaint",
            "inpaint",
            str(source),
            "-o",
            str(tmp_path / "out.png"),
            "--missing-rate",
            "0.5",
            *FAST,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )

    err = result.stderr.strip().splitlines()
    assert_one_line_error(result.returncode, err, str(source))
    assert_nothing_written(tmp_path, "out.png")


@pytest.mark.parametrize("case", ["text", "truncated", "missing"])
def test_broken_mask_file(tmp_path, capsys, gray_path, case):
    mask = BROKEN_INPUTS[case](tmp_path)
    output = tmp_path / "restored.png"

    status, _, err = run(
        ["inpaint", gray_path, "-o", output, "--mask", mask, *FAST], capsys
    )

    assert_one_line_error(status, err, str(mask))
    assert_nothing_written(tmp_path, "restored.png")


@pytest.mark.parametrize("write", broken_files.HUGE_FILE_WRITERS)
def test_huge_input_rejected(tmp_path, capsys, write):
    source = write(tmp_path)

    status, _, err = run(
        ["inpaint", source, "-o", tmp_path / "out.png", "--missing-rate", "0.5", *FAST],
        capsys,
    )

    assert_one_line_error(status, err, "--max-pixels", str(source))
    assert_nothing_written(tmp_path, "out.png")


def test_max_pixels_option_raises_limit(tmp_path, capsys, gray_path):
    output = tmp_path / "out.png"
    common = ["inpaint", gray_path, "-o", output, "--missing-rate", "0.3", *FAST]

    status, _, err = run([*common, "--max-pixels", "191"], capsys)
    assert_one_line_error(status, err, "--max-pixels", "192 pixels")
    assert not output.exists()

    status, _, _ = run([*common, "--max-pixels", "192"], capsys)
    assert status == 0
    assert read_image(output).shape == (16, 12)


@pytest.mark.parametrize(
    "bad, fragments",
    [
        (255.0, ["[0, 1]", "255"]),
        (np.nan, ["1 observed values", "NaN"]),
        (np.inf, ["1 observed values", "infinite"]),
    ],
)
def test_float_tiff_bad_value(tmp_path, capsys, bad, fragments):
    source = tmp_path / "float.tif"
    values = np.linspace(0, 1, 16 * 12, dtype=np.float32).reshape(16, 12)
    values[0, 0] = bad
    tifffile.imwrite(source, values)

    status, _, err = run(
        [
            "inpaint",
            source,
            "-o",
            tmp_path / "out.png",
            "--mask",
            write_mask(tmp_path, np.eye(16, 12, k=1, dtype=bool)),
            *FAST,
        ],
        capsys,
    )

    assert_one_line_error(status, err, *fragments)
    assert_nothing_written(tmp_path, "out.png")


# Masks.


def test_mask_shape_mismatch(tmp_path, capsys, gray_path):
    mask = write_mask(tmp_path, np.ones((12, 16), dtype=bool))

    status, _, err = run(
        ["inpaint", gray_path, "-o", tmp_path / "out.png", "--mask", mask, *FAST],
        capsys,
    )

    assert_one_line_error(status, err, "16 x 12", "12 x 16")
    assert_nothing_written(tmp_path, "out.png")


@pytest.mark.parametrize("channels", [None, 3, 4])
def test_mask_16_bit_and_color(tmp_path, capsys, gray_path, channels):
    missing = np.zeros((16, 12), dtype=bool)
    missing[3:6, 4:9] = True
    values = np.where(missing, 1, 0).astype(np.uint16)
    if channels is not None:
        values = np.zeros((16, 12, channels), dtype=np.uint16)
        values[..., 1] = missing
        if channels == 4:
            values[..., 3] = 65535
    mask = tmp_path / "mask16.png"
    write_image(mask, values, bit_depth=16)
    output = tmp_path / "out.png"

    status, _, _ = run(
        ["inpaint", gray_path, "-o", output, "--mask", mask, *FAST], capsys
    )

    original = read_image(gray_path)
    restored = read_image(output)
    assert status == 0
    np.testing.assert_array_equal(restored[~missing], original[~missing])
    assert not np.array_equal(restored[missing], original[missing])


def test_mask_without_missing_pixel(tmp_path, gray_path):
    mask = write_mask(tmp_path, np.zeros((16, 12), dtype=bool))
    output = tmp_path / "out.png"
    report = tmp_path / "report.json"

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mfinpaint",
            "inpaint",
            str(gray_path),
            "-o",
            str(output),
            "--mask",
            str(mask),
            "--reference",
            str(gray_path),
            "--report",
            str(report),
            *FAST,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )

    values = json.loads(report.read_text())
    assert result.returncode == 0
    assert "no pixel as missing" in result.stderr
    assert "Traceback" not in result.stderr
    np.testing.assert_array_equal(read_image(output), read_image(gray_path))
    assert values["missing_fraction"] == 0.0
    assert values["rse"] is None
    assert values["psnr"] is None


def test_missing_rate_zero_returns_input(tmp_path, capsys, gray_path):
    output = tmp_path / "out.png"

    status, out, _ = run(
        ["inpaint", gray_path, "-o", output, "--missing-rate", "0", *FAST], capsys
    )

    assert status == 0
    assert "RSE n/a" in out
    np.testing.assert_array_equal(read_image(output), read_image(gray_path))


def test_missing_rate_hides_every_pixel(tmp_path, capsys, gray_path):
    status, _, err = run(
        [
            "inpaint",
            gray_path,
            "-o",
            tmp_path / "out.png",
            "--missing-rate",
            "0.999999",
            *FAST,
        ],
        capsys,
    )

    assert_one_line_error(
        status, err, "--missing-rate 0.999999", "every pixel", "lower rate"
    )
    assert_nothing_written(tmp_path, "out.png")


def test_mask_every_pixel_missing(tmp_path, capsys, gray_path):
    mask = write_mask(tmp_path, np.ones((16, 12), dtype=bool))

    status, _, err = run(
        ["inpaint", gray_path, "-o", tmp_path / "out.png", "--mask", mask, *FAST],
        capsys,
    )

    assert_one_line_error(status, err, "every pixel")
    assert_nothing_written(tmp_path, "out.png")


# Parameters.


@pytest.mark.parametrize(
    "options, name",
    [
        (["--rank", "0"], "--rank"),
        (["--rank", "two"], "--rank"),
        (["--rank", "500"], "rank"),
        (["--lam", "-1"], "lam"),
        (["--lam", "nan"], "lam"),
        (["--lam1", "-1"], "lam1"),
        (["--lam1", "inf"], "lam1"),
        (["--rho", "-0.5"], "rho"),
        (["--rho", "inf"], "rho"),
        (["--order", "3"], "--order"),
        (["--tol", "nan"], "tol"),
        (["--tol", "-1"], "tol"),
        (["--max-iter", "0"], "--max-iter"),
        (["--missing-rate", "1"], "missing_rate"),
        (["--missing-rate", "-0.1"], "missing_rate"),
        (["--missing-rate", "nan"], "missing_rate"),
        (["--solver", "newton"], "--solver"),
        (["--max-pixels", "0"], "--max-pixels"),
        (["--bit-depth", "12"], "--bit-depth"),
        (["--seed", "-1"], "--seed"),
        (["--seed", "-1", "--auto"], "--seed"),
    ],
)
def test_invalid_option_names_it(tmp_path, capsys, gray_path, options, name):
    argv = ["inpaint", gray_path, "-o", tmp_path / "out.png", "--quiet", *options]
    if "--missing-rate" not in options:
        argv += ["--missing-rate", "0.5"]

    status, _, err = run(argv, capsys)

    assert_one_line_error(status, err, name)
    assert_nothing_written(tmp_path, "out.png")


@pytest.mark.parametrize("solver", ["exact", "cg"])
def test_singular_system_from_options(tmp_path, capsys, gray_path, solver):
    missing = np.zeros((16, 12), dtype=bool)
    missing[5] = True
    mask = write_mask(tmp_path, missing)

    status, _, err = run(
        [
            "inpaint",
            gray_path,
            "-o",
            tmp_path / "out.png",
            "--mask",
            mask,
            "--rho",
            "0",
            "--lam",
            "0",
            "--solver",
            solver,
            *FAST,
        ],
        capsys,
    )

    assert_one_line_error(status, err, "singular", "1 row (5)")
    assert_nothing_written(tmp_path, "out.png")


def test_reference_shape_checked_before_fit(tmp_path, capsys, gray_path, monkeypatch):
    reference = tmp_path / "reference.png"
    write_image(reference, broken_files.small_image((12, 16)))
    monkeypatch.setattr(cli, "inpaint", lambda *args, **kwargs: pytest.fail("fitted"))

    status, _, err = run(
        [
            "inpaint",
            gray_path,
            "-o",
            tmp_path / "out.png",
            "--mask",
            write_mask(tmp_path, np.eye(16, 12, dtype=bool)),
            "--reference",
            reference,
            *FAST,
        ],
        capsys,
    )

    assert_one_line_error(status, err, "reference.png", "(12, 16)", "(16, 12)")
    assert_nothing_written(tmp_path, "out.png")


def test_experiment_tiny_image_rejected(tmp_path, capsys):
    source = tmp_path / "tiny.png"
    write_image(source, np.full((2, 5), 0.5))

    status, _, err = run(
        [
            "experiment",
            source,
            "-o",
            tmp_path / "results",
            "--ranks",
            "1",
            "--lams",
            "1",
            "--missing-rate",
            "0.2",
            "--quiet",
        ],
        capsys,
    )

    assert_one_line_error(status, err, "3 x 3", "5 x 2")
    assert not (tmp_path / "results" / "results.csv").exists()


# Tiny images.


@pytest.mark.parametrize("shape", [(1, 9), (9, 1), (2, 2)])
def test_tiny_image_report(tmp_path, capsys, shape):
    source = tmp_path / "tiny.png"
    write_image(source, np.linspace(0.1, 0.9, shape[0] * shape[1]).reshape(shape))
    missing = np.zeros(shape, dtype=bool)
    missing.flat[1] = True
    mask = write_mask(tmp_path, missing)
    report = tmp_path / "report.json"
    output = tmp_path / "out.png"

    status, out, _ = run(
        [
            "inpaint",
            source,
            "-o",
            output,
            "--mask",
            mask,
            "--reference",
            source,
            "--report",
            report,
            "--rank",
            "1",
            "--quiet",
        ],
        capsys,
    )

    values = json.loads(report.read_text())
    assert status == 0
    assert read_image(output).shape == shape
    assert values["ssim"] is None
    assert values["rse"] is not None
    assert "SSIM n/a" in out


# Outputs.


def test_output_is_input(capsys, gray_path):
    before = gray_path.read_bytes()

    status, _, err = run(
        ["inpaint", gray_path, "-o", gray_path, "--missing-rate", "0.5", *FAST], capsys
    )

    assert_one_line_error(status, err, "--force", "input")
    assert gray_path.read_bytes() == before


def test_output_is_input_with_force(capsys, gray_path):
    original = read_image(gray_path)

    status, _, _ = run(inpaint_argv(gray_path, gray_path, "--force"), capsys)

    mask = np.random.RandomState(1).rand(16, 12) < 0.5
    restored = read_image(gray_path)
    assert status == 0
    np.testing.assert_array_equal(restored[~mask], original[~mask])


def test_output_mask_path_rejected(tmp_path, capsys, gray_path):
    mask = write_mask(tmp_path, np.eye(16, 12, dtype=bool))
    before = mask.read_bytes()

    status, _, err = run(
        ["inpaint", gray_path, "-o", mask, "--mask", mask, *FAST], capsys
    )

    assert_one_line_error(status, err, "input")
    assert mask.read_bytes() == before


def test_existing_output_replaced_with_force(tmp_path, capsys, gray_path):
    output = tmp_path / "out.png"
    output.write_bytes(b"old")

    status, _, _ = run(
        ["inpaint", gray_path, "-o", output, "--missing-rate", "0.5", "--force", *FAST],
        capsys,
    )

    assert status == 0
    assert read_image(output).shape == (16, 12)


def test_missing_output_folder_created(tmp_path, capsys, gray_path):
    output = tmp_path / "a" / "b" / "out.png"

    status, _, _ = run(
        ["inpaint", gray_path, "-o", output, "--missing-rate", "0.5", *FAST], capsys
    )

    assert status == 0
    assert output.exists()


def test_output_under_regular_file(tmp_path, capsys, gray_path, monkeypatch):
    blocker = tmp_path / "file.txt"
    blocker.write_text("plain file")
    monkeypatch.setattr(cli, "inpaint", lambda *args, **kwargs: pytest.fail("fitted"))

    status, _, err = run(inpaint_argv(gray_path, blocker / "out.png"), capsys)

    assert_one_line_error(status, err, "file.txt", "not a folder")
    assert blocker.read_text() == "plain file"


@pytest.mark.parametrize("option", ["-o", "--report", "--masked"])
def test_output_name_too_long(tmp_path, capsys, gray_path, option):
    argv = inpaint_argv(gray_path, tmp_path / "out.png")
    long_name = tmp_path / ("x" * 300 + ".png")
    if option == "-o":
        argv[3] = long_name
    else:
        argv += [option, long_name]

    status, _, err = run(argv, capsys)

    assert_one_line_error(status, err, "invalid output path")
    assert_nothing_written(tmp_path, "out.png")


def test_output_folder_not_writable(tmp_path, capsys, gray_path, monkeypatch):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:
        # Root may write anywhere, so make the permission check return what it
        # returns for another user.
        real_access = mfinpaint.io.os.access

        def access(path, mode, **kwargs):
            if Path(path) == folder and mode & os.W_OK:
                return False
            return real_access(path, mode, **kwargs)

        monkeypatch.setattr(mfinpaint.io.os, "access", access)
    monkeypatch.setattr(cli, "inpaint", lambda *args, **kwargs: pytest.fail("fitted"))

    try:
        status, _, err = run(
            inpaint_argv(gray_path, folder / "sub" / "out.png"), capsys
        )
    finally:
        folder.chmod(0o755)

    assert_one_line_error(status, err, "not writable", str(folder))
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize(
    "shape, error", [((2, 2), None), ((1, 2), "at least 2 observed")]
)
def test_auto_tiny_image(tmp_path, capsys, shape, error):
    source = tmp_path / "tiny.png"
    write_image(source, np.linspace(0.1, 0.9, shape[0] * shape[1]).reshape(shape))
    missing = np.zeros(shape, dtype=bool)
    missing.flat[1] = True
    output = tmp_path / "out.png"

    status, _, err = run(
        [
            "inpaint",
            source,
            "-o",
            output,
            "--mask",
            write_mask(tmp_path, missing),
            "--auto",
            "--quiet",
        ],
        capsys,
    )

    if error is None:
        assert status == 0
        assert read_image(output).shape == shape
    else:
        assert_one_line_error(status, err, error, "--auto")
        assert not output.exists()


def test_output_is_folder(tmp_path, capsys, gray_path):
    status, _, err = run(
        ["inpaint", gray_path, "-o", tmp_path, "--missing-rate", "0.5", *FAST], capsys
    )

    assert_one_line_error(status, err, "is a folder; give a file name")


def test_same_path_for_two_outputs(tmp_path, capsys, gray_path):
    output = tmp_path / "out.png"

    status, _, err = run(inpaint_argv(gray_path, output, "--masked", output), capsys)

    assert_one_line_error(status, err, "two outputs")
    assert_nothing_written(tmp_path, "out.png")


# Exceptions that are not mfinpaint errors.


def test_os_error_while_writing(tmp_path, capsys, gray_path, monkeypatch):
    def fail(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(cli, "write_image", fail)
    output = tmp_path / "out.png"

    status, out, err = run(
        ["inpaint", gray_path, "-o", output, "--missing-rate", "0.5", *FAST], capsys
    )

    assert_one_line_error(status, err, str(output), os.strerror(errno.ENOSPC))
    assert out == ""


def test_memory_error_during_fit(tmp_path, capsys, gray_path, monkeypatch):
    def fail(*args, **kwargs):
        raise MemoryError("Unable to allocate 7.5 GiB")

    monkeypatch.setattr(cli, "inpaint", fail)

    status, _, err = run(inpaint_argv(gray_path, tmp_path / "out.png"), capsys)

    assert_one_line_error(status, err, "out of memory", "7.5 GiB", "--max-pixels")
    assert_nothing_written(tmp_path, "out.png")


def test_programming_error_keeps_traceback(tmp_path, gray_path, monkeypatch):
    def fail(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(cli, "inpaint", fail)

    with pytest.raises(ZeroDivisionError):
        main(
            [
                "inpaint",
                str(gray_path),
                "-o",
                str(tmp_path / "out.png"),
                "--missing-rate",
                "0.5",
                *FAST,
            ]
        )
    assert_nothing_written(tmp_path, "out.png")


def test_error_message_kept_on_one_line(capsys, monkeypatch, gray_path, tmp_path):
    def fail(*args, **kwargs):
        raise cli.UsageError("first line\nsecond line")

    monkeypatch.setattr(cli, "inpaint", fail)

    status, _, err = run(inpaint_argv(gray_path, tmp_path / "out.png"), capsys)

    assert_one_line_error(status, err, "first line second line")


def test_convergence_warning_logged(tmp_path, capsys, caplog, gray_path):
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        status, _, err = run(
            [
                "inpaint",
                gray_path,
                "-o",
                tmp_path / "out.png",
                "--missing-rate",
                "0.5",
                "--rank",
                "2",
                "--max-iter",
                "1",
                "--quiet",
            ],
            capsys,
        )

    assert status == 0
    assert "ConvergenceWarning" in caplog.text
    assert not any("warnings.warn" in line for line in err)


# Ctrl-C.


def start_long_fit(tmp_path):
    """Start a fit that runs for minutes and return once its progress bar shows.

    Returns the process and the paths of its two outputs.
    """
    source = tmp_path / "big.png"
    write_image(source, broken_files.small_image((160, 160, 3)))
    output = tmp_path / "out.png"
    report = tmp_path / "report.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mfinpaint",
            "inpaint",
            str(source),
            "-o",
            str(output),
            "--report",
            str(report),
            "--missing-rate",
            "0.5",
            "--solver",
            "cg",
            "--rank",
            "20",
            "--max-iter",
            "1000000",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    seen = b""
    deadline = time.monotonic() + 120
    while b"fit rank" not in seen and time.monotonic() < deadline:
        chunk = os.read(process.stderr.fileno(), 4096)
        if not chunk:
            break
        seen += chunk
    if b"fit rank" not in seen:
        process.kill()
        process.wait()
        pytest.fail(f"the fit did not start: {seen[-500:]!r}")
    return process, output, report


def stop(process, signal_number):
    """Send ``signal_number`` and return the remaining stdout and stderr."""
    try:
        process.send_signal(signal_number)
        return process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_interrupt_during_fit_leaves_no_file(tmp_path):
    process, output, report = start_long_fit(tmp_path)

    out, err = stop(process, signal.SIGINT)

    assert process.returncode == 130
    assert b"interrupted" in err
    assert b"Traceback" not in err
    assert out == b""
    assert not output.exists()
    assert not report.exists()
    assert list(tmp_path.glob(".*.part")) == []


def test_kill_during_fit_leaves_no_file(tmp_path):
    process, output, report = start_long_fit(tmp_path)

    stop(process, signal.SIGKILL)

    assert process.returncode == -signal.SIGKILL
    assert not output.exists()
    assert not report.exists()
    assert list(tmp_path.glob(".*.part")) == []


def test_interrupt_while_starting(monkeypatch, capsys):
    import builtins

    import mfinpaint_launcher

    real_import = builtins.__import__

    def interrupted_import(name, *args, **kwargs):
        if name == "mfinpaint.cli":
            raise KeyboardInterrupt
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", interrupted_import)
    with pytest.raises(SystemExit) as caught:
        mfinpaint_launcher.console_main()

    err = capsys.readouterr().err.strip().splitlines()
    assert caught.value.code == 130
    assert len(err) == 1
    assert "interrupted" in err[0]


def test_launcher_imports_nothing_heavy():
    # The console script imports this module first. Ctrl-C is reported in one
    # line only once it runs, so it must load nothing that takes time.
    code = "import sys, mfinpaint_launcher; print(sorted(set(sys.modules) & {'numpy', 'mfinpaint'}))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0
    assert result.stdout.strip() == "[]"
