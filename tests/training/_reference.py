"""Independent reference kernels for the training tests (closed-form ReLU arc-cosine kernels, written out here)."""

import numpy as np


def relu_nngp_ntk(sigma_w2, sigma_b2, X, depth):
    """NNGP K^(depth) and NTK Theta^(depth) of a ReLU network (Cho & Saul 2009; Jacot et al. 2018).

    K^1 = Theta^1 = sb + sw x.x'/d; K^{l+1} = sb + sw sqrt(q q')/(2 pi) (sin t + (pi - t) cos t),
    Theta^{l+1} = K^{l+1} + sw (pi - t)/(2 pi) Theta^l, cos t = K/sqrt(q q').
    """
    X = np.asarray(X, float)
    K = sigma_b2 + sigma_w2 * X @ X.T / X.shape[1]
    T = K.copy()
    for _ in range(depth - 1):
        d = np.sqrt(np.diag(K))
        s = np.outer(d, d)
        c = np.clip(K / s, -1.0, 1.0)
        np.fill_diagonal(c, 1.0)  # arccos(1 - eps) ~ sqrt(2 eps) would cost 1e-8 on the diagonal
        t = np.arccos(c)
        E = s / (2 * np.pi) * (np.sin(t) + (np.pi - t) * c)
        Ed = (np.pi - t) / (2 * np.pi)
        K = sigma_b2 + sigma_w2 * E
        T = K + sigma_w2 * Ed * T
    return K, T


def linear_nngp_ntk(sigma_w2, sigma_b2, X, depth):
    """Linear phi: K^{l+1} = sb + sw K^l, Theta^{l+1} = K^{l+1} + sw Theta^l."""
    X = np.asarray(X, float)
    K = sigma_b2 + sigma_w2 * X @ X.T / X.shape[1]
    T = K.copy()
    for _ in range(depth - 1):
        K = sigma_b2 + sigma_w2 * K
        T = K + sigma_w2 * T
    return K, T
