"""Reference answers of the exercises of ``theory/diffusion.md``, from the chapter's own quantities.

Each function takes the quantities the exercise gives (by their names in the chapter) and returns the
expected value of every answer variable; :mod:`genlab.exercises` compares them with the student's.
"""

from __future__ import annotations

import math

import numpy as np


def constant_beta(beta_const: float) -> dict:
    # (1 - beta)^t = 1/2
    return {"t_half_const": math.log(2) / -math.log1p(-beta_const)}


def short_chain(T_short: int) -> dict:
    def alpha_bar_T(scale: float) -> float:
        return float(np.prod(1 - np.linspace(1e-4 * scale, 0.02 * scale, T_short)))
    ab = alpha_bar_T(1.0)
    # KL(q(x_T | x_0 = 1) || N(0, 1)) per dimension
    prior_kl = 0.5 * (ab + (1 - ab) - 1 - math.log(1 - ab))
    return {"alpha_bar_short": ab, "prior_kl_short": prior_kl, "alpha_bar_scaled": alpha_bar_T(1000 / T_short)}


def posterior_bound(schedules: dict) -> dict:
    last = {}
    for name, (beta, ab) in schedules.items():
        ratio = (1 - np.asarray(ab)[:-1]) / (1 - np.asarray(ab)[1:])  # beta_tilde[t] / beta[t], t = 1..T
        last[name] = int(np.nonzero(ratio < 0.9)[0].max() + 1)
    return {"last_t_below": last}


def conversions(x_t_demo, x0_hat_demo, alpha_bar_cos) -> dict:
    ab = np.asarray(alpha_bar_cos)[1:-1, None]  # t = 1..T-1
    eps = (x_t_demo - np.sqrt(ab) * x0_hat_demo) / np.sqrt(1 - ab)
    return {"eps_hat_ex": eps, "v_hat_ex": np.sqrt(ab) * eps - np.sqrt(1 - ab) * x0_hat_demo}


def ddim_inversion(mu0: float, s0: float, alpha_bar_lin, points) -> dict:
    ab = np.asarray(alpha_bar_lin)
    T = len(ab) - 1

    def eps_star(x, t):  # exact noise prediction for N(mu0, s0^2) data
        return math.sqrt(1 - ab[t]) * (x - math.sqrt(ab[t]) * mu0) / (ab[t] * s0 ** 2 + 1 - ab[t])

    def ddim(x, t, s):
        e = eps_star(x, t)
        return math.sqrt(ab[s]) * (x - math.sqrt(1 - ab[t]) * e) / math.sqrt(ab[t]) + math.sqrt(1 - ab[s]) * e

    error = {}
    for K in (10, 50, 250):
        taus = np.round(np.linspace(0, T, K + 1)).astype(int)
        x = np.asarray(points, dtype=np.float64)
        for t, s in zip(taus[:-1], taus[1:]):
            x = ddim(x, t, s)
        for t, s in zip(taus[::-1][:-1], taus[::-1][1:]):
            x = ddim(x, t, s)
        error[K] = float(np.abs(x - points).max())
    return {"inversion_error": error}
