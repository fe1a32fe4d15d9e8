"""Write docs/benchmarks.md and the scaling plot from the records of speed.py."""

import numpy as np

COMPARED = ("published", "cg", "exact", "exact svd", "exact svd float32")
METHOD_NAMES = {
    "published": "published solver (dense, 5 CG steps per half-step)",
    "cg": '`SmoothMF(solver="cg")`',
    "exact": '`SmoothMF(solver="exact", start="random")`',
    "exact svd": '`SmoothMF(solver="exact")`, SVD start (the default)',
    "exact svd float32": '`SmoothMF(solver="exact", dtype="float32")`, SVD start',
    "telea": "OpenCV `inpaint`, Telea, radius 3",
    "navier-stokes": "OpenCV `inpaint`, Navier-Stokes, radius 3",
    "biharmonic": "scikit-image `inpaint_biharmonic`",
}


IMAGE_NAMES = {"panda": "panda", "photo": "coffee"}


def _fmt(value, digits=3):
    if value is None:
        return "n/a"
    return f"{value:.{digits}g}" if abs(value) < 1000 else f"{value:.0f}"


def _by_case(records):
    cases = {}
    for record in records:
        cases.setdefault(record["case"], {})[record["method"]] = record
    return cases


def comparison_cases(records):
    """Return {case: {method: record}} for the cases that ran the published solver."""
    return {
        case: methods
        for case, methods in _by_case(records).items()
        if "published" in methods and "error" not in methods["published"]
    }


def speedup(methods, method, suffix=""):
    """Return published seconds over ``method``'s seconds to the published RSE.

    ``suffix="_near"`` uses the time to 1% above the published RSE.
    """
    record = methods.get(method)
    if record is None or "error" in record or not record.get("reached" + suffix):
        return None
    return methods["published"]["seconds"] / record["seconds_to_target" + suffix]


def _reach_cells(methods, method, suffix):
    record = methods[method]
    if not record.get("reached" + suffix):
        return ["not reached", "", ""]
    return [
        str(record["iterations_to_target" + suffix]),
        f"{record['seconds_to_target' + suffix]:.3f}",
        f"{speedup(methods, method, suffix):.1f}x",
    ]


def _published_iterations(record):
    if record["iterations"] == 100:
        return "100"
    return f"100 (time of {record['iterations']} x {100 // record['iterations']})"


def _iterations(count):
    return f"{count} iteration" + ("" if count == 1 else "s")


