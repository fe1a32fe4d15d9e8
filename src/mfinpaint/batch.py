"""Restoring folders of images on Dask distributed, one task per image.

Each task reads its own input, writes its output atomically (a temporary
file in the output folder, renamed when complete) and returns one summary
row, so the client never keeps the images themselves in memory. Existing outputs are
skipped, which lets a killed run resume where it stopped.
"""

import contextlib
import csv
import dataclasses
import glob
import logging
import os
import re
import time
import warnings
from pathlib import Path

import numpy as np

from ._validation import check_choice, check_float, check_int
from .cluster import dask_client
from .errors import InvalidInputError, InvalidParameterError, MfinpaintError
from .inpaint import COLOR_MODES, check_auto_options, image_to_float, inpaint
from .io import (
    DEFAULT_MAX_PIXELS,
    atomic_write,
    format_from_suffix,
    read_image,
    write_image,
)
from .masks import select_mask
from .metrics import restoration_scores
from .model import SmoothMF

try:
    import fcntl
except ImportError:  # Windows has no flock, so the output folder is not locked.
    fcntl = None

__all__ = ["inpaint_batch", "collect_inputs", "SUMMARY_COLUMNS", "SUMMARY_NAME"]

log = logging.getLogger(__name__)

# File name suffixes of the images that a folder given as input contributes.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
SUMMARY_NAME = "summary.csv"
SUMMARY_COLUMNS = (
    "input",
    "output",
    "status",
    "seconds",
    "iterations",
    "missing_fraction",
    "rse",
    "psnr",
    "ssim",
    "error",
    "warnings",
)
# A temporary file of atomic_write: "." + target name + "." + the 8 characters
# that tempfile.mkstemp draws + ".part".
_TEMPORARY_NAME = re.compile(r"^\.(?P<target>.+)\.[a-z0-9_]{8}\.part$")


