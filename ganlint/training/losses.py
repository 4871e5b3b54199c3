"""GAN losses as pure functions of D's raw outputs, in a registry.

Every loss takes D's raw outputs (logits for the probability losses, scores for the others) and returns
a scalar. Conventions:

* D losses are *summed* over the real and the fake term, so with BCE and D = 0.5 everywhere the D loss
  is 2 ln 2 = 1.386 (the usual reference value).
* `real_target` is the label for real samples: 1, or 1 - eps with one-sided label smoothing
  (Salimans et al. 2016). Fake targets are never smoothed.
* BCE terms are written with softplus, which is the numerically stable form of log(sigmoid):
  -log(sigmoid(s)) = softplus(-s) and -log(1 - sigmoid(s)) = softplus(s).

Why `minimax` is kept although nobody should train with it: its generator loss log(1 - D(G(z))) has
gradient -sigmoid(s) w.r.t. the logit s, which vanishes as D rejects the fakes (s -> -inf); the
non-saturating -log D(G(z)) has gradient -(1 - sigmoid(s)) -> -1 there (Goodfellow et al. 2014). ganlint
uses it to reproduce the vanishing-gradient pathology on purpose.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ganlint.registry import Registry
from ganlint.vocabulary import LOSS_DESCRIPTIONS

Tensor = torch.Tensor

# What D's recorded outputs (d_real, d_fake in the telemetry) mean for a loss.
#   probability: sigmoid of the logit, equilibrium 0.5.
#   ls-score:    the raw least-squares output with targets 1 (real) and 0 (fake), equilibrium 0.5.
#   critic:      the raw critic score (wgan, hinge), no fixed equilibrium value; the gap matters.
OUTPUT_KINDS = ("probability", "ls-score", "critic")


@dataclass(frozen=True)
class Loss:
    """A GAN objective.

    Attributes:
        d_loss: (real_out, fake_out, real_target) -> scalar the discriminator minimises.
        g_loss: (fake_out) -> scalar the generator minimises.
        output: how to read D's outputs (one of OUTPUT_KINDS).
        clip: WGAN weight clipping bound applied to D after each step, or None.
        gradient_penalty: default weight of the WGAN-GP penalty (0 = none).
        description: one line for `ganlint list`.
    """

    d_loss: Callable[[Tensor, Tensor, float], Tensor]
    g_loss: Callable[[Tensor], Tensor]
    output: str
    description: str
    clip: float | None = None
    gradient_penalty: float = 0.0

    def d_output(self, raw: Tensor) -> Tensor:
        """D's output as recorded in the telemetry (probability for BCE losses, raw otherwise)."""
        return torch.sigmoid(raw) if self.output == "probability" else raw


def bce_d_loss(real: Tensor, fake: Tensor, real_target: float = 1.0) -> Tensor:
    """-[t log D(x) + (1 - t) log(1 - D(x))] on reals plus -log(1 - D(G(z))) on fakes, from logits."""
    real_term = real_target * F.softplus(-real) + (1.0 - real_target) * F.softplus(real)
    return real_term.mean() + F.softplus(fake).mean()


def minimax_g_loss(fake: Tensor) -> Tensor:
    """The saturating generator loss: minimise log(1 - D(G(z))) = -softplus(s)."""
    return -F.softplus(fake).mean()


def nonsaturating_g_loss(fake: Tensor) -> Tensor:
    """The non-saturating generator loss: minimise -log D(G(z)) = softplus(-s)."""
    return F.softplus(-fake).mean()


def wgan_d_loss(real: Tensor, fake: Tensor, real_target: float = 1.0) -> Tensor:
    """The critic maximises E[f(x)] - E[f(G(z))]; label smoothing has no meaning here and is ignored."""
    return fake.mean() - real.mean()


def wgan_g_loss(fake: Tensor) -> Tensor:
    return -fake.mean()


def lsgan_d_loss(real: Tensor, fake: Tensor, real_target: float = 1.0) -> Tensor:
    """Least squares with targets real_target for reals and 0 for fakes (Mao et al. 2017, a=0, b=c=1)."""
    return 0.5 * (real - real_target).pow(2).mean() + 0.5 * fake.pow(2).mean()


def lsgan_g_loss(fake: Tensor) -> Tensor:
    return 0.5 * (fake - 1.0).pow(2).mean()


def hinge_d_loss(real: Tensor, fake: Tensor, real_target: float = 1.0) -> Tensor:
    """Hinge loss (Lim & Ye 2017; Miyato et al. 2018); the margin plays the role of the label."""
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


LOSSES: Registry[Loss] = Registry("loss", "losses")
_D = LOSS_DESCRIPTIONS  # the names and lines live in the vocabulary, so that `ganlint --help` needs no torch
LOSSES.add("minimax", Loss(bce_d_loss, minimax_g_loss, "probability", _D["minimax"]))
LOSSES.add("nonsaturating", Loss(bce_d_loss, nonsaturating_g_loss, "probability", _D["nonsaturating"]))
LOSSES.add("wgan", Loss(wgan_d_loss, wgan_g_loss, "critic", _D["wgan"], clip=0.01))
LOSSES.add("wgan-gp", Loss(wgan_d_loss, wgan_g_loss, "critic", _D["wgan-gp"], gradient_penalty=10.0))
LOSSES.add("lsgan", Loss(lsgan_d_loss, lsgan_g_loss, "ls-score", _D["lsgan"]))
LOSSES.add("hinge", Loss(hinge_d_loss, wgan_g_loss, "critic", _D["hinge"]))


def get_loss(name: str) -> Loss:
    return LOSSES.get(name)


def gradient_penalty(d: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, pack: int = 1) -> Tensor:
    """WGAN-GP: E[(||grad_x D(x_hat)|| - 1)^2] on random interpolates of real and fake.

    With PacGAN packing, D judges `pack` samples at once, so the norm is taken over each packed group.
    The interpolation weight is drawn per packed group, too.
    """
    n = real.shape[0]
    groups = n // pack
    eps = torch.rand(groups, *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    eps = eps.repeat_interleave(pack, dim=0)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    out = d(x_hat)
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    norms = grad.reshape(groups, -1).norm(dim=1)
    return (norms - 1.0).pow(2).mean()


def r1_penalty(d: Callable[[Tensor], Tensor], real: Tensor, pack: int = 1) -> Tensor:
    """R1 (Mescheder et al. 2018): E[||grad_x D(x)||^2] on real data; multiply by gamma / 2."""
    x = real.detach().requires_grad_(True)
    out = d(x)
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad.reshape(len(x) // pack, -1).pow(2).sum(dim=1).mean()
