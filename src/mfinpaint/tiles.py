"""Restoring large images tile by tile on Dask, with smooth blending of the overlaps.

The image is cut into a grid of core blocks, and ``dask.array.overlap``
extends each block by half the overlap into its neighbours. Each extended
tile is fitted by :func:`~mfinpaint.inpaint` as one task. Where two tiles
overlap, their estimates are averaged with raised-cosine weights that fall
from 1 to 0 across the shared band and sum to 1 at every pixel, so the
result has no step at a tile border.
"""

import logging
import math
import time
import warnings

import numpy as np

from ._validation import check_choice, check_int
from .batch import check_model_params
from .cluster import dask_client
from .errors import InvalidInputError, InvalidParameterError, warn_once_per_kind
from .inpaint import COLOR_MODES, channels_last, inpaint
from .tuning import TUNED_PARAMS

__all__ = ["inpaint_tiled", "tile_sizes", "blend_weights", "seam_errors"]

log = logging.getLogger(__name__)

MIN_TILE = 16
DEFAULT_TILE = 1024
DEFAULT_OVERLAP = 64


def tile_sizes(size, tile, overlap):
    """Return the core block sizes along one axis of ``size`` pixels.

    Each core block is extended by ``ceil(overlap / 2)`` pixels on every side
    that has a neighbour, so the blocks are made at most
    ``tile - 2 * ceil(overlap / 2)`` long and as equal as possible.

    Examples
    --------
    >>> from mfinpaint.tiles import tile_sizes
    >>> tile_sizes(1536, 512, 64)
    (384, 384, 384, 384)
    """
    core = tile - 2 * math.ceil(overlap / 2)
    count = max(1, math.ceil(size / core))
    base, extra = divmod(size, count)
    return tuple(base + 1 if index < extra else base for index in range(count))


def blend_weights(length, before, after):
    """Return the weights of one tile along an axis, rising and falling over the bands.

    ``before`` and ``after`` are the widths of the bands shared with the
    previous and the next tile (0 at an image border). Over a band of width
    ``b`` the weight is ``sin²(π (t + ½) / (2 b))`` for ``t = 0 … b-1``, and
    the neighbour's weight there is the cosine squared, so the two sum to 1.

    Examples
    --------
    >>> from mfinpaint.tiles import blend_weights
    >>> weights = blend_weights(8, 0, 4)
    >>> [round(float(w), 3) for w in weights]
    [1.0, 1.0, 1.0, 1.0, 0.962, 0.691, 0.309, 0.038]
    """
    weights = np.ones(length)
    if before:
        weights[:before] = _rising_ramp(before)
    if after:
        weights[length - after :] = _rising_ramp(after)[::-1]
    return weights


def _rising_ramp(width):
    return np.sin(0.5 * np.pi * (np.arange(width) + 0.5) / width) ** 2


