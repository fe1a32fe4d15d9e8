"""Plain dense implementations of the model, used to check the fast code.

They build the difference matrices and the masked products densely, exactly
as the published solver does, so they are only usable on small matrices.
"""

import numpy as np


def difference_matrix(n, order):
    """Return the dense (n - order) x n finite-difference matrix."""
    return np.diff(np.eye(n), n=order, axis=0)


def laplacian(n, order):
    """Return the dense n x n penalty matrix ``Psi.T @ Psi``."""
    psi = difference_matrix(n, order)
    return psi.T @ psi


def normal_residual(Y, observed, W, X, rho, lam, order):
    """Return the residual of the W normal equations, X P(W.T X - Y).T + rho W + lam W L."""
    L = laplacian(Y.shape[0], order)
    return X @ ((W.T @ X - Y) * observed).T + rho * W + lam * W @ L


def objective(Y, observed, W, X, rho, lam, order):
    """Return the smoothing MF objective computed densely."""
    residual = (Y - W.T @ X) * observed
    psi_m = difference_matrix(Y.shape[0], order)
    psi_n = difference_matrix(Y.shape[1], order)
    return (
        0.5 * np.sum(residual**2)
        + 0.5 * rho * (np.sum(W**2) + np.sum(X**2))
        + 0.5 * lam * (np.sum((psi_m @ W.T) ** 2) + np.sum((psi_n @ X.T) ** 2))
    )


def published_cg_update(Y, observed, W, X, rho, lam, order, steps=5):
    """Return W after ``steps`` CG steps of the published update, all dense."""
    L = laplacian(Y.shape[0], order)

    def operator(V):
        return X @ ((V.T @ X) * observed).T + rho * V + lam * V @ L

    return dense_cg_steps(operator, X @ (Y * observed).T, W, steps)


def dense_cg_steps(operator, rhs, V, steps=5):
    """Return ``V`` after ``steps`` plain conjugate-gradient steps on ``operator(V) = rhs``."""
    r = rhs - operator(V)
    p = r.copy()
    for _ in range(steps):
        Ap = operator(p)
        alpha = np.sum(r * r) / np.sum(p * Ap)
        V = V + alpha * p
        r_new = r - alpha * Ap
        p = r_new + np.sum(r_new * r_new) / np.sum(r * r) * p
        r = r_new
    return V


def published_fit(Y, observed, rank, rho, lam, order, iterations, seed):
    """Run the published solver densely from 0.01 x normal draws, W then X."""
    rng = np.random.default_rng(seed)
    W = 0.01 * rng.standard_normal((rank, Y.shape[0]))
    X = 0.01 * rng.standard_normal((rank, Y.shape[1]))
    for _ in range(iterations):
        W = published_cg_update(Y, observed, W, X, rho, lam, order)
        X = published_cg_update(Y.T, observed.T, X, W, rho, lam, order)
    return W, X
