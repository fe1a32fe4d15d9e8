import warnings
from contextlib import nullcontext

import numpy as np
import pytest
from dense_reference import (
    dense_cg_steps,
    laplacian,
    normal_residual,
    objective,
    published_fit,
)

from mfinpaint import ConvergenceWarning, SmoothMF
from mfinpaint.difference import apply_laplacian, laplacian_bands
from mfinpaint.observed import ObservedLines
from mfinpaint.solvers import cg_half_step, exact_half_step


def random_problem(seed, shape=(17, 11), rank=4, missing_rate=0.5):
    rng = np.random.default_rng(seed)
    Y = rng.random(shape)
    observed = rng.random(shape) >= missing_rate
    X = rng.standard_normal((rank, shape[1]))
    return Y, observed, X


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("seed", range(5))
def test_exact_half_step_solves_normal_equations(order, seed):
    Y, observed, X = random_problem(seed)
    rho, lam = 0.1, [0.5, 3.0, 10.0, 1e-10, 100.0][seed]
    lines = ObservedLines(np.where(observed, Y, 0), observed, X.shape[0])

    W = exact_half_step(lines, X, rho, lam, order)

    residual = normal_residual(Y, observed, W, X, rho, lam, order)
    scale = np.linalg.norm(X @ (Y * observed).T)
    assert np.linalg.norm(residual) <= 1e-8 * scale


@pytest.mark.parametrize("order", [1, 2])
def test_exact_half_step_without_smoothing(order):
    Y, observed, X = random_problem(7)
    lines = ObservedLines(np.where(observed, Y, 0), observed, X.shape[0])

    W = exact_half_step(lines, X, 0.3, 0.0, order)

    residual = normal_residual(Y, observed, W, X, 0.3, 0.0, order)
    assert np.linalg.norm(residual) <= 1e-8 * np.linalg.norm(X @ (Y * observed).T)


@pytest.mark.parametrize("order", [1, 2])
def test_laplacian_bands_match_dense(order):
    for n in (1, 2, 3, 4, 9):
        dense = laplacian(n, order) if n > order else np.zeros((n, n))
        bands = laplacian_bands(n, order)
        for k in range(order + 1):
            np.testing.assert_allclose(bands[k, : n - k], np.diag(dense, k))


@pytest.mark.parametrize("order", [1, 2])
def test_laplacian_respects_segments(order):
    rng = np.random.default_rng(0)
    V = rng.standard_normal((3, 12))
    dense = np.zeros((12, 12))
    dense[:5, :5] = laplacian(5, order)
    dense[5:, 5:] = laplacian(7, order)

    np.testing.assert_allclose(apply_laplacian(V, order, [5, 7]), V @ dense, atol=1e-12)


@pytest.mark.parametrize("order", [1, 2])
def test_exact_objective_never_increases(order):
    rng = np.random.default_rng(3)
    Y = rng.random((30, 25))
    mask = rng.random(Y.shape) < 0.6
    model = SmoothMF(
        rank=5, lam=2.0, rho=0.05, order=order, max_iter=40, tol=0, random_state=0
    )

    with pytest.warns(Warning):
        model.fit(Y, mask)

    steps = np.diff(model.objective_)
    assert np.all(steps <= 1e-10 * np.abs(model.objective_[:-1]))


def test_exact_objective_matches_dense():
    rng = np.random.default_rng(4)
    Y = rng.random((20, 16))
    mask = rng.random(Y.shape) < 0.5
    model = SmoothMF(
        rank=3, lam=1.5, rho=0.2, order=2, max_iter=3, tol=0, random_state=1
    )
    with pytest.warns(Warning):
        model.fit(Y, mask)

    expected = objective(Y, ~mask, model.W_, model.X_, 0.2, 1.5, 2)
    assert model.objective_[-1] == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("order", [1, 2])
def test_cg_matches_dense_published_solver(order):
    rng = np.random.default_rng(5)
    Y = rng.random((24, 18))
    mask = rng.random(Y.shape) < 0.7
    model = SmoothMF(
        rank=4,
        lam=10.0,
        rho=0.1,
        order=order,
        solver="cg",
        max_iter=15,
        random_state=np.random.default_rng(9),
    )

    model.fit(Y, mask)
    W, X = published_fit(Y, ~mask, 4, 0.1, 10.0, order, 15, seed=9)

    assert np.linalg.norm(model.W_ - W) <= 1e-8 * np.linalg.norm(W)
    assert np.linalg.norm(model.X_ - X) <= 1e-8 * np.linalg.norm(X)