def collect_inputs(inputs):
    """Expand files, folders and glob patterns into a list of image files.

    A folder contributes the files directly inside it whose extension is one
    of ``IMAGE_SUFFIXES``, except hidden files. A glob pattern contributes the
    files it matches. Files given by name are kept whatever their extension.
    Each file is listed once, in the order given, folders and patterns sorted.

    Raises
    ------
    InvalidParameterError
        An input does not exist, a pattern matches no file, a folder has no
        image, or no input is given.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    files = []
    for item in inputs:
        files.extend(_expand_input(item))
    if not files:
        raise InvalidParameterError(
            "no input images given; pass files, folders or patterns."
        )

    unique, seen = [], set()
    for path in files:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


def _expand_input(item):
    path = Path(item)
    if path.is_dir():
        found = sorted(
            child
            for child in path.iterdir()
            if child.is_file()
            and not child.name.startswith(".")
            and child.suffix.lower() in IMAGE_SUFFIXES
        )
        if not found:
            raise InvalidParameterError(
                f"folder {str(path)!r} has no image file ({', '.join(IMAGE_SUFFIXES)})."
            )
        return found
    if path.exists():
        return [path]
    if glob.has_magic(str(item)):
        found = sorted(
            Path(name) for name in glob.glob(str(item)) if Path(name).is_file()
        )
        if not found:
            raise InvalidParameterError(f"pattern {str(item)!r} matches no file.")
        return found
    raise InvalidParameterError(f"input {str(item)!r} not found; check the path.")


@dataclasses.dataclass(frozen=True)
class _Job:
    """Everything that one task needs to restore one file, all small values."""

    input: Path
    output: Path
    mask: Path | None
    missing_rate: float | None
    seed: int | None
    max_pixels: int
    bit_depth: int | None
    color: str
    auto: bool
    params: dict


def inpaint_batch(
    inputs,
    outdir,
    *,
    mask_dir=None,
    missing_rate=None,
    seed=1,
    force=False,
    client=None,
    scheduler=None,
    workers=None,
    max_pixels=DEFAULT_MAX_PIXELS,
    bit_depth=None,
    color="channels",
    auto=False,
    tune_options=None,
    progress=False,
    **model_params,
):
    """Restore many image files on Dask distributed and write a summary.

    Each input is one task. Its output has the input's file name, in
    ``outdir``, with the input's bit depth unless ``bit_depth`` is given.
    An existing output is skipped unless ``force``. A file that cannot be
    read, fitted or written fails alone: its row has status ``"failed"``
    and the error, and the other files go on. ``outdir/summary.csv`` lists
    every input, written once all tasks have ended.

    Parameters
    ----------
    inputs : str, path or list of them
        Image files, folders and glob patterns; see :func:`collect_inputs`.
    outdir : str or path
        Folder of the outputs, created with its parents when missing. A run
        that fails before writing anything removes the folders it created.
        It must not contain the inputs, and only one run at a time may
        write to it.
    mask_dir : str or path, optional
        Folder of masks (nonzero = missing). The mask of ``photo.png`` is
        the file named ``photo`` with any image extension.
    missing_rate : float, optional
        Hide this fraction of the pixels of each complete input with
        :func:`~mfinpaint.random_mask` and ``seed``, restore them and score
        the result against the input. Every image of one size gets the same
        mask. Without ``mask_dir`` and ``missing_rate``, the fully
        transparent pixels of each image are the missing ones.
    seed : int, default=1
        Seed of the random mask and of the model's start.
    force : bool, default=False
        Restore and replace existing outputs.
    client, scheduler, workers
        Where the tasks run; see :func:`~mfinpaint.cluster.dask_client`.
        Default: a local cluster on 127.0.0.1 with a worker per CPU.
    max_pixels : int, optional
        Reject larger images, checked from the file header.
    bit_depth : {8, 16}, optional
        Bits per sample of every output; default: each input's own.
    color : {"channels", "luma", "joint"}, default="channels"
    auto : bool, default=False
        Passed to :func:`~mfinpaint.inpaint` with ``**model_params``.
    tune_options : dict, optional
        Passed to :func:`~mfinpaint.inpaint` with ``auto``.
    progress : bool, default=False
        Show a progress bar over the images on stderr.

    Returns
    -------
    rows : list of dict
        One row per input in input order, with the keys ``SUMMARY_COLUMNS``.
        ``status`` is ``"ok"``, ``"skipped"`` or ``"failed"``. A skipped row
        keeps the seconds and scores of an earlier summary when it has them.

    Raises
    ------
    InvalidParameterError
        An option is invalid, an input is missing, an output would replace
        an input or mask, or another run is writing to ``outdir``.
    ClusterError
        The Dask scheduler cannot be reached.
    """
    files = collect_inputs(inputs)
    outdir = _check_outdir(outdir)
    masks = _find_masks(mask_dir, files)
    params = _check_batch_params(
        missing_rate, seed, bit_depth, color, auto, model_params, tune_options
    )
    if tune_options is not None:
        params["tune_options"] = tune_options
    jobs = [
        _Job(
            input=path,
            output=outdir / path.name,
            mask=masks.get(path),
            missing_rate=missing_rate,
            seed=seed,
            max_pixels=max_pixels,
            bit_depth=bit_depth,
            color=color,
            auto=auto,
            params=params,
        )
        for path in files
    ]
    _check_output_names(jobs, masks.values())

    created = _missing_folders(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    try:
        with _locked_folder(outdir):
            _remove_temporary_files(
                outdir, [job.output.name for job in jobs] + [SUMMARY_NAME]
            )
            rows = _run_jobs(
                jobs, mask_dir, force, client, scheduler, workers, progress
            )
            _write_summary(outdir / SUMMARY_NAME, rows)
    except BaseException:
        # A run that fails or is interrupted before writing anything does not
        # leave behind the empty output folder, or its parents, that it created.
        with contextlib.suppress(OSError):
            for folder in created:
                folder.rmdir()
        raise
    return rows


def _missing_folders(folder):
    """Return ``folder`` and its parents that do not exist yet, deepest first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def _check_outdir(outdir):
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise InvalidParameterError(
            f"output folder {str(outdir)!r} is a file; give a folder name."
        )
    if outdir.is_symlink() and not outdir.exists():
        raise InvalidParameterError(
            f"output folder {str(outdir)!r} is a symbolic link to "
            f"{str(outdir.readlink())!r}, which does not exist; create that folder "
            "or give another name."
        )
    return outdir


def _check_batch_params(
    missing_rate, seed, bit_depth, color, auto, model_params, tune_options
):
    """Check the options before any task starts and return the model parameters.

    A bad option would otherwise fail every image on its own.
    """
    if missing_rate is not None:
        check_float("missing_rate", missing_rate, 0.0, 1.0, open_max=True)
    if seed is not None:
        check_int("seed", seed, 0, 2**32 - 1)
    if bit_depth is not None:
        check_choice("bit_depth", bit_depth, (8, 16))
    check_choice("color", color, COLOR_MODES)
    check_model_params(model_params, auto, tune_options)
    return {"random_state": seed, **model_params}


