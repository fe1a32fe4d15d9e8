"""Compare mfinpaint with OpenCV and scikit-image inpainting on damaged photos.

Every image is cut to its central square and resized to SIZE x SIZE pixels.
Each damage kind hides pixels, every method restores them, and the scores
go to benchmarks/out/quality.csv (one row per image, damage and method, so
an interrupted run keeps its rows). The tables go to docs/quality.md and a
figure of crops side by side to docs/quality.png.

Run ``python benchmarks/quality.py`` (``make bench-quality``) for the full
run, or ``--quick`` for three images and one damage kind, written to
benchmarks/out/quick/ so that docs/ keeps the full results.
"""

import argparse
import csv
import json
import os
import platform
import time
import warnings
from pathlib import Path

import cv2
import numpy as np
import scipy
import skimage
from PIL import Image, ImageDraw, ImageFont
from skimage import data
from skimage.color import rgb2gray
from skimage.restoration import inpaint_biharmonic
from skimage.transform import resize
from threadpoolctl import threadpool_limits

import mfinpaint
from mfinpaint import SmoothMF, inpaint, random_mask
from mfinpaint.io import read_image
from mfinpaint.metrics import psnr, rse, ssim

ROOT = Path(__file__).resolve().parents[1]
PANDA = ROOT.parent / "shared" / "data" / "gaint_panda.bmp"
SIZE = 256
SKIMAGE_IMAGES = (
    "astronaut",
    "camera",
    "coffee",
    "chelsea",
    "rocket",
    "coins",
    "moon",
    "brick",
    "immunohistochemistry",
)
QUICK_IMAGES = ("panda", "astronaut", "camera")
DAMAGES = (
    "random 50%",
    "random 70%",
    "random 90%",
    "random 95%",
    "text",
    "scratches",
    "blocks 32x32",
    "row stripes",
)
COLUMNS = (
    "image",
    "damage",
    "method",
    "psnr",
    "ssim",
    "rse",
    "seconds",
    "missing",
    "settings",
)


def square(image):
    """Cut the central square of ``image`` and resize it to SIZE x SIZE floats."""
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    crop = image[top : top + side, left : left + side]
    return resize(crop, (SIZE, SIZE), anti_aliasing=True)


def load_images(names):
    """Return {name: float image in [0, 1]}. The panda is gray, as in its published experiment."""
    images = {}
    for name in names:
        if name == "panda":
            if not PANDA.exists():
                print(f"note: {PANDA} is absent, so the panda is skipped")
                continue
            images[name] = square(rgb2gray(read_image(PANDA)[..., :3]))
        else:
            images[name] = square(getattr(data, name)())
    return images


# Damage: each function returns a bool mask of shape (SIZE, SIZE), True = missing.


def text_mask(rng):
    """Draw lines of text over the whole image, as on a captioned photo."""
    canvas = Image.new("L", (SIZE, SIZE), 0)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=18)
    words = ("inpainting", "restore", "pixels", "matrix", "2024", "sample", "photo")
    for top in range(4, SIZE, 26):
        line = " ".join(rng.choice(words, size=4))
        draw.text((int(rng.integers(0, 20)), top), line, fill=255, font=font)
    return np.asarray(canvas) > 0


def scratch_mask(rng, count=25):
    """Draw thin straight scratches 1 or 2 pixels wide in random directions."""
    canvas = Image.new("L", (SIZE, SIZE), 0)
    draw = ImageDraw.Draw(canvas)
    for _ in range(count):
        start = rng.integers(0, SIZE, size=2)
        angle = rng.uniform(0, np.pi)
        length = rng.uniform(0.2, 0.8) * SIZE
        end = start + length * np.array([np.cos(angle), np.sin(angle)])
        draw.line(
            [tuple(start.tolist()), tuple(end.tolist())],
            fill=255,
            width=int(rng.integers(1, 3)),
        )
    return np.asarray(canvas) > 0


