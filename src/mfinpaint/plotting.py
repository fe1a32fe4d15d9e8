"""Figures of the experiment: restorations side by side and convergence curves."""

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .io import atomic_write  # noqa: E402

__all__ = ["save_restoration_figure", "save_convergence_figure"]


def _save(figure, path):
    with atomic_write(path) as stream:
        figure.savefig(stream, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)


def save_restoration_figure(path, truth, mask, runs):
    """Save the masked image, one panel per run and the original as a PNG."""
    panels = [("masked (missing in black)", truth * ~mask)]
    for run in runs:
        label = f"rank {run.rank}, λ = {run.lam:g}\nRSE {run.rse:.3f}, PSNR {run.psnr:.1f} dB"
        panels.append((label, run.restored))
    panels.append(("original", truth))

    columns = min(4, len(panels))
    rows = math.ceil(len(panels) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 3.5 * rows))
    axes = axes.ravel() if hasattr(axes, "ravel") else [axes]
    for axis, (label, image) in zip(axes, panels):
        axis.imshow(image, cmap="gray", vmin=0, vmax=1)
        axis.set_title(label, fontsize=9)
    for axis in axes:
        axis.axis("off")
    _save(figure, path)


def save_convergence_figure(path, runs):
    """Save the RSE on the missing pixels against the iteration, one line per run."""
    figure, axis = plt.subplots(figsize=(6, 4))
    for run in runs:
        iterations = range(1, len(run.rse_history) + 1)
        axis.plot(
            iterations, run.rse_history, label=f"rank {run.rank}, λ = {run.lam:g}"
        )
    axis.set_xlabel("outer iteration")
    axis.set_ylabel("RSE on missing pixels")
    axis.set_yscale("log")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=8)
    _save(figure, path)