def inpaint_tiled(
    image,
    mask,
    *,
    tile=DEFAULT_TILE,
    overlap=None,
    channel_axis=None,
    keep_observed=True,
    color="channels",
    auto=False,
    tune_options=None,
    client=None,
    scheduler=None,
    workers=None,
    verbose=False,
    return_info=False,
    **model_params,
):
    """Restore a large image by fitting overlapping tiles on Dask distributed.

    Each tile is fitted on its own by :func:`~mfinpaint.inpaint`, so the
    low-rank model is local: a tile of 1024 x 1024 pixels needs far less
    memory than the whole image and the tiles run in parallel. Overlapping
    estimates are blended with raised-cosine weights (see
    :func:`blend_weights`).

    Parameters
    ----------
    image, mask, channel_axis, keep_observed, color, auto, tune_options
        As for :func:`~mfinpaint.inpaint`, applied to every tile. With
        ``auto``, each tile chooses its own rank, λ, ρ and order.
    tile : int, default=1024
        Maximum height and width of a tile in pixels, at least 16.
    overlap : int, optional
        Width in pixels of the band that neighbouring tiles share, at most
        ``tile // 4``. An odd value is rounded up to the next even one.
        0 cuts the image into tiles that only touch. Default:
        ``min(DEFAULT_OVERLAP, tile // 4)``, 64 pixels for tiles of 256 or more.
    client, scheduler, workers
        Where the tiles run; see :func:`~mfinpaint.cluster.dask_client`.
        Default: a local cluster on 127.0.0.1 with a worker per CPU. An
        image that fits in one tile is fitted here, without Dask.
    verbose : bool, default=False
        Show a progress bar over the tiles on stderr.
    return_info : bool, default=False
        Also return a dict with ``iterations`` (sum over tiles), ``seconds``,
        ``tiles``, ``params`` (the model settings, None where tiles differ,
        as with ``auto=True``), ``models`` (empty) and ``tuning`` (None).
    **model_params
        Passed to :func:`~mfinpaint.inpaint` for every tile.

    Returns
    -------
    restored : ndarray of float64 in [0, 1], same shape as ``image``
    info : dict, only with ``return_info=True``

    Raises
    ------
    InvalidInputError
        The mask does not fit the image, or a tile has no observed pixel.
    InvalidParameterError
        ``tile``, ``overlap`` or a model parameter is invalid.

    Examples
    --------
    >>> import numpy as np
    >>> from mfinpaint import random_mask
    >>> from mfinpaint.tiles import inpaint_tiled
    >>> image = np.linspace(0, 1, 40 * 60).reshape(40, 60)
    >>> mask = random_mask(image.shape, 0.5, seed=0)
    >>> restored = inpaint_tiled(image, mask, tile=64, rank=4)  # one tile: no Dask
    >>> restored.shape
    (40, 60)
    """
    tile = check_int("tile", tile, MIN_TILE)
    if overlap is None:
        overlap = min(DEFAULT_OVERLAP, tile // 4)
    overlap = check_int("overlap", overlap, 0)
    if overlap > tile // 4:
        # Wider bands would let the two bands of a tile overlap each other.
        raise InvalidParameterError(
            f"overlap {overlap} is more than a quarter of tile {tile}; use an "
            f"overlap of at most {tile // 4} or a larger tile."
        )
    check_choice("color", color, COLOR_MODES)
    check_model_params(model_params, auto, tune_options)
    inpaint_params = {"color": color, "auto": auto, **model_params}
    if tune_options is not None:
        inpaint_params["tune_options"] = tune_options
    channels, mask, channel_axis = channels_last(image, mask, channel_axis)
    channels, mask = np.ascontiguousarray(channels), np.ascontiguousarray(mask)

    start = time.perf_counter()
    depth = math.ceil(overlap / 2)
    grid = (
        tile_sizes(channels.shape[0], tile, overlap),
        tile_sizes(channels.shape[1], tile, overlap),
    )
    tiles = _tile_slices(grid, depth)
    if len(tiles) == 1:
        log.info(
            "the image fits in one %d x %d tile, so it is fitted without Dask",
            tile,
            tile,
        )
        restored, info = inpaint(
            channels,
            mask,
            channel_axis=-1,
            keep_observed=keep_observed,
            verbose=verbose,
            return_info=True,
            **inpaint_params,
        )
        info = {**info, "tiles": 1}
    else:
        for rows, columns in tiles.values():
            _check_tile_observed(mask, rows, columns)
        with dask_client(client, scheduler, workers, len(tiles)) as opened:
            restored, info = _fit_tiles(
                opened, channels, mask, grid, depth, tiles, inpaint_params, verbose
            )
        if keep_observed:
            restored = np.where(mask, restored, channels)
        info["seconds"] = time.perf_counter() - start

    if channel_axis is None:
        restored = restored[..., 0]
    else:
        restored = np.moveaxis(restored, -1, channel_axis)
    return (restored, info) if return_info else restored


def _tile_slices(grid, depth):
    """Return {(i, j): (row slice, column slice)} of each extended tile in the image."""
    bounds = [_extended_bounds(sizes, depth) for sizes in grid]
    return {
        (i, j): (rows, columns)
        for i, rows in enumerate(bounds[0])
        for j, columns in enumerate(bounds[1])
    }


def _extended_bounds(sizes, depth):
    starts = np.concatenate([[0], np.cumsum(sizes)])
    last = len(sizes) - 1
    return [
        slice(
            int(starts[index]) - (depth if index > 0 else 0),
            int(starts[index + 1]) + (depth if index < last else 0),
        )
        for index in range(len(sizes))
    ]


def _check_tile_observed(mask, rows, columns):
    if mask[rows, columns].all():
        raise InvalidInputError(
            f"the tile at rows {rows.start}:{rows.stop}, columns "
            f"{columns.start}:{columns.stop} has no observed pixel, so it cannot be "
            "fitted. Use a larger tile."
        )


def _fit_tiles(client, channels, mask, grid, depth, tiles, inpaint_params, verbose):
    """Fit every tile on Dask and return the blended estimate and the info dict."""
    import dask
    import dask.array as da
    from distributed import as_completed
    from tqdm.auto import tqdm

    overlap_depth = {0: depth, 1: depth, 2: 0}
    values, value_futures = _scattered_array(client, channels, grid)
    missing, mask_futures = _scattered_array(client, mask, grid)
    value_blocks = da.overlap.overlap(values, overlap_depth, boundary="none")
    mask_blocks = da.overlap.overlap(missing, overlap_depth, boundary="none")
    value_blocks, mask_blocks = value_blocks.to_delayed(), mask_blocks.to_delayed()
    fit = dask.delayed(_fit_tile, pure=True)
    keys = list(tiles)
    tasks = [
        fit(value_blocks[i, j, 0], mask_blocks[i, j, 0], inpaint_params)
        for i, j in keys
    ]
    futures = dict(zip(client.compute(tasks), keys, strict=True))

    blended = np.zeros(channels.shape)
    total_weight = np.zeros(channels.shape[:2])
    results = []
    with tqdm(total=len(futures), unit="tile", disable=not verbose) as bar:
        for future in as_completed(list(futures), loop=client.loop):
            key = futures.pop(future)
            result = future.result()
            future.release()
            _add_tile(
                blended, total_weight, result.pop("estimate"), key, tiles, grid, depth
            )
            results.append(result)
            bar.update(1)
    for future in value_futures + mask_futures:
        future.release()
    warn_once_per_kind([result["warnings"] for result in results], "tile", stacklevel=3)
    return blended / total_weight[..., None], _tiles_info(results)


def _scattered_array(client, array, grid):
    """Send the core blocks of ``array`` to the workers as one dask array.

    Scattering the blocks spreads them over the workers and keeps the pixels
    out of the task graph, which the scheduler would otherwise keep whole.
    The caller must keep the returned futures until the computation ends,
    because the scheduler deletes the blocks once no future refers to them.
    """
    import dask.array as da

    row_starts = np.concatenate([[0], np.cumsum(grid[0])])
    column_starts = np.concatenate([[0], np.cumsum(grid[1])])
    blocks = [
        array[
            row_starts[i] : row_starts[i + 1], column_starts[j] : column_starts[j + 1]
        ]
        for i in range(len(grid[0]))
        for j in range(len(grid[1]))
    ]
    scattered = client.scatter(blocks, hash=False)
    futures = iter(scattered)
    channels = array.shape[2]
    # np.block semantics: the innermost list (one block) runs along axis 2.
    blocked = da.block(
        [
            [
                [da.from_delayed(next(futures), (rows, columns, channels), array.dtype)]
                for columns in grid[1]
            ]
            for rows in grid[0]
        ]
    )
    return blocked, scattered


def _fit_tile(values, mask, inpaint_params):
    """Fit one extended tile on a Dask worker."""
    if not mask.any():
        return {"estimate": values, "iterations": 0, "params": None, "warnings": []}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimate, info = inpaint(
            values,
            mask,
            channel_axis=-1,
            keep_observed=False,
            return_info=True,
            **inpaint_params,
        )
    return {
        "estimate": estimate,
        "iterations": info["iterations"],
        "params": info["params"],
        "warnings": [(w.category, str(w.message)) for w in caught],
    }


def _add_tile(blended, total_weight, estimate, key, tiles, grid, depth):
    """Add a tile's weighted estimate and its weights to the running sums."""
    rows, columns = tiles[key]
    weights = np.outer(
        _axis_weights(rows, key[0], len(grid[0]), depth),
        _axis_weights(columns, key[1], len(grid[1]), depth),
    )
    blended[rows, columns] += weights[..., None] * estimate
    total_weight[rows, columns] += weights


def _axis_weights(bounds, index, count, depth):
    before = 2 * depth if index > 0 else 0
    after = 2 * depth if index < count - 1 else 0
    return blend_weights(bounds.stop - bounds.start, before, after)


def _tiles_info(results):
    fitted = [result["params"] for result in results if result["params"] is not None]
    names = TUNED_PARAMS
    params = {
        name: fitted[0][name]
        if fitted and all(p[name] == fitted[0][name] for p in fitted)
        else None
        for name in names
    }
    return {
        "iterations": sum(result["iterations"] for result in results),
        "tiles": len(results),
        "params": params,
        "tile_params": fitted,
        "models": [],
        "tuning": None,
    }


def seam_errors(estimate, truth, mask, tile, overlap=None):
    """Measure the error of a tiled restoration along the tile borders and elsewhere.

    The tiles are those of :func:`inpaint_tiled` with the same ``tile`` and
    ``overlap``. A seam shows as a step between two tiles, which the
    gradient error across a cut line catches even where each pixel's error
    is small. The gradient error between lines k and k + 1 is the mean of
    ``|Δestimate - Δtruth|`` along them.

    Parameters
    ----------
    estimate, truth : ndarray of shape (H, W) or (H, W, C)
    mask : ndarray of bool, shape (H, W)
        True at the missing pixels, where the RMSE is measured.
    tile, overlap
        As given to :func:`inpaint_tiled`.

    Returns
    -------
    errors : dict
        ``band_rmse`` and ``interior_rmse``: RMSE of the missing pixels in
        the bands that neighbouring tiles share and outside them.
        ``cut_gradient_error`` and ``other_gradient_error``: the gradient
        error across the lines where the grid cuts the image into core
        blocks (the band centres) and across all other lines. The band and
        cut values are None for an image that fits in one tile.
    """
    estimate = np.asarray(estimate, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.float64)
    if overlap is None:
        overlap = min(DEFAULT_OVERLAP, tile // 4)
    half = math.ceil(overlap / 2)
    bands = np.zeros(truth.shape[:2], dtype=bool)
    at_cuts, elsewhere = [], []
    for axis in (0, 1):
        cuts = np.cumsum(tile_sizes(truth.shape[axis], tile, overlap))[:-1] - 1
        for line in cuts:
            index = [slice(None), slice(None)]
            index[axis] = slice(line + 1 - half, line + 1 + half)
            bands[tuple(index)] = True
        step = np.abs(np.diff(estimate, axis=axis) - np.diff(truth, axis=axis))
        per_line = np.moveaxis(step, axis, 0).reshape(step.shape[axis], -1).mean(axis=1)
        other = np.ones(per_line.size, dtype=bool)
        other[cuts] = False
        at_cuts.append(per_line[cuts])
        elsewhere.append(per_line[other])

    squared = ((estimate - truth) ** 2).reshape(*truth.shape[:2], -1).mean(axis=2)
    in_bands = bands & mask
    cut_lines = np.concatenate(at_cuts)
    errors = {
        "band_rmse": None,
        "interior_rmse": float(np.sqrt(squared[~bands & mask].mean())),
        "cut_gradient_error": None,
        "other_gradient_error": float(np.concatenate(elsewhere).mean()),
    }
    if in_bands.any():
        errors["band_rmse"] = float(np.sqrt(squared[in_bands].mean()))
    if cut_lines.size:
        errors["cut_gradient_error"] = float(cut_lines.mean())
    return errors
