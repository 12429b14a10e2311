"""Bad inputs, one table: the CLI, configs (notebook parameters), datasets, checkpoints and sampler options.

Every case must fail with an error that names the offending parameter (or file), exit non-zero from the
CLI, and leave the earlier runs' files byte-for-byte as they were (hashed before and after).
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
import torch

from genlab import cli, models
from genlab.base.config import parse_assignments
from genlab.data import load_dataset
from genlab.models.dcgan import DCGANConfig
from genlab.models.ddpm import DDPMConfig
from genlab.train.checkpoint import CheckpointError, load_checkpoint

KINDS = ("dcgan", "ddpm", "ebm")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One finished smoke run of each kind (the EBM unconditional, so that one kind takes no labels), plus
    damaged checkpoints."""
    root = tmp_path_factory.mktemp("bad_inputs")
    out = root / "outputs"
    ckpt = {}
    for name in KINDS:
        kind = models.get(name)
        unconditional = {"conditional": False} if name == "ebm" else {}
        kind.train(kind.config.from_dict({**kind.smoke, "run": "base", "output_dir": str(out), **unconditional}))
        ckpt[name] = out / "base" / name / "checkpoint.pt"
    bad = root / "bad"
    bad.mkdir()
    raw = ckpt["dcgan"].read_bytes()
    (bad / "truncated.pt").write_bytes(raw[: len(raw) // 2])
    (bad / "garbage.pt").write_bytes(b"this is not a checkpoint" * 100)
    blob = torch.load(ckpt["dcgan"], weights_only=True)
    torch.save({**blob, "format": 99}, bad / "newer.pt")
    torch.save({**blob, "model_name": "stylegan9"}, bad / "unknown_kind.pt")
    torch.save({**blob, "config": {**blob["config"], "base_channels": 16}}, bad / "other_shapes.pt")
    torch.save({"weights": torch.zeros(3)}, bad / "foreign.pt")
    # Datasets
    (root / "empty").mkdir()
    corrupt = root / "corrupt"
    corrupt.mkdir()
    (corrupt / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    notimage = root / "notimage"
    notimage.mkdir()
    (notimage / "notes.jpg").write_text("a text file with an image suffix")
    return {"root": root, "out": out, "ckpt": ckpt, "bad": bad}


def tree_hash(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def sub(runs, text: str) -> str:
    """Placeholders in the table: {dcgan} {ddpm} {ebm} checkpoints, {bad} damaged files, {root}, {out}."""
    return text.format(**{k: str(v) for k, v in runs["ckpt"].items()}, bad=runs["bad"], root=runs["root"],
                       out=runs["out"])


# (case id, argv, text the error must contain)
CLI_CASES = [
    ("train-unknown-model", "train nosuch -p device=cpu", "nosuch"),
    ("train-unknown-param", "train dcgan -p epochz=1", "epochz"),
    ("train-epochs-zero", "train dcgan -p epochs=0", "epochs"),
    ("train-epochs-text", "train dcgan -p epochs=many", "epochs"),
    ("train-lr-negative", "train dcgan -p lr=-1", "lr"),
    ("train-lr-nan", "train dcgan -p lr=nan", "lr"),
    ("train-bad-dataset", "train dcgan -p dataset=imagenet", "dataset"),
    ("train-bad-device", "train dcgan -p device=tpu", "device"),
    ("train-no-equals", "train dcgan -p epochs", "epochs"),
    ("train-params-missing", "train dcgan --params {root}/nope.yaml", "nope.yaml"),
    ("train-resume-other-shapes", "train dcgan -p run=base -p output_dir={out} -p device=cpu -p epochs=1 "
     "-p max_steps=6 -p batch_size=16 -p base_channels=16 -p latent_dim=8", "base_channels"),
    ("train-empty-folder", "train dcgan -p dataset=folder:{root}/empty -p output_dir={root}/o", "no images"),
    ("train-missing-folder", "train dcgan -p dataset=folder:{root}/absent -p output_dir={root}/o", "absent"),
    ("train-corrupt-png", "train dcgan -p dataset=folder:{root}/corrupt -p output_dir={root}/o", "broken.png"),
    ("train-non-image", "train dcgan -p dataset=folder:{root}/notimage -p output_dir={root}/o", "notes.jpg"),
    ("sample-missing-ckpt", "sample --checkpoint {root}/none.pt --out {root}/s.png", "does not exist"),
    ("sample-truncated", "sample --checkpoint {bad}/truncated.pt --out {root}/s.png", "truncated"),
    ("sample-garbage", "sample --checkpoint {bad}/garbage.pt --out {root}/s.png", "corrupt"),
    ("sample-foreign", "sample --checkpoint {bad}/foreign.pt --out {root}/s.png", "not a genlab checkpoint"),
    ("sample-newer-format", "sample --checkpoint {bad}/newer.pt --out {root}/s.png", "format"),
    ("sample-unknown-kind", "sample --checkpoint {bad}/unknown_kind.pt --out {root}/s.png", "stylegan9"),
    ("sample-other-shapes", "sample --checkpoint {bad}/other_shapes.pt --out {root}/s.png", "base_channels"),
    ("sample-bad-suffix", "sample --checkpoint {dcgan} --out {root}/s.jpg", "--out"),
    ("sample-n-zero", "sample --checkpoint {dcgan} --n 0 --out {root}/s.png", "--n"),
    ("sample-n-huge", "sample --checkpoint {dcgan} --n 100000000 --out {root}/s.png", "--n"),
    ("sample-label-range", "sample --checkpoint {dcgan} --labels 10 --out {root}/s.png", "--labels"),
    ("sample-label-negative", "sample --checkpoint {dcgan} --labels -1 --out {root}/s.png", "--labels"),
    ("sample-labels-uncond", "sample --checkpoint {ebm} --labels 1 --out {root}/s.png", "--labels"),
    ("sample-dcgan-steps", "sample --checkpoint {dcgan} --steps 5 --out {root}/s.png", "steps"),
    ("sample-ddpm-steps-0", "sample --checkpoint {ddpm} --steps 0 --out {root}/s.png", "steps"),
    ("sample-ddpm-steps-gt-T", "sample --checkpoint {ddpm} --steps 51 --out {root}/s.png", "steps"),
    ("sample-ddpm-guidance-neg", "sample --checkpoint {ddpm} --guidance -1 --out {root}/s.png", "guidance"),
    ("sample-ddpm-guidance-nan", "sample --checkpoint {ddpm} --guidance nan --out {root}/s.png", "guidance"),
    ("sample-ddpm-guidance-inf", "sample --checkpoint {ddpm} --guidance inf --out {root}/s.png", "guidance"),
    ("sample-ddpm-sampler", "sample --checkpoint {ddpm} --sampler euler --out {root}/s.png", "sampler"),
    ("sample-ddpm-eta", "sample --checkpoint {ddpm} --eta 2 --out {root}/s.png", "eta"),
    ("sample-ddpm-ancestral-steps", "sample --checkpoint {ddpm} --sampler ddpm --steps 5 --out {root}/s.png", "steps"),
    ("sample-ebm-steps-0", "sample --checkpoint {ebm} --steps 0 --out {root}/s.png", "steps"),
    ("sample-ebm-step-size", "sample --checkpoint {ebm} --step-size -1 --out {root}/s.png", "step_size"),
    ("sample-ebm-init", "sample --checkpoint {ebm} --init zeros --out {root}/s.png", "init"),
    # --out never replaces what a run owns (even with --force), nor an existing file without --force
    ("sample-out-own-checkpoint", "sample --checkpoint {dcgan} --n 4 --out {dcgan}", "belongs to the run"),
    ("sample-out-other-checkpoint", "sample --checkpoint {dcgan} --n 4 --out {ddpm} --force", "belongs to the run"),
    ("sample-out-sample-grid", "sample --checkpoint {dcgan} --n 4 --out {out}/base/dcgan/samples/x.png --force",
     "belongs to the run"),
    ("sample-out-exists", "sample --checkpoint {dcgan} --n 4 --out {bad}/garbage.pt", "--force"),
    ("sample-out-no-folder", "sample --checkpoint {dcgan} --n 4 --out {root}/nowhere/s.png", "does not exist"),
    ("sample-seed-huge", "sample --checkpoint {dcgan} --n 4 --seed 99999999999999999999999 --out {root}/s.png",
     "--seed"),
    ("evaluate-seed-negative", "evaluate --checkpoint {dcgan} --n 8 --seed -1", "--seed"),
    ("train-seed-huge", "train dcgan -p seed=1e30 -p device=cpu", "seed"),
    ("evaluate-n-zero", "evaluate --checkpoint {dcgan} --n 0", "n = 0"),
    ("evaluate-feature-width", "evaluate --checkpoint {dcgan} --n 8 --feature-net width=0", "width"),
    ("evaluate-bad-setting-steps", "evaluate --checkpoint {ddpm} --n 8 --steps 0", "steps"),
    ("run-notebooks-bad-profile", "run-notebooks --profile huge", "profile"),
]


@pytest.mark.parametrize("argv, needle", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_cli_refuses_bad_input(runs, capsys, argv, needle):
    before = tree_hash(runs["out"])
    code = cli.main(sub(runs, argv).split())
    err = capsys.readouterr().err
    assert code != 0, f"accepted: {argv}"
    assert needle in err, err
    assert "Traceback" not in err
    assert tree_hash(runs["out"]) == before, "earlier results changed"


# Configs as a notebook's validation cell builds them (Config.from_dict).
CONFIG_CASES = [
    ("unknown-key", DCGANConfig, {"epochz": 1}, "epochz"),
    ("wrong-type", DCGANConfig, {"epochs": "two"}, "epochs"),
    ("bool-for-int", DCGANConfig, {"batch_size": True}, "batch_size"),
    ("float-for-int", DCGANConfig, {"epochs": 1.5}, "epochs"),
    ("below-range", DCGANConfig, {"latent_dim": 1}, "latent_dim"),
    ("not-a-choice", DCGANConfig, {"image_size": 30}, "image_size"),
    ("nan-float", DDPMConfig, {"lr": float("nan")}, "lr"),
    ("bad-schedule", DDPMConfig, {"schedule": "cubic"}, "schedule"),
]


@pytest.mark.parametrize("cls, values, needle", [c[1:] for c in CONFIG_CASES], ids=[c[0] for c in CONFIG_CASES])
def test_config_refuses_bad_parameter(cls, values, needle):
    with pytest.raises((ValueError, TypeError), match=needle):
        cls.from_dict(values)


@pytest.mark.parametrize("assignment", ["epochs", "=3"])
def test_assignment_without_name_or_value(assignment):
    with pytest.raises(ValueError, match="name=value"):
        parse_assignments([assignment])


def test_checkpoint_of_another_kind_is_refused(runs):
    """A DDPM checkpoint handed to the DCGAN loader says which kind it holds."""
    with pytest.raises(CheckpointError, match="ddpm"):
        models.get("dcgan").trained.from_checkpoint(runs["ckpt"]["ddpm"], device="cpu")


def test_sampler_options_in_python(runs):
    trained = models.load_trained(runs["ckpt"]["ddpm"], "cpu")
    for options, needle in [({"steps": 0}, "steps"), ({"guidance": float("nan")}, "guidance"),
                            ({"steps": 10**9}, "steps"), ({"nonsense": 1}, "nonsense")]:
        with pytest.raises(ValueError, match=needle):
            trained.sample(2, **options)
    for n in (0, -1, 10**9, 2.5):
        with pytest.raises(ValueError, match="n ="):
            trained.sample(n)
    with pytest.raises(ValueError, match="labels"):
        trained.sample(2, labels=torch.tensor([0, 99]))


def _png(path: Path, size: tuple[int, int], mode: str) -> None:
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color=128 if mode == "L" else (10, 200, 30)).save(path)


def test_mixed_sizes_and_modes_are_normalised(tmp_path):
    """Mixed sizes and a grayscale/RGB mix are not errors: every image is converted, resized and cropped."""
    folder = tmp_path / "mixed"
    _png(folder / "a" / "0.png", (40, 30), "RGB")
    _png(folder / "a" / "1.png", (16, 64), "L")
    _png(folder / "b" / "2.png", (28, 28), "RGBA")
    _png(folder / "b" / "3.png", (100, 90), "L")
    (folder / "b" / "README.txt").write_text("not an image, ignored by suffix")
    for channels in (1, 3):
        data = load_dataset(f"folder:{folder}", "train", image_size=16, channels=channels, data_dir=tmp_path)
        test = load_dataset(f"folder:{folder}", "test", image_size=16, channels=channels, data_dir=tmp_path)
        assert data.images.shape[1:] == (channels, 16, 16) and len(data.images) + len(test.images) == 4
        assert data.class_names == ("a", "b")


def test_corrupt_image_is_named(tmp_path):
    folder = tmp_path / "imgs"
    _png(folder / "ok.png", (28, 28), "L")
    (folder / "zz_bad.png").write_bytes(b"\x89PNG junk")
    with pytest.raises(ValueError, match="zz_bad.png"):
        load_dataset(f"folder:{folder}", "train", image_size=16, channels=1, data_dir=tmp_path)
