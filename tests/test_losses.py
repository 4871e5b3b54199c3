"""GAN losses at points where the answer is known by hand, their gradients, penalties and registry."""

from __future__ import annotations

import math

import pytest
import torch

from ganlint.errors import ConfigError
from ganlint.nets.layers import pack as pack_samples
from ganlint.training.losses import (
    LOSSES,
    bce_d_loss,
    get_loss,
    gradient_penalty,
    hinge_d_loss,
    lsgan_d_loss,
    lsgan_g_loss,
    minimax_g_loss,
    nonsaturating_g_loss,
    r1_penalty,
    wgan_d_loss,
    wgan_g_loss,
)

LN2 = math.log(2.0)
ALL_LOSSES = {"minimax", "nonsaturating", "wgan", "wgan-gp", "lsgan", "hinge"}


def full(value: float, n: int = 16) -> torch.Tensor:
    return torch.full((n,), float(value), dtype=torch.float64)


# -- values at known points ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["minimax", "nonsaturating"])
def test_bce_d_loss_is_2ln2_when_d_is_one_half(name: str) -> None:
    """Logit 0 everywhere means D = 0.5: -log 0.5 for the real term plus -log 0.5 for the fake term."""
    loss = get_loss(name)
    value = loss.d_loss(full(0.0), full(0.0), 1.0)
    assert value.item() == pytest.approx(2 * LN2, abs=1e-12)


def test_generator_losses_when_d_is_one_half() -> None:
    """-log D = ln 2 (non-saturating); log(1 - D) = -ln 2 (minimax)."""
    assert nonsaturating_g_loss(full(0.0)).item() == pytest.approx(LN2, abs=1e-12)
    assert minimax_g_loss(full(0.0)).item() == pytest.approx(-LN2, abs=1e-12)


@pytest.mark.parametrize("s", [-3.0, -0.5, 1.7, 6.0])
def test_bce_losses_match_the_probability_formulas(s: float) -> None:
    """At an arbitrary logit s, with p = sigmoid(s), the losses are the textbook log-likelihoods."""
    p = 1.0 / (1.0 + math.exp(-s))
    real, fake = full(s), full(-s)
    q = 1.0 / (1.0 + math.exp(s))  # D on the fakes
    assert bce_d_loss(real, fake).item() == pytest.approx(-math.log(p) - math.log(1 - q), rel=1e-10)
    assert nonsaturating_g_loss(fake).item() == pytest.approx(-math.log(q), rel=1e-10)
    assert minimax_g_loss(fake).item() == pytest.approx(math.log(1 - q), rel=1e-10)


def test_bce_is_stable_at_extreme_logits() -> None:
    """The softplus form gives finite losses where log(sigmoid(s)) would give log(0) = -inf."""
    real, fake = full(200.0), full(-200.0)
    assert bce_d_loss(real, fake).item() == pytest.approx(0.0, abs=1e-30)
    assert nonsaturating_g_loss(fake).item() == pytest.approx(200.0, rel=1e-12)
    assert math.isfinite(minimax_g_loss(fake).item())


@pytest.mark.parametrize(
    ("real", "fake", "d_expected", "g_expected"),
    [
        (1.0, 0.0, 0.0, 0.5),  # D perfect: no D loss; G is a distance 1 from its target 1
        (0.0, 1.0, 1.0, 0.0),  # D fully wrong: 0.5 * 1 + 0.5 * 1; G already at its target
        (0.5, 0.5, 0.25, 0.125),  # equilibrium output 0.5: 0.5 * 0.25 twice; G: 0.5 * 0.25
        (3.0, -1.0, 2.5, 2.0),  # 0.5 * 2^2 + 0.5 * 1^2; G: 0.5 * 2^2
    ],
)
def test_lsgan_values(real: float, fake: float, d_expected: float, g_expected: float) -> None:
    """LSGAN with a=0, b=c=1: D = 0.5 (D(x) - 1)^2 + 0.5 D(G(z))^2, G = 0.5 (D(G(z)) - 1)^2."""
    assert lsgan_d_loss(full(real), full(fake)).item() == pytest.approx(d_expected, abs=1e-12)
    assert lsgan_g_loss(full(fake)).item() == pytest.approx(g_expected, abs=1e-12)


