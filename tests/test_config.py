"""Parameter validation: the frozen config dataclasses behind every notebook's parameters cell."""

import dataclasses

import pytest

from genlab.models.dcgan import DCGANConfig


def test_defaults_are_the_quick_profile():
    cfg = DCGANConfig()
    assert cfg.dataset == "mnist5k" and cfg.run == "quick" and cfg.conditional


def test_unknown_parameter_names_the_closest_valid_one():
    with pytest.raises(ValueError, match=r"unknown parameter 'lrr' \(did you mean 'lr'\?\)"):
        DCGANConfig.from_dict({"lrr": 1e-3})


@pytest.mark.parametrize("name, value, message", [
    ("epochs", 2.5, "parameter 'epochs' = 2.5 must be a whole number"),
    ("epochs", "10", "parameter 'epochs' = '10' must be a whole number"),
    ("conditional", 1, "parameter 'conditional' = 1 must be True or False"),
    ("lr", "fast", "parameter 'lr' = 'fast' must be a number"),
    ("lr", 0.0, r"parameter 'lr' = 0.0 is out of range; allowed \(0, 1\]"),
    ("epochs", 0, r"parameter 'epochs' = 0 is out of range; allowed \[1, 100000\]"),
    ("image_size", 48, "parameter 'image_size' = 48 is not allowed; choose one of 28, 32, 64"),
    ("dataset", "mnsit", "dataset 'mnsit' unknown; choose one of mnist5k, mnist, fashion_mnist, cifar10, folder:<path>"),
    ("device", "tpu", "parameter 'device' = 'tpu' unknown"),
    # seeds and other integers are bounded (torch cannot hold 1e30: "Overflow when unpacking long long")
    ("seed", 1e30, r"parameter 'seed' = 1000000000000000019884624838656 is out of range; allowed \[0, 4294967295\]"),
    ("seed", 2**32, r"parameter 'seed' = 4294967296 is out of range; allowed \[0, 4294967295\]"),
    ("max_steps", 10**30, r"parameter 'max_steps' = 1000000000000000000000000000000 is out of range; allowed \[0, 9223372036854775807\]"),
])
def test_bad_values_name_the_parameter(name, value, message):
    with pytest.raises((TypeError, ValueError), match=message):
        DCGANConfig.from_dict({name: value})


def test_ints_are_accepted_for_floats_and_configs_are_frozen():
    cfg = DCGANConfig.from_dict({"lr": 1, "time_budget_s": 5})
    assert isinstance(cfg.lr, float) and cfg.lr == 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.lr = 0.1


def test_from_globals_keeps_only_user_literals():
    import math
    namespace = {"epochs": 3, "lr": 1e-3, "math": math, "In": [], "_": None, "get_ipython": print}
    cfg = DCGANConfig.from_globals(namespace)
    assert cfg.epochs == 3 and cfg.lr == 1e-3


def test_from_globals_rejects_a_typo_injected_by_papermill():
    with pytest.raises(ValueError, match="unknown parameter 'epoch' \\(did you mean 'epochs'\\?\\)"):
        DCGANConfig.from_globals({"epochs": 3, "epoch": 5})


def test_to_dict_round_trips():
    cfg = DCGANConfig(epochs=3, run="x")
    assert DCGANConfig.from_dict(cfg.to_dict()) == cfg


def test_parameter_values_read_on_and_off_as_words(tmp_path):
    """YAML 1.1 reads off/on/yes/no as booleans; parameters use YAML 1.2's (true/false only), so the choice
    ``amp=off`` reaches the config as the word, from the command line and from a parameter file."""
    from genlab.base.config import parse_assignments
    from genlab.cli import load_params_file
    assert parse_assignments(["amp=off", "x=yes", "conditional=false", "ema=True", "lr=2e-4"]) == \
        {"amp": "off", "x": "yes", "conditional": False, "ema": True, "lr": 2e-4}
    (tmp_path / "p.yaml").write_text("amp: off\nconditional: false\n")
    values = load_params_file(str(tmp_path / "p.yaml"))
    assert values == {"amp": "off", "conditional": False}
    assert DCGANConfig.from_dict(values).amp == "off"
