"""DCGAN networks, train-or-resume, checkpoint safety and the sample command."""

import pytest
import torch

from genlab.models import dcgan
from genlab.models.dcgan import training as dcgan_train
from genlab.cli import main as cli_main
from genlab.train.checkpoint import CheckpointError, RunMismatchError, load_checkpoint
from genlab.tools import faults
from genlab.train.fit import DivergenceError, is_saturated
from genlab.train.signals import TrainingInterrupted


def tiny(tmp_path, **kw):
    base = dict(run="t", output_dir=str(tmp_path), epochs=1, max_steps=6, batch_size=16, base_channels=8,
                latent_dim=8, sample_every=1, device="cpu")
    return dcgan.DCGANConfig(**{**base, **kw})


@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("classes", [0, 10])
def test_shapes_for_every_size_and_channel_count(size, channels, classes):
    g = dcgan.Generator(16, channels, size, 8, classes)
    d = dcgan.Discriminator(channels, size, 8, classes)
    y = torch.arange(4) % 10 if classes else None
    x = g(torch.randn(4, 16), y)
    assert x.shape == (4, channels, size, size) and x.min() >= -1 and x.max() <= 1
    logits, classes_out = d(x, y)
    assert logits.shape == (4,)
    assert (classes_out.shape == (4, classes)) if classes else classes_out is None


def test_conditioning_changes_the_output():
    torch.manual_seed(0)
    g = dcgan.Generator(16, 1, 28, 8, 10).eval()
    z = torch.randn(1, 16).expand(2, -1)
    x = g(z, torch.tensor([3, 7]))
    assert not torch.allclose(x[0], x[1])
    with pytest.raises(ValueError, match="class-conditional: pass labels"):
        g(z)


