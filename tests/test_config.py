"""TrainConfig: per-dataset/model/loss defaults and validation with clear messages."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch

import ganlint
from ganlint.errors import ConfigError, GanlintError
from ganlint.training.config import TrainConfig, config_fields
from ganlint.training.device import resolve_device

DATASETS = ("gaussian1d", "ring8", "grid25", "mnist", "reviews")
LOSSES = ("minimax", "nonsaturating", "wgan", "wgan-gp", "lsgan", "hinge")

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")


# -- defaults ---------------------------------------------------------------------------------------------------


def test_plain_defaults_resolve() -> None:
    cfg = TrainConfig().resolve()
    assert cfg.dataset == "mnist" and cfg.loss == "nonsaturating" and cfg.model == "mlp"
    for name in ("z_dim", "g_width", "d_width", "batch_norm", "gp_weight"):
        assert getattr(cfg, name) is not None, name
    assert cfg.gp_weight == 0 and cfg.clip is None


@pytest.mark.parametrize("dataset", DATASETS)
def test_auto_model_is_tabular_only_for_tables(dataset: str) -> None:
    cfg = TrainConfig(dataset=dataset).resolve()
    assert cfg.model == ("tabular" if dataset == "reviews" else "mlp")


def test_explicit_model_is_kept() -> None:
    assert TrainConfig(dataset="mnist", model="dcgan").resolve().model == "dcgan"
    assert TrainConfig(dataset="reviews", model="mlp").resolve().model == "mlp"


@pytest.mark.parametrize("loss", LOSSES)
def test_gradient_penalty_and_clip_defaults_follow_the_loss(loss: str) -> None:
    cfg = TrainConfig(dataset="ring8", loss=loss).resolve()
    assert cfg.gp_weight == (10.0 if loss == "wgan-gp" else 0.0)
    assert cfg.clip == (0.01 if loss == "wgan" else None)


def test_explicit_penalty_and_clip_are_kept() -> None:
    assert TrainConfig(loss="wgan-gp", gp_weight=5.0).resolve().gp_weight == 5.0
    assert TrainConfig(loss="wgan-gp", gp_weight=0.0).resolve().gp_weight == 0.0
    assert TrainConfig(loss="nonsaturating", gp_weight=1.0).resolve().gp_weight == 1.0
    assert TrainConfig(loss="wgan", clip=0.05).resolve().clip == 0.05
    assert TrainConfig(loss="hinge", clip=0.1).resolve().clip == 0.1


def test_network_sizes_depend_on_dataset_and_model() -> None:
    small = TrainConfig(dataset="gaussian1d").resolve()
    big = TrainConfig(dataset="mnist").resolve()
    assert small.g_width < big.g_width and small.d_width < big.d_width and small.z_dim < big.z_dim
    dc = TrainConfig(dataset="mnist", model="dcgan").resolve()
    assert dc.g_width == 64 and dc.d_width == 64  # channel counts, the DCGAN base
    assert TrainConfig(dataset="mnist", model="dcgan", g_width=8).resolve().g_width == 8
    assert TrainConfig(dataset="ring8", z_dim=3).resolve().z_dim == 3


def test_batch_norm_default_is_on_for_images_only() -> None:
    assert TrainConfig(dataset="mnist").resolve().batch_norm is True
    assert TrainConfig(dataset="mnist", model="dcgan").resolve().batch_norm is True
    for ds in ("gaussian1d", "ring8", "grid25", "reviews"):
        assert TrainConfig(dataset=ds).resolve().batch_norm is False
    assert TrainConfig(dataset="mnist", batch_norm=False).resolve().batch_norm is False
    assert TrainConfig(dataset="ring8", batch_norm=True).resolve().batch_norm is True


def test_resolve_is_idempotent_and_does_not_mutate() -> None:
    raw = TrainConfig(dataset="reviews", loss="wgan")
    cfg = raw.resolve()
    assert cfg.resolve() == cfg
    assert raw.model == "auto" and raw.clip is None  # frozen: resolve returns a new config
    with pytest.raises(dataclasses.FrozenInstanceError):
        raw.steps = 5  # type: ignore[misc]


def test_dict_round_trip() -> None:
    cfg = TrainConfig(dataset="grid25", loss="hinge", pack=2, seed=7).resolve()
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    assert set(cfg.to_dict()) == {f.name for f in config_fields()}


def test_unknown_config_key_is_an_error_listing_valid_keys() -> None:
    with pytest.raises(ConfigError) as info:
        TrainConfig.from_dict({"dataset": "ring8", "learning_rate": 0.1, "stepz": 3})
    msg = str(info.value)
    assert "learning_rate" in msg and "stepz" in msg
    for key in ("lr_g", "lr_d", "steps", "dataset"):
        assert key in msg


# -- invalid values ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"lr_g": -1e-4}, "lr_g"),
        ({"lr_d": 0.0}, "lr_d"),
        ({"lr_g": math.nan}, "lr_g"),
        ({"lr_d": math.inf}, "lr_d"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 1}, "batch_size"),
        ({"batch_size": 64, "pack": 3}, "multiple of pack"),
        ({"steps": 0}, "steps"),
        ({"steps": 2.5}, "steps"),
        ({"steps": True}, "steps"),
        ({"n_critic": 0}, "n_critic"),
        ({"z_dim": -3}, "z_dim"),
        ({"g_width": 0}, "g_width"),
        ({"pack": 0}, "pack"),
        ({"eval_every": 0}, "eval_every"),
        ({"flush_every": 0}, "flush_every"),
        ({"eval_samples": 1}, "eval_samples"),
        ({"pictures": -1}, "pictures"),
        ({"label_smoothing": 0.5}, "label_smoothing"),
        ({"label_smoothing": 0.7}, "label_smoothing"),
        ({"label_smoothing": -0.1}, "label_smoothing"),
        ({"dropout": 1.0}, "dropout"),
        ({"beta1": 1.0}, "beta1"),
        ({"beta2": -0.1}, "beta2"),
        ({"gp_weight": -1.0}, "gp_weight"),
        ({"r1_gamma": -1.0}, "r1_gamma"),
        ({"clip": 0.0}, "clip"),
        ({"clip": -0.01}, "clip"),
        ({"device": "tpu"}, "device"),
    ],
)
def test_invalid_values_raise_config_error_naming_the_field(changes: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment) as info:
        TrainConfig(dataset="ring8", **changes).resolve()
    assert isinstance(info.value, GanlintError) and info.value.exit_code == 2
    # the message shows the offending value
    bad = next(iter(changes.values())) if len(changes) == 1 else changes["pack"]
    assert repr(bad) in str(info.value) or str(bad) in str(info.value)


def test_label_smoothing_just_below_half_is_fine() -> None:
    assert TrainConfig(label_smoothing=0.49).resolve().label_smoothing == 0.49


@pytest.mark.parametrize(
    ("field", "value", "valid"),
    [("dataset", "cifar", DATASETS), ("loss", "wasserstein", LOSSES), ("model", "resnet", ("mlp", "dcgan", "tabular"))],
)
def test_unknown_names_list_the_valid_ones(field: str, value: str, valid: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError) as info:
        TrainConfig(**{"dataset": "ring8", field: value}).resolve()
    msg = str(info.value)
    assert repr(value) in msg and field in msg
    for name in valid:
        assert name in msg
    assert "\n" not in msg


@pytest.mark.parametrize(("field", "value"), [("eval_samples", 200.5), ("pictures", 1.5)])
def test_non_integer_counts_are_config_errors(field: str, value: float) -> None:
    with pytest.raises(ConfigError, match=field):
        TrainConfig(dataset="ring8", **{field: value}).resolve()


# -- device --------------------------------------------------------------------------------------------------------


def test_auto_and_cpu_devices() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


@no_cuda
def test_cuda_without_cuda_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CUDA"):
        resolve_device("cuda")
    with pytest.raises(ConfigError, match="CUDA"):
        resolve_device("cuda:0")
    out = tmp_path / "run"
    with pytest.raises(ConfigError, match="cuda"):
        ganlint.train(dataset="ring8", steps=2, device="cuda", out=str(out))
    assert not out.exists()  # refused before anything was written


def test_cuda_index_beyond_the_devices_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a machine with one GPU (CUDA availability faked: nothing runs on it)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(ConfigError, match="only 1 CUDA device"):
        resolve_device("cuda:3")


@pytest.mark.parametrize("name", ["cuda:x", "cudafoo"])
def test_malformed_cuda_device_is_a_config_error(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ConfigError, match="device"):
        resolve_device(TrainConfig(dataset="ring8", device=name).resolve().device)
