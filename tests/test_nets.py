"""Network shapes, options and the straight-through tabular generator."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganlint.data.toy import ring8
from ganlint.errors import ConfigError
from ganlint.nets import (
    MODELS,
    DCGANDiscriminator,
    MinibatchStdDev,
    MLPDiscriminator,
    MLPGenerator,
    TabularGenerator,
    build_models,
    pack,
)
from ganlint.training.config import TrainConfig

REVIEWS_BLOCKS = [["categorical", 50], ["categorical", 5], ["categorical", 3], ["numeric", 1]]


def spec(shape, bounded: bool = False, blocks=None) -> dict:
    return {"shape": list(shape), "bounded": bounded, "blocks": blocks or []}


def cfg(**kw) -> TrainConfig:
    base = {"dataset": "ring8", "g_width": 16, "d_width": 16, "z_dim": 4, "batch_size": 8, "device": "cpu"}
    return TrainConfig(**{**base, **kw}).resolve()


def z(n: int, dim: int = 4, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed))


def test_model_registry() -> None:
    assert set(MODELS.names()) == {"mlp", "dcgan", "tabular"}


# -- shapes ------------------------------------------------------------------------------------------------

MLP_SHAPES = [(1,), (2,), (59,), (1, 28, 28)]
OPTIONS = [
    {"batch_norm": False},
    {"spectral_norm": True},
    {"minibatch_std": True},
    {"dropout": 0.3},
    {"batch_norm": True},
    {"spectral_norm": True, "minibatch_std": True, "dropout": 0.2, "batch_norm": True},
]


@pytest.mark.parametrize("shape", MLP_SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("p", [1, 2, 4])
@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: "+".join(k for k, v in o.items() if v) or "plain")
def test_mlp_shapes(shape, p: int, opts: dict) -> None:
    g, d = build_models(cfg(model="mlp", pack=p, **opts), spec(shape, bounded=len(shape) == 3))
    assert isinstance(g, MLPGenerator) and isinstance(d, MLPDiscriminator)
    x = g(z(8))
    assert x.shape == (8, *shape)
    out = d(x)
    assert out.shape == (8 // p,)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("p", [1, 2, 4])
@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: "+".join(k for k, v in o.items() if v) or "plain")
def test_dcgan_shapes(p: int, opts: dict) -> None:
    g, d = build_models(cfg(model="dcgan", pack=p, g_width=4, d_width=4, **opts), spec((1, 28, 28), bounded=True))
    x = g(z(8))
    assert x.shape == (8, 1, 28, 28)
    assert x.abs().max().item() <= 1.0  # tanh output
    out = d(x)
    assert out.shape == (8 // p,)
    assert torch.isfinite(out).all()


def test_dcgan_feature_map_sizes() -> None:
    """D: (1, 28, 28) -> (w, 14, 14) -> (2w, 7, 7), as documented."""
    d = DCGANDiscriminator(width=6, pack=2)
    h = d.features(pack(torch.zeros(4, 1, 28, 28), 2))
    assert h.shape == (2, 12, 7, 7)
    assert d.features[0].in_channels == 2  # pack x channels


def test_tabular_shapes() -> None:
    g, d = build_models(cfg(dataset="reviews", pack=2), spec((59,), blocks=REVIEWS_BLOCKS))
    assert isinstance(g, TabularGenerator)
    x = g(z(8))
    assert x.shape == (8, 59)
    assert d(x).shape == (4,)


def test_mlp_generator_tanh_only_when_bounded() -> None:
    torch.manual_seed(0)
    g = MLPGenerator(4, (3,), width=8, depth=1, bounded=False)
    with torch.no_grad():
        g.out.bias.fill_(5.0)  # push the outputs far outside [-1, 1]
    assert g(z(16)).min().item() > 1.0
    gb = MLPGenerator(4, (3,), width=8, depth=1, bounded=True)
    gb.load_state_dict(g.state_dict())
    y = gb(z(16))
    assert y.abs().max().item() <= 1.0
    torch.testing.assert_close(y, torch.tanh(g(z(16))))


def test_mlp_parameter_counts_follow_width_and_depth() -> None:
    """G: Linear(z, w) + (depth-1) Linear(w, w) + Linear(w, out); D's input is pack * dim."""
    g = MLPGenerator(5, (2,), width=7, depth=3)
    expected_g = (5 * 7 + 7) + 2 * (7 * 7 + 7) + (7 * 2 + 2)
    assert sum(p.numel() for p in g.parameters()) == expected_g
    d = MLPDiscriminator((3,), width=6, depth=2, pack=4)
    expected_d = (12 * 6 + 6) + (6 * 6 + 6) + (6 + 1)
    assert sum(p.numel() for p in d.parameters()) == expected_d
    dm = MLPDiscriminator((3,), width=6, depth=2, minibatch_std=True)
    assert dm.out.in_features == 7


