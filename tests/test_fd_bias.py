"""FD's sample-size bias: it falls with N toward the true distance, and the 1/N fit recovers it."""

from __future__ import annotations

import torch

from genlab.eval.fd_bias import extrapolate, fd_against_n


def test_fd_falls_with_n_and_the_intercept_recovers_the_true_distance():
    g = torch.Generator().manual_seed(0)
    d = 8
    reference = torch.randn(20_000, d, generator=g, dtype=torch.float64)
    shifted = torch.randn(4000, d, generator=g, dtype=torch.float64) + 0.5  # true FD = d * 0.5^2 = 2
    same = torch.randn(4000, d, generator=g, dtype=torch.float64)  # true FD = 0
    table = fd_against_n({"shifted": shifted, "same": same}, reference, ns=(250, 500, 1000, 2000, 4000))
    for name in ("shifted", "same"):
        fd = table[table["set"] == name]["FD"].tolist()
        assert fd[0] > fd[-1], (name, fd)  # the bias shrinks with N
    fits = extrapolate(table)
    assert abs(fits.loc["shifted", "FD_inf"] - 2.0) < 0.1 and abs(fits.loc["same", "FD_inf"]) < 0.05, fits
    assert fits.loc["shifted", "slope b"] > 0
