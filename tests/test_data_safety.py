"""Data safety: caches half-written by a killed process are detected and rebuilt; run-folder writes are atomic."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from genlab.base.files import atomic_write
from genlab.data import load_dataset
from genlab.eval.featurenet import FeatureNetConfig, feature_net
from genlab.plots import save_grid


def _folder(tmp_path: Path) -> Path:
    from PIL import Image
    root = tmp_path / "imgs"
    for i in range(12):
        (root / f"c{i % 2}").mkdir(parents=True, exist_ok=True)
        Image.new("L", (20 + i, 20), color=10 * i).save(root / f"c{i % 2}" / f"{i}.png")
    return root


@pytest.mark.parametrize("damage", ["truncate", "garbage", "wrong-shape"])
def test_half_written_dataset_cache_is_rebuilt(tmp_path, damage):
    root = _folder(tmp_path)
    first = load_dataset(f"folder:{root}", "train", image_size=8, channels=1, data_dir=tmp_path)
    (cache,) = (tmp_path / "cache").glob("folder-*.pt")
    raw = cache.read_bytes()
    if damage == "truncate":
        cache.write_bytes(raw[: len(raw) // 3])
    elif damage == "garbage":
        cache.write_bytes(os.urandom(len(raw)))
    else:
        torch.save({"images": torch.zeros(3, 1, 8, 8, dtype=torch.uint8), "labels": torch.zeros(3),
                    "class_names": ["x"]}, cache)
    again = load_dataset(f"folder:{root}", "train", image_size=8, channels=1, data_dir=tmp_path)
    assert torch.equal(first.images, again.images) and torch.equal(first.labels, again.labels)
    assert cache.read_bytes() == raw  # rebuilt, identical
    assert not list((tmp_path / "cache").glob(".*tmp"))


def test_half_written_feature_net_cache_is_retrained(tmp_path):
    config = FeatureNetConfig(width=4, epochs=1, batch_size=64, max_train=256)
    kwargs = dict(config=config, cache=tmp_path / "fn", device="cpu", verbose=False)
    net = feature_net("mnist5k", 28, 1, **kwargs)
    path = Path(net.info["path"])
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    again = feature_net("mnist5k", 28, 1, **kwargs)
    assert again.info["cached"] is False  # detected and trained again (same seed: same weights)
    assert path.read_bytes() != raw[: len(raw) // 2]
    assert feature_net("mnist5k", 28, 1, **kwargs).info["cached"] is True
    x = torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8)
    assert torch.equal(net.logits(x), again.logits(x))


def test_atomic_write_keeps_the_old_file_when_the_writer_dies(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text('{"fd": 1.0}')

    def dies(fh):
        fh.write('{"fd": ')
        raise KeyboardInterrupt  # a kill between the first byte and the rename

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, dies, "w")
    assert path.read_text() == '{"fd": 1.0}' and os.listdir(tmp_path) == ["metrics.json"]


def test_sample_grid_is_written_atomically(tmp_path, monkeypatch):
    from PIL import Image
    path = save_grid(torch.zeros(4, 1, 8, 8, dtype=torch.uint8), tmp_path / "s" / "grid.png")
    before = path.read_bytes()

    def broken_save(self, fh, *a, **k):
        fh.write(b"\x89PNG half")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError):
        save_grid(torch.full((4, 1, 8, 8), 255, dtype=torch.uint8), path)
    assert path.read_bytes() == before and os.listdir(path.parent) == ["grid.png"]