def block_mask(rng, count=10, side=32):
    """Remove ``count`` square blocks of ``side`` pixels at random places."""
    mask = np.zeros((SIZE, SIZE), dtype=bool)
    for _ in range(count):
        top, left = rng.integers(0, SIZE - side, size=2)
        mask[top : top + side, left : left + side] = True
    return mask


def stripe_mask(rng, fraction=0.2):
    """Remove runs of 1 to 4 whole rows, like a line-scanner fault."""
    mask = np.zeros((SIZE, SIZE), dtype=bool)
    while mask[:, 0].mean() < fraction:
        top = int(rng.integers(0, SIZE))
        mask[top : top + int(rng.integers(1, 5))] = True
    return mask


def make_mask(damage, seed=1):
    rng = np.random.default_rng(seed)
    if damage.startswith("random"):
        rate = int(damage.split()[1].rstrip("%")) / 100
        return random_mask((SIZE, SIZE), rate, seed=seed)
    makers = {
        "text": text_mask,
        "scratches": scratch_mask,
        "blocks 32x32": block_mask,
        "row stripes": stripe_mask,
    }
    return makers[damage](rng)


# Methods: each returns the restored float image and a short settings note.


def channel_axis(image):
    return -1 if image.ndim == 3 else None


def run_default(image, mask):
    restored = inpaint(image, mask, channel_axis=channel_axis(image))
    return restored, "defaults"


def _auto(**options):
    def run(image, mask):
        restored, info = inpaint(
            image,
            mask,
            channel_axis=channel_axis(image),
            auto=True,
            tune_options=options,
            return_info=True,
        )
        chosen = info["params"]
        mixed = f" lam1 {chosen['lam1']:.2g}" if chosen["lam1"] else ""
        note = (
            f"rank {chosen['rank']} lam {chosen['lam']:.2g} rho {chosen['rho']:.2g} "
            f"order {chosen['order']}{mixed} iter {info['tuning'].iterations}"
        )
        return restored, note

    return run


