"""genlab.plots' drawing helpers: what they put on the axes (images, their pixels and sizes, hidden panels)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from genlab import plots


def digits(n: int, channels: int = 1, size: int = 6) -> torch.Tensor:
    return torch.arange(n * channels * size * size, dtype=torch.int64).remainder(256).to(torch.uint8).reshape(
        n, channels, size, size)


def test_show_image_draws_gray_and_rgb_pixels_on_the_fixed_scale():
    _, (gray_ax, rgb_ax) = plt.subplots(1, 2)
    gray, rgb = digits(1)[0], digits(1, channels=3)[0]
    plots.show_image(gray_ax, gray, "gray")
    plots.show_image(rgb_ax, rgb)
    assert np.array_equal(gray_ax.images[0].get_array(), gray[0].numpy())
    assert gray_ax.images[0].get_clim() == (0, 255) and not gray_ax.axison and gray_ax.get_title() == "gray"
    assert np.array_equal(rgb_ax.images[0].get_array(), rgb.permute(1, 2, 0).numpy())


def test_a_saved_grid_reads_back_as_the_grid_and_is_shown_as_saved(tmp_path):
    images = digits(6)
    path = plots.save_grid(images, tmp_path / "grid.png", nrow=3)
    grid = plots.load_grid(path)
    assert torch.equal(grid, plots.make_grid(images, nrow=3))
    fig = plots.show_images([path, path], titles=["a", "b"])
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]
    assert all(np.array_equal(ax.images[0].get_array(), grid[0].numpy()) for ax in fig.axes)


def test_strip_shows_one_captioned_image_per_panel():
    fig = plots.strip(digits(4), captions=["t=0", "t=1", "t=2", "t=3"])
    assert len(fig.axes) == 4 and [len(ax.images) for ax in fig.axes] == [1, 1, 1, 1]
    assert [ax.get_title() for ax in fig.axes] == ["t=0", "t=1", "t=2", "t=3"]


def test_panel_grid_hides_the_cells_past_n():
    fig, axes = plots.panel_grid(5, ncol=3, panel_height=2)
    assert len(axes) == 5 and len(fig.axes) == 6
    assert [ax.axison for ax in fig.axes] == [True] * 5 + [False]
