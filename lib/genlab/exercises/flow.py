"""Reference answers of the exercises of ``theory/flow.md``, from the chapter's own quantities.

Each function takes the quantities the exercise gives (by their names in the chapter) and returns the
expected value of every answer variable; :mod:`genlab.exercises` compares them with the student's.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate, optimize, stats


def logit_normal(m_ln: float, s_ln: float) -> dict:
    # t in [1/4, 3/4]  <=>  logit t in [-log 3, log 3]
    return {"middle_mass": float(stats.norm.cdf((math.log(3) - m_ln) / s_ln) - stats.norm.cdf((-math.log(3) - m_ln) / s_ln))}


def sigma_min_path(sigma_min: float, x0_sm, x1_sm, t_sm) -> dict:
    xt = (1 - (1 - sigma_min) * t_sm) * x0_sm + t_sm * x1_sm
    return {"u_from_xt": (x1_sm - (1 - sigma_min) * xt) / (1 - (1 - sigma_min) * t_sm)}


def solver_orders(mixture_field, x_pt: float, t_pt: float) -> dict:
    def heun(x, t, h):
        k1 = mixture_field(x, t)
        return x + h / 2 * (k1 + mixture_field(x + h * k1, t + h))

    def midpoint(x, t, h):
        return x + h * mixture_field(x + h / 2 * mixture_field(x, t), t + h / 2)

    errors = {"heun": [], "midpoint": []}
    for h in (0.005, 0.0025):
        exact = integrate.solve_ivp(lambda t, x: mixture_field(x, t), (t_pt, t_pt + h), [x_pt], rtol=1e-13,
                                    atol=1e-13).y[0, -1]
        errors["heun"].append(abs(heun(x_pt, t_pt, h) - exact))
        errors["midpoint"].append(abs(midpoint(x_pt, t_pt, h) - exact))
    return {"heun_order": math.log2(errors["heun"][0] / errors["heun"][1]),
            "midpoint_order": math.log2(errors["midpoint"][0] / errors["midpoint"][1])}


def guided_velocity(w: float, t_g, x_g) -> dict:
    alpha, sig = t_g, 1 - t_g

    def eps_hat(m, s):  # E[x0 | x_t] for data N(m, s^2) on the straight path
        return sig / (alpha ** 2 * s ** 2 + sig ** 2) * (x_g - alpha * m)

    post = 1 / (1 + np.exp(-2 * alpha * x_g / (alpha ** 2 * 0.09 + sig ** 2)))  # P(class +1 | x_t)
    eps_c = eps_hat(1.0, 0.3)
    eps_u = post * eps_c + (1 - post) * eps_hat(-1.0, 0.3)
    eps_w = eps_u + w * (eps_c - eps_u)
    return {"u_guided": x_g / alpha + (-1 - sig / alpha) * eps_w}


def reflow_map(grid_x0, pis, mus, sds) -> dict:
    def cdf(x):
        return float((pis * stats.norm.cdf(x, mus, sds)).sum())
    q = stats.norm.cdf(np.asarray(grid_x0, dtype=np.float64))
    return {"phi_map": np.array([optimize.brentq(lambda x, p=p: cdf(x) - p, -10, 10, xtol=1e-12) for p in q])}