@pytest.mark.parametrize(
    ("real", "fake", "expected"),
    [
        (2.0, -2.0, 0.0),  # both outside the margin: no loss
        (1.0, -1.0, 0.0),  # exactly on the margin
        (0.0, 0.0, 2.0),  # relu(1) + relu(1)
        (0.5, -0.5, 1.0),  # relu(0.5) + relu(0.5)
        (-1.0, 3.0, 6.0),  # relu(2) + relu(4)
    ],
)
def test_hinge_d_values(real: float, fake: float, expected: float) -> None:
    assert hinge_d_loss(full(real), full(fake)).item() == pytest.approx(expected, abs=1e-12)


def test_hinge_d_loss_averages_per_sample_hinges() -> None:
    """mean(relu(1 - r)) + mean(relu(1 + f)) for mixed batches, computed by hand."""
    real = torch.tensor([2.0, 0.0, -1.0, 0.5])  # hinges 0, 1, 2, 0.5 -> mean 0.875
    fake = torch.tensor([-3.0, 0.0, 1.0, -0.5])  # hinges 0, 1, 2, 0.5 -> mean 0.875
    assert hinge_d_loss(real, fake).item() == pytest.approx(1.75, abs=1e-6)


def test_wgan_values() -> None:
    real = torch.tensor([1.0, 2.0, 3.0])  # mean 2
    fake = torch.tensor([-1.0, 0.0, 4.0])  # mean 1
    assert wgan_d_loss(real, fake).item() == pytest.approx(1.0 - 2.0)
    assert wgan_g_loss(fake).item() == pytest.approx(-1.0)


def test_hinge_generator_is_the_wgan_generator_loss() -> None:
    assert get_loss("hinge").g_loss(torch.tensor([0.5, 1.5])).item() == pytest.approx(-1.0)


# -- label smoothing ------------------------------------------------------------------------------------


def test_label_smoothing_changes_only_the_real_term() -> None:
    """With target t the real BCE term is t*softplus(-s) + (1-t)*softplus(s); since softplus(s) -
    softplus(-s) = s, smoothing adds exactly (1 - t) * mean(s_real) and nothing that depends on the fakes."""
    g = torch.Generator().manual_seed(0)
    real = torch.randn(64, generator=g, dtype=torch.float64) * 2
    eps = 0.1
    base = None
    for fake in (torch.randn(64, generator=g, dtype=torch.float64), torch.full((64,), -5.0, dtype=torch.float64)):
        diff = bce_d_loss(real, fake, 1.0 - eps) - bce_d_loss(real, fake, 1.0)
        assert diff.item() == pytest.approx(eps * real.mean().item(), abs=1e-12)
        base = diff if base is None else base
        assert diff.item() == pytest.approx(base.item(), abs=1e-12)


def test_label_smoothing_leaves_fake_gradients_unchanged() -> None:
    g = torch.Generator().manual_seed(1)
    real = torch.randn(32, generator=g)
    grads = []
    for target in (1.0, 0.8):
        fake = torch.randn(32, generator=torch.Generator().manual_seed(2)).requires_grad_(True)
        bce_d_loss(real, fake, target).backward()
        grads.append(fake.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=0, atol=0)


def test_label_smoothing_moves_the_real_optimum_to_the_target() -> None:
    """With target t the real term is minimised at D(x) = t, i.e. at the logit log(t / (1 - t))."""
    t = 0.9
    s = torch.tensor([math.log(t / (1 - t))], dtype=torch.float64, requires_grad=True)
    bce_d_loss(s, torch.zeros(1, dtype=torch.float64), t).backward()
    assert s.grad.abs().item() < 1e-12
    # without smoothing the gradient still pushes the logit up
    s2 = s.detach().clone().requires_grad_(True)
    bce_d_loss(s2, torch.zeros(1, dtype=torch.float64), 1.0).backward()
    assert s2.grad.item() < -0.05


def test_lsgan_smoothing_changes_only_the_real_target() -> None:
    real, fake = full(0.9), full(0.3)
    assert lsgan_d_loss(real, fake, 0.9).item() == pytest.approx(0.5 * 0.3**2, abs=1e-12)
    assert lsgan_d_loss(real, fake, 1.0).item() == pytest.approx(0.5 * 0.1**2 + 0.5 * 0.3**2, abs=1e-12)