def _comparison_table(case, methods):
    published = methods["published"]
    lines = [f"### {case}", ""]
    if published["iterations"] < 100:
        cg_history = methods.get("cg", {}).get("rse_history", [])
        check = ""
        if len(cg_history) >= published["iterations"]:
            check = (
                f' (`solver="cg"` after {published["iterations"]}: '
                f"{cg_history[published['iterations'] - 1]:.4f})"
            )
        lines += [
            f"The published solver ran {published['iterations']} iterations in "
            f"{published['seconds_measured']:.1f} s, to RSE "
            f"{published['rse_measured']:.4f}{check}. Its time for 100 iterations "
            f"is that time x {100 // published['iterations']}. Its final RSE is the "
            'RSE of `SmoothMF(solver="cg")` after 100 iterations, which takes the '
            "same steps (the tests check the iterates to 1e-8 relative).",
            "",
        ]
    lines += [
        f"Target: RSE {published['rse']:.4f} on the missing pixels.",
        "",
        "| method | iterations | seconds | speed-up | iterations to 1% above "
        "| seconds | speed-up | final or best RSE | peak memory (MiB) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        f"| {METHOD_NAMES['published']} | {_published_iterations(published)} | "
        f"{published['seconds']:.2f} | 1 | | | | {published['rse']:.4f} | "
        f"{published['peak_mib']:.0f} |",
    ]
    for method in COMPARED[1:]:
        record = methods.get(method)
        if record is None:
            continue
        if "error" in record:
            lines.append(
                f"| {METHOD_NAMES[method]} | failed: {record['error']} |" + " |" * 7
            )
            continue
        cells = [
            METHOD_NAMES[method],
            *_reach_cells(methods, method, ""),
            *_reach_cells(methods, method, "_near"),
            f"{record['best_rse']:.4f}",
            f"{record['peak_mib']:.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def _peer_table(records):
    lines = [
        "| image | method | pixels processed | seconds | RSE on missing pixels | PSNR (dB) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for record in records:
        if record["method"] not in ("telea", "navier-stokes", "biharmonic"):
            continue
        if "error" in record:
            lines.append(
                f"| {record['case']} | {METHOD_NAMES[record['method']]} | "
                f"failed: {record['error']} | | | |"
            )
            continue
        height, width = record["shape"]
        image = f"{IMAGE_NAMES[record['image']]} {height} x {width}"
        if record.get("crop"):
            image += f" (top-left {record['crop'][0]} x {record['crop'][1]} crop)"
        lines.append(
            f"| {image} | {METHOD_NAMES[record['method']]} | "
            f"{record['pixels_processed']} | {record['seconds']:.2f} | "
            f"{record['rse']:.4f} | {record['psnr']:.1f} |"
        )
    return lines + [""]


def fit_slope(x, y):
    """Return the least-squares slope of log y against log x."""
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def sweep_records(records, prefix):
    return [r for r in records if r["case"].startswith(prefix) and "error" not in r]


def _published_slope_text(cases):
    points = sorted(
        (m["published"]["pixels"], m["published"]["seconds"])
        for m in cases.values()
        if m["published"]["rank"] == 50
    )
    if len(points) < 2:
        return ""
    slope = fit_slope(*zip(*points))
    return (
        f" Between its two runs at rank 50 ({points[0][0]} and {points[-1][0]} "
        f"pixels) its slope is {slope:.2f}."
    )


def _sweep_tables(records, cases):
    sizes = sweep_records(records, "sweep ") and [
        r for r in sweep_records(records, "sweep ") if r["case"].endswith("MP")
    ]
    ranks = sweep_records(records, "sweep rank")
    lines = [
        "Each row is one child process that runs 4 iterations of "
        '`SmoothMF(solver="exact", start="random")` (float64, rank 50 for the '
        "sizes, 1 megapixel for the ranks) on scikit-image's `coffee` photograph "
        "in gray, resized to 9:16, with 90% of the pixels missing. Seconds per "
        "iteration is the median over iterations 2 to 4; the first iteration also "
        "builds the index of observed entries.",
        "",
        "| pixels | shape | seconds per iteration | first iteration (s) | peak memory (MiB) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in sizes:
        lines.append(
            f"| {r['pixels']} | {r['shape'][0]} x {r['shape'][1]} | "
            f"{r['seconds_per_iteration']:.3f} | "
            f"{r['seconds_first_iteration']:.3f} | {r['peak_mib']:.0f} |"
        )
    if len(sizes) > 1:
        slope = fit_slope(
            [r["pixels"] for r in sizes], [r["seconds_per_iteration"] for r in sizes]
        )
        lines += [
            "",
            f"Slope of log(seconds per iteration) against log(pixels): "
            f"**{slope:.2f}**. An iteration forms the Gram blocks in "
            "O(|Omega| R^2), linear in the pixel count, and factors the band "
            "matrices in O((M + N) R^3), which grows with the square root of the "
            "pixel count at a fixed aspect ratio, so the slope is below 1. The "
            "published solver's dense difference matrices cost O((M^2 + N^2) R) "
            "per product, more than linear in the pixel count."
            + _published_slope_text(cases),
            "",
        ]
    lines += [
        "| rank | seconds per iteration | first iteration (s) | peak memory (MiB) |",
        "| --- | --- | --- | --- |",
    ]
    for r in ranks:
        lines.append(
            f"| {r['rank']} | {r['seconds_per_iteration']:.3f} | "
            f"{r['seconds_first_iteration']:.3f} | {r['peak_mib']:.0f} |"
        )
    if len(ranks) > 1:
        slope = fit_slope(
            [r["rank"] for r in ranks], [r["seconds_per_iteration"] for r in ranks]
        )
        lines += [
            "",
            f"Slope of log(seconds per iteration) against log(rank): "
            f"{slope:.2f}. The operation counts grow faster, as R^2 for the "
            "Gram blocks and R^3 for the banded Cholesky. Most likely, fixed "
            "costs per iteration weigh more at low ranks, and BLAS and LAPACK "
            "run at a higher rate on larger blocks.",
        ]
    return lines + [""], sizes


def plot_scaling(sizes, cases, path):
    """Draw seconds per iteration against pixels on log-log axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    figure, axes = plt.subplots(figsize=(6, 4.2))
    pixels = np.array([r["pixels"] for r in sizes], dtype=float)
    seconds = np.array([r["seconds_per_iteration"] for r in sizes])
    axes.loglog(pixels, seconds, "o-", label="exact solver, rank 50")
    if len(pixels):
        axes.loglog(
            pixels, seconds[0] * pixels / pixels[0], ":", color="gray", label="slope 1"
        )
    published = [
        (m["published"]["pixels"], m["published"]["seconds"] / 100)
        for case, m in cases.items()
        if m["published"]["rank"] == 50
    ]
    if published:
        x, y = zip(*sorted(published))
        axes.loglog(x, y, "s--", label="published solver, rank 50")
    axes.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axes.set_xlabel("pixels")
    axes.set_ylabel("seconds per outer iteration")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _target_lines(cases, sizes):
    lines = ["## Targets", ""]
    panda = cases.get("panda rank 50")
    large = cases.get("2160x3840 rank 50")
    for name, methods, goal in (
        ("512 x 512, rank 50", panda, 15),
        ("2160 x 3840, rank 50", large, 40),
    ):
        if methods is None:
            lines.append(f"- {name}: not run.")
            continue
        parts = []
        for method in COMPARED[2:]:
            ratio = speedup(methods, method)
            verdict = "met" if ratio is not None and ratio >= goal else "missed"
            parts.append(
                f"{METHOD_NAMES[method]}: {verdict}, {_fmt(ratio)}x "
                f"(to 1% above: {_fmt(speedup(methods, method, '_near'))}x)"
            )
        lines.append(
            f"- Time to the published final RSE at {name}, goal at least "
            f"{goal}x. " + "; ".join(parts) + "."
        )
    if len(sizes) > 1:
        slope = fit_slope(
            [r["pixels"] for r in sizes], [r["seconds_per_iteration"] for r in sizes]
        )
        verdict = "met" if slope <= 1.1 else "missed"
        lines.append(
            f"- Slope of time against pixels at most 1.1: {verdict} ({slope:.2f})."
        )
    if large is not None:
        peaks = {
            m: large[m]["peak_mib"]
            for m in COMPARED
            if m in large and "error" not in large[m]
        }
        exact_peak = max(peaks.get(m, 0) for m in COMPARED[2:])
        verdict = (
            "met"
            if exact_peak <= 1024 and exact_peak < peaks["published"]
            else "missed"
        )
        lines.append(
            f"- Peak memory of the exact solver at 2160 x 3840, rank 50, at most "
            f"1 GiB and below the published solver's: {verdict} (largest exact "
            f"variant {exact_peak:.0f} MiB, published {peaks['published']:.0f} MiB, "
            "both whole-process peaks including the image and Python)."
        )
    return lines + [""]


def _start_summary(cases):
    """Compare the times to the target from the random and the SVD start."""
    ratios, misses = [], []
    for case, methods in cases.items():
        random_start, svd = methods.get("exact", {}), methods.get("exact svd", {})
        if random_start.get("reached") and svd.get("reached"):
            ratios.append(random_start["seconds_to_target"] / svd["seconds_to_target"])
        elif svd.get("reached"):
            misses.append(case)
    parts = []
    if ratios:
        parts.append(
            f"Where both starts reach the target, the SVD start gets there "
            f"{min(ratios):.1f} to {max(ratios):.1f} times sooner."
        )
    if misses:
        parts.append(
            f"Only the SVD start reaches it in {' and '.join(misses)}, where "
            "the random start converges just above it."
        )
    parts.append(
        'So the SVD start is kept: it is the exact solver\'s default (`start="auto"`).'
    )
    return " ".join(parts)


def _reach_text(record):
    """Describe how many iterations and seconds a fit took to its target."""
    parts = []
    for suffix, name in (("", "the target"), ("_near", "1% above it")):
        if record.get("reached" + suffix):
            count = _iterations(record["iterations_to_target" + suffix])
            parts.append(
                f"{name} in {count}, {record['seconds_to_target' + suffix]:.3f} s"
            )
        else:
            parts.append(f"{name} not reached (best RSE {record['best_rse']:.4f})")
    return ", ".join(parts)


# Text after this line in docs/benchmarks.md is kept when the page is rebuilt.
KEEP_MARKER = (
    "<!-- Sections below this line are not generated by benchmarks/speed.py. -->"
)


def render(records, doc_path, plot_path):
    """Write the benchmark page and the plot from the records of one run.

    Everything after KEEP_MARKER in an existing page is kept.
    """
    info = records[0]
    cases = comparison_cases(records)
    sweep_lines, sizes = _sweep_tables(records, cases)
    plot_scaling(sizes, cases, plot_path)

    lines = [
        "# Speed benchmarks",
        "",
        "How fast `SmoothMF` reaches the error of the published solver, how it "
        "scales with image size and rank, and how long classic inpainting takes on "
        "the same images. Every number on this page comes from one run of",
        "",
        "```",
        info["command"],
        "```",
        "",
        f"on {info['cpu']} ({info['cores']} cores, 1-minute load "
        f"average {info['load_before'][0]:.1f} at the start and "
        f"{info['load_after'][0]:.1f} at the end), with {info['threads']} BLAS and "
        f"OpenCV thread(s) per process, in {info['minutes']:.1f} minutes. "
        f"Python {info['python']}, NumPy {info['numpy']} ({info['blas']}), SciPy "
        f"{info['scipy']}, scikit-image {info['scikit-image']}, OpenCV "
        f"{info['opencv']}, mfinpaint {info['mfinpaint']} (commit {info['commit']}).",
        "",
        "Each process uses one thread by default, so that every method gets the "
        "same share of the machine: when other jobs share the cores, "
        "oversubscribed OpenBLAS threads slowed small products by 10x or more in "
        "trials. `--threads 2` lets every method use both cores.",
        "",
        "Absolute times vary between runs, by up to about 2x when other jobs "
        "share the cores, so compare ratios within one run. The raw records are in "
        "`benchmarks/out/speed.json` and `speed.csv` after a run; "
        "`python benchmarks/speed.py --render` rebuilds this page from them.",
        "",
        "## Method",
        "",
        "Each measurement runs in a fresh process, so its peak resident memory "
        "(`ru_maxrss`, including Python, the libraries and the image) belongs to "
        "one method on one image. Images are gray in [0, 1]; 90% of the pixels "
        "are missing, drawn by the published rule (`RandomState(1)`, missing when "
        "the uniform draw is below 0.9), and the same stream then draws the "
        "random starting factors. All fits use rho = 0.1, lam = 10, order 1. "
        "The 512 x 512 image is the giant panda photograph of the published "
        "experiment; the larger images are scikit-image's `coffee` photograph "
        "(400 x 600) in gray, resized with anti-aliasing.",
        "",
        "- The published solver is reimplemented as published: a dense mask, "
        "dense first-order difference matrices, 5 plain conjugate-gradient steps "
        "per half-step, 100 outer iterations. Its RSE after the last iteration is "
        "the target.",
        "- `SmoothMF` fits report the RSE on the missing pixels after every outer "
        "iteration through `callback`. The time to the target is the time from "
        "the `fit` call (index of observed entries and starting factors "
        "included) to the first iteration at or below the target, minus the time "
        "spent computing the RSE. The callback is called after full iterations "
        "only, so even a start that is already below the target counts one "
        "iteration. A fit stops at the target, or when one iteration changes "
        "its RSE by less than 0.01% (converged above the target), or after 30 "
        "iterations. The minimizer of the model can have a slightly higher RSE "
        "than the published solver's unconverged iterate, so the tables also "
        "give the time to 1% above the target.",
        "- RSE is `||y - clip(W.T X)|| / ||y||` over the missing pixels.",
        "",
        "## Time to the published solver's final RSE",
        "",
    ]
    for case, methods in cases.items():
        lines += _comparison_table(case, methods)

    lines += [
        "## Starting factors",
        "",
        '`start="svd"` begins from a truncated SVD (randomized range '
        "finder, 2 power iterations) of the image with its missing pixels "
        "filled by a Gaussian-weighted mean of the observed ones. Measured "
        "in the tables above:",
        "",
    ]
    for case, methods in cases.items():
        random_start, svd = methods.get("exact"), methods.get("exact svd")
        if not random_start or not svd or "error" in random_start or "error" in svd:
            continue
        lines.append(
            f"- {case}: random start {_reach_text(random_start)}; "
            f"SVD start {_reach_text(svd)}."
        )
    lines += [
        "",
        _start_summary(cases),
        '`solver="cg"` keeps the published random start by default, which it '
        "needs to reproduce the published table. `mfinpaint.inpaint` also "
        "starts from a smoothed-fill SVD.",
        "",
    ]

    lines += [
        "## Other inpainting methods",
        "",
        "For context, on the same images and masks. OpenCV works on 8-bit "
        "images, so its input is rounded to 1/255. "
        "`inpaint_biharmonic` on the 2160 x 3840 image runs on its top-left "
        "512 x 512 crop. It took 15 to 20 s and 1.3 GiB on the 512 x 512 "
        "panda, so the whole image would take minutes and many GiB.",
        "",
    ]
    lines += _peer_table(records)

    lines += [
        "## Scaling",
        "",
        "![Seconds per iteration against pixels, log-log](images/speed-scaling.png)",
        "",
    ]
    lines += sweep_lines
    lines += _target_lines(cases, sizes)
    kept = ""
    if doc_path.exists():
        old = doc_path.read_text()
        if KEEP_MARKER in old:
            kept = old.split(KEEP_MARKER, 1)[1]
    doc_path.write_text("\n".join(lines) + "\n" + KEEP_MARKER + (kept or "\n"))