# -- building blocks ----------------------------------------------------------------------------------------


def test_pack_groups_consecutive_samples() -> None:
    x = torch.arange(12.0).reshape(6, 2)
    p = pack(x, 3)
    assert p.shape == (2, 6)
    torch.testing.assert_close(p[0], torch.cat([x[0], x[1], x[2]]))
    torch.testing.assert_close(p[1], torch.cat([x[3], x[4], x[5]]))
    img = torch.arange(4 * 2 * 3 * 3.0).reshape(4, 2, 3, 3)
    pi = pack(img, 2)
    assert pi.shape == (2, 4, 3, 3)
    torch.testing.assert_close(pi[1], torch.cat([img[2], img[3]]))
    assert pack(x, 1) is x


def test_minibatch_std_known_values() -> None:
    """Group of 4 rows: per-feature population std, averaged over features, appended to each row."""
    x = torch.tensor([[0.0, 1.0], [2.0, 1.0], [0.0, 1.0], [2.0, 1.0]])  # stds 1 and 0 -> mean 0.5
    y = MinibatchStdDev(group_size=4)(x)
    assert y.shape == (4, 3)
    torch.testing.assert_close(y[:, :2], x)
    torch.testing.assert_close(y[:, 2], torch.full((4,), (1.0 + 1e-4) / 2), atol=1e-6, rtol=0)


def test_minibatch_std_is_per_group() -> None:
    a = torch.zeros(4, 3)  # collapsed group
    b = torch.tensor([[0.0, 0, 0], [2, 2, 2], [0, 0, 0], [2, 2, 2]])  # std 1 everywhere
    y = MinibatchStdDev(group_size=4)(torch.cat([a, b]))
    assert y[:4, 3].max().item() < 1e-3
    torch.testing.assert_close(y[4:, 3], torch.ones(4), atol=1e-6, rtol=0)
    # a batch that the group size does not divide is one group
    y6 = MinibatchStdDev(group_size=4)(torch.cat([a, b[:2]]))
    assert y6.shape == (6, 4)
    assert torch.unique(y6[:, 3]).numel() == 1


def test_minibatch_std_on_feature_maps() -> None:
    x = torch.randn(8, 3, 5, 5, generator=torch.Generator().manual_seed(0))
    y = MinibatchStdDev()(x)
    assert y.shape == (8, 4, 5, 5)
    torch.testing.assert_close(y[:, :3], x)
    # constant over the spatial map, equal within a group of 4
    stat = y[:, 3]
    assert (stat == stat[:, :1, :1]).all()
    assert torch.equal(stat[0], stat[3]) and not torch.equal(stat[0], stat[4])


def test_spectral_norm_bounds_every_layers_largest_singular_value() -> None:
    """After enough power iterations (one per training-mode forward), each weight's spectral norm is ~1."""
    torch.manual_seed(0)
    d = MLPDiscriminator((2,), width=16, depth=2, spectral_norm=True)
    x = torch.randn(32, 2)
    for _ in range(60):
        d(x)
    linears = [m for m in d.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 3
    for m in linears:
        assert hasattr(m, "parametrizations")
        sigma = torch.linalg.matrix_norm(m.weight.detach(), ord=2).item()
        assert sigma == pytest.approx(1.0, abs=0.02)
    # without spectral norm the default init is not normalised
    plain = MLPDiscriminator((2,), width=16, depth=2)
    assert not any(hasattr(m, "parametrizations") for m in plain.modules() if isinstance(m, nn.Linear))


def test_spectral_norm_dcgan_layers() -> None:
    d = DCGANDiscriminator(width=4, spectral_norm=True, minibatch_std=True)
    parametrized = [m for m in d.modules() if hasattr(m, "parametrizations")]
    assert len(parametrized) == 3  # two convolutions and the output layer


@pytest.mark.parametrize("model", ["mlp", "dcgan"])
def test_dropout_is_random_in_training_and_off_in_eval(model: str) -> None:
    c = cfg(model=model, dropout=0.5, g_width=4, d_width=4)
    shape = (1, 28, 28) if model == "dcgan" else (2,)
    _, d = build_models(c, spec(shape, bounded=model == "dcgan"))
    x = torch.randn(8, *shape)
    assert any(isinstance(m, nn.Dropout) for m in d.modules())
    d.train()
    assert not torch.equal(d(x), d(x))
    d.eval()
    assert torch.equal(d(x), d(x))
    _, d0 = build_models(cfg(model=model, dropout=0.0, g_width=4, d_width=4), spec(shape, bounded=model == "dcgan"))
    assert not any(isinstance(m, nn.Dropout) for m in d0.modules())


@pytest.mark.parametrize("model", ["mlp", "dcgan", "tabular"])
def test_batch_norm_only_in_the_generator(model: str) -> None:
    shapes = {"mlp": spec((2,)), "dcgan": spec((1, 28, 28), True), "tabular": spec((59,), blocks=REVIEWS_BLOCKS)}
    dataset = "reviews" if model == "tabular" else "ring8"
    g, d = build_models(cfg(model=model, dataset=dataset, batch_norm=True, g_width=4, d_width=4), shapes[model])
    bns = [m for m in g.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert len(bns) == 2
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in d.modules())
    g_plain, _ = build_models(cfg(model=model, dataset=dataset, batch_norm=False, g_width=4, d_width=4), shapes[model])
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in g_plain.modules())
    # training mode updates the running statistics; eval mode uses them
    before = bns[0].running_mean.clone()
    g.train()
    g(z(8))
    assert not torch.equal(before, bns[0].running_mean)
    g.eval()
    if model != "tabular":  # the tabular G samples Gumbel noise even in eval mode
        torch.testing.assert_close(g(z(8))[:1], g(z(8)[:1]))


