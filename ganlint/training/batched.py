"""Many seeds at once: K independent copies of one config trained as a single batched model.

    from ganlint.training.batched import batched_step, supported, train_batched
    ok, why = supported(cfg)
    runs = train_batched({"dataset": "ring8", "steps": 300}, seeds=[0, 1, 2], out_dirs=["r0", "r1", "r2"])
    step, device = batched_step({"dataset": "ring8"}, seeds=[0, 1, 2], device="cpu")  # one step, no folders

The K generators (and the K discriminators) are built by `ganlint.nets.build_models`, each under
`torch.manual_seed(seed)` exactly as `ganlint.train` builds them, so copy k starts from the very weights a
single run with seed k starts from. Their parameters are then stacked along a new first dimension
(`torch.func.stack_module_state`) and every forward pass is one `torch.func.functional_call` under
`torch.vmap`: one set of kernels per step instead of K, which is where the speed comes from on small
networks (launch and Python overhead dominate there, not arithmetic).

Each copy is a faithful, independent run of the same config, with its own telemetry (the trainer's
schema and recorder), its own evaluations and its own run folder (so `ganlint.load_run` and `ganlint.diagnose` work on
it), but it does NOT reproduce `ganlint.train(seed=k)` bit for bit: its real batches and z come from
generators of its own (seeded from its seed) instead of the global one, drawn ahead in chunks (see
`_DrawnAhead`), dropout masks come from the global generator under `randomness="different"`, and batched
matmuls round differently. Its initial weights and its evaluation inputs (`eval_inputs`) are the single
run's. Without dropout, copy k's path depends on its seed alone, not on the other seeds trained beside it
nor on how many there are: seed 37 of a 64-seed sweep can be rerun alone (`train_batched(cfg, [37])`)
and follows the same path, up to the rounding of batched matmuls.

What is supported (see `supported`): the mlp model with the nonsaturating, minimax, lsgan, hinge and
wgan (weight clipping) losses, any n_critic, label smoothing, dropout in D, batch norm in G (on by default
for MNIST), any Adam implementation.

Batch norm works because its running statistics are stacked like any buffer, to (K, C), and passed to
`functional_call` as vmapped inputs: torch.func's batch-norm rule then updates each copy's slice in place,
exactly as K separate modules would (running mean, running variance and num_batches_tracked; checked in
tests/test_batched.py). It refuses only the other case, running statistics NOT batched while the input is
("Batch norm got a batched tensor as input while the running_mean or running_var, which will be updated
in place, were not batched"). `_Stack.unstack` copies them back, so evaluations in eval mode use them.

Not supported, with the reason:
  * spectral norm: its power iteration writes the stacked u and v vectors with `F.normalize(..., out=u)`,
    and vmap has no batching rule for out= ops ("Batching rule not implemented for aten::div.out; the
    fallback path doesn't work on out= or view ops", torch 2.15);
  * gradient penalty and R1: a double backward through functional_call under vmap; possible, untested;
  * minibatch stddev and PacGAN packing: they act across the batch, which is fine per copy under vmap,
    but D then cannot score reals and fakes in one concatenated call as done here;
  * dcgan and tabular models: not tried (tabular draws Gumbel noise).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch.func import functional_call, stack_module_state

from ganlint.data import get_dataset
from ganlint.data.base import TableDataset
from ganlint.errors import ConfigError
from ganlint.files import write_json
from ganlint.logs import NOTICE
from ganlint.nets import build_models
from ganlint.training.config import MAX_SEED, TrainConfig
from ganlint.training.device import resolve_device
from ganlint.training.losses import get_loss
from ganlint.training.run import (
    CONFIG_FILE,
    SUMMARY_FILE,
    Run,
    prepare_out_dir,
    save_models,
    save_telemetry,
)
from ganlint.training.skeleton import Evaluations, Progress, as_config, non_finite_stop, run_meta, summary
from ganlint.training.step import clip_weights, make_adam
from ganlint.training.telemetry import (
    STEP_COLUMNS,
    DeviceRows,
    GroupNorms,
    TelemetryRecorder,
    batch_statistics,
    snapshot,
    step_row,
)

log = logging.getLogger(__name__)

SUPPORTED_MODELS = ("mlp",)
# wgan-gp passes here but its default gradient penalty does not (gp_weight 0 leaves an unclipped critic).
SUPPORTED_LOSSES = ("nonsaturating", "minimax", "lsgan", "hinge", "wgan", "wgan-gp")
# Offsets between a copy's seed and the seeds of its real-batch and z generators: the init already consumed
# the stream `seed` starts (through torch.manual_seed), and the evaluation inputs use seed + 10_007
# (skeleton.eval_inputs).
DATA_SEED_OFFSET = 1_000_003
Z_SEED_OFFSET = 2_000_029
# Batches drawn ahead per copy and stream (see _DrawnAhead): at most this many, and this many bytes. A refill
# costs K launches, so n batches ahead cut the launches per draw n-fold (ring8: 64, MNIST's z: 32); the
# byte cap bounds the memory to about K x 2 x 512 KiB (32 MiB per stream for 64 MNIST copies).
DRAW_AHEAD_MAX = 64
DRAW_AHEAD_BYTES = 512 * 1024


def supported(cfg: TrainConfig | Mapping[str, Any]) -> tuple[bool, str]:
    """Whether `train_batched` can train this config, and why not when it cannot.

    Returns:
        (True, "") or (False, one sentence naming the feature that is not supported).
    """
    try:
        cfg = cfg if isinstance(cfg, TrainConfig) else TrainConfig.from_dict(dict(cfg))
        cfg = cfg.resolve()
    except ConfigError as e:
        return False, f"invalid config: {e}"
    if cfg.model not in SUPPORTED_MODELS:
        return False, f"model {cfg.model!r} is not supported batched (only {', '.join(SUPPORTED_MODELS)})"
    if cfg.loss not in SUPPORTED_LOSSES:
        return False, f"loss {cfg.loss!r} is not supported batched (only {', '.join(SUPPORTED_LOSSES)})"
    # Batch norm is supported: its running statistics are stacked (K, C) buffers that vmap updates per copy.
    if cfg.spectral_norm:
        return False, "spectral norm is not supported batched: vmap cannot batch its power iteration (an out= op)"
    if cfg.gp_weight > 0:
        return False, "a gradient penalty is not supported batched (double backward under vmap)"
    if cfg.r1_gamma > 0:
        return False, "the R1 penalty is not supported batched (double backward under vmap)"
    if cfg.minibatch_std:
        return False, "minibatch stddev is not supported batched (D scores reals and fakes in one call)"
    if cfg.pack != 1:
        return False, "PacGAN packing is not supported batched (D scores reals and fakes in one call)"
    return True, ""


class _Stack:
    """K copies of one module as stacked parameters and buffers, called with vmap(functional_call)."""

    def __init__(self, modules: list[torch.nn.Module]) -> None:
        self.modules = modules  # the K plain modules: templates for evaluation and saving
        # Leaves of shape (K, ...): parameters with requires_grad, buffers (batch norm's running statistics)
        # as copies that the forward updates in place, one slice per copy.
        params, buffers = stack_module_state(modules)
        self.params, self.buffers = params, buffers
        base = copy.deepcopy(modules[0]).to("meta")  # holds the structure only; the weights come in the call

        def call(p, b, x):
            return functional_call(base, (p, b), (x,))

        # randomness="different": each copy draws its own dropout mask (the only random op in the mlp nets).
        self._vcall = torch.vmap(call, randomness="different")

    def __call__(self, x: torch.Tensor, frozen: bool = False) -> torch.Tensor:
        p = {k: v.detach() for k, v in self.params.items()} if frozen else self.params
        return self._vcall(p, self.buffers, x)

    def trainable(self) -> list[torch.Tensor]:
        return list(self.params.values())

    @torch.no_grad()
    def unstack(self, k: int) -> torch.nn.Module:
        """Copy k's weights and buffers (batch norm's running statistics) into its plain module and return
        it (the module trains on; eval mode is skeleton.generate's job)."""
        m = self.modules[k]
        for name, p in m.named_parameters():
            p.copy_(self.params[name][k])
        for name, b in m.named_buffers():
            if name in self.buffers:
                b.copy_(self.buffers[name][k])
        return m


class _DrawnAhead:
    """One random stream per copy, drawn `ahead` batches at a time and served as one (K, ...) batch a call.

    Why not one generator for the whole stack, which would draw every step's batch in one launch too: copy
    k's batches would then depend on the other seeds and on K, so a seed that failed in a 64-seed sweep could
    not be rerun alone to look at it. Drawing ahead keeps one generator per copy (copy k's stream is a
    function of its seed and the config only) and still costs O(1) launches per draw: K launches and one
    stack per refill, a slice in between. The price is memory (bounded by DRAW_AHEAD_BYTES per copy).
    `ahead` depends on the config only, never on K, which keeps the streams independent of K.
    """

    def __init__(self, gens: list[torch.Generator], ahead: int,
                 draw: Callable[[torch.Generator, int], torch.Tensor]) -> None:
        self.gens, self.ahead, self.draw = gens, ahead, draw
        self.chunk: torch.Tensor | None = None
        self.i = ahead

    def __call__(self) -> torch.Tensor:
        if self.i == self.ahead:
            self.chunk = torch.stack([self.draw(g, self.ahead) for g in self.gens])  # (K, ahead, ...)
            self.i = 0
        out = self.chunk[:, self.i]
        self.i += 1
        return out


def _ahead(bytes_per_draw: int) -> int:
    return max(1, min(DRAW_AHEAD_MAX, DRAW_AHEAD_BYTES // bytes_per_draw))


def _streams(dataset, seeds: list[int], cfg: TrainConfig, device: torch.device):
    """(draw_real, draw_z): zero-argument draws of (K, B, ...) real batches and (K, B, z_dim) latents."""
    b, z_dim = cfg.batch_size, cfg.z_dim

    def gens(offset: int) -> list[torch.Generator]:
        return [torch.Generator(device=device).manual_seed((s + offset) % (MAX_SEED + 1)) for s in seeds]

    draw_z = _DrawnAhead(gens(Z_SEED_OFFSET), _ahead(b * z_dim * 4),
                         lambda g, n: torch.randn(n, b, z_dim, generator=g, device=device))
    if isinstance(dataset, TableDataset):
        # Indices ahead, rows gathered per step from the device table: 64 MNIST copies drawn 64 batches
        # ahead as images would take about 800 MB.
        table = dataset.data_on(device)
        draw_idx = _DrawnAhead(gens(DATA_SEED_OFFSET), _ahead(b * 8),
                               lambda g, n: torch.randint(len(table), (n, b), generator=g, device=device))
        return (lambda: table[draw_idx()]), draw_z
    draw_real = _DrawnAhead(gens(DATA_SEED_OFFSET), _ahead(b * dataset.dim * 4),
                            lambda g, n: dataset.sample(n * b, g, device).reshape(n, b, *dataset.shape))
    return draw_real, draw_z


class _Batch:
    """K copies of one config: stacked models, optimizers, random streams, and one training step of all."""

    def __init__(self, cfgs: list[TrainConfig], dataset, device: torch.device) -> None:
        cfg = self.cfg = cfgs[0]
        self.K = len(cfgs)
        self.loss = get_loss(cfg.loss)
        gs, ds = [], []
        for c in cfgs:
            torch.manual_seed(c.seed)  # as the trainer does: copy k starts from seed k's single-run weights
            g, d = build_models(c, dataset.model_spec())
            gs.append(g.to(device).train())
            ds.append(d.to(device).train())
        self.G, self.D = _Stack(gs), _Stack(ds)
        self.g_params, self.d_params = self.G.trainable(), self.D.trainable()
        # One Adam per network over the stacked (K, ...) tensors is exactly K independent Adams: Adam's update
        # is elementwise (its moments m and v are per element, its bias correction depends only on the step
        # count, which all copies share), and the copies share no parameter, so the gradient of the summed
        # losses w.r.t. copy k's slice is copy k's own gradient. What is NOT elementwise is telemetry: gradient
        # norms and update ratios are taken per copy (GroupNorms(per_copy=True): over every dim but the first).
        self.opt_g = make_adam(self.g_params, cfg.lr_g, (cfg.beta1, cfg.beta2), cfg.adam)
        self.opt_d = make_adam(self.d_params, cfg.lr_d, (cfg.beta1, cfg.beta2), cfg.adam)
        self.draw_real, self.draw_z = _streams(dataset, [c.seed for c in cfgs], cfg, device)
        loss, target = self.loss, 1.0 - cfg.label_smoothing
        self._d_loss = torch.vmap(lambda r, f: loss.d_loss(r, f, target))  # a loss of one batch -> (K,) losses
        self._g_loss = torch.vmap(loss.g_loss)
        self._norms = GroupNorms(per_copy=True)

    def step(self) -> torch.Tensor:
        """One step of every copy (n_critic D updates, one G update); returns its telemetry, a
        (K, len(STEP_COLUMNS)) device tensor, without a host sync."""
        cfg, loss, b = self.cfg, self.loss, self.cfg.batch_size
        G, D, d_params, g_params = self.G, self.D, self.d_params, self.g_params
        for _ in range(cfg.n_critic):
            real = self.draw_real()  # (K, B, ...)
            with torch.no_grad():
                fake_d = G(self.draw_z())
            # Reals and fakes in one call: the same outputs as two calls, as D has no batch-wide layer.
            out = D(torch.cat([real, fake_d], dim=1))
            out_real, out_fake = out[:, :b], out[:, b:]
            loss_d = self._d_loss(out_real, out_fake)
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.sum().backward()
            # As in TrainStep: D's gradients and weights stay untouched until the next step (G's update goes
            # through D's detached weights), so the last update's are measured at the end, with G's.
            grads_d = [p.grad for p in d_params]
            before_d = snapshot(d_params)
            self.opt_d.step()
            clip_weights(d_params, cfg.clip)

        fake = G(self.draw_z())
        loss_g = self._g_loss(D(fake, frozen=True))  # frozen: no gradient into D's weights
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.sum().backward()
        grads_g = [p.grad for p in g_params]
        before_g = snapshot(g_params)
        self.opt_g.step()

        with torch.no_grad():
            delta = torch._foreach_sub(d_params + g_params, before_d + before_g)
            n = self._norms([grads_d, grads_g, delta[: len(d_params)], delta[len(d_params) :], d_params, g_params])
            ratio_d, ratio_g = n[2:4] / n[4:6].clamp_min(1e-12)  # (K,) each, weight clipping included
            values = {
                "loss_d": loss_d, "loss_g": loss_g,
                "grad_norm_d": n[0], "grad_norm_g": n[1],
                "update_ratio_d": ratio_d, "update_ratio_g": ratio_g,
                **batch_statistics(loss, out_real, out_fake, fake, real, copies=self.K),
            }
            return step_row(values, copies=self.K)


def _checked(config: TrainConfig | Mapping[str, Any], seeds: list[int]) -> TrainConfig:
    cfg = as_config(config, {}).resolve()
    ok, why = supported(cfg)
    if not ok:
        raise ConfigError(why)
    if not seeds:
        raise ConfigError("batched training needs at least one seed")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"seeds must differ, got {seeds}")
    return cfg


def batched_step(config: TrainConfig | Mapping[str, Any], seeds: list[int],
                 device: str | None = None) -> tuple[Callable[[], torch.Tensor], torch.device]:
    """One batched training step of K = len(seeds) copies as a zero-argument closure, for benchmarks.

    The very step `train_batched` runs (D update(s), G update, the telemetry row into a device buffer),
    without run folders or evaluations. It queues work on the device and returns without a host sync;
    what it returns is that device row, (K, len(STEP_COLUMNS)). (ganlint.perf.bench.bench_step is its
    single-run counterpart: the trainer's step of a named bench model.)

    Args:
        config: a TrainConfig or a dict of its fields.
        seeds: one seed per copy, all different.
        device: where to train; default the config's device.

    Returns:
        (step, device): the closure and the device it trains on (to synchronise before reading a clock).

    Raises:
        ConfigError: the config is invalid or not supported batched (see `supported`).
    """
    cfg = _checked(config, [int(s) for s in seeds])
    dev = resolve_device(device or cfg.device)
    batch = _Batch([cfg.replace(seed=int(s)) for s in seeds], get_dataset(cfg.dataset, cfg.data_root), dev)
    return batch.step, dev


def _per_copy_outs(cfg: TrainConfig, seeds: list[int], out_dirs) -> list[TrainConfig]:
    if out_dirs is None:
        base = Path(cfg.out) if cfg.out else None
        out_dirs = [base / f"seed{s}" if base else None for s in seeds]
    if len(out_dirs) != len(seeds):
        raise ConfigError(f"{len(seeds)} seeds but {len(out_dirs)} out_dirs")
    return [cfg.replace(seed=int(s), out=str(o) if o is not None else None) for s, o in zip(seeds, out_dirs, strict=True)]


def train_batched(config: TrainConfig | Mapping[str, Any], seeds: list[int], *,
                  out_dirs: list[str | Path] | None = None, progress: bool = False,
                  overwrite: bool = False) -> list[Run]:
    """Train K = len(seeds) independent copies of `config` as one batched model; one run folder each.

    Args:
        config: a TrainConfig or a dict of its fields (its seed is replaced by each copy's).
        seeds: one seed per copy, all different.
        out_dirs: one run folder per copy; default `<config.out>/seed<k>`, or runs/<dataset>-<loss>-<time>-N.
        progress: log progress lines (mean losses over the copies).
        overwrite: allow writing into folders that already hold a run.

    Returns:
        One Run per seed, in order, as `ganlint.train` returns it.

    Raises:
        ConfigError: the config is invalid or not supported batched (see `supported`).
    """
    seeds = [int(s) for s in seeds]
    cfg = _checked(config, seeds)
    cfgs = _per_copy_outs(cfg, seeds, out_dirs)
    device = resolve_device(cfg.device)
    dataset = get_dataset(cfg.dataset, cfg.data_root)
    batch = _Batch(cfgs, dataset, device)  # before the folders: a model error leaves no folder
    with contextlib.ExitStack() as held:  # one writer per run folder, for the whole batch
        outs = []
        for c in cfgs:
            lock = prepare_out_dir(c, overwrite)
            held.callback(lock.release)
            outs.append(lock.folder)
        return _train_copies(cfg, cfgs, outs, batch, dataset, device, progress)


def _train_copies(cfg, cfgs, outs, batch, dataset, device, progress) -> list[Run]:
    """train_batched's loop, with every run folder created and locked."""
    G, D, loss = batch.G, batch.D, batch.loss
    K = len(cfgs)
    cfgs = [c.replace(out=str(o)) for c, o in zip(cfgs, outs, strict=True)]
    evals = [Evaluations(c, dataset, device) for c in cfgs]  # the same steps for all, inputs of each seed

    metas = []
    for k, c in enumerate(cfgs):
        meta = {**run_meta(c, device, loss, dataset, list(G.modules[k].parameters()), list(D.modules[k].parameters())),
                "batched": {"copies": K, "seeds": [x.seed for x in cfgs], "copy": k}}
        write_json(outs[k] / CONFIG_FILE, meta)
        metas.append(meta)

    # One device buffer of (K, columns) rows: one copy per step, one host copy per flush, as the trainer's
    # recorder does; at a flush each copy's rows go to its own recorder (the trainer's schema and its
    # non-finite check, per copy).
    pending = DeviceRows(device, cfg.flush_every, (K, len(STEP_COLUMNS)))
    recorders = [TelemetryRecorder(torch.device("cpu"), 1) for _ in range(K)]  # fed through add(): host only
    active = [True] * K
    stop = ["completed"] * K
    last = [0] * K
    t0 = time.perf_counter()

    with Progress(cfg.steps, progress) as bar:  # a terminal's bar is closed on every way out
        for step in range(1, cfg.steps + 1):
            pending.record(step, time.perf_counter() - t0, batch.step())

            if step in evals[0]:
                for k in range(K):
                    if active[k]:
                        evals[k].run(step, G.unstack(k), recorders[k], outs[k])

            if pending.full or step == cfg.steps:
                steps, times, rows = pending.take()  # host sync: the only one in the loop apart from evaluations
                for k in range(K):
                    if not active[k]:
                        continue
                    bad = non_finite_stop(recorders[k].add(steps, times, rows[:, k]))
                    last[k] = step
                    if bad is not None:
                        stop[k], last[k] = bad
                        active[k] = False
                        G.unstack(k), D.unstack(k)  # keep the weights it stopped with, as the trainer saves them
                        log.log(NOTICE, "seed %d: stopping: %s", cfgs[k].seed, stop[k])
                mean = torch.from_numpy(rows[-1]).nanmean(dim=0)
                bar.update(step, float(mean[0]), float(mean[1]), force=step == cfg.steps)
                if not any(active):
                    break

    wall = time.perf_counter() - t0
    runs = []
    for k, c in enumerate(cfgs):
        g = G.unstack(k) if active[k] else G.modules[k]
        d = D.unstack(k) if active[k] else D.modules[k]
        telemetry = recorders[k].frame(last[k])
        save_telemetry(telemetry, outs[k])
        save_models(g, d, outs[k])
        # The whole batch's wall time: the K copies ran together.
        ended = {**summary(c, telemetry, stop[k], wall, device), "batched_copies": K}
        write_json(outs[k] / SUMMARY_FILE, ended)
        g.eval()
        d.eval()
        runs.append(Run(outs[k], c, telemetry, ended, g, d, metas[k]))
    return runs


__all__ = ["batched_step", "supported", "train_batched"]
