"""The argument parser of the `ganlint` command: every subcommand, flag and help text."""

from __future__ import annotations

import argparse
import types
import typing

from ganlint.check.options import DEFAULT_FAIL_ON, GROUPS, OPTION, OPTIONS  # noqa: F401 - DEFAULT_FAIL_ON: read here by tests/test_cli.py
from ganlint.cli import commands
from ganlint.cli.codes import EXIT_USAGE
from ganlint.suite.scenarios import SUITES
from ganlint.vocabulary import (
    D_LOSS_REDUCTIONS,
    D_OUTPUTS,
    G_LOSS_ALIASES,
    G_LOSSES,
    INCONCLUSIVE,
    LABELS,
    PASSING_LABEL,
    g_loss_choices,
)

# --fail-on's help, shared by diagnose and check: ganlint.check.options' row, with its [default: ...].
FAIL_ON_HELP = OPTION["fail_on"].help_text()
# --format of the commands that print text or JSON; argparse fills in the flag's own default.
FORMAT_HELP = "result format on stdout [default: %(default)s]"


def _field_type(cls: type, name: str) -> type:
    """The scalar type behind a config field's annotation ('int | None' -> int)."""
    ann = typing.get_type_hints(cls)[name]
    if isinstance(ann, types.UnionType) or typing.get_origin(ann) is typing.Union:
        ann = next(a for a in typing.get_args(ann) if a is not type(None))
    return ann


