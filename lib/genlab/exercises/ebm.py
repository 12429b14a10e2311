"""Reference answers of the exercises of ``theory/ebm.md``, from the chapter's own quantities."""

from __future__ import annotations

import math

import numpy as np


def gaussian_z(s_ex: float, b_ex: float) -> dict:
    # completing the square: p = N(-b s^2, s^2)
    return {"Z_ex": math.sqrt(2 * math.pi) * s_ex * math.exp(b_ex ** 2 * s_ex ** 2 / 2), "mean_ex": -b_ex * s_ex ** 2}


def mle(data_fourth_moment: float) -> dict:
    # E_{p_theta}[x^4] = 1 / (4 theta)
    return {"theta_star": 1 / (4 * data_fourth_moment)}


def langevin_step(step_ex: float) -> dict:
    # s = 1: x <- (1 - eps/2) x + sqrt(eps) xi, stationary variance eps / (1 - (1 - eps/2)^2) = 1 / (1 - eps/4)
    return {"max_step_ex": 4.0, "var_step_ex": 1 / (1 - step_ex / 4), "step_1pct_ex": 4 * (1 - 1 / 1.01)}


def min_energy_image(m, s_img: float, kappa: float) -> dict:
    m = np.asarray(m.detach().cpu().numpy() if hasattr(m, "detach") else m, dtype=np.float64)
    side = m.shape[-1]
    path = np.eye(side, k=1) + np.eye(side, k=-1)
    adjacency = np.kron(np.eye(side), path) + np.kron(path, np.eye(side))  # 4-neighbour grid, row-major
    laplacian = np.diag(adjacency.sum(1)) - adjacency
    return {"x_star": np.linalg.solve(np.eye(side * side) / s_img ** 2 + kappa * laplacian, m.reshape(-1) / s_img ** 2)}


def temperature(lam_ex: float, sigma_ex: float, width_ex: float) -> dict:
    a = 1 - lam_ex / width_ex ** 2
    return {"tau_ex": sigma_ex ** 2 / (2 * lam_ex), "v_ex": sigma_ex ** 2 / (1 - a ** 2)}
