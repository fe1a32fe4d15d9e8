"""Command line: ``mfinpaint inpaint``, ``batch`` and ``experiment``.

Results go to stdout, progress bars to stderr. Bad input or usage ends with
one line on stderr and exit status 2; no output file is left half-written.
"""

import argparse
import csv
import io
import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from . import __version__
from .batch import SUMMARY_NAME, inpaint_batch
from .errors import MfinpaintError
from .experiment import run_experiment
from .inpaint import COLOR_MODES, DEFAULT_PARAMS, image_to_float, inpaint
from .io import (
    DEFAULT_MAX_PIXELS,
    atomic_write,
    check_output_path,
    format_from_suffix,
    read_image,
    write_image,
)
from .masks import select_mask
from .metrics import restoration_scores
from .plotting import save_convergence_figure, save_restoration_figure
from .tiles import DEFAULT_OVERLAP, inpaint_tiled
from .tuning import TUNED_PARAMS

log = logging.getLogger("mfinpaint")

EXIT_FAILED_INPUTS = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UsageError(MfinpaintError, ValueError):
    """A command-line argument is invalid."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer {text!r}") from None
    if not 0 <= value <= 2**32 - 1:
        raise argparse.ArgumentTypeError(f"must be from 0 to {2**32 - 1}, got {value}")
    return value


def _number_list(kind):
    def parse(text):
        try:
            values = [kind(item) for item in text.split(",") if item.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"invalid list {text!r}; give numbers separated by commas, like 5,10,50"
            ) from None
        if not values:
            raise argparse.ArgumentTypeError("the list is empty")
        return values

    return parse


def _add_run_options(command, force_help):
    """Add --max-pixels, --force and --quiet, which every subcommand takes."""
    command.add_argument(
        "--max-pixels",
        type=_positive_int,
        default=DEFAULT_MAX_PIXELS,
        help=f"reject larger images (default {DEFAULT_MAX_PIXELS})",
    )
    command.add_argument("--force", action="store_true", help=force_help)
    command.add_argument("--quiet", action="store_true", help="no progress bars")


def add_model_options(parser):
    """Add the SmoothMF options shared by the commands that fit images."""
    group = parser.add_argument_group("model")

    # The model's weights and solver; None leaves the library default.
    group.add_argument(
        "--rank",
        type=_positive_int,
        help=f"number of factors (default {DEFAULT_PARAMS['rank']})",
    )
    group.add_argument(
        "--lam",
        type=float,
        help=f"smoothing weight λ (default {DEFAULT_PARAMS['lam']:g})",
    )
    group.add_argument(
        "--rho", type=float, help=f"ridge weight ρ (default {DEFAULT_PARAMS['rho']:g})"
    )
    group.add_argument(
        "--order",
        type=int,
        choices=(1, 2),
        help=f"order of the differences (default {DEFAULT_PARAMS['order']})",
    )
    group.add_argument(
        "--lam1",
        type=float,
        help="weight of an added first-order smoothing term, for --order 2 "
        f"(default {DEFAULT_PARAMS['lam1']:g})",
    )
    group.add_argument("--solver", choices=("exact", "cg"), help="half-step solver")
    group.add_argument(
        "--max-iter", type=_positive_int, help="maximum outer iterations"
    )
    group.add_argument(
        "--tol", type=float, help="relative objective decrease to stop at"
    )

    # How images are fitted: color handling, tuning and randomness.
    group.add_argument(
        "--color",
        choices=COLOR_MODES,
        default="channels",
        help="channels: fit RGB channels one by one (default); luma: fit YCbCr "
        "channels one by one, chroma at half the rank (faster); joint: fit them "
        "side by side sharing W",
    )
    group.add_argument(
        "--auto",
        action="store_true",
        help="choose rank, λ, ρ and order by the error on 8%% of the observed "
        "pixels held out, then fit all of them. It keeps λ₁ at 0, so --lam1 "
        "cannot be given with it",
    )
    group.add_argument(
        "--seed", type=_seed, default=1, help="seed of the mask and the start"
    )


def _check_auto_options(args, params):
    """Raise UsageError if --auto is given with an option that it tunes."""
    if not args.auto:
        return
    fixed_options = sorted(name for name in TUNED_PARAMS if name in params)
    if fixed_options:
        options = ", ".join("--" + name for name in fixed_options)
        raise UsageError(
            f"--auto chooses {options} itself; remove those options or --auto."
        )


def model_params(args):
    """Return the SmoothMF keyword arguments given on the command line."""
    names = ("rank", "lam", "rho", "order", "lam1", "solver", "max_iter", "tol")
    params = {
        name: getattr(args, name) for name in names if getattr(args, name) is not None
    }
    params["random_state"] = args.seed
    return params


def _add_cluster_options(parser):
    """Add the options that choose where Dask runs the tasks."""
    group = parser.add_argument_group("Dask")
    where = group.add_mutually_exclusive_group()
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on the Dask cluster whose scheduler is at ADDRESS, such as "
        "tcp://10.0.0.5:8786; its workers must see the same file paths",
    )
    where.add_argument(
        "--workers",
        type=_positive_int,
        help="worker processes of the local Dask cluster on 127.0.0.1 "
        "(default: one per CPU)",
    )


def _build_parser():
    parser = _Parser(
        prog="mfinpaint",
        description="Restore missing pixels with smoothing matrix factorization.",
    )
    parser.add_argument(
        "--version", action="version", version=f"mfinpaint {__version__}"
    )
    commands = parser.add_subparsers(
        dest="command", required=True, parser_class=_Parser
    )

    command = commands.add_parser(
        "inpaint",
        help="restore one image",
        description="Restore the missing pixels of one image.",
    )
    command.add_argument(
        "input", type=Path, help="image to restore (PNG, JPEG, BMP, TIFF)"
    )
    command.add_argument(
        "-o", "--output", type=Path, required=True, help="restored image"
    )
    source = command.add_mutually_exclusive_group()
    source.add_argument("--mask", type=Path, help="mask image: nonzero = missing pixel")
    source.add_argument(
        "--missing-rate",
        type=float,
        help="hide this fraction of the pixels of a complete INPUT at random, "
        "restore them and score against INPUT",
    )
    command.add_argument(
        "--reference", type=Path, help="original image to score against"
    )
    command.add_argument("--report", type=Path, help="write a JSON report here")
    command.add_argument("--masked", type=Path, help="write the masked input here")
    command.add_argument(
        "--bit-depth",
        type=int,
        choices=(8, 16),
        help="bits per sample of the output (default: the input's)",
    )
    _add_run_options(command, force_help="overwrite existing files")
    command.add_argument(
        "--tile",
        type=_positive_int,
        help="fit tiles of at most TILE x TILE pixels on Dask and blend them "
        "(for large images)",
    )
    command.add_argument(
        "--overlap",
        type=int,
        help="pixels that neighbouring tiles share, blended smoothly (at most "
        f"TILE/4; default {DEFAULT_OVERLAP} or TILE/4 if smaller)",
    )
    _add_cluster_options(command)
    add_model_options(command)
    command.set_defaults(handler=run_inpaint)

    command = commands.add_parser(
        "batch",
        help="restore many images on Dask",
        description="Restore many images, one Dask task per image, into OUTDIR with "
        "the same file names. Existing outputs are skipped unless --force, so a "
        f"stopped run resumes. OUTDIR/{SUMMARY_NAME} lists every input. Exit "
        "status 1 if any input failed.",
    )
    command.add_argument(
        "inputs",
        type=Path,
        nargs="+",
        metavar="INPUT",
        help="image files, folders of images or glob patterns",
    )
    command.add_argument(
        "-o", "--outdir", type=Path, required=True, help="folder of the restored images"
    )
    source = command.add_mutually_exclusive_group()
    source.add_argument(
        "--mask-dir",
        type=Path,
        help="folder of masks (nonzero = missing); the mask of photo.png is the "
        "image file named photo",
    )
    source.add_argument(
        "--missing-rate",
        type=float,
        help="hide this fraction of the pixels of each complete input at random, "
        "restore them and score against the input",
    )
    command.add_argument(
        "--bit-depth",
        type=int,
        choices=(8, 16),
        help="bits per sample of the outputs (default: each input's)",
    )
    _add_run_options(command, force_help="restore again and replace existing outputs")
    _add_cluster_options(command)
    add_model_options(command)
    command.set_defaults(handler=run_batch)

    command = commands.add_parser(
        "experiment",
        help="run the published experiment",
        description="Run the published smoothing-MF experiment: ranks against λ "
        "on a gray image with most pixels missing.",
    )
    command.add_argument(
        "image",
        type=Path,
        nargs="?",
        help="image to use (default: scikit-image's astronaut photograph)",
    )
    command.add_argument("-o", "--outdir", type=Path, default=Path("results"))
    command.add_argument("--ranks", type=_number_list(int), default=[5, 10, 50])
    command.add_argument("--lams", type=_number_list(float), default=[10.0, 1e-10])
    command.add_argument("--rho", type=float, default=0.1)
    command.add_argument("--missing-rate", type=float, default=0.9)
    command.add_argument("--seed", type=_seed, default=1)
    command.add_argument("--max-iter", type=_positive_int, default=100)
    command.add_argument("--solver", choices=("cg", "exact"), default="cg")
    _add_run_options(command, force_help="overwrite existing results")
    command.set_defaults(handler=run_experiment_command)
    return parser


def check_outputs(paths, inputs, force):
    """Reject outputs that cannot be written, repeat, exist or overwrite an input.

    With ``force``, existing files and inputs may be overwritten.
    """
    resolved_inputs = {path.resolve() for path in inputs if path is not None}
    resolved_outputs = set()
    for path in paths:
        if path is None:
            continue
        check_output_path(path)
        if path.resolve() in resolved_outputs:
            raise UsageError(
                f"{str(path)!r} is given for two outputs. Give each output its own file."
            )
        resolved_outputs.add(path.resolve())
        if force:
            continue
        if path.resolve() in resolved_inputs:
            raise UsageError(
                f"output {str(path)!r} is also an input; choose another name or "
                "pass --force."
            )
        if path.exists():
            raise UsageError(
                f"output {str(path)!r} exists; pass --force to overwrite it."
            )


def _split_alpha(image):
    """Return the color part of an image and its alpha channel (or None)."""
    if image.ndim == 3 and image.shape[2] in (2, 4):
        return image[..., :-1], image[..., -1]
    return image, None


def _load_mask(args, image, color):
    """Return the bool mask of missing pixels and whether it came from alpha."""
    mask = select_mask(
        image,
        color.shape[:2],
        mask_path=args.mask,
        missing_rate=args.missing_rate,
        seed=args.seed,
        max_pixels=args.max_pixels,
    )
    if args.missing_rate is not None and mask.all():
        raise UsageError(
            f"--missing-rate {args.missing_rate:g} hides every pixel of "
            f"{str(args.input)!r}, so there is nothing to restore from; use a "
            "lower rate."
        )
    if mask is not None:
        return mask
    raise UsageError(
        f"no missing pixels given for {str(args.input)!r}; pass --mask MASK or "
        "--missing-rate P, or use an image with transparent pixels."
    )


def _format_scores(scores):
    """Return the scores as one line, with n/a for an undefined score."""

    def show(value, digits):
        return "n/a" if value is None else f"{value:.{digits}f}"

    return (
        f"RSE {show(scores['rse'], 4)}  PSNR {show(scores['psnr'], 2)} dB  "
        f"SSIM {show(scores['ssim'], 4)}"
    )


def _read_reference(path, shape, max_pixels):
    reference, _ = image_to_float(read_image(path, max_pixels=max_pixels))
    reference, _ = _split_alpha(reference)
    if reference.ndim == 3 and reference.shape[2] == 1:
        reference = reference[..., 0]
    if reference.shape != shape:
        raise UsageError(
            f"reference {str(path)!r} has shape {reference.shape} but the restored "
            f"image has shape {shape}; use the original of the same image."
        )
    return reference


def run_inpaint(args):
    """Restore one image file and write the outputs named on the command line."""
    check_outputs(
        [args.output, args.report, args.masked],
        [args.input, args.mask, args.reference],
        args.force,
    )
    for path in (args.output, args.masked):
        if path is not None:
            format_from_suffix(path)

    image = read_image(args.input, max_pixels=args.max_pixels)
    values, depth = image_to_float(image)
    color, alpha = _split_alpha(values)
    if color.ndim == 3 and color.shape[2] == 1:
        color = color[..., 0]
    mask = _load_mask(args, image, color)
    bit_depth = args.bit_depth or depth or 16
    for path in (args.output, args.masked):
        if (
            path is not None
            and bit_depth == 16
            and format_from_suffix(path) in ("JPEG", "BMP")
        ):
            raise UsageError(
                f"{str(path)!r} cannot hold 16-bit samples; use .png or .tif, or "
                "pass --bit-depth 8."
            )

    reference = None
    if args.missing_rate is not None:
        reference = color
    elif args.reference is not None:
        reference = _read_reference(args.reference, color.shape, args.max_pixels)

    params = model_params(args)
    _check_auto_options(args, params)
    channel_axis = -1 if color.ndim == 3 else None
    restored, info = _restore_function(args)(
        color,
        mask,
        channel_axis=channel_axis,
        color=args.color,
        auto=args.auto,
        verbose=not args.quiet,
        return_info=True,
        **params,
    )
    scores = (
        restoration_scores(reference, restored, mask) if reference is not None else {}
    )

    if alpha is not None:
        # Restored pixels become opaque; the others keep their alpha.
        alpha = np.where(mask, 1.0, alpha)
        restored = np.dstack([restored, alpha])
    # NOTE: each output is renamed into place on its own, so a write that fails
    # after the first (a full disk, say) leaves the earlier outputs complete.
    write_image(args.output, restored, bit_depth=bit_depth)
    if args.masked is not None:
        hidden = mask[..., None] if values.ndim == 3 else mask
        write_image(args.masked, np.where(hidden, 0.0, values), bit_depth=bit_depth)

    models = info["models"]
    params = {**(models[0].get_params() if models else params), **info["params"]}
    tuning = info["tuning"]
    report = {
        "input": str(args.input),
        "output": str(args.output),
        "rse": scores.get("rse"),
        "psnr": scores.get("psnr"),
        "ssim": scores.get("ssim"),
        "seconds": round(info["seconds"], 4),
        "iterations": info["iterations"],
        "rank": params.get("rank"),
        "lam": params.get("lam"),
        "rho": params.get("rho"),
        "order": params.get("order"),
        "lam1": params.get("lam1"),
        "solver": params.get("solver"),
        "color": args.color,
        "auto": args.auto,
        "tuning": None
        if tuning is None
        else {
            "holdout_rse": tuning.holdout_rse,
            "iterations": tuning.iterations,
            "seconds": round(tuning.seconds, 4),
            "fits": len(tuning.trials),
        },
        "tile_params": info.get("tile_params"),
        "missing_fraction": float(mask.mean()),
        "height": int(values.shape[0]),
        "width": int(values.shape[1]),
        "channels": 1 if values.ndim == 2 else int(values.shape[2]),
        "bit_depth": bit_depth,
    }
    if args.report is not None:
        with atomic_write(args.report, "w") as stream:
            json.dump(report, stream, indent=2)
            stream.write("\n")

    print(
        f"restored {int(mask.sum())} missing pixels of {report['width']} x "
        f"{report['height']} in {info['seconds']:.2f} s ({info['iterations']} "
        f"iterations) -> {args.output}"
    )
    if tuning is not None:
        chosen = tuning.params
        print(
            f"auto: rank {chosen['rank']}  lam {chosen['lam']:.4g}  rho {chosen['rho']:.4g}  "
            f"order {chosen['order']}  lam1 {chosen['lam1']:.4g}  "
            f"tuned iterations {tuning.iterations} "
            f"(held-out RSE {tuning.holdout_rse:.4f}, "
            f"{len(tuning.trials)} fits in {tuning.seconds:.2f} s)"
        )
    elif args.auto and info.get("tile_params"):
        print(_format_tile_choices(info["tile_params"]))
    if scores:
        print(_format_scores(scores))
    return 0


def _format_tile_choices(tile_params):
    """Return the line that sums up the settings each tile chose with --auto."""
    ranges = []
    for name in TUNED_PARAMS:
        values = sorted({params[name] for params in tile_params})
        text = f"{values[0]:.4g}"
        if len(values) > 1:
            text += f" to {values[-1]:.4g}"
        ranges.append(f"{name} {text}")
    return f"auto: {len(tile_params)} tiles chose their own settings: " + "  ".join(
        ranges
    )


def _restore_function(args):
    """Return inpaint, or inpaint_tiled with the tile and Dask options of ``args``."""
    if args.tile is None:
        tile_options = [
            name
            for name in ("overlap", "scheduler", "workers")
            if getattr(args, name) is not None
        ]
        if tile_options:
            options = ", ".join("--" + name for name in tile_options)
            if len(tile_options) == 1:
                raise UsageError(f"the option {options} needs --tile; add --tile SIZE.")
            raise UsageError(f"the options {options} need --tile; add --tile SIZE.")
        return inpaint

    def restore(*positional, **keywords):
        return inpaint_tiled(
            *positional,
            tile=args.tile,
            overlap=args.overlap,
            scheduler=args.scheduler,
            workers=args.workers,
            **keywords,
        )

    return restore


def run_batch(args):
    """Restore the files of ``args.inputs`` into ``args.outdir`` and print a summary."""
    params = model_params(args)
    _check_auto_options(args, params)
    params.pop("random_state")
    rows = inpaint_batch(
        args.inputs,
        args.outdir,
        mask_dir=args.mask_dir,
        missing_rate=args.missing_rate,
        seed=args.seed,
        force=args.force,
        scheduler=args.scheduler,
        workers=args.workers,
        max_pixels=args.max_pixels,
        bit_depth=args.bit_depth,
        color=args.color,
        auto=args.auto,
        progress=not args.quiet,
        **params,
    )
    counts = {status: 0 for status in ("ok", "skipped", "failed")}
    for row in rows:
        counts[row["status"]] += 1
    print(
        f"restored {counts['ok']}, skipped {counts['skipped']}, failed "
        f"{counts['failed']} of {len(rows)} images -> {args.outdir / SUMMARY_NAME}"
    )
    return EXIT_FAILED_INPUTS if counts["failed"] else 0


RESULT_COLUMNS = (
    "rank",
    "lam",
    "solver",
    "rse",
    "psnr",
    "ssim",
    "seconds",
    "iterations",
)


def run_experiment_command(args):
    """Run the experiment and write results.csv, figure.png and convergence.png."""
    outdir = args.outdir
    files = [outdir / name for name in ("results.csv", "figure.png", "convergence.png")]
    if outdir.exists() and not outdir.is_dir():
        raise UsageError(
            f"output folder {str(outdir)!r} is a file; give a folder name."
        )
    check_outputs(files, [args.image], args.force)

    image = None
    if args.image is not None:
        image = read_image(args.image, max_pixels=args.max_pixels)
    truth, mask, runs = run_experiment(
        image,
        ranks=args.ranks,
        lams=args.lams,
        rho=args.rho,
        missing_rate=args.missing_rate,
        seed=args.seed,
        max_iter=args.max_iter,
        solver=args.solver,
        verbose=not args.quiet,
    )

    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(RESULT_COLUMNS)
    for run in runs:
        writer.writerow(
            [
                run.rank,
                f"{run.lam:g}",
                run.solver,
                f"{run.rse:.4f}",
                f"{run.psnr:.2f}",
                f"{run.ssim:.4f}",
                f"{run.seconds:.3f}",
                run.iterations,
            ]
        )
    with atomic_write(files[0], "w") as stream:
        stream.write(table.getvalue())
    save_restoration_figure(files[1], truth, mask, runs)
    save_convergence_figure(files[2], runs)

    print(
        f"{'rank':>5} {'lam':>8} {'RSE':>7} {'PSNR':>7} {'SSIM':>7} {'seconds':>8} {'iter':>5}"
    )
    for run in runs:
        print(
            f"{run.rank:>5} {run.lam:>8g} {run.rse:>7.4f} {run.psnr:>7.2f} "
            f"{run.ssim:>7.4f} {run.seconds:>8.2f} {run.iterations:>5}"
        )
    print(f"wrote {', '.join(str(path) for path in files)}")
    return 0


_TRACKER_FILTER = "ignore:resource_tracker:UserWarning:multiprocessing.resource_tracker"


def _log_warning(message, category, filename, lineno, file=None, line=None):
    """Show a Python warning as one log line, without the source line."""
    log.warning("%s: %s", category.__name__, message)


def main(argv=None):
    """Run the command line and return its exit status.

    An :class:`MfinpaintError`, an OSError (a file system failure that the
    library did not wrap) or a MemoryError ends with one line on stderr and
    status 2. Ctrl-C ends with status 130. Other exceptions are bugs and keep
    their traceback. ``mfinpaint batch`` returns 1 when any input failed.
    """
    logging.basicConfig(level=logging.WARNING, format="mfinpaint: %(message)s")
    # tifffile logs a warning or an error for each damaged tag, and read_image
    # reports the failure itself in one line.
    logging.getLogger("tifffile").setLevel(logging.CRITICAL)
    # When Ctrl-C interrupts a wait on a Dask future, the event loop of
    # distributed logs the cancelled wait with a traceback at ERROR.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    # distributed logs each start, connection and stop of a cluster at INFO,
    # and at WARNING each task cancelled and each busy worker killed when
    # Ctrl-C stops a local cluster. A failed task is reported in its summary
    # row instead. distributed reads this level when it is first imported, in
    # this process and in its worker processes, and a value set by the user
    # wins.
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "error")
    # The resource tracker process of multiprocessing warns about the
    # semaphores of the worker processes that a stopped cluster killed. It
    # reads its warning filters from this variable when it starts.
    filters = os.environ.get("PYTHONWARNINGS", "")
    if _TRACKER_FILTER not in filters:
        os.environ["PYTHONWARNINGS"] = ",".join(
            filter(None, [filters, _TRACKER_FILTER])
        )
    parser = _build_parser()
    started = time.perf_counter()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "quiet", False):
            logging.getLogger("mfinpaint").setLevel(logging.INFO)
        with warnings.catch_warnings():
            warnings.showwarning = _log_warning
            status = args.handler(args)
    except MfinpaintError as error:
        _print_error(str(error))
        return EXIT_USAGE
    except OSError as error:
        _print_error(_describe_os_error(error))
        return EXIT_USAGE
    except MemoryError as error:
        _print_error(
            f"out of memory ({str(error) or 'no details'}). Use a smaller image, a "
            "lower --rank or a lower --max-pixels."
        )
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("mfinpaint: interrupted; no partial file was left.", file=sys.stderr)
        return EXIT_INTERRUPTED
    log.debug("finished in %.2f s", time.perf_counter() - started)
    return status


def _print_error(message):
    """Print ``message`` to stderr as one line, whatever line breaks it has."""
    print(f"mfinpaint: error: {' '.join(message.split())}", file=sys.stderr)


def _describe_os_error(error):
    """Return the reason of an OSError, after the file name when it has one."""
    text = error.strerror or str(error)
    if error.filename is not None:
        text = f"{error.filename}: {text}"
    return text


def console_main():
    """Entry point of the ``mfinpaint`` console script."""
    sys.exit(main())