def test_cg_half_step_matches_dense_update():
    from dense_reference import published_cg_update

    Y, observed, X = random_problem(11, shape=(15, 13), rank=3)
    rng = np.random.default_rng(2)
    W = rng.standard_normal((3, 15))
    lines = ObservedLines(np.where(observed, Y, 0), observed, 3)

    fast = cg_half_step(lines, X, W, 0.1, 10.0, 1)
    dense = published_cg_update(Y, observed, W, X, 0.1, 10.0, 1)

    assert np.linalg.norm(fast - dense) <= 1e-8 * np.linalg.norm(dense)


def test_zeros_are_observed_data():
    Y = np.zeros((20, 20))
    Y[:, 10:] = 1.0
    mask = np.zeros(Y.shape, dtype=bool)
    mask[::3, ::4] = True

    filled = SmoothMF(rank=2, lam=1.0, rho=1e-3, random_state=0).fit_transform(Y, mask)

    black = mask.copy()
    black[:, 10:] = False
    assert np.abs(filled[black]).max() < 0.05
    assert np.abs(filled[mask & ~black] - 1.0).max() < 0.05


def test_observed_lines_count_zero_values():
    Y = np.zeros((4, 5))
    observed = np.ones((4, 5), dtype=bool)
    observed[0, 0] = False

    lines = ObservedLines(Y, observed, rank=2)

    np.testing.assert_array_equal(lines.counts, [4, 5, 5, 5])


def test_chunked_gram_matches_unchunked(monkeypatch):
    import mfinpaint.observed as observed_module

    Y, observed, X = random_problem(12, shape=(40, 30), rank=5)
    whole = ObservedLines(np.where(observed, Y, 0), observed, 5)
    monkeypatch.setattr(observed_module, "_CHUNK_ELEMENTS", 60)
    chunked = ObservedLines(np.where(observed, Y, 0), observed, 5)

    assert len(chunked.chunks) > 3
    G1, B1 = whole.gram(X)
    G2, B2 = chunked.gram(X)
    np.testing.assert_allclose(G1, G2, rtol=1e-12)
    np.testing.assert_allclose(B1, B2, rtol=1e-12)


def segmented_laplacian(segments, order):
    """Return the dense block-diagonal penalty matrix of independent segments."""
    n = sum(segments)
    dense = np.zeros((n, n))
    start = 0
    for length in segments:
        if length > order:
            dense[start : start + length, start : start + length] = laplacian(
                length, order
            )
        start += length
    return dense


def dense_exact_solution(Y, observed, X, rho, lam, L):
    """Return W solving the W normal equations with one dense solve."""
    M, rank = Y.shape[0], X.shape[0]
    A = lam * np.kron(L, np.eye(rank))
    for i in range(M):
        Xi = X[:, observed[i]]
        A[i * rank : (i + 1) * rank, i * rank : (i + 1) * rank] += Xi @ Xi.T
        A[i * rank : (i + 1) * rank, i * rank : (i + 1) * rank] += rho * np.eye(rank)
    b = (X @ (Y * observed).T).T.ravel()
    return np.linalg.solve(A, b).reshape(M, rank).T


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("n_lines", [1, 2, 3, 8, 13])
@pytest.mark.parametrize("lam", [0.0, 1e-10, 4.0])
def test_banded_exact_matches_dense_solve(order, n_lines, lam):
    Y, observed, X = random_problem(n_lines, shape=(n_lines, 9), rank=3)
    lines = ObservedLines(np.where(observed, Y, 0), observed, 3)

    W = exact_half_step(lines, X, 0.2, lam, order)

    L = laplacian(n_lines, order) if n_lines > order else np.zeros((n_lines, n_lines))
    expected = dense_exact_solution(Y, observed, X, 0.2, lam, L)
    assert np.linalg.norm(W - expected) <= 1e-8 * np.linalg.norm(expected)


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("segments", [[5, 7], [1, 4, 2, 5], [3, 3, 3, 3]])
def test_banded_exact_respects_segments(order, segments):
    Y, observed, X = random_problem(3, shape=(12, 10), rank=4)
    lines = ObservedLines(np.where(observed, Y, 0), observed, 4)

    W = exact_half_step(lines, X, 0.1, 6.0, order, segments)

    expected = dense_exact_solution(
        Y, observed, X, 0.1, 6.0, segmented_laplacian(segments, order)
    )
    assert np.linalg.norm(W - expected) <= 1e-8 * np.linalg.norm(expected)