def _published_fit(image, mask, lam):
    """Fit the published solver per channel from random factors, seed 1."""
    channels = image[..., None] if image.ndim == 2 else image
    restored = np.empty_like(channels)
    for c in range(channels.shape[2]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = SmoothMF(
                rank=50,
                lam=lam,
                rho=0.1,
                order=1,
                solver="cg",
                max_iter=100,
                random_state=1,
            )
            model.fit(channels[..., c], mask)
        estimate = np.clip(model.reconstruct(), 0, 1)
        restored[..., c] = np.where(mask, estimate, channels[..., c])
    return restored.reshape(image.shape)


def run_published(image, mask):
    return _published_fit(image, mask, 10.0), "rank 50 lam 10 rho 0.1 cg 100 it"


def run_plain(image, mask):
    return _published_fit(image, mask, 1e-10), "rank 50 lam 1e-10 rho 0.1 cg 100 it"


def _opencv(image, mask, flag):
    pixels = np.round(
        np.where(mask[..., None] if image.ndim == 3 else mask, 0, image) * 255
    ).astype(np.uint8)
    restored = cv2.inpaint(pixels, mask.astype(np.uint8), 3, flag)
    return restored / 255.0


def run_telea(image, mask):
    return _opencv(image, mask, cv2.INPAINT_TELEA), "radius 3"


def run_ns(image, mask):
    return _opencv(image, mask, cv2.INPAINT_NS), "radius 3"


def run_biharmonic(image, mask):
    damaged = np.where(mask[..., None] if image.ndim == 3 else mask, 0, image)
    return inpaint_biharmonic(damaged, mask, channel_axis=channel_axis(image)), ""


def _color_mode(color):
    def run(image, mask):
        return inpaint(image, mask, channel_axis=-1, color=color), "defaults"

    return run


METHODS = {
    "mfinpaint default": run_default,
    "mfinpaint --auto": _auto(),
    "--auto (scattered hold-out)": _auto(holdout_pattern="random"),
    "--auto (mask-shaped hold-out)": _auto(holdout_pattern="mask"),
    "published setting": run_published,
    "plain MF (lam 1e-10)": run_plain,
    "OpenCV Telea": run_telea,
    "OpenCV NS": run_ns,
    "scikit-image biharmonic": run_biharmonic,
}
# Run on random damage only, like the published experiment.
PUBLISHED_METHODS = ("published setting", "plain MF (lam 1e-10)")
# Extra runs at 90 % missing: a larger rank limit for --auto on every image,
# and the color modes on color images.
COLOR_DAMAGE = "random 90%"
RANK_METHODS = {"--auto (max rank 64)": _auto(max_rank=64)}
COLOR_METHODS = {
    f"color={color}": _color_mode(color) for color in ("luma", "channels", "joint")
}
# --auto that also tries an added first-order term, on every image and damage.
MIX_METHODS = {"--auto (with first-order term)": _auto(mix=True)}


def score(name, damage, method, image, mask, run):
    start = time.perf_counter()
    restored, note = run(image, mask)
    seconds = time.perf_counter() - start
    restored = np.clip(restored, 0, 1)
    row = {
        "image": name,
        "damage": damage,
        "method": method,
        "psnr": psnr(image, restored),
        "ssim": ssim(image, restored),
        "rse": rse(image, restored, mask),
        "seconds": seconds,
        "missing": float(mask.mean()),
        "settings": note,
    }
    print(
        f"{name:>22} {damage:>13} {method:>24} PSNR {row['psnr']:6.2f} "
        f"SSIM {row['ssim']:.3f} {seconds:6.2f} s  {note}",
        flush=True,
    )
    return row, restored


def run_all(images, damages, methods, csv_path, kept_rows=()):
    """Score ``methods`` on every image and damage, appending rows to ``csv_path``.

    ``kept_rows`` (rows of other methods from an earlier run) are written
    first, so that a run of a few methods updates only their rows.
    """
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    crops = {}
    with csv_path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, COLUMNS)
        writer.writeheader()
        writer.writerows(kept_rows)
        for name, image in images.items():
            for damage in damages:
                mask = make_mask(damage)
                chosen = dict(METHODS)
                if not damage.startswith("random"):
                    # On this damage --auto already holds out mask-shaped
                    # holes. The published solver's cost grows with the
                    # observed pixels, so here it would take most of the run.
                    for method in ("--auto (mask-shaped hold-out)", *PUBLISHED_METHODS):
                        chosen.pop(method)
                chosen.update(MIX_METHODS)
                if damage == COLOR_DAMAGE:
                    chosen.update(RANK_METHODS)
                if image.ndim == 3 and damage == COLOR_DAMAGE:
                    chosen.update(COLOR_METHODS)
                chosen = {m: run for m, run in chosen.items() if m in methods}
                for method, run in chosen.items():
                    row, restored = score(name, damage, method, image, mask, run)
                    writer.writerow(row)
                    stream.flush()
                    crops[(name, damage, method)] = restored
                crops[(name, damage, "damaged")] = np.where(
                    mask[..., None] if image.ndim == 3 else mask, 0, image
                )
                crops[(name, damage, "original")] = image
    return crops


def read_rows(csv_path):
    with csv_path.open() as stream:
        rows = list(csv.DictReader(stream))
    for row in rows:
        for key in ("psnr", "ssim", "rse", "seconds", "missing"):
            row[key] = float(row[key])
    return rows


# Report: tables between two markers in docs/quality.md, figure of crops.

START_MARK = "<!-- results start -->"
END_MARK = "<!-- results end -->"


def _mean(values):
    return sum(values) / len(values) if values else float("nan")


