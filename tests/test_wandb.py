"""The Weights & Biases logger: an offline run (no API key) under the run folder, ready for `wandb sync`."""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path
from typing import Any

import pytest

from genlab.base.runlog import Loggers, wandb_mode
from genlab.models import dcgan


@pytest.fixture
def offline(monkeypatch, tmp_path):
    for k in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_BASE_URL", "WANDB_DIR"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.netrc, no `wandb login`
    monkeypatch.setenv("NETRC", str(tmp_path / "home" / ".netrc"))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "home" / ".config" / "wandb"))
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "home" / ".cache" / "wandb"))


def read_records(path: Path) -> list[Any]:
    """The records of a ``run-<id>.wandb`` file (what `wandb sync` uploads): a LevelDB-style log of
    protobuf records after a 7-byte header, in 32 KiB blocks of chunks (full, first, middle, last)."""
    from wandb.proto import wandb_internal_pb2 as pb
    data, pos, chunks, buf = path.read_bytes(), 7, [], b""
    assert data[:4] == b":W&B"
    while pos + 7 <= len(data):
        left = 32768 - pos % 32768
        if left < 7:
            pos += left
            continue
        _crc, n, kind = struct.unpack("<IHB", data[pos:pos + 7])
        pos += 7
        if kind == 0:  # zero padding to the end of the block
            pos += left - 7
            continue
        chunk, pos = data[pos:pos + n], pos + n
        if kind in (1, 4):
            chunks.append(buf + chunk)
            buf = b""
        else:
            buf += chunk
    records = []
    for chunk in chunks:
        record = pb.Record()
        record.ParseFromString(chunk)
        records.append(record)
    return records


def test_without_an_api_key_wandb_runs_offline(offline, monkeypatch):
    assert wandb_mode() == "offline"
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert wandb_mode() == "online"
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert wandb_mode() == "disabled"


def test_unknown_logger_names_the_choices(tmp_path):
    with pytest.raises(ValueError, match="parameter 'logger' = 'mlflow' is not allowed; choose one of 'none', 'tensorboard'"):
        dcgan.DCGANConfig(logger="mlflow")


def test_offline_run_writes_its_files_and_the_final_metrics(offline, tmp_path):
    pytest.importorskip("wandb", reason="wandb is not installed (pip install 'genlab[wandb]')")
    config = dcgan.DCGANConfig(run="w", output_dir=str(tmp_path / "out"), epochs=1, max_steps=6, batch_size=16,
                               base_channels=8, latent_dim=8, sample_every=1, device="cpu", logger="wandb")
    dcgan.train(config)
    run_dir = tmp_path / "out" / "w" / "dcgan"
    runs = list((run_dir / "wandb").glob("offline-run-*"))
    assert len(runs) == 1, list((run_dir / "wandb").iterdir())
    run = runs[0]
    run_id = (run_dir / "wandb" / "run_id").read_text().strip()
    assert run.name.endswith(run_id) and (run / f"run-{run_id}.wandb").stat().st_size > 0  # what `wandb sync` uploads
    deadline = time.monotonic() + 30
    while True:  # wandb's service process may still be writing the log when finish() returns
        records = read_records(run / f"run-{run_id}.wandb")
        kinds = [r.WhichOneof("record_type") for r in records]
        if "exit" in kinds or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    summary = {(i.key or "/".join(i.nested_key)): json.loads(i.value_json)
               for r in records if r.WhichOneof("record_type") == "summary" for i in r.summary.update}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert summary["steps"] == metrics["steps"] == 6 and summary["train_seconds"] == metrics["train_seconds"]
    assert summary["seconds_per_100"] == metrics["seconds_per_100"]
    assert "loss_d" in summary and summary["samples/_type"] == "image-file"  # the last scalars and sample grid
    assert kinds.count("history") >= 1 and "exit" in kinds  # scalars were logged; the run was finished
    assert list((run / "files" / "media" / "images").glob("samples_*.png"))
    config = {i.key: json.loads(i.value_json) for r in records if r.WhichOneof("record_type") == "run"
              for i in r.run.config.update}
    assert config["latent_dim"] == 8 and config["model"] == "dcgan" and config["logger"] == "wandb"


def test_loggers_for_ranks_other_than_0_log_nothing(tmp_path):
    assert Loggers.for_run(tmp_path, "both", True, {}, "x", enabled=False).items == []
    assert not (tmp_path / "wandb").exists()