def test_resume_continues_exactly(tmp_path):
    straight = dcgan.train(tiny(tmp_path / "a", max_steps=10))
    dcgan.train(tiny(tmp_path / "b", max_steps=4))
    resumed = dcgan.train(tiny(tmp_path / "b", max_steps=10))
    for p, q in zip(straight.generator.state_dict().values(), resumed.generator.state_dict().values()):
        assert torch.equal(p, q)
    a = load_checkpoint(tmp_path / "a" / "t" / "dcgan" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "b" / "t" / "dcgan" / "checkpoint.pt")
    for k in a["model"]["discriminator"]:
        assert torch.equal(a["model"]["discriminator"][k], b["model"]["discriminator"][k])
    assert b["step"] == 10
    history = (tmp_path / "b" / "t" / "dcgan" / "history.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in history[1:]] == ["4", "10"]  # log_every=10, plus the stop at 4


def test_rerun_does_not_retrain(tmp_path):
    first = dcgan.train(tiny(tmp_path))
    ckpt = tmp_path / "t" / "dcgan" / "checkpoint.pt"
    mtime = ckpt.stat().st_mtime_ns
    again = dcgan.train(tiny(tmp_path))
    assert ckpt.stat().st_mtime_ns == mtime and again.step == first.step == 6


def test_different_config_is_never_overwritten(tmp_path):
    dcgan.train(tiny(tmp_path))
    ckpt = tmp_path / "t" / "dcgan" / "checkpoint.pt"
    before = ckpt.read_bytes()
    with pytest.raises(RunMismatchError, match=r"lr: 0.0002 -> 0.001.*choose another 'run' name"):
        dcgan.train(tiny(tmp_path, lr=1e-3))
    assert ckpt.read_bytes() == before


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_damaged_checkpoint_is_a_clear_error(tmp_path, damage):
    dcgan.train(tiny(tmp_path))
    ckpt = tmp_path / "t" / "dcgan" / "checkpoint.pt"
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        dcgan.train(tiny(tmp_path))
    with pytest.raises(CheckpointError):
        dcgan.TrainedDCGAN.from_checkpoint(ckpt)


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    dcgan.train(tiny(tmp_path, max_steps=2, checkpoint_every=1))
    ckpt = tmp_path / "t" / "dcgan" / "checkpoint.pt"
    good = ckpt.read_bytes()
    real_bce = torch.nn.functional.binary_cross_entropy_with_logits
    monkeypatch.setattr(dcgan_train.F, "binary_cross_entropy_with_logits",
                        lambda *a, **k: real_bce(*a, **k) * float("nan"))
    with pytest.raises(DivergenceError, match="non-finite loss_d.*last good checkpoint.*Try: lower lr"):
        dcgan.train(tiny(tmp_path, max_steps=6))
    assert ckpt.read_bytes() == good


def diverging_run(tmp_path, capsys) -> tuple[int, str, dict]:
    """``genlab train dcgan`` from the command line on a 90-image folder (5 steps an epoch, a checkpoint and
    a grid each): the exit code, stderr and the checkpoint left behind."""
    dataset = faults.tiny_folder_dataset(tmp_path / "digits")
    params = dict(run="d", output_dir=tmp_path, data_dir=tmp_path / "data", dataset=dataset, epochs=8,
                  batch_size=16, base_channels=8, latent_dim=8, sample_every=1, checkpoint_every=1, device="cpu")
    rc = cli_main(["train", "dcgan", *[a for k, v in params.items() for a in ("-p", f"{k}={v}")]])
    return rc, capsys.readouterr().err, load_checkpoint(tmp_path / "d" / "dcgan" / "checkpoint.pt")


def test_a_diverging_gan_stops_from_the_cli_naming_the_fix(tmp_path, monkeypatch, capsys):
    """The losses turn NaN at step 12 (as a far too large lr does): the run stops at the next row of the
    history (step 15, a checkpoint step: no checkpoint is written after a NaN) and exits 1 with the hint;
    the checkpoint of step 10 is kept and loads."""
    real_step, calls = dcgan_train.gan_step, []

    def diverging(*args, **kwargs):
        scalars = real_step(*args, **kwargs)
        calls.append(1)
        return {**scalars, "loss_g": scalars["loss_g"] * float("nan")} if len(calls) >= 12 else scalars
    monkeypatch.setattr(dcgan_train, "gan_step", diverging)
    rc, err, ckpt = diverging_run(tmp_path, capsys)
    assert rc == 1
    assert "non-finite loss_g at step 15" in err and "last good checkpoint" in err and "lower lr (e.g. 1e-4)" in err
    assert ckpt["step"] == 10
    assert dcgan.TrainedDCGAN.from_checkpoint(tmp_path / "d" / "dcgan" / "checkpoint.pt").step == 10


def test_saturated_samples_stop_a_gan(tmp_path, monkeypatch, capsys):
    """From the second grid (step 10) on, the generator's outputs sit at -1/+1 (a collapsed tanh): the third
    such grid in a row (step 20) stops the run before its checkpoint; the one of step 15 is kept."""
    real_uint8, grids = dcgan_train.to_uint8, []

    def saturating(x):
        grids.append(1)
        return real_uint8(torch.where(x >= 0, 1.0, -1.0) if len(grids) >= 2 else x)  # every pixel at -1 or +1
    monkeypatch.setattr(dcgan_train, "to_uint8", saturating)
    rc, err, ckpt = diverging_run(tmp_path, capsys)
    assert rc == 1
    assert "samples saturated at step 20" in err and "last 3 sample grids" in err and "lower lr" in err
    assert ckpt["step"] == 15
    assert (tmp_path / "d" / "dcgan" / "samples" / "step_000020.png").exists()  # the evidence is kept


def test_saturation_means_every_pixel_black_or_white():
    grid = torch.zeros(4, 1, 8, 8, dtype=torch.uint8)
    grid[:, :, :4] = 255
    assert is_saturated(grid)
    grid[0, 0, 0, 0] = 254  # one grey pixel: a healthy (if dark) sample
    assert not is_saturated(grid)


def test_time_budget_checkpoints_then_resumes(tmp_path):
    with pytest.raises(TrainingInterrupted, match="run again to resume"):
        dcgan.train(tiny(tmp_path, max_steps=50, epochs=2, time_budget_s=1e-9))
    step = load_checkpoint(tmp_path / "t" / "dcgan" / "checkpoint.pt")["step"]
    assert step == 1
    done = dcgan.train(tiny(tmp_path, max_steps=8, epochs=2))
    assert done.step == 8


def test_outputs_and_metrics(tmp_path):
    model = dcgan.train(tiny(tmp_path))
    run = tmp_path / "t" / "dcgan"
    for name in ("config.json", "checkpoint.pt", "history.csv", "metrics.json"):
        assert (run / name).exists(), name
    assert model.sample_paths and model.sample_paths[-1].name == "step_000006.png"
    m = model.metrics()
    assert m["steps"] == 6 and m["train_seconds"] > 0 and m["seconds_per_100"]["generator"] > 0
    ckpt = load_checkpoint(run / "checkpoint.pt")
    assert set(ckpt) >= {"model", "ema", "optimizer", "config", "step", "rng"}


def test_sample_command_writes_the_shared_format(tmp_path):
    dcgan.train(tiny(tmp_path))
    ckpt = tmp_path / "t" / "dcgan" / "checkpoint.pt"
    out = tmp_path / "s.pt"
    assert cli_main(["sample", "--checkpoint", str(ckpt), "--n", "25", "--out", str(out), "--device", "cpu"]) == 0
    blob = torch.load(out, weights_only=True)
    assert blob["images"].shape == (25, 1, 28, 28) and blob["images"].dtype == torch.uint8
    assert blob["labels"].dtype == torch.int64 and torch.bincount(blob["labels"]).tolist() == [3, 3, 3, 3, 3, 2, 2, 2, 2, 2]
    sevens = tmp_path / "sevens.pt"  # an existing --out is refused without --force (tests/test_bad_inputs.py)
    assert cli_main(["sample", "--checkpoint", str(ckpt), "--n", "4", "--labels", "7", "--out", str(sevens)]) == 0
    assert torch.load(sevens, weights_only=True)["labels"].tolist() == [7, 7, 7, 7]
    png = tmp_path / "grid.png"
    assert cli_main(["sample", "--checkpoint", str(ckpt), "--n", "20", "--out", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_sample_command_rejects_bad_input(tmp_path, capsys):
    dcgan.train(tiny(tmp_path))
    ckpt = str(tmp_path / "t" / "dcgan" / "checkpoint.pt")
    assert cli_main(["sample", "--checkpoint", ckpt, "--labels", "12", "--out", str(tmp_path / "x.pt")]) == 1
    assert "--labels [12] out of range; classes are 0..9" in capsys.readouterr().err
    assert cli_main(["sample", "--checkpoint", ckpt, "--steps", "5", "--out", str(tmp_path / "x.pt")]) == 1
    assert "steps" in capsys.readouterr().err
    assert cli_main(["sample", "--checkpoint", ckpt, "--out", str(tmp_path / "x.jpg")]) == 1
    assert cli_main(["sample", "--checkpoint", str(tmp_path / "none.pt"), "--out", str(tmp_path / "x.pt")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_tensorboard_logs_scalars_and_grids(tmp_path):
    pytest.importorskip("tensorboard")
    dcgan.train(tiny(tmp_path, tensorboard=True))
    events = list((tmp_path / "t" / "dcgan" / "tensorboard").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 1000  # scalars plus at least one PNG grid