def _psnr_table(rows, damage, methods):
    images = list(
        dict.fromkeys(row["image"] for row in rows if row["damage"] == damage)
    )
    lookup = {
        (row["image"], row["method"]): row for row in rows if row["damage"] == damage
    }
    lines = [
        "| image | " + " | ".join(methods) + " |",
        "| --- |" + " ---: |" * len(methods),
    ]
    for image in images:
        values = [lookup.get((image, method)) for method in methods]
        best = max(row["psnr"] for row in values if row is not None)
        cells = []
        for row in values:
            if row is None:
                cells.append("")
            elif row["psnr"] == best:
                cells.append(f"**{row['psnr']:.2f}**")
            else:
                cells.append(f"{row['psnr']:.2f}")
        lines.append(f"| {image} | " + " | ".join(cells) + " |")
    return lines


def _mean_table(rows, methods):
    lines = [
        "| method | PSNR (dB) | SSIM | RSE (missing) | seconds | best PSNR on |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    cases = {}
    for row in rows:
        cases.setdefault((row["image"], row["damage"]), []).append(row)
    for method in methods:
        chosen = [row for row in rows if row["method"] == method]
        # Ties count as a win for every method that reaches the best PSNR.
        wins = 0
        for group in cases.values():
            scores = {r["method"]: r["psnr"] for r in group if r["method"] in methods}
            if method in scores and scores[method] == max(scores.values()):
                wins += 1
        lines.append(
            f"| {method} | {_mean([r['psnr'] for r in chosen]):.2f} | "
            f"{_mean([r['ssim'] for r in chosen]):.3f} | "
            f"{_mean([r['rse'] for r in chosen]):.3f} | "
            f"{_mean([r['seconds'] for r in chosen]):.2f} | {wins} of {len(cases)} |"
        )
    return lines


def _target_lines(rows):
    """State the 90 % random targets as measured."""
    damage = "random 90%"
    at = {(row["image"], row["method"]): row for row in rows if row["damage"] == damage}
    images = list(
        dict.fromkeys(row["image"] for row in rows if row["damage"] == damage)
    )
    if not images or not all((image, "mfinpaint --auto") in at for image in images):
        return []
    lines = [f"At {damage} missing, over {len(images)} images:", ""]
    for rival in ("OpenCV Telea", "OpenCV NS"):
        lost = [
            image
            for image in images
            if at[image, "mfinpaint --auto"]["psnr"] <= at[image, rival]["psnr"]
        ]
        verdict = "on every image" if not lost else f"except on {', '.join(lost)}"
        lines.append(f"- `--auto` has a higher PSNR than {rival} {verdict}.")
    auto = [at[image, "mfinpaint --auto"] for image in images]
    biharmonic = [at[image, "scikit-image biharmonic"] for image in images]
    gap = _mean([r["psnr"] for r in auto]) - _mean([r["psnr"] for r in biharmonic])
    ratio = sum(r["seconds"] for r in auto) / sum(r["seconds"] for r in biharmonic)
    lines.append(f"- Mean PSNR of `--auto` minus that of biharmonic: {gap:+.2f} dB.")
    lines.append(
        f"- Time of `--auto` over that of biharmonic: {ratio:.2f} (summed over "
        "the images)."
    )
    return lines + [""]


def _settings_table(rows, method):
    """Count the settings that ``method`` chose, per damage kind."""
    lines = ["| damage | settings chosen (number of images) |", "| --- | --- |"]
    for damage in dict.fromkeys(row["damage"] for row in rows):
        notes = [
            row["settings"]
            for row in rows
            if row["damage"] == damage and row["method"] == method
        ]
        counts = {note: notes.count(note) for note in dict.fromkeys(notes)}
        ranked = sorted(counts.items(), key=lambda item: -item[1])
        cells = "; ".join(f"{note} ({count})" for note, count in ranked)
        lines.append(f"| {damage} | {cells} |")
    return lines


def _run_lines(runs):
    parts = [
        f"`{run['command']}` ({run['minutes']:.0f} minutes, {run['date']})"
        for run in runs
    ]
    return [
        "Commands: " + ", then ".join(parts) + ".",
        "",
        f"Machine: {cpu_model()}, {os.cpu_count()} cores, {platform.platform()}, "
        "shared with other jobs, so BLAS and OpenCV are limited to one thread for "
        "every method. Versions: "
        f"Python {platform.python_version()}, mfinpaint {mfinpaint.__version__}, "
        f"NumPy {np.__version__}, SciPy {scipy.__version__}, "
        f"scikit-image {skimage.__version__}, OpenCV {cv2.__version__}. "
        f"Images: central square resized to {SIZE} x {SIZE}.",
        "",
    ]


def render_results(rows, runs):
    """Return the measured part of docs/quality.md, between the two markers."""
    methods = [m for m in METHODS if any(row["method"] == m for row in rows)]
    main_rows = [row for row in rows if row["method"] in METHODS]
    random_rows = [row for row in main_rows if row["damage"].startswith("random")]
    damages = set(row["damage"] for row in main_rows)
    everywhere = [
        m
        for m in methods
        if {r["damage"] for r in main_rows if r["method"] == m} == damages
    ]
    lines = [START_MARK, ""] + _run_lines(runs)

    lines += ["### Mean over every image and damage kind", ""]
    lines += _mean_table(
        [r for r in main_rows if r["method"] in everywhere], everywhere
    ) + [""]
    lines += ["### Mean over the random damage kinds (50 % to 95 % missing)", ""]
    lines += _mean_table(random_rows, methods) + [""]
    lines += _target_lines(main_rows)

    for damage in dict.fromkeys(row["damage"] for row in rows):
        damage_rows = [row for row in main_rows if row["damage"] == damage]
        present = [m for m in methods if any(r["method"] == m for r in damage_rows)]
        lines += [f"### {damage}", "", "PSNR in dB, best in bold.", ""]
        lines += _psnr_table(damage_rows, damage, present) + [""]
        lines += _mean_table(damage_rows, present) + [""]

    lines += ["### Settings chosen by `--auto`", ""]
    lines += _settings_table(main_rows, "mfinpaint --auto") + [""]

    rank_rows = [
        row
        for row in rows
        if row["damage"] == COLOR_DAMAGE
        and row["method"] in ("mfinpaint --auto", *RANK_METHODS)
    ]
    if any(row["method"] in RANK_METHODS for row in rank_rows):
        rank_methods = ["mfinpaint --auto", *RANK_METHODS]
        lines += [f"### `--auto` with a rank limit of 64 at {COLOR_DAMAGE} missing", ""]
        lines += _psnr_table(rank_rows, COLOR_DAMAGE, rank_methods) + [""]
        lines += _mean_table(rank_rows, rank_methods) + [""]

    lines += _mix_lines(rows)

    color_rows = [row for row in rows if row["method"] in COLOR_METHODS]
    if color_rows:
        lines += [f"### Color modes at {COLOR_DAMAGE} missing, default settings", ""]
        lines += _psnr_table(color_rows, COLOR_DAMAGE, list(COLOR_METHODS)) + [""]
        lines += _mean_table(color_rows, list(COLOR_METHODS)) + [""]
    lines.append(END_MARK)
    return "\n".join(lines)


def _mix_lines(rows):
    """Compare --auto with and without the first-order term, per damage kind."""
    mixed = next(iter(MIX_METHODS))
    pairs = {}
    for row in rows:
        if row["method"] in ("mfinpaint --auto", mixed):
            pairs.setdefault((row["damage"], row["image"]), {})[row["method"]] = row
    pairs = {key: pair for key, pair in pairs.items() if len(pair) == 2}
    if not pairs:
        return []

    lines = [
        "### `--auto` with and without the added first-order term",
        "",
        (
            '`--auto` with `tune_options={"mix": True}` also tries second-order '
            "smoothing plus `lam1` at 0.1 and 0.3 times `lam`. PSNR in dB and "
            "seconds, mean over the images. Gain: with minus without. Chosen: "
            "images where it picked `lam1 > 0`."
        ),
        "",
        "| damage | with | without | gain | largest gain | largest loss "
        "| chosen | seconds with | seconds without |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    damages = list(dict.fromkeys(damage for damage, _ in pairs))
    for damage in [*damages, "all"]:
        cases = [pair for (d, _), pair in pairs.items() if damage in (d, "all")]
        with_mix = [pair[mixed]["psnr"] for pair in cases]
        plain = [pair["mfinpaint --auto"]["psnr"] for pair in cases]
        gains = [a - b for a, b in zip(with_mix, plain)]
        chosen = sum("lam1" in pair[mixed]["settings"] for pair in cases)
        seconds = [
            _mean([pair[method]["seconds"] for pair in cases])
            for method in (mixed, "mfinpaint --auto")
        ]
        lines.append(
            f"| {damage} | {_mean(with_mix):.2f} | {_mean(plain):.2f} | "
            f"{_mean(gains):+.2f} | {max(gains):+.2f} | {min(gains):+.2f} | "
            f"{chosen} of {len(cases)} | {seconds[0]:.2f} | {seconds[1]:.2f} |"
        )
    return lines + [""]


def write_report(path, rows, runs):
    """Replace the text between the markers of ``path`` with fresh tables."""
    if path.exists():
        text = path.read_text()
    else:
        text = f"# Quality\n\n{START_MARK}\n{END_MARK}\n"
    if START_MARK not in text:
        text += f"\n{START_MARK}\n{END_MARK}\n"
    head, rest = text.split(START_MARK, 1)
    tail = rest.split(END_MARK, 1)[1]
    path.write_text(head + render_results(rows, runs) + tail)


def record_run(path, command, seconds, replace):
    """Append this run to the list in ``path`` (a fresh list with ``replace``)."""
    runs = [] if replace or not path.exists() else json.loads(path.read_text())
    runs.append(
        {
            "command": command,
            "minutes": seconds / 60,
            "date": time.strftime("%Y-%m-%d", time.gmtime()),
        }
    )
    path.write_text(json.dumps(runs, indent=1) + "\n")
    return runs


# Cases and columns of docs/quality.png.
FIGURE_CASES = (
    ("astronaut", "random 90%"),
    ("panda", "random 90%"),
    ("astronaut", "text"),
    ("camera", "blocks 32x32"),
    ("coffee", "scratches"),
    ("moon", "row stripes"),
)
FIGURE_METHODS = (
    "mfinpaint default",
    "mfinpaint --auto",
    "OpenCV Telea",
    "OpenCV NS",
    "scikit-image biharmonic",
)


def figure_crops(cases):
    """Run the figure's methods on ``cases`` and return {(image, damage, column): image}."""
    images = load_images(dict.fromkeys(name for name, _ in cases))
    crops = {}
    for name, damage in cases:
        if name not in images:
            continue
        image, mask = images[name], make_mask(damage)
        for method in FIGURE_METHODS:
            _, restored = score(name, damage, method, image, mask, METHODS[method])
            crops[(name, damage, method)] = restored
        crops[(name, damage, "damaged")] = np.where(
            mask[..., None] if image.ndim == 3 else mask, 0, image
        )
        crops[(name, damage, "original")] = image
    return crops


def save_figure(path, crops, cases, size=96):
    """Save the central ``size`` x ``size`` crops of each case, one row per case."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = ["original", "damaged", *FIGURE_METHODS]
    cases = [case for case in cases if (*case, "original") in crops]
    if not cases:
        return
    figure, axes = plt.subplots(
        len(cases),
        len(columns),
        figsize=(1.6 * len(columns), 1.9 * len(cases)),
        squeeze=False,
    )
    top = left = (SIZE - size) // 2
    for i, case in enumerate(cases):
        original = crops[(*case, "original")]
        for j, column in enumerate(columns):
            restored = crops[(*case, column)]
            axis = axes[i, j]
            axis.imshow(
                restored[top : top + size, left : left + size],
                cmap="gray",
                vmin=0,
                vmax=1,
                interpolation="nearest",
            )
            axis.set_xticks([])
            axis.set_yticks([])
            if j >= 2:
                axis.set_xlabel(f"{psnr(original, restored):.2f} dB", fontsize=7)
            if i == 0:
                axis.set_title(
                    column.replace("scikit-image ", "").replace("mfinpaint ", "mf "),
                    fontsize=8,
                )
            if j == 0:
                axis.set_ylabel(f"{case[0]}\n{case[1]}", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def cpu_model():
    """Return the CPU model name from /proc/cpuinfo, or the platform's processor."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="three images and 90 %% random missing only",
    )
    parser.add_argument(
        "--docs",
        type=Path,
        help="folder for quality.md and quality.png (default docs, "
        "or benchmarks/out/quick with --quick)",
    )
    parser.add_argument(
        "--csv",
        type=Path,
        help="file of scores (default benchmarks/out/quality.csv, or "
        "benchmarks/out/quick/quality.csv with --quick)",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite the report from an existing CSV file",
    )
    parser.add_argument(
        "--figure",
        action="store_true",
        help="with --report-only, also run the figure's cases again and "
        "redraw quality.png",
    )
    parser.add_argument(
        "--methods",
        type=lambda text: text.split(","),
        help="comma-separated methods to run again; the CSV keeps "
        "the rows of the others",
    )
    args = parser.parse_args()
    out = ROOT / "benchmarks" / "out"
    args.docs = args.docs or (out / "quick" if args.quick else ROOT / "docs")
    args.csv = args.csv or (
        out / "quick" / "quality.csv" if args.quick else out / "quality.csv"
    )

    known = [*METHODS, *MIX_METHODS, *RANK_METHODS, *COLOR_METHODS]
    methods = args.methods or known
    unknown = [m for m in methods if m not in known]
    if unknown:
        parser.error(f"unknown methods {unknown}; choose from {known}")

    command = "make bench-quality"
    if args.quick or args.methods:
        command = "python benchmarks/quality.py" + " --quick" * args.quick
        if args.methods:
            command += f" --methods '{','.join(methods)}'"
    runs_path = args.csv.with_suffix(".runs.json")
    needed = []
    if args.report_only:
        needed = [args.csv, runs_path]
    elif args.methods:
        needed = [args.csv]
    missing_files = [str(path) for path in needed if not path.is_file()]
    if missing_files:
        parser.error(
            f"{', '.join(missing_files)} not found; --report-only and --methods read "
            "the scores of an earlier run, so run without them first."
        )
    started = time.perf_counter()
    crops = {}
    if not args.report_only:
        kept = []
        if args.methods:
            kept = [row for row in read_rows(args.csv) if row["method"] not in methods]
        names = QUICK_IMAGES if args.quick else ("panda", *SKIMAGE_IMAGES)
        damages = ("random 90%",) if args.quick else DAMAGES
        # One thread for BLAS and OpenCV: every method gets the same share of
        # a machine that other jobs may be using.
        with threadpool_limits(1):
            cv2.setNumThreads(1)
            crops = run_all(load_images(names), damages, methods, args.csv, kept)
        runs = record_run(
            runs_path, command, time.perf_counter() - started, replace=not args.methods
        )
    else:
        runs = json.loads(runs_path.read_text())

    args.docs.mkdir(parents=True, exist_ok=True)
    write_report(args.docs / "quality.md", read_rows(args.csv), runs)
    if args.figure and not crops:
        with threadpool_limits(1):
            cv2.setNumThreads(1)
            crops = figure_crops(FIGURE_CASES)
    if crops and not args.methods:
        save_figure(args.docs / "quality.png", crops, FIGURE_CASES)
    print(f"wrote {args.docs / 'quality.md'}")


if __name__ == "__main__":
    main()