@pytest.mark.parametrize("order", [1, 2])
def test_banded_exact_float32_close_to_float64(order):
    Y, observed, X = random_problem(4, shape=(16, 12), rank=3)
    values = np.where(observed, Y, 0)
    lines64 = ObservedLines(values, observed, 3)
    lines32 = ObservedLines(values.astype(np.float32), observed, 3, np.float32)

    W64 = exact_half_step(lines64, X, 0.1, 5.0, order)
    W32 = exact_half_step(lines32, X.astype(np.float32), 0.1, 5.0, order)

    assert W32.dtype == np.float32
    assert np.linalg.norm(W32 - W64) <= 1e-4 * np.linalg.norm(W64)


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("shape", [(14, 9), (15, 10)])
@pytest.mark.parametrize("lam", [0.0, 2.0])
def test_cg_half_step_segments_match_dense(order, shape, lam):
    Y, observed, X = random_problem(8, shape=shape, rank=3)
    rng = np.random.default_rng(1)
    W = rng.standard_normal((3, shape[0]))
    segments = [shape[0] // 2, shape[0] - shape[0] // 2]
    L = segmented_laplacian(segments, order)
    lines = ObservedLines(np.where(observed, Y, 0), observed, 3)

    fast = cg_half_step(lines, X, W, 0.1, lam, order, segments)

    def operator(V):
        return X @ ((V.T @ X) * observed).T + 0.1 * V + lam * V @ L

    dense = dense_cg_steps(operator, X @ (Y * observed).T, W)
    assert np.linalg.norm(fast - dense) <= 1e-8 * np.linalg.norm(dense)


def test_svd_start_reaches_lower_error_sooner():
    rng = np.random.default_rng(6)
    u, v = np.meshgrid(np.linspace(0, 3, 40), np.linspace(0, 2, 50), indexing="ij")
    Y = np.sin(u) * np.cos(v) + 0.5
    mask = rng.random(Y.shape) < 0.8

    def error_after_one_iteration(start):
        model = SmoothMF(
            rank=4, lam=1.0, rho=0.01, max_iter=1, start=start, random_state=0
        )
        with pytest.warns(Warning):
            model.fit(Y, mask)
        return np.linalg.norm((model.reconstruct() - Y)[mask])

    assert error_after_one_iteration("svd") < error_after_one_iteration("random")


@pytest.mark.parametrize("solver", ["exact", "cg"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_svd_start_gives_finite_fit(solver, dtype):
    rng = np.random.default_rng(2)
    Y = rng.random((25, 18))
    mask = rng.random(Y.shape) < 0.7
    model = SmoothMF(
        rank=3, max_iter=2, start="svd", solver=solver, dtype=dtype, random_state=0
    )

    with pytest.warns(Warning) if solver == "exact" else nullcontext():
        model.fit(Y, mask)

    assert model.W_.dtype == dtype
    assert model.W_.shape == (3, 25)
    assert np.isfinite(model.reconstruct()).all()


def test_svd_start_rejects_unknown_name():
    from mfinpaint.errors import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="start"):
        SmoothMF(rank=2, start="zeros").fit(np.ones((5, 5)))


@pytest.mark.parametrize(("solver", "start"), [("exact", "svd"), ("cg", "random")])
def test_auto_start_per_solver(solver, start):
    rng = np.random.default_rng(5)
    Y = rng.random((12, 9))
    mask = rng.random(Y.shape) < 0.4
    params = dict(rank=3, solver=solver, max_iter=2, random_state=0)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        auto = SmoothMF(**params).fit(Y, mask)
        chosen = SmoothMF(**params, start=start).fit(Y, mask)

    assert auto.start == "auto"
    np.testing.assert_array_equal(auto.W_, chosen.W_)
    np.testing.assert_array_equal(auto.X_, chosen.X_)


# Second-order smoothing with an added first-order term: P = lam L2 + lam1 L1.


def mixed_laplacian(segments, lam, lam1):
    """Return the dense penalty matrix ``lam L2 + lam1 L1`` of independent segments."""
    return lam * segmented_laplacian(segments, 2) + lam1 * segmented_laplacian(
        segments, 1
    )


@pytest.mark.parametrize("segments", [[1], [2], [3], [13], [5, 7], [1, 4, 2, 5]])
@pytest.mark.parametrize(("lam", "lam1"), [(4.0, 0.5), (0.0, 2.0), (1e-10, 30.0)])
def test_exact_mixed_penalty_matches_dense(segments, lam, lam1):
    n_lines = sum(segments)
    Y, observed, X = random_problem(n_lines, shape=(n_lines, 9), rank=3)
    lines = ObservedLines(np.where(observed, Y, 0), observed, 3)

    W = exact_half_step(lines, X, 0.2, lam, 2, segments, lam1)

    P = mixed_laplacian(segments, lam, lam1)
    expected = dense_exact_solution(Y, observed, X, 0.2, 1.0, P)
    assert np.linalg.norm(W - expected) <= 1e-8 * np.linalg.norm(expected)


def test_cg_mixed_penalty_matches_dense():
    Y, observed, X = random_problem(9, shape=(15, 12), rank=3)
    rng = np.random.default_rng(3)
    W = rng.standard_normal((3, 15))
    segments = [7, 8]
    P = mixed_laplacian(segments, 3.0, 0.7)
    lines = ObservedLines(np.where(observed, Y, 0), observed, 3)

    fast = cg_half_step(lines, X, W, 0.1, 3.0, 2, segments, lam1=0.7)

    def operator(V):
        return X @ ((V.T @ X) * observed).T + 0.1 * V + V @ P

    dense = dense_cg_steps(operator, X @ (Y * observed).T, W)
    assert np.linalg.norm(fast - dense) <= 1e-8 * np.linalg.norm(dense)


def test_mixed_objective_matches_dense():
    rng = np.random.default_rng(4)
    Y = rng.random((20, 16))
    mask = rng.random(Y.shape) < 0.5
    model = SmoothMF(
        rank=3, lam=1.5, lam1=0.4, rho=0.2, order=2, max_iter=3, tol=0, random_state=1
    )
    with pytest.warns(Warning):
        model.fit(Y, mask)

    second = objective(Y, ~mask, model.W_, model.X_, 0.2, 1.5, 2)
    first = objective(Y, ~mask, model.W_, model.X_, 0.0, 0.4, 1)
    data = objective(Y, ~mask, model.W_, model.X_, 0.0, 0.0, 1)
    assert model.objective_[-1] == pytest.approx(second + first - data, rel=1e-10)


@pytest.mark.parametrize("solver", ["exact", "cg"])
def test_mixed_objective_never_increases(solver):
    rng = np.random.default_rng(3)
    Y = rng.random((30, 25))
    mask = rng.random(Y.shape) < 0.6
    model = SmoothMF(
        rank=5,
        lam=2.0,
        lam1=0.5,
        rho=0.05,
        order=2,
        solver=solver,
        max_iter=30,
        tol=0,
        random_state=0,
    )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(Y, mask)

    steps = np.diff(model.objective_)
    assert np.all(steps <= 1e-10 * np.abs(model.objective_[:-1]))


def test_lam1_adds_to_lam_at_order_one():
    rng = np.random.default_rng(8)
    Y = rng.random((18, 14))
    mask = rng.random(Y.shape) < 0.5
    params = {"rank": 3, "rho": 0.1, "order": 1, "max_iter": 3, "tol": 0}
    params["random_state"] = 0

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        split = SmoothMF(lam=1.0, lam1=2.0, **params).fit(Y, mask)
        whole = SmoothMF(lam=3.0, **params).fit(Y, mask)

    np.testing.assert_allclose(split.W_, whole.W_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(split.X_, whole.X_, rtol=1e-10, atol=1e-12)