def _add_config_flags(p: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field, with its default and help from the config (defaults in one place)."""
    # All light (names, not objects: the registries import torch only when an entry is built), so that
    # `ganlint --help` and every command that trains nothing start without torch (tests/test_architecture.py).
    from ganlint.data import DATASETS
    from ganlint.nets import MODELS
    from ganlint.training.config import TrainConfig, config_fields, default_text
    from ganlint.vocabulary import LOSS_DESCRIPTIONS

    valid = {"dataset": DATASETS.names(), "loss": list(LOSS_DESCRIPTIONS), "model": ["auto", *MODELS.names()]}
    for f in config_fields():
        flag = "--" + f.name.replace("_", "-")
        help_ = f.metadata["help"]
        if f.name in valid:
            help_ += f" ({', '.join(valid[f.name])})"
        # the value, or for None the rule resolve() applies, from the config module's tables
        help_ += f" [default: {default_text(f)}]"
        typ = _field_type(TrainConfig, f.name)
        if typ is bool:
            # The default is set after the flag: Python 3.10's BooleanOptionalAction appends its own
            # "(default: False)" to a help whose flag is given a default.
            p.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, help=help_)
            p.set_defaults(**{f.name: f.default})
        else:
            p.add_argument(flag, dest=f.name, type=typ, default=f.default, metavar=f.name.upper(), help=help_)


def _add_log_to(p: argparse.ArgumentParser, what: str) -> None:
    """--log-to, the same on `train` and `run` (the forms are ganlint.integrations.sinks.parse_target's)."""
    p.add_argument("--log-to", dest="log_to", action="append", default=[], metavar="LOGGER",
                   help=f"also write {what} to a logger: tensorboard:DIR, wandb[:PROJECT] or mlflow[:TRACKING_URI] "
                   "(repeatable; each needs its library: pip install 'ganlint[tensorboard]', '[wandb]' or '[mlflow]')")


def _add_check_flags(p: argparse.ArgumentParser) -> None:
    """One flag per row of ganlint.check.options.OPTIONS that has one, in its help group; None is "not given"
    (the library's default, or [tool.ganlint]'s, applies), so no argparse default."""
    groups = {name: p.add_argument_group(name) for name in GROUPS}
    for row in sorted(OPTIONS, key=lambda r: GROUPS.index(r.group)):  # the usage line lists them group by group
        if not row.flag:
            continue
        if row.type is bool:
            groups[row.group].add_argument(row.cli_flag, action="store_true", help=row.help_text())
            continue
        kw: dict = {"type": row.type} if row.type is int else {}
        if row.choices is not None:
            kw["choices"] = row.choices
        if row.metavar is not None:
            kw["metavar"] = row.metavar
        groups[row.group].add_argument(row.cli_flag, help=row.help_text(), **kw)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (plus where to look), not the whole usage block, and an option
    must be spelled in full: the top parser and every subparser (sub.add_parser builds them with this class)."""

    def __init__(self, *args: typing.Any, **kwargs: typing.Any) -> None:
        # argparse takes a unique prefix for the option (`--los hinge` as `--loss hinge`): a typo then sets a
        # flag nobody named, and adding an option later silently changes what an old command line means.
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> typing.NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class _CommandParser(_Parser):
    """A subcommand's parser: it refuses what it does not know itself, so the one line names the command and
    its --help (argparse would hand the leftovers to the top parser: "ganlint: error", "see 'ganlint --help'").
    Nothing follows a command on the top parser's line, so a leftover is always an error."""

    def parse_known_args(self, args: typing.Any = None, namespace: typing.Any = None) -> typing.Any:
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras


def build_parser() -> argparse.ArgumentParser:
    from ganlint import __version__

    parser = _Parser(
        prog="ganlint",
        description="Health checks and a test suite for GAN training.",
    )
    parser.add_argument("--version", action="version", version=f"ganlint {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_CommandParser)

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
    p.add_argument("--format", choices=("text", "json"), default="text", help=FORMAT_HELP)
    _add_log_to(p, "the telemetry as it is recorded, the sample pictures and the run's label and findings")
    p.set_defaults(func=commands.cmd_train)

    p = sub.add_parser("run", help="run the scenario suite: train, diagnose and compare with each scenario's expected label",
                       description="Train and diagnose each scenario for each seed, print expected vs found and per-label "
                       "precision/recall, write the tables. Exit code 1 when a scenario's label differs from its "
                       "expectation in a majority of its seeds.")
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="scenario files or folders, which the report names by their files [default: the "
                   "scenarios/ folder, which the report names by --suite]")
    p.add_argument("--suite", choices=SUITES, default=None,
                   help="run only the scenarios in this suite (each scenario file lists its suites), of the PATHs "
                   f"given too [default: {commands.RUN_SUITE}]")
    p.add_argument("--seeds", type=int, default=None, help=f"seeds per scenario: 0..N-1 [default: {commands.RUN_SEEDS}]")
    p.add_argument("--device", default=None, help=f"auto, cpu, cuda or cuda:N [default: {commands.RUN_DEVICE}]")
    p.add_argument("--jobs", type=int, default=None, help="worker processes [default: CPU cores on CPU, 1 on CUDA]")
    p.add_argument("--batched", action="store_true",
                   help="train a scenario's seeds together as one batched model where ganlint.training.batched supports its "
                   "config (mlp, batch norm included; no spectral norm, penalties, minibatch-std or packing); same "
                   "distribution of outcomes, other random numbers than sequential runs")
    p.add_argument("--fast", action="store_true",
                   help="the trainer's fast path in every sequential run: fused Adam and a whole-step CUDA graph on "
                   "CUDA, nothing on a CPU (see 'ganlint train --help')")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="where the runs train: local worker processes, or Ray tasks on a cluster (pip install "
                   "'ganlint[ray]'); allowed with --resume, whichever executor started the suite [default: local]")
    p.add_argument("--address", default=None,
                   help="with --executor ray: the cluster to use, host:port or ray://host:port "
                   "[default: $RAY_ADDRESS, else a local Ray instance with --jobs CPUs]")
    p.add_argument("--cpus-per-run", type=float, default=None,
                   help="with --executor ray: CPUs each run reserves; torch uses that many threads [default: 1]")
    p.add_argument("--gpus-per-run", type=float, default=None,
                   help="with --executor ray: the share of a GPU each run reserves, e.g. 0.25 for four runs per "
                   "GPU; needs --device auto or cuda [default: 0]")
    p.add_argument("--retries", type=int, default=None,
                   help="with --executor ray: attempts after the first for a run whose task fails or whose node "
                   "dies; then it is an error row [default: 2]")
    p.add_argument("--name", default=None, help="report name: the output folder is reports/NAME [default: "
                   f"<suite>-<time>; with PATHs {commands.RUN_FILES_NAME}-<time>]")
    p.add_argument("--out", default=None, help="output folder (instead of reports/NAME)")
    p.add_argument("--resume", default=None, metavar="DIR",
                   help="finish an interrupted suite in DIR: run only the scenario-seed pairs without a result")
    p.add_argument("--no-report", dest="report", action="store_false", help="write the tables only, no plots or pages")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument("--format", choices=("text", "json"), default="text", help=FORMAT_HELP)
    _add_log_to(p, "each run as it finishes (one logger run per scenario and seed: its telemetry, pictures, "
                "label and findings)")
    p.set_defaults(func=commands.cmd_run)

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
    # None: [tool.ganlint]'s format, else check's table's default (the same --format as ganlint check's)
    p.add_argument("--format", choices=OPTION["format"].choices, default=None, help=OPTION["format"].help_text())
    p.add_argument("--fail-on", metavar="SPEC", default=None, help=FAIL_ON_HELP)
    p.add_argument("--d-output", choices=D_OUTPUTS, default=None,
                   help="how d_real/d_fake read (a D returning logits is recorded as their sigmoid: probability) "
                   "[default: from the run's config, else inferred from their range]")
    p.add_argument("--num-modes", type=int, default=None,
                   help="known modes of the data [default: from the run's config, else unknown]")
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
    p.set_defaults(func=commands.cmd_diagnose)

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
    p.add_argument("--format", choices=("text", "json"), default="text", help=FORMAT_HELP)
    p.set_defaults(func=commands.cmd_report)

    p = sub.add_parser("check", help="check a GAN checkpoint of your own: samples, D's outputs, gradients (CI gate)",
                       description="Load a checkpoint safely (ganlint run folder; state_dict .pt/.pth/.safetensors with "
                       "--generator/--discriminator factories; torch.export .pt2; TorchScript), draw samples from G, "
                       "and judge them (and D) with the engine's checks. Exit codes: 0 healthy, 1 the --fail-on gate "
                       f"fails, 2 usage, load or internal error, 3 {INCONCLUSIVE} (nothing decisive could be judged, "
                       "or nothing could be checked at all). Defaults can be set in "
                       "[tool.ganlint] of pyproject.toml; the command line wins.")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="a run folder or a checkpoint file")
    _add_check_flags(p)
    p.set_defaults(func=commands.cmd_check)

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
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N [default: %(default)s]")
    p.add_argument("--batch-size", type=int, default=64, help="batch size [default: %(default)s]")
    p.add_argument("--steps", type=int, default=30, help="steps per timed round [default: %(default)s]")
    p.add_argument("--rounds", type=int, default=3, help="timed rounds (the median is reported) [default: %(default)s]")
    p.add_argument("--format", choices=("text", "json"), default="text", help=FORMAT_HELP)
    p.set_defaults(func=commands.cmd_bench)

    p = sub.add_parser("list", help="list the datasets, losses and models",
                       description="List the names ganlint accepts for --dataset, --loss and --model.")
    p.add_argument("--format", choices=("text", "json"), default="text", help=FORMAT_HELP)
    p.set_defaults(func=commands.cmd_list)
    return parser