# -- the tabular generator -----------------------------------------------------------------------------------


def test_tabular_output_blocks_are_exactly_one_hot() -> None:
    torch.manual_seed(0)
    g = TabularGenerator(4, REVIEWS_BLOCKS, width=16, depth=2)
    x = g(z(256))
    start = 0
    for kind, size in REVIEWS_BLOCKS:
        block = x[:, start : start + size]
        if kind == "categorical":
            assert ((block == 0) | (block == 1)).all()
            assert (block.sum(dim=1) == 1).all()
        else:
            assert not ((block == 0) | (block == 1)).all()  # a plain linear output
        start += size
    assert start == 59


def test_tabular_gradients_flow_through_the_straight_through_estimator() -> None:
    """The forward pass is hard one-hot (piecewise constant), yet G must receive gradients through it."""
    torch.manual_seed(0)
    g = TabularGenerator(4, [["categorical", 5], ["categorical", 3]], width=8, depth=1)
    x = g(z(64))
    weights = torch.randn(8, generator=torch.Generator().manual_seed(1))
    (x * weights).sum().backward()
    for name, p in g.named_parameters():
        assert p.grad is not None, name
        assert p.grad.abs().sum().item() > 0, name
    # every categorical logit column gets some gradient
    assert (g.out.weight.grad.abs().sum(dim=1) > 0).all()


def test_tabular_gumbel_noise_follows_the_global_seed() -> None:
    torch.manual_seed(0)
    g = TabularGenerator(4, REVIEWS_BLOCKS, width=8, depth=1).eval()
    zz = z(128)
    torch.manual_seed(5)
    a = g(zz)
    torch.manual_seed(5)
    assert torch.equal(a, g(zz))
    assert not torch.equal(a, g(zz))  # fresh noise: G is stochastic given z


def test_tabular_categorical_frequencies_follow_the_softmax() -> None:
    """Gumbel-max with logits l draws category k with probability softmax(l / tau)_k; tau 0.2 sharpens it."""
    torch.manual_seed(0)
    g = TabularGenerator(1, [["categorical", 3]], width=4, depth=1, tau=0.2)
    with torch.no_grad():
        for p in g.parameters():
            p.zero_()
        g.out.bias.copy_(torch.tensor([0.0, 0.2, -0.2]))
    n = 20_000
    freq = g(torch.zeros(n, 1)).mean(dim=0)
    expected = torch.softmax(torch.tensor([0.0, 0.2, -0.2]) / 1.0, dim=0)  # hard sample ignores tau
    tol = 5 * math.sqrt(0.25 / n)
    torch.testing.assert_close(freq, expected, atol=tol, rtol=0)


# -- build errors ----------------------------------------------------------------------------------------------


def test_dcgan_on_ring8_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="28x28"):
        build_models(cfg(model="dcgan"), ring8().model_spec())


def test_tabular_on_ring8_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="tabular"):
        build_models(cfg(model="tabular"), ring8().model_spec())


def test_dcgan_rejects_other_image_sizes() -> None:
    with pytest.raises(ConfigError):
        build_models(cfg(model="dcgan"), spec((1, 32, 32), bounded=True))
