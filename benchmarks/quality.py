"""Compare mfinpaint with OpenCV and scikit-image inpainting on damaged photos.

Every image is cut to its central square and resized to SIZE x SIZE pixels.
Each damage kind hides pixels, every method restores them, and the scores
go to benchmarks/out/quality.csv (one row per image, damage and method, so
an interrupted run keeps its rows). The tables go to docs/quality.md and a
figure of crops side by side to docs/quality.png.

Run ``python benchmarks/quality.py`` for the full run or ``--quick`` for
three images and one damage kind.
"""

import argparse
import csv
import os
import platform
import time
import warnings
from pathlib import Path

import cv2
import numpy as np
import skimage
from PIL import Image, ImageDraw, ImageFont
from skimage import data
from skimage.color import rgb2gray
from skimage.restoration import inpaint_biharmonic
from skimage.transform import resize

import mfinpaint
from mfinpaint import SmoothMF, inpaint, random_mask
from mfinpaint.colorspace import rgb_to_ycbcr
from mfinpaint.io import read_image
from mfinpaint.metrics import psnr, rse, ssim

ROOT = Path(__file__).resolve().parents[1]
PANDA = ROOT.parent / "shared" / "data" / "gaint_panda.bmp"
SIZE = 256
SKIMAGE_IMAGES = (
    "astronaut", "camera", "coffee", "chelsea", "rocket", "coins", "moon", "brick",
    "immunohistochemistry",
)
QUICK_IMAGES = ("panda", "astronaut", "camera")
DAMAGES = (
    "random 50%", "random 70%", "random 90%", "random 95%", "text", "scratches",
    "blocks 32x32", "row stripes",
)
COLUMNS = ("image", "damage", "method", "psnr", "ssim", "rse", "seconds", "missing",
           "settings")


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
        draw.line([tuple(start.tolist()), tuple(end.tolist())], fill=255,
                  width=int(rng.integers(1, 3)))
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
    makers = {"text": text_mask, "scratches": scratch_mask, "blocks 32x32": block_mask,
              "row stripes": stripe_mask}
    return makers[damage](rng)


# Methods: each returns the restored float image and a short settings note.


def channel_axis(image):
    return -1 if image.ndim == 3 else None


def run_default(image, mask):
    restored = inpaint(image, mask, channel_axis=channel_axis(image))
    return restored, "defaults"


def run_auto(image, mask):
    restored, info = inpaint(image, mask, channel_axis=channel_axis(image), auto=True,
                             return_info=True)
    chosen = info["params"]
    note = (f"rank {chosen['rank']} lam {chosen['lam']:.3g} rho {chosen['rho']:.3g} "
            f"order {chosen['order']}")
    return restored, note


def _published_fit(image, mask, lam):
    """Fit the published solver per channel from random factors, seed 1."""
    channels = image[..., None] if image.ndim == 2 else image
    restored = np.empty_like(channels)
    for c in range(channels.shape[2]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = SmoothMF(rank=50, lam=lam, rho=0.1, order=1, solver="cg",
                             max_iter=100, random_state=1)
            model.fit(channels[..., c], mask)
        estimate = np.clip(model.reconstruct(), 0, 1)
        restored[..., c] = np.where(mask, estimate, channels[..., c])
    return restored.reshape(image.shape)


def run_published(image, mask):
    return _published_fit(image, mask, 10.0), "rank 50 lam 10 rho 0.1 cg 100 it"


def run_plain(image, mask):
    return _published_fit(image, mask, 1e-10), "rank 50 lam 1e-10 rho 0.1 cg 100 it"


def _opencv(image, mask, flag):
    pixels = np.round(np.where(mask[..., None] if image.ndim == 3 else mask, 0, image)
                      * 255).astype(np.uint8)
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
    "mfinpaint --auto": run_auto,
    "published setting": run_published,
    "plain MF (lam 1e-10)": run_plain,
    "OpenCV Telea": run_telea,
    "OpenCV NS": run_ns,
    "scikit-image biharmonic": run_biharmonic,
}
# Extra runs on color images at 90 % missing to compare the color modes.
COLOR_METHODS = {f"color={color}": _color_mode(color) for color in
                 ("luma", "channels", "joint")}
