"""Checks of benchmarks/speed.py that need no timing."""

import sys
from pathlib import Path

import numpy as np
import pytest

from mfinpaint import SmoothMF

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
speed = pytest.importorskip("speed")


def test_benchmark_published_solver_matches_cg():
    rng = np.random.default_rng(3)
    Y = rng.random((21, 16))
    mask = rng.random(Y.shape) < 0.8

    W, X = speed.published_fit(Y, mask, np.random.RandomState(4), 3, 6)
    model = SmoothMF(
        rank=3,
        rho=speed.RHO,
        lam=speed.LAM,
        solver="cg",
        max_iter=6,
        random_state=np.random.RandomState(4),
    ).fit(Y, mask)

    assert np.linalg.norm(model.W_ - W) <= 1e-8 * np.linalg.norm(W)
    assert np.linalg.norm(model.X_ - X) <= 1e-8 * np.linalg.norm(X)


def test_blocked_rse_matches_whole_image():
    from mfinpaint.metrics import rse

    rng = np.random.default_rng(5)
    truth = rng.random((40, 30))
    mask = rng.random(truth.shape) < 0.5
    W, X = rng.random((2, 40)), rng.random((2, 30))

    expected = rse(truth, np.clip(W.T @ X, 0, 1), mask)
    assert speed.blocked_rse(truth, W, X, mask, block=7) == pytest.approx(expected)


def test_mark_target_finds_first_iteration():
    record = {"rse_history": [0.5, 0.2, 0.101, 0.099], "seconds_history": [1, 2, 3, 4]}

    speed.mark_target(record, 0.1)

    assert record["iterations_to_target"] == 4
    assert record["seconds_to_target"] == 4
    assert record["iterations_to_target_near"] == 3
    assert record["reached"]


def test_mark_target_reports_miss():
    record = {"rse_history": [0.5, 0.3], "seconds_history": [1, 2]}

    speed.mark_target(record, 0.1)

    assert not record["reached"]
    assert record["seconds_to_target"] is None
