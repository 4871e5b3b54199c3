"""One training step as a function: `n_critic` discriminator updates, then one generator update.

    step = TrainStep(cfg, g, d, loss, dataset, device, opt_g, opt_d)
    row = step()        # the step's telemetry (STEP_COLUMNS order) as one float32 vector on the device

The trainer calls it once per step, `ganlint bench` times it, and `ganlint.training.fast` wraps it (CUDA graph
capture, torch.compile'd networks, bf16 autocast): one copy of the step for all three, so what is timed
is what trains. `make_adam` builds its optimizers and `clip_weights` clips D (both also used by
ganlint.training.batched).

Why the step returns one vector: every per-step number stays on the device until the trainer's
recorder copies a block of rows to the host (see ganlint.training.telemetry); a CUDA graph needs its outputs in
fixed memory, and one vector is the simplest fixed output.

Nothing here synchronises with the device: no `.item()`, no Python branch on a tensor's value, no
host-to-device copy (the datasets keep their tables on the device), which is also what makes the step
capturable as one CUDA graph.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext

import torch

from ganlint.training.config import TrainConfig
from ganlint.training.losses import Loss, gradient_penalty, r1_penalty
from ganlint.training.telemetry import STEP_COLUMNS, GroupNorms, batch_statistics, snapshot, step_row

AUTOCAST_DTYPES = {"fp32": None, "bf16": torch.bfloat16}

# torch.optim.Adam's switches for each of ganlint.training.config.ADAM_IMPLS.
ADAM_KWARGS = {"default": {}, "loop": {"foreach": False}, "foreach": {"foreach": True}, "fused": {"fused": True}}


def make_adam(params, lr: float, betas: tuple[float, float], impl: str = "default",
              capturable: bool = False) -> torch.optim.Adam:
    """Adam with the implementation `impl` (see ganlint.training.config.ADAM_IMPLS).

    `capturable` (for a CUDA graph): the step counts live on the device and the learning rate is a device
    tensor, so a replayed graph reads the current rate and a schedule may change it without a recapture.
    """
    params = list(params)
    if capturable:
        lr_t = torch.tensor(float(lr), device=params[0].device)
        return torch.optim.Adam(params, lr=lr_t, betas=betas, capturable=True, **ADAM_KWARGS[impl])
    return torch.optim.Adam(params, lr=lr, betas=betas, **ADAM_KWARGS[impl])


@torch.no_grad()
def clip_weights(params: list[torch.Tensor], bound: float) -> None:
    """WGAN's weight clipping: every value into [-bound, bound], in place (nothing when bound is 0).
    Elementwise, so clipping K stacked copies (ganlint.training.batched) clips each copy."""
    if bound:
        torch._foreach_clamp_min_(params, -bound)
        torch._foreach_clamp_max_(params, bound)


class TrainStep:
    """A callable training step over given networks and optimizers.

    Args:
        cfg: the resolved TrainConfig (batch size, n_critic, penalties, clipping, label smoothing, z_dim).
        g, d: the networks; `g_call`/`d_call` may replace their forward (a torch.compile'd module), while
            `g`/`d` stay the modules whose parameters the optimizers update.
        loss: the GAN loss.
        dataset: draws the real batches on `device`.
        opt_g, opt_d: the optimizers.
        telemetry: compute the gradient norms, update ratios and batch statistics (off only to measure
            what they cost: `ganlint bench`); when off those entries of the row are NaN.
        autocast: "fp32" (none) or "bf16" (forward passes under torch.autocast; losses and penalties in fp32).
        autocast_cache: autocast's weight-cast cache; must be off inside a CUDA graph capture.
    """

    def __init__(self, cfg: TrainConfig, g: torch.nn.Module, d: torch.nn.Module, loss: Loss, dataset,
                 device: torch.device, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer, *,
                 telemetry: bool = True, autocast: str = "fp32", autocast_cache: bool = True,
                 g_call: Callable | None = None, d_call: Callable | None = None) -> None:
        self.cfg, self.g, self.d, self.loss, self.dataset, self.device = cfg, g, d, loss, dataset, device
        self.opt_g, self.opt_d = opt_g, opt_d
        self.g_call = g if g_call is None else g_call
        self.d_call = d if d_call is None else d_call
        self.telemetry = telemetry
        self.g_params = [p for p in g.parameters() if p.requires_grad]
        self.d_params = [p for p in d.parameters() if p.requires_grad]
        dtype = AUTOCAST_DTYPES[autocast]
        self._autocast = (lambda: torch.autocast(device.type, dtype=dtype, cache_enabled=autocast_cache)) if dtype \
            else nullcontext
        self.real_target = 1.0 - cfg.label_smoothing
        self._norms = GroupNorms()

    def __call__(self) -> torch.Tensor:
        cfg, loss, device = self.cfg, self.loss, self.device
        d, g_call, d_call = self.d, self.g_call, self.d_call
        nan = torch.full((), float("nan"), device=device) if not self.telemetry else None

        # -- discriminator: n_critic updates on fresh batches ----------------------------------------
        for _ in range(cfg.n_critic):
            real = self.dataset.sample(cfg.batch_size, None, device)
            with self._autocast():
                with torch.no_grad():
                    fake_d = g_call(torch.randn(cfg.batch_size, cfg.z_dim, device=device))
                out_real, out_fake = d_call(real).float(), d_call(fake_d).float()
            loss_d = loss.d_loss(out_real, out_fake, self.real_target)
            total_d = loss_d
            # Penalties in fp32, outside autocast: they differentiate D's input gradient (double backward).
            if cfg.gp_weight > 0:
                total_d = total_d + cfg.gp_weight * gradient_penalty(d_call, real, fake_d.float(), cfg.pack)
            if cfg.r1_gamma > 0:
                total_d = total_d + 0.5 * cfg.r1_gamma * r1_penalty(d_call, real, cfg.pack)
            self.opt_d.zero_grad(set_to_none=True)
            total_d.backward()
            if self.telemetry:
                # D's gradients stay untouched until the next step's zero_grad (G's update runs with D
                # frozen), and so do its weights: both are measured once, together with G's, at the end.
                grads_d = [p.grad for p in self.d_params if p.grad is not None]
                before_d = snapshot(self.d_params)
            self.opt_d.step()
            clip_weights(self.d_params, cfg.clip)

        # -- generator: one update through a frozen D (saves D's weight gradients) --------------------
        d.requires_grad_(False)
        with self._autocast():
            fake = g_call(torch.randn(cfg.batch_size, cfg.z_dim, device=device))
            out_g = d_call(fake).float()
        loss_g = loss.g_loss(out_g)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        d.requires_grad_(True)
        if self.telemetry:
            grads_g = [p.grad for p in self.g_params if p.grad is not None]
            before_g = snapshot(self.g_params)
        self.opt_g.step()

        with torch.no_grad():
            if not self.telemetry:
                values = dict.fromkeys(STEP_COLUMNS, nan)
                values.update(loss_d=loss_d, loss_g=loss_g)
            else:
                # ||delta theta|| / ||theta|| of the last update of each network (weight clipping included),
                # and the gradient norms it applied: every norm in one GroupNorms call.
                d_p, g_p = self.d_params, self.g_params
                delta = torch._foreach_sub(d_p + g_p, before_d + before_g)
                n = self._norms([grads_d, grads_g, delta[: len(d_p)], delta[len(d_p) :], d_p, g_p])
                grad_norm_d, grad_norm_g = n[0], n[1]
                ratio_d, ratio_g = (n[2:4] / n[4:6].clamp_min(1e-12)).unbind()
                values = {
                    "loss_d": loss_d, "loss_g": loss_g,
                    "grad_norm_g": grad_norm_g, "grad_norm_d": grad_norm_d,
                    "update_ratio_g": ratio_g, "update_ratio_d": ratio_d,
                    **batch_statistics(loss, out_real, out_fake, fake, real),
                }
            return step_row(values)