COLOR_DAMAGE = "random 90%"


def score(name, damage, method, image, mask, run):
    start = time.perf_counter()
    restored, note = run(image, mask)
    seconds = time.perf_counter() - start
    restored = np.clip(restored, 0, 1)
    row = {
        "image": name, "damage": damage, "method": method,
        "psnr": psnr(image, restored), "ssim": ssim(image, restored),
        "rse": rse(image, restored, mask), "seconds": seconds,
        "missing": float(mask.mean()), "settings": note,
    }
    print(f"{name:>22} {damage:>13} {method:>24} PSNR {row['psnr']:6.2f} "
          f"SSIM {row['ssim']:.3f} {seconds:6.2f} s  {note}", flush=True)
    return row, restored


def run_all(images, damages, csv_path):
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    crops = {}
    with csv_path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, COLUMNS)
        writer.writeheader()
        for name, image in images.items():
            for damage in damages:
                mask = make_mask(damage)
                methods = dict(METHODS)
                if image.ndim == 3 and damage == COLOR_DAMAGE:
                    methods.update(COLOR_METHODS)
                for method, run in methods.items():
                    row, restored = score(name, damage, method, image, mask, run)
                    writer.writerow(row)
                    stream.flush()
                    crops[(name, damage, method)] = restored
                crops[(name, damage, "damaged")] = np.where(
                    mask[..., None] if image.ndim == 3 else mask, 0, image)
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
    images = list(dict.fromkeys(row["image"] for row in rows if row["damage"] == damage))
    lookup = {(row["image"], row["method"]): row for row in rows if row["damage"] == damage}
    lines = ["| image | " + " | ".join(methods) + " |",
             "| --- |" + " ---: |" * len(methods)]
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
    lines = ["| method | PSNR (dB) | SSIM | RSE (missing) | seconds | best PSNR on |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    cases = {}
    for row in rows:
        cases.setdefault((row["image"], row["damage"]), []).append(row)
    for method in methods:
        chosen = [row for row in rows if row["method"] == method]
        wins = sum(
            1 for group in cases.values()
            if max((r for r in group if r["method"] in methods), key=lambda r: r["psnr"])[
                "method"] == method
        )
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
    images = list(dict.fromkeys(row["image"] for row in rows if row["damage"] == damage))
    if not images or not all((image, "mfinpaint --auto") in at for image in images):
        return []
    lines = [f"At {damage} missing, over {len(images)} images:", ""]
    for rival in ("OpenCV Telea", "OpenCV NS"):
        lost = [image for image in images
                if at[image, "mfinpaint --auto"]["psnr"] <= at[image, rival]["psnr"]]
        verdict = "on every image" if not lost else f"except on {', '.join(lost)}"
        lines.append(f"- `--auto` has a higher PSNR than {rival} {verdict}.")
    auto = [at[image, "mfinpaint --auto"] for image in images]
    biharmonic = [at[image, "scikit-image biharmonic"] for image in images]
    gap = _mean([r["psnr"] for r in auto]) - _mean([r["psnr"] for r in biharmonic])
    ratio = sum(r["seconds"] for r in auto) / sum(r["seconds"] for r in biharmonic)
    lines.append(f"- Mean PSNR of `--auto` minus that of biharmonic: {gap:+.2f} dB.")
    lines.append(f"- Time of `--auto` over that of biharmonic: {ratio:.2f} (summed over "
                 "the images).")
    return lines + [""]


def render_results(rows, command, seconds):
    methods = [m for m in METHODS if any(row["method"] == m for row in rows)]
    main_rows = [row for row in rows if row["method"] in METHODS]
    lines = [START_MARK, "",
             f"Command: `{command}`, {seconds / 60:.0f} minutes. "
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, "
             f"{platform.platform()}. Versions: Python {platform.python_version()}, "
             f"mfinpaint {mfinpaint.__version__}, NumPy {np.__version__}, "
             f"scikit-image {skimage.__version__}, OpenCV {cv2.__version__}. "
             f"Images: central square resized to {SIZE} x {SIZE}.", ""]
    lines += ["### Mean over every image and damage kind", ""]
    lines += _mean_table(main_rows, methods) + [""]
    lines += _target_lines(main_rows)
    for damage in dict.fromkeys(row["damage"] for row in rows):
        damage_rows = [row for row in main_rows if row["damage"] == damage]
        lines += [f"### {damage}", "", "PSNR in dB, best in bold.", ""]
        lines += _psnr_table(damage_rows, damage, methods) + [""]
        lines += _mean_table(damage_rows, methods) + [""]
    color_rows = [row for row in rows if row["method"] in COLOR_METHODS]
    if color_rows:
        lines += [f"### Color modes at {COLOR_DAMAGE} missing, default settings", ""]
        lines += _psnr_table(color_rows, COLOR_DAMAGE, list(COLOR_METHODS)) + [""]
        lines += _mean_table(color_rows, list(COLOR_METHODS)) + [""]
    lines.append(END_MARK)
    return "\n".join(lines)


def write_report(path, rows, command, seconds):
    text = path.read_text() if path.exists() else f"# Quality\n\n{START_MARK}\n{END_MARK}\n"
    if START_MARK not in text:
        text += f"\n{START_MARK}\n{END_MARK}\n"
    head, rest = text.split(START_MARK, 1)
    tail = rest.split(END_MARK, 1)[1]
    path.write_text(head + render_results(rows, command, seconds) + tail)


def save_figure(path, crops, cases, size=96):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = ["original", "damaged", "mfinpaint default", "mfinpaint --auto",
               "published setting", "OpenCV Telea", "OpenCV NS",
               "scikit-image biharmonic"]
    cases = [case for case in cases if (*case, "original") in crops]
    if not cases:
        return
    figure, axes = plt.subplots(len(cases), len(columns),
                                figsize=(1.6 * len(columns), 1.8 * len(cases)),
                                squeeze=False)
    top = left = (SIZE - size) // 2
    for i, case in enumerate(cases):
        for j, column in enumerate(columns):
            crop = crops[(*case, column)][top : top + size, left : left + size]
            axis = axes[i, j]
            axis.imshow(crop, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            if i == 0:
                axis.set_title(column.replace("scikit-image ", "").replace(
                    "mfinpaint ", "mf "), fontsize=8)
            if j == 0:
                axis.set_ylabel(f"{case[0]}\n{case[1]}", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="three images and 90 %% random missing only")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs",
                        help="folder for quality.md and quality.png")
    parser.add_argument("--csv", type=Path, default=ROOT / "benchmarks" / "out" / "quality.csv")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the report from an existing CSV file")
    args = parser.parse_args()

    command = "make bench-quality" if not args.quick else "python benchmarks/quality.py --quick"
    started = time.perf_counter()
    crops = {}
    if not args.report_only:
        names = QUICK_IMAGES if args.quick else ("panda", *SKIMAGE_IMAGES)
        damages = ("random 90%",) if args.quick else DAMAGES
        crops = run_all(load_images(names), damages, args.csv)
    seconds = time.perf_counter() - started

    args.docs.mkdir(parents=True, exist_ok=True)
    write_report(args.docs / "quality.md", read_rows(args.csv), command, seconds)
    if crops:
        cases = [("astronaut", "random 90%"), ("panda", "random 90%"),
                 ("astronaut", "text"), ("camera", "blocks 32x32"),
                 ("coffee", "scratches")]
        save_figure(args.docs / "quality.png", crops, cases)
    print(f"wrote {args.docs / 'quality.md'} in {seconds:.0f} s")


if __name__ == "__main__":
    main()
