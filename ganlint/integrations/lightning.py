"""ganlint.Monitor as a PyTorch Lightning callback (optional extra: pip install "ganlint[lightning]").

    from ganlint.integrations.lightning import GanlintCallback

    class GAN(lightning.LightningModule):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False     # two optimizers: manual optimisation
            self.generator, self.discriminator = G, D
        def configure_optimizers(self):
            return opt_g, opt_d                      # any order: matched to G and D by their parameters
        def training_step(self, real, batch_idx):
            opt_g, opt_d = self.optimizers()
            ...                                      # D update, then G update, with self.manual_backward
            return {"loss_d": loss_d, "loss_g": loss_g, "d_real": d_out_real, "d_fake": d_out_fake,
                    "fake": fake, "real": real}

    callback = GanlintCallback(stop_on=("diverged", "collapsed"), save_to="runs/mine")
    lightning.Trainer(callbacks=[callback]).fit(GAN(), loader)
    callback.monitor.diagnose().label                # or: ganlint diagnose runs/mine

The convention: `training_step` returns a dict keyed by `Monitor.step`'s argument names (`loss_d`,
`loss_g`, `d_real`, `d_fake`, `fake`, `real`; every key optional, a missing one leaves its columns NaN;
other keys, such as the `loss` that automatic optimisation needs, are ignored). The callback reads it
in `on_train_batch_end` and calls `Monitor.step` once per training batch. Why this and not `self.log`
or a Monitor the module calls itself:
  * Lightning hands the returned dict to `on_train_batch_end` as it is (manual optimisation detaches
    only `loss`), so the values stay tensors on the device: no host sync, exactly as in a plain loop.
  * `self.log` carries scalars only: the fake and real batches (sample metrics, fake std) cannot pass
    through it, nor D's raw outputs (the Monitor averages sigmoid(logits), not the mean logit).
  * The module needs neither ganlint nor an attribute the callback sets: it trains unchanged without
    the callback, and Lightning ignores the extra keys.

Gradient norms come from `on_before_optimizer_step`. In a plain loop the Monitor reads them in a hook
on torch's `optimizer.step()`, but Lightning calls the raw optimizer's `step(closure=...)` and runs
backward inside that closure (automatic optimisation, and `opt.step(closure=...)` in manual
optimisation), so torch's pre-step hook fires before backward and reads the previous step's gradients
(verified: one step late, none at the first step). `on_before_optimizer_step` fires after the
closure's backward, after AMP unscaling and before Lightning's gradient clipping, in every mode. So the
callback gives the Monitor a view of each optimizer whose pre-step hook is called from
`on_before_optimizer_step`; the post-step hook (update ratios) stays on the optimizer. One exception:
under a GradScaler (precision="16-mixed"), steps the scaler skips for inf/NaN gradients pass through
`on_before_optimizer_step` but never reach `optimizer.step()`; reading them there would record inf
norms and label a healthy run diverged. Under a scaler the Monitor's own hooks are kept: they fire
inside `scaler.step()`, after unscaling (and after Lightning's clipping), for the steps actually
applied. Batches before both optimizers have applied a step are not recorded (no norm exists yet). Calling the raw optimizer
directly (`opt.optimizer.step()`) bypasses `on_before_optimizer_step`: the norms are then NaN.

What reaches the logger (every logger in `trainer.loggers`, rank 0, at the step Lightning uses for the
module's own `self.log` values): at each of the Monitor's diagnoses (every `diagnose_every` steps), at the
end of training when the last step was not one, and, with `log_every_n_steps`, every that many steps,
`ganlint/label_index` (the label's index in ganlint.vocabulary.LABELS, their priority order:
0 diverged, 1 vanishing-gradient, 2 stalled, 3 oscillating, 4 collapsed, 5 still-weak, 6 stable,
7 inconclusive; absent before the first diagnosis), `ganlint/confidence` (at diagnoses) and the last
recorded step's finite values of `ganlint/{loss_d, loss_g, d_real, d_fake, grad_norm_g, grad_norm_d,
update_ratio_g, update_ratio_d, fake_std}`. To the loggers ganlint.integrations.sinks knows
(TensorBoardLogger, WandbLogger, MLFlowLogger: their own runs, flushed and never closed) each diagnosis
also goes as text: `ganlint/label` (the label itself), `ganlint/summary`, the findings table
(`ganlint/findings`) and, once, the legend of label_index (`ganlint/legend`); label_index and confidence
then come with it, once per diagnosis. Other loggers (a CSVLogger, ...) get the numbers alone, through
their log_metrics, as before.

A label change is said once (rank 0, the "ganlint" logger), and a label in `stop_on` sets
`trainer.should_stop`. Under DDP every rank sees the same label (the Monitor broadcasts rank 0's
decision), so all ranks stop together. While the training loop draws Lightning's progress bar, the
"ganlint" logger's own lines (the callback's, the Monitor's and the loggers' warnings: `ganlint: ...`,
otherwise written to stderr where the program routes no logging) are printed through the bar's `print`
(as LightningModule.print does: above a tqdm or rich bar, not through it), on stderr; where the program
routes logging itself (a handler of its own, logging.basicConfig), its handlers get them, as before.

Never kills training: errors inside the Monitor disable it with one message on stderr, as in a plain
loop; the callback's own errors (logging, saving) do the same; `strict=True` raises instead. Only a
misconfiguration found at `on_fit_start` (a missing G or D, optimizers that cannot be matched) raises,
before the first step.
"""