@pytest.mark.parametrize("name", ["wgan", "wgan-gp", "hinge"])
def test_critic_losses_ignore_label_smoothing(name: str) -> None:
    loss = get_loss(name)
    real, fake = torch.tensor([0.3, -0.2, 1.5]), torch.tensor([0.1, 0.7, -2.0])
    assert loss.d_loss(real, fake, 0.8).item() == loss.d_loss(real, fake, 1.0).item()


# -- vanishing gradients of the saturating loss ------------------------------------------------------------


def _grad_wrt_output(g_loss, logit: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient of a G loss w.r.t. G's output x, through a fixed linear D: D(x) = w.x + b with logit `logit`."""
    torch.manual_seed(0)
    x = torch.randn(8, 2, dtype=torch.float64, requires_grad=True)  # G's output
    w = torch.tensor([0.6, -0.8], dtype=torch.float64)
    b = (logit - x.detach() @ w)  # per-sample bias so that every sample sits at the given logit
    s = x @ w + b
    s.retain_grad()
    g_loss(s).backward()
    return x.grad, s.grad


def test_minimax_gradient_vanishes_when_d_rejects_the_fakes() -> None:
    """At logit -8 (D(G(z)) ~ 3e-4): d/ds log(1 - sigmoid(s)) = -sigmoid(s) ~ -3.4e-4, while
    d/ds -log sigmoid(s) = -(1 - sigmoid(s)) ~ -1 (Goodfellow et al. 2014)."""
    gx_mm, gs_mm = _grad_wrt_output(minimax_g_loss, -8.0)
    gx_ns, gs_ns = _grad_wrt_output(nonsaturating_g_loss, -8.0)
    ratio = gx_mm.norm() / gx_ns.norm()
    assert ratio < 1e-3
    sig = 1.0 / (1.0 + math.exp(8.0))
    assert ratio.item() == pytest.approx(sig / (1 - sig), rel=1e-9)
    # both push the logit up (descending the loss raises D(G(z)))
    assert (gs_mm < 0).all() and (gs_ns < 0).all()
    n = len(gs_mm)
    torch.testing.assert_close(gs_mm, torch.full_like(gs_mm, -sig / n))
    torch.testing.assert_close(gs_ns, torch.full_like(gs_ns, -(1 - sig) / n))


def test_minimax_and_nonsaturating_gradients_agree_in_direction_at_equilibrium() -> None:
    """At D = 0.5 both gradients w.r.t. the logit are -0.5 / n: the difference only appears off-balance."""
    _, gs_mm = _grad_wrt_output(minimax_g_loss, 0.0)
    _, gs_ns = _grad_wrt_output(nonsaturating_g_loss, 0.0)
    torch.testing.assert_close(gs_mm, gs_ns)


# -- penalties ---------------------------------------------------------------------------------------------


class LinearCritic(torch.nn.Module):
    """D(x) = w . pack(x) + b: its input gradient is w everywhere."""

    def __init__(self, w: torch.Tensor, pack: int = 1) -> None:
        super().__init__()
        self.w, self.pack = w, pack

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pack_samples(x.reshape(len(x), -1), self.pack) @ self.w + 0.3


def _unit(d: int, seed: int) -> torch.Tensor:
    w = torch.randn(d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return w / w.norm()


@pytest.mark.parametrize("pack", [1, 2, 4])
def test_gradient_penalty_is_zero_for_a_unit_norm_linear_critic(pack: int) -> None:
    g = torch.Generator().manual_seed(3)
    real = torch.randn(16, 3, generator=g, dtype=torch.float64)
    fake = torch.randn(16, 3, generator=g, dtype=torch.float64)
    gp = gradient_penalty(LinearCritic(_unit(3 * pack, 0), pack), real, fake, pack)
    assert gp.item() == pytest.approx(0.0, abs=1e-20)


@pytest.mark.parametrize(("scale", "pack"), [(2.0, 1), (0.25, 1), (3.0, 2)])
def test_gradient_penalty_is_norm_minus_one_squared_for_a_linear_critic(scale: float, pack: int) -> None:
    """Gradient w everywhere, so the penalty is (||w|| - 1)^2 whatever the interpolation weights."""
    g = torch.Generator().manual_seed(4)
    real = torch.randn(8, 5, generator=g, dtype=torch.float64)
    fake = torch.randn(8, 5, generator=g, dtype=torch.float64)
    gp = gradient_penalty(LinearCritic(scale * _unit(5 * pack, 1), pack), real, fake, pack)
    assert gp.item() == pytest.approx((scale - 1.0) ** 2, rel=1e-12)
    assert gp.item() > 0


def test_gradient_penalty_is_differentiable_w_r_t_the_critic() -> None:
    """create_graph=True: the penalty must train D, so its gradient w.r.t. w exists: d/dw (||w|| - 1)^2."""
    w = (2.0 * _unit(3, 2)).requires_grad_(True)
    real = torch.randn(6, 3, dtype=torch.float64)
    fake = torch.randn(6, 3, dtype=torch.float64)
    gradient_penalty(LinearCritic(w), real, fake).backward()
    expected = 2 * (w.detach().norm() - 1) * w.detach() / w.detach().norm()
    torch.testing.assert_close(w.grad, expected)


def test_gradient_penalty_does_not_backpropagate_into_the_samples() -> None:
    real = torch.randn(4, 2, requires_grad=True)
    fake = torch.randn(4, 2, requires_grad=True)
    w = torch.tensor([3.0, 0.0], requires_grad=True)
    gradient_penalty(LinearCritic(w), real, fake).backward()
    assert w.grad is not None
    assert real.grad is None and fake.grad is None


@pytest.mark.parametrize("pack", [1, 2])
def test_r1_penalty_is_the_squared_gradient_norm_of_a_linear_d(pack: int) -> None:
    w = torch.tensor([1.0, -2.0, 0.5, 3.0] * pack, dtype=torch.float64)  # ||w||^2 = 14.25 per copy
    real = torch.randn(8, 4, dtype=torch.float64)
    assert r1_penalty(LinearCritic(w, pack), real, pack).item() == pytest.approx(14.25 * pack, rel=1e-12)


def test_r1_penalty_of_a_quadratic_d() -> None:
    """D(x) = ||x||^2 has gradient 2x, so R1 = mean over samples of 4 ||x||^2."""
    real = torch.randn(10, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    expected = (4 * real.pow(2).sum(dim=1)).mean().item()
    assert r1_penalty(lambda x: x.pow(2).sum(dim=1), real).item() == pytest.approx(expected, rel=1e-12)


# -- the Loss objects and the registry ------------------------------------------------------------------------


def test_registry_lists_all_six_losses() -> None:
    assert set(LOSSES.names()) == ALL_LOSSES
    assert len(LOSSES.names()) == 6
    for name in ALL_LOSSES:
        assert name in LOSSES
        assert get_loss(name).description


def test_unknown_loss_raises_config_error_listing_valid_names() -> None:
    with pytest.raises(ConfigError) as info:
        get_loss("wgan_gp")
    msg = str(info.value)
    assert "wgan_gp" in msg
    for name in ALL_LOSSES:
        assert name in msg


def test_loss_defaults_for_clipping_and_penalty() -> None:
    assert get_loss("wgan").clip == 0.01
    assert get_loss("wgan-gp").gradient_penalty == 10.0
    for name in ALL_LOSSES - {"wgan"}:
        assert get_loss(name).clip is None
    for name in ALL_LOSSES - {"wgan-gp"}:
        assert get_loss(name).gradient_penalty == 0.0


def test_d_output_is_a_probability_only_for_bce_losses() -> None:
    raw = torch.tensor([-2.0, 0.0, 3.0])
    for name in ("minimax", "nonsaturating"):
        assert get_loss(name).output == "probability"
        torch.testing.assert_close(get_loss(name).d_output(raw), torch.sigmoid(raw))
    for name in ("wgan", "wgan-gp", "hinge", "lsgan"):
        assert get_loss(name).output in ("critic", "ls-score")
        torch.testing.assert_close(get_loss(name).d_output(raw), raw)
    assert get_loss("lsgan").output == "ls-score"


@pytest.mark.parametrize("name", sorted(ALL_LOSSES))
def test_every_loss_returns_a_differentiable_scalar(name: str) -> None:
    loss = get_loss(name)
    real = torch.randn(8, requires_grad=True)
    fake = torch.randn(8, requires_grad=True)
    d = loss.d_loss(real, fake, 1.0)
    g = loss.g_loss(fake)
    assert d.dim() == 0 and g.dim() == 0
    d.backward()
    assert real.grad is not None and fake.grad is not None
    assert torch.isfinite(real.grad).all()