def check_model_params(model_params, auto=False, tune_options=None):
    """Check the SmoothMF keyword arguments and tune_options of ``inpaint`` early."""
    check_auto_options(model_params, auto, tune_options)
    if "verbose" in model_params:
        raise InvalidParameterError(
            "verbose is not a model parameter here; use progress."
        )
    # set_params rejects unknown names. The rank is checked against 1 only,
    # because its upper bound is the size of each image.
    model = SmoothMF().set_params(**model_params)
    check_int("rank", model.rank, 1)
    model.set_params(rank=1)._check_params((1, 1))


def _find_masks(mask_dir, files):
    """Return {input: mask path} for the inputs that have a mask in ``mask_dir``."""
    if mask_dir is None:
        return {}
    mask_dir = Path(mask_dir)
    if not mask_dir.is_dir():
        raise InvalidParameterError(f"mask folder {str(mask_dir)!r} not found.")
    by_stem = {}
    for path in sorted(mask_dir.iterdir()):
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            by_stem.setdefault(path.stem, []).append(path)
    masks = {}
    for path in files:
        candidates = by_stem.get(path.stem, [])
        if len(candidates) > 1:
            names = ", ".join(repr(str(candidate)) for candidate in candidates)
            raise InvalidParameterError(
                f"image {str(path)!r} has more than one mask ({names}); keep one."
            )
        if candidates:
            masks[path] = candidates[0]
    return masks


def _check_output_names(jobs, mask_paths):
    """Reject two inputs of one name and outputs that would replace an input or mask."""
    protected = {path.resolve() for path in mask_paths}
    protected |= {job.input.resolve() for job in jobs}
    by_name = {}
    for job in jobs:
        if job.output.name in by_name:
            raise InvalidParameterError(
                f"inputs {str(by_name[job.output.name])!r} and {str(job.input)!r} "
                "have the same file name, so their outputs would collide. Rename "
                "one or run them into separate folders."
            )
        by_name[job.output.name] = job.input
        if job.output.resolve() in protected:
            raise InvalidParameterError(
                f"output {str(job.output)!r} would replace an input or mask; choose "
                "an output folder outside the input and mask folders."
            )


@contextlib.contextmanager
def _locked_folder(folder):
    """Hold an exclusive lock on ``folder`` so that one run at a time writes to it.

    The lock is a flock on the folder itself, which the system releases when
    the process ends, even when it is killed.
    """
    if fcntl is None:
        yield
        return
    handle = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InvalidParameterError(
                f"another mfinpaint batch is writing to {str(folder)!r}; wait for it "
                "to end or choose another output folder."
            ) from None
        except OSError as error:
            # Some network file systems do not support flock.
            log.warning(
                "cannot lock %s (%s); run one batch at a time in it", folder, error
            )
        yield
    finally:
        os.close(handle)


def _remove_temporary_files(folder, names):
    """Delete the temporary files that a killed run left for the outputs ``names``.

    atomic_write removes its temporary file on any exception, but a killed
    process cannot. The folder lock shows that no other batch on this machine
    is writing here now.

    NOTE: a task of a killed client can still be running on a remote
    cluster. If its temporary file is deleted here, its rename fails, and
    this run restores that image again.
    """
    targets = {name[:200] for name in names}
    for path in folder.iterdir():
        match = _TEMPORARY_NAME.match(path.name)
        if match and match["target"] in targets and path.is_file():
            log.info("removing %s, left by an interrupted run", path)
            path.unlink(missing_ok=True)


def _run_jobs(jobs, mask_dir, force, client, scheduler, workers, progress):
    """Run the jobs that need a fit on Dask and return the rows in input order."""
    previous = _read_previous_summary(jobs[0].output.parent / SUMMARY_NAME)
    rows = {}
    pending = []
    for job in jobs:
        if job.output.exists() and not force:
            rows[job.input] = _skipped_row(job, previous.get(str(job.input)))
        elif mask_dir is not None and job.mask is None:
            rows[job.input] = _failed_row(
                job,
                f"no mask named {job.input.stem!r} with an image extension in "
                f"{str(mask_dir)!r}",
                0.0,
            )
        else:
            pending.append(job)
    skipped = sum(row["status"] == "skipped" for row in rows.values())
    if skipped:
        log.info(
            "skipping %d inputs whose outputs exist; force restores them again", skipped
        )

    if pending:
        with dask_client(client, scheduler, workers, len(pending)) as opened:
            rows.update(_gather_rows(opened, pending, progress))
    return [rows[job.input] for job in jobs]