from __future__ import annotations

import logging
import sys
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.hooks import RemovableHandle

from ganlint.errors import ConfigError
from ganlint.logs import LOGGER, handled_elsewhere, line
from ganlint.training.monitor import DEFAULTS, Monitor
from ganlint.vocabulary import LABELS

log = logging.getLogger(__name__)

try:
    import lightning.pytorch as pl
except ImportError as e:  # the optional extra
    raise ImportError('ganlint.integrations.lightning needs PyTorch Lightning: pip install "ganlint[lightning]"') from e

STEP_KEYS = ("loss_d", "loss_g", "d_real", "d_fake", "fake", "real")  # Monitor.step's arguments
LOGGED = ("loss_d", "loss_g", "d_real", "d_fake", "grad_norm_g", "grad_norm_d", "update_ratio_g", "update_ratio_d",
          "fake_std")
MONITOR_OPTIONS = ("real", "num_modes", "g_loss", "on_label", "strict", *DEFAULTS)

ModuleSpec = str | torch.nn.Module | Callable[[Any], torch.nn.Module]


class _PreStepAtCallback:
    """What the Monitor uses of an optimizer (param_groups and the two step hooks), with the pre-step hook
    run from on_before_optimizer_step instead of torch's optimizer.step() (see the module docstring)."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer
        self._pre: OrderedDict[int, Callable[..., None]] = OrderedDict()  # RemovableHandle needs a weakref-able dict

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return self.optimizer.param_groups

    def register_step_pre_hook(self, hook: Callable[..., None]) -> RemovableHandle:
        handle = RemovableHandle(self._pre)
        self._pre[handle.id] = hook
        return handle

    def register_step_post_hook(self, hook: Callable[..., None]) -> RemovableHandle:
        return self.optimizer.register_step_post_hook(hook)

    def before_step(self) -> None:
        for hook in list(self._pre.values()):
            hook(self.optimizer, (), {})


class _AboveTheBar(logging.Handler):
    """The "ganlint" logger's lines of last resort (ganlint.logs: `ganlint: ...` where no other handler
    takes a record) printed through Lightning's progress bar while it draws, so they do not break it.
    Installed on rank 0 only, for the training loop only: a tqdm bar that is closed drops what it is given
    to print (TQDMProgressBar.print writes to an active bar or nowhere)."""

    def __init__(self, bar: Any) -> None:
        super().__init__()
        self.bar = bar

    def emit(self, record: logging.LogRecord) -> None:
        if handled_elsewhere(record, self):  # a handler of the program's own takes the record instead
            return
        try:
            self.bar.print(line(record).rstrip("\n"), file=sys.stderr)
        except Exception:
            self.handleError(record)


class GanlintCallback(pl.Callback):
    """Watch a Lightning GAN with ganlint.Monitor; see the module docstring for the convention.

    Args:
        generator, discriminator: G and D: attribute names on the LightningModule, the modules
            themselves, or callables `pl_module -> module`.
        outputs: what D returns (ganlint.vocabulary.D_RETURNS, as Monitor): "logit", "probability",
            "ls-score" or "critic"; the plurals "logits" and "probabilities" also work.
        stop_on: labels that stop training (`trainer.should_stop = True`).
        log_every_n_steps: also log the label and statistics every this many steps (a multiple of
            `flush_every`: values reach the host only at a flush); None logs at the diagnoses only.
            Each log reads the Monitor's telemetry table (~80 ms for a full 20,000-step window).
        save_to: a folder (or .csv/.parquet file) the telemetry is written to at the end of training,
            for `ganlint diagnose` and `ganlint report`.
        **monitor_options: passed to ganlint.Monitor: real, num_modes, g_loss, on_label, strict and the schedule
            (flush_every, eval_every, diagnose_every, ratio_every, window, min_steps).

    After fit, `callback.monitor` holds the Monitor (its telemetry, `diagnose()`, `status`).
    """

    def __init__(self, *, generator: ModuleSpec = "generator", discriminator: ModuleSpec = "discriminator",
                 outputs: str = "logit", stop_on: Iterable[str] = ("diverged",), log_every_n_steps: int | None = None,
                 save_to: str | Path | None = None, **monitor_options: Any) -> None:
        unknown = set(monitor_options) - set(MONITOR_OPTIONS)
        if unknown:
            raise ConfigError(f"GanlintCallback: unknown option(s) {', '.join(sorted(unknown))}; "
                              f"Monitor options: {', '.join(MONITOR_OPTIONS)}")
        flush = monitor_options.get("flush_every", DEFAULTS["flush_every"])
        if log_every_n_steps is not None and not (
                isinstance(log_every_n_steps, int) and isinstance(flush, int) and flush >= 1
                and log_every_n_steps >= 1 and log_every_n_steps % flush == 0):
            raise ConfigError(f"log_every_n_steps must be a positive multiple of flush_every ({flush}), got "
                              f"{log_every_n_steps!r}: statistics reach the host only at a flush (for logs every "
                              f"N steps pass flush_every=N too: one host sync per N steps)")
        self.generator, self.discriminator, self.outputs = generator, discriminator, outputs
        self.stop_on = (stop_on,) if isinstance(stop_on, str) else tuple(stop_on)
        self.log_every_n_steps, self.save_to = log_every_n_steps, save_to
        self.strict = bool(monitor_options.get("strict", False))
        self._user_on_label = monitor_options.pop("on_label", None)
        self.monitor_options = monitor_options
        self.monitor: Monitor | None = None
        self._views: dict[int, _PreStepAtCallback] = {}
        self._handles: list[RemovableHandle] = []
        self._unstepped: set[int] = set()
        self._logged: Any = None  # the last diagnosis logged
        self._said: set[str] = set()
        self._disabled = False
        self._sinks: Any = None  # ganlint.integrations.sinks.Loggers over the trainer's loggers it knows
        self._sink_loggers: list[Any] = []  # those loggers
        self._plain_loggers: list[Any] = []  # the others (CSVLogger, ...): log_metrics alone
        self._step = 0  # Lightning's logging step at the last batch
        self._above_bar: _AboveTheBar | None = None

    # -- setup: G, D and their optimizers -----------------------------------------------------------------
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._close()
        G = _module(pl_module, self.generator, "generator")
        D = _module(pl_module, self.discriminator, "discriminator")
        opts = match_optimizers(trainer.optimizers, G, D)
        self._views = {}
        if getattr(trainer.precision_plugin, "scaler", None) is None:  # see the module docstring
            self._views = {id(o): _PreStepAtCallback(o) for o in opts.values() if o is not None}
        opt_g, opt_d = (self._views.get(id(opts[s]), opts[s]) for s in ("g", "d"))
        self.monitor = Monitor(G, D, opt_g, opt_d, outputs=self.outputs, stop_on=self.stop_on,
                               on_label=self._on_label, **self.monitor_options)
        self._logged, self._said, self._disabled = None, set(), False
        self._open_loggers(trainer)
        # No row until each optimizer has applied a step: before that its gradient norm is NaN, which the
        # engine reads as divergence (AMP's GradScaler skips the first steps while it calibrates its scale).
        self._unstepped = {id(o) for o in opts.values() if o is not None}
        self._handles = [o.register_step_post_hook(self._stepped) for o in opts.values() if o is not None]

    def _stepped(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        self._unstepped.discard(id(optimizer))

    def _open_loggers(self, trainer: pl.Trainer) -> None:
        """Split the trainer's loggers: those ganlint.integrations.sinks writes (the label as text, the
        findings) and the others (CSVLogger, a logger of the user's own class), skipped there quietly."""
        from ganlint.integrations.sinks import Loggers

        self._sinks, self._sink_loggers, self._plain_loggers = None, [], list(trainer.loggers)
        if not trainer.is_global_zero or not trainer.loggers:
            return  # on other ranks Lightning's loggers write nothing
        sinks = []
        self._plain_loggers = []
        for logger in trainer.loggers:
            try:
                opened = Loggers.open([logger], run_name="ganlint")  # theirs: flushed, never closed
            except ConfigError:  # not a kind the sinks know: its log_metrics, as before
                opened = None
            except Exception as e:  # its experiment failed to start: Lightning will say so itself
                self._say(f"the label is not sent as text to {type(logger).__name__} ({type(e).__name__}: {e})")
                opened = None
            if opened:
                sinks.extend(opened.sinks)
                self._sink_loggers.append(logger)
            else:
                self._plain_loggers.append(logger)
        self._sinks = Loggers(sinks) if sinks else None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._remove_bar_printer()
        bar = trainer.progress_bar_callback
        if trainer.is_global_zero and bar is not None and bar.is_enabled:
            self._above_bar = _AboveTheBar(bar)
            logging.getLogger(LOGGER).addHandler(self._above_bar)

    def _remove_bar_printer(self) -> None:
        """Back to the "ganlint" logger's own way (the bar is closed, or training failed)."""
        if self._above_bar is not None:
            logging.getLogger(LOGGER).removeHandler(self._above_bar)
            self._above_bar = None

    # -- per step -----------------------------------------------------------------------------------------
    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Any) -> None:
        # Lightning passes the raw torch optimizer here; unwrap a LightningOptimizer all the same.
        view = self._views.get(id(getattr(optimizer, "optimizer", optimizer)))
        if view is not None and self._active():
            view.before_step()  # the Monitor's probe: foreach norms on the device, no host sync

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if not self._active():
            return
        mon = self.monitor
        if self._unstepped:
            self._say("batches before G's and D's optimizers have each applied a step are not recorded (no "
                      "gradient norm exists yet; AMP's GradScaler skips the first steps while it calibrates its scale)")
            return
        values = {k: outputs[k] for k in STEP_KEYS if k in outputs} if isinstance(outputs, Mapping) else {}
        if not values:
            self._say("training_step returned none of " + ", ".join(STEP_KEYS) + ": only gradient norms and "
                      "update ratios are recorded (return them in a dict: see ganlint.integrations.lightning)")
        mon.step(**values)  # never raises unless strict: the Monitor disables itself instead
        if mon.disabled:
            return
        try:
            self._log(trainer)
        except Exception as e:
            self._fail(e)
        if mon.should_stop and not trainer.should_stop:
            if trainer.is_global_zero:
                log.info("stopping training at step %d: the run is %s (stop_on=%s)", mon.n, mon.status, list(self.stop_on))
            trainer.should_stop = True

    def _log(self, trainer: pl.Trainer) -> None:
        mon = self.monitor
        d = mon.last_diagnosis  # a new object at each diagnosis; None on ranks other than 0
        new = d is not None and d is not self._logged
        every = self.log_every_n_steps is not None and mon.n % self.log_every_n_steps == 0
        # The step Lightning logs the module's own self.log values at (batches, not optimizer steps: with
        # two optimizers global_step runs twice as fast), so the curves line up.
        self._step = getattr(trainer.fit_loop.epoch_loop, "_batches_that_stepped", trainer.global_step)
        if not (new or every) or not trainer.is_global_zero or not trainer.loggers:
            return
        self._logged = d
        # Right after a flush (a diagnosis, or a multiple of flush_every) nothing is pending on the device:
        # reading the table costs no host sync and no DDP collective, so rank 0 may read it alone.
        row = mon.telemetry.iloc[-1]
        metrics = {f"ganlint/{c}": float(row[c]) for c in LOGGED if np.isfinite(row[c])}
        self._send(d if new else None, mon.status, metrics, self._step)

    def _send(self, d: Any, label: str | None, metrics: dict[str, float], step: int) -> None:
        """The statistics, and the label: as text with its findings (and label_index, confidence) where
        the sinks write it (`d`: a new diagnosis), as label_index (and confidence) through log_metrics
        elsewhere; never both to one logger at one step."""
        label_metrics = {"ganlint/label_index": float(LABELS.index(label))} if label in LABELS else {}
        if d is not None:
            label_metrics["ganlint/confidence"] = float(d.confidence)
        for logger in self._plain_loggers:
            logger.log_metrics({**metrics, **label_metrics}, step=step)
        for logger in self._sink_loggers:
            shown = metrics if d is not None else {**metrics, **label_metrics}  # d: label_index comes with it
            if shown:
                logger.log_metrics(shown, step=step)
        if d is not None and self._sinks:
            self._sinks.diagnosis(step, d)  # a failing sink is switched off there, with one warning

    def _on_label(self, label: str, onset_step: int | None, diagnosis: Any) -> None:
        # The Monitor calls this on rank 0 only, when the label changes.
        onset = f", onset step {onset_step}" if onset_step is not None else ""
        log.info("step %d: the run is %s%s: %s", self.monitor.n, label, onset, diagnosis.summary)
        if self._user_on_label is not None:
            self._user_on_label(label, onset_step, diagnosis)

    # -- the end ------------------------------------------------------------------------------------------
    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._remove_bar_printer()  # the bar closes now (or has closed): what follows goes to the logger
        self._final_diagnosis(trainer)
        self._save(trainer)

    def _final_diagnosis(self, trainer: pl.Trainer) -> None:
        """The label of the whole run for the loggers, when the last batch was not a diagnosis already (a
        run shorter than diagnose_every, or one that ends between two): one engine pass at the end."""
        mon = self.monitor
        if (not self._active() or not trainer.loggers or mon.n < mon.cfg["min_steps"]
                or mon.n % mon.cfg["diagnose_every"] == 0):  # the same on every rank: diagnose() flushes
            return
        try:
            d = mon.diagnose()  # every rank: under DDP its flush is a collective
            if trainer.is_global_zero:
                self._send(d, d.label, {}, self._step)
        except Exception as e:
            self._fail(e)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        # Keep what was recorded for `ganlint diagnose`. Not under DDP: saving flushes with a collective
        # that ranks which did not fail would never join.
        self._remove_bar_printer()
        if trainer.world_size == 1:
            self._save(trainer)
        self._close()
        self._close_loggers()

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._remove_bar_printer()
        self._close()  # the telemetry stays readable on self.monitor
        self._close_loggers()

    def _close_loggers(self) -> None:
        """The trainer's loggers are Lightning's, and the user's: flushed here, never closed."""
        if self._sinks is not None:
            self._sinks.close()
            self._sinks = None

    def _save(self, trainer: pl.Trainer) -> None:
        if self.save_to is None or not self._active():
            return
        try:
            path = self.monitor.save(self.save_to)  # every rank calls it; only rank 0 writes
            if trainer.is_global_zero:
                log.info("telemetry saved to %s", path)
        except Exception as e:
            self._fail(e)

    # -- failure policy: the Monitor's -------------------------------------------------------------------
    def _active(self) -> bool:
        return self.monitor is not None and not self.monitor.disabled and not self._disabled

    def _say(self, msg: str) -> None:
        if msg not in self._said:
            self._said.add(msg)
            log.warning("GanlintCallback: %s", msg)

    def _fail(self, e: BaseException) -> None:
        if self.strict:
            raise e
        if not self._disabled:
            self._disabled = True
            self._close()
            log.warning("GanlintCallback: disabled after an error (%s: %s); training continues unwatched (pass "
                        "strict=True to raise instead)", type(e).__name__, e)

    def _close(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []
        if self.monitor is not None:
            self.monitor.close()


def _module(pl_module: pl.LightningModule, spec: ModuleSpec, what: str) -> torch.nn.Module:
    if isinstance(spec, torch.nn.Module):
        module = spec
    elif isinstance(spec, str):
        module = getattr(pl_module, spec, None)
    elif callable(spec):
        module = spec(pl_module)
    else:
        module = None
    if not isinstance(module, torch.nn.Module):
        children = ", ".join(name for name, _ in pl_module.named_children()) or "none"
        raise ConfigError(f"GanlintCallback({what}={spec!r}): no such module on {type(pl_module).__name__} "
                          f"(its submodules: {children}); pass the attribute name, the module, or a callable "
                          f"pl_module -> module")
    return module


def match_optimizers(optimizers: list[torch.optim.Optimizer], generator: torch.nn.Module,
                     discriminator: torch.nn.Module) -> dict[str, torch.optim.Optimizer | None]:
    """{"g": G's optimizer, "d": D's} from the optimizers' parameters, whatever their order. An optimizer
    that holds parameters of neither (an encoder's, say) is ignored; one that holds both, or two for the
    same network, is an error: the Monitor reads one optimizer per network."""
    owners = {"g": {id(p) for p in generator.parameters()}, "d": {id(p) for p in discriminator.parameters()}}
    found: dict[str, list[int]] = {"g": [], "d": []}
    for i, opt in enumerate(optimizers):
        held = {id(p) for group in opt.param_groups for p in group["params"]}
        sides = [s for s, ids in owners.items() if held & ids]
        if len(sides) == 2:
            raise ConfigError(f"optimizer {i} ({type(opt).__name__}) holds parameters of both G and D: ganlint reads "
                              "one optimizer per network (use manual optimisation and return one optimizer for G "
                              "and one for D from configure_optimizers)")
        if sides:
            found[sides[0]].append(i)
    for side, idx in found.items():
        if len(idx) > 1:
            raise ConfigError(f"optimizers {idx} all hold parameters of {side.upper()}: ganlint reads one "
                              "optimizer per network")
    if not found["g"] and not found["d"]:
        raise ConfigError(f"none of the trainer's {len(optimizers)} optimizer(s) holds parameters of G or D: "
                          "check the generator= and discriminator= arguments of GanlintCallback")
    return {s: optimizers[idx[0]] if idx else None for s, idx in found.items()}


__all__ = ["GanlintCallback", "match_optimizers"]