def _gather_rows(client, jobs, progress):
    """Submit one task per job and collect the rows as the tasks end."""
    from distributed import as_completed
    from tqdm.auto import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    futures = {client.submit(restore_file, job, pure=False): job for job in jobs}
    rows = {}
    failed = 0
    bar = tqdm(total=len(futures), unit="image", disable=not progress)
    with bar, logging_redirect_tqdm():
        for future in as_completed(list(futures), loop=client.loop):
            job = futures.pop(future)
            row = _row_from_future(future, job)
            future.release()
            rows[job.input] = row
            if row["status"] == "failed":
                failed += 1
                bar.set_postfix(failed=failed)
                log.warning("%s failed: %s", job.input, row["error"])
            bar.update(1)
    return rows


def _row_from_future(future, job):
    """Return the task's row, or a failed row when the task itself raised.

    restore_file catches the errors of bad files. An exception that reaches
    here is a bug or a lost worker, and it fails this image only.
    """
    if future.status == "finished":
        return future.result()
    error = future.exception()
    return _failed_row(job, f"{type(error).__name__}: {error}", None)


def restore_file(job):
    """Restore the file of ``job`` and write its output; return its summary row.

    Runs on a Dask worker. Errors of the file (unreadable, wrong mask size,
    failed fit, failed write) and MemoryError end in a failed row instead of
    an exception, so that one bad file does not stop the others.
    """
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            row = _restore(job)
    except (MfinpaintError, OSError, MemoryError) as error:
        return _failed_row(
            job, str(error) or type(error).__name__, time.perf_counter() - start
        )
    row["seconds"] = round(time.perf_counter() - start, 4)
    messages = dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught)
    row["warnings"] = "; ".join(messages)
    return row


def _restore(job):
    format_from_suffix(job.output)
    image = read_image(job.input, max_pixels=job.max_pixels)
    values, depth = image_to_float(image)
    color, alpha = values, None
    if values.ndim == 3 and values.shape[2] in (2, 4):
        color, alpha = values[..., :-1], values[..., -1]
    if color.ndim == 3 and color.shape[2] == 1:
        color = color[..., 0]
    mask = _job_mask(job, image, color.shape[:2])
    bit_depth = job.bit_depth or depth or 16

    channel_axis = -1 if color.ndim == 3 else None
    restored, info = inpaint(
        color,
        mask,
        channel_axis=channel_axis,
        color=job.color,
        auto=job.auto,
        return_info=True,
        **job.params,
    )
    scores = {}
    if job.missing_rate is not None:
        scores = restoration_scores(color, restored, mask)
    if alpha is not None:
        restored = np.dstack([restored, np.where(mask, 1.0, alpha)])
    write_image(job.output, restored, bit_depth=bit_depth)

    return {
        **_empty_row(job),
        "status": "ok",
        "iterations": info["iterations"],
        "missing_fraction": round(float(mask.mean()), 6),
        **scores,
    }


def _job_mask(job, image, shape):
    mask = select_mask(
        image,
        shape,
        mask_path=job.mask,
        missing_rate=job.missing_rate,
        seed=job.seed,
        max_pixels=job.max_pixels,
    )
    if mask is not None:
        return mask
    raise InvalidInputError(
        f"no missing pixels given for {str(job.input)!r}: it has no transparent "
        "pixel; give a mask folder or a missing rate."
    )


def _empty_row(job):
    row = dict.fromkeys(SUMMARY_COLUMNS)
    row.update(input=str(job.input), output=str(job.output), error="", warnings="")
    return row


def _failed_row(job, error, seconds):
    row = _empty_row(job)
    row.update(status="failed", error=" ".join(error.split()))
    if seconds is not None:
        row["seconds"] = round(seconds, 4)
    return row


def _skipped_row(job, previous):
    """Return the row of an output that exists, with its earlier results if known."""
    row = _empty_row(job)
    if previous is not None and previous.get("status") in ("ok", "skipped"):
        row.update({name: previous.get(name) for name in SUMMARY_COLUMNS})
        row.update(input=str(job.input), output=str(job.output))
    row["status"] = "skipped"
    return row


def _read_previous_summary(path):
    """Return {input: row} from an earlier summary, or {} when there is none."""
    try:
        with open(path, newline="") as stream:
            return {
                row["input"]: row for row in csv.DictReader(stream) if "input" in row
            }
    except FileNotFoundError:
        return {}
    except (OSError, csv.Error, UnicodeDecodeError) as error:
        log.warning("ignoring the earlier summary %s: %s", path, error)
        return {}


def _write_summary(path, rows):
    with atomic_write(path, "w") as stream:
        writer = csv.DictWriter(stream, fieldnames=SUMMARY_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {name: _format_cell(row.get(name)) for name in SUMMARY_COLUMNS}
            )


def _format_cell(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return value
