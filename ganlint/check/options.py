"""The options of `ganlint check`, in one table: each row is one option's name, type, default, choices,
help, and where it may be given. The table feeds

    the command line     ganlint.cli.parser: one flag per row with a `flag` (help ending in its [default: X])
    the pytest plugin    ganlint.integrations.pytest_plugin: a --ganlint-NAME option per row with `pytest`
    [tool.ganlint]       ganlint.gating.settings.KEYS: one key per row with `toml`, checked by the row's type
    the library          CheckOptions, the values check() runs with (one field per row with `api`)

and spells each option its own way in messages (spell_flag, spell_pytest): library errors name the
parameter (ganlint.loaders.errors.naming), the shells re-spell it as their own option.

Nothing heavy is imported here (no torch, no pandas): the pytest plugin and the settings reader load it at
start-up.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ganlint.training.config import DATA_ROOT_DEFAULT, MAX_SEED
from ganlint.vocabulary import (
    BN_MODES,
    D_RETURNS,
    FAILURE_LABELS,
    G_LOSS_ALIASES,
    G_LOSSES,
    INCONCLUSIVE,
    g_loss_choices,
)

DEFAULT_SAMPLES = 10_000
# PRDC's k-NN balls need more than k = 5 points; 100 is the least that gives a share worth reading.
MIN_SAMPLES = 100
# 200,000 MNIST-sized samples are ~600 MB of float32: beyond that a typo (an extra zero) is likelier
# than a need, and the k-NN measures would take minutes.
MAX_SAMPLES = 200_000

# --fail-on's help, shared by diagnose and check (the items are ganlint.gating.policy's; the default is its
# DEFAULT_POLICY.to_spec(), which tests/test_cli.py compares with this text).
DEFAULT_FAIL_ON = f"any,{INCONCLUSIVE},error"
FAIL_ON_HELP = (f"what fails the gate, comma-separated: failure labels ({', '.join(FAILURE_LABELS)}) or 'any' (all of "
                f"them) exit 1; '{INCONCLUSIVE}' exits 3 when nothing decisive could be judged (leave it out to let "
                f"such a run pass); 'warn' or 'fail' (also failing on those findings), 'error' (crashed checks), "
                f"'none' (report only)")

# The help's groups, in the order `ganlint check --help` shows them.
LOADING, CHECKS, GATING = "loading", "checks", "gating and output"
GROUPS = (LOADING, CHECKS, GATING)


@dataclass(frozen=True)
class Option:
    """One option of `ganlint check`.

    `default` is what the library uses when the option is not given; `shown_default` is the help's
    "[default: ...]" where that is not the plain value (a rule, not a constant), "" for none shown.
    `form` names how a [tool.ganlint] value is checked beyond its type ("entry_point": "module:callable";
    "g_loss": a G loss name or alias; "fail_on": a --fail-on spec or list).
    """

    name: str
    help: str
    type: type = str
    default: Any = None
    choices: tuple[str, ...] | None = None
    range: tuple[int, int] | None = None  # (lowest, highest) of an integer, for the API, the flag and the key alike
    metavar: str | None = None
    group: str = CHECKS
    shown_default: str | None = None
    flag: bool = True  # a flag of `ganlint check`
    api: bool = True  # a field of CheckOptions (a keyword of check() and of the ganlint_check fixture)
    toml: bool = False  # a key of [tool.ganlint]
    pytest: str | None = None  # the --ganlint-NAME option's help, when the plugin has one
    form: str | None = None

    @property
    def cli_flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def pytest_flag(self) -> str:
        return "--ganlint-" + self.name.replace("_", "-")

    @property
    def pytest_dest(self) -> str:
        return "ganlint_" + self.name

    def default_text(self) -> str:
        """The help's " [default: X]" ("" when none is shown)."""
        shown = self.shown_default if self.shown_default is not None else (
            "" if self.default is None or self.type is bool else str(self.default))
        return f" [default: {shown}]" if shown else ""

    def help_text(self, text: str | None = None) -> str:
        return (text or self.help) + self.default_text()


# In the order [tool.ganlint]'s valid keys are listed (the gate first); the help groups them by `group`.
OPTIONS: tuple[Option, ...] = (
    Option("fail_on", FAIL_ON_HELP, metavar="SPEC", group=GATING, shown_default=DEFAULT_FAIL_ON, toml=True,
           form="fail_on", pytest="what makes a check unhealthy, as ganlint check --fail-on (see its --help)"),
    Option("format", "result format on stdout", default="text", choices=("text", "json", "junit", "github"),
           group=GATING, api=False, toml=True),  # == ganlint.gating.formats.FORMATS (asserted there)
    Option("samples", "samples drawn from G", type=int, default=DEFAULT_SAMPLES, range=(MIN_SAMPLES, MAX_SAMPLES),
           shown_default=str(DEFAULT_SAMPLES), toml=True, pytest="samples drawn from G per check"),
    # as TrainConfig's seed: numpy's generators take seeds below 2**63
    Option("seed", "seed for the latent samples", type=int, default=0, range=(0, MAX_SEED), toml=True,
           pytest="seed of the latent samples"),
    Option("data", "real data: a dataset name (mnist, ring8, ...), a folder of images, or an .npy/.pt tensor of "
           "samples", metavar="NAME_OR_PATH", shown_default="a run folder's own dataset, else none", toml=True,
           pytest="real data for the checks: a dataset name, an image folder or a tensor file"),
    Option("data_root", "MNIST folder for --data mnist", metavar="DIR", shown_default=DATA_ROOT_DEFAULT),
    Option("history", "the run's history: a telemetry table, a training log (CSV/JSONL, Lightning metrics.csv) or a "
           "folder of checkpoints; needed to judge oscillation and stalling", metavar="PATH"),
    Option("d_output", "what D returns: logit (BCE with logits), probability (a sigmoid D), ls-score (least-squares "
           "GAN) or critic (Wasserstein, hinge); ls-score and critic scores have no saturation point",
           choices=D_RETURNS, shown_default="a ganlint run's own; critic for --g-loss wgan, ls-score for lsgan; else "
           "probability when all outputs lie in [0, 1], else logit"),
    Option("g_loss", f"the loss G trained with: {g_loss_choices()}; a saturated D starves G only under the "
           "saturating (minimax) loss", choices=(*G_LOSSES, *G_LOSS_ALIASES), metavar="LOSS",
           shown_default="a ganlint run's config; else unknown, and a saturated D is a warning naming both readings",
           toml=True, form="g_loss"),
    Option("bn_mode", "BatchNorm's mode when sampling G and reading D: eval (running statistics), train (batch "
           "statistics, what the training loop saw), auto (reads both when G or D has BatchNorm and judges in "
           "train mode when they disagree strongly)", default="auto", choices=BN_MODES, toml=True),
    Option("device", "cpu, cuda or cuda:N", default="cpu", toml=True, pytest="device for the checks"),
    Option("generator", "factory that builds G (for state_dict files)", metavar="MODULE:CALLABLE", group=LOADING,
           toml=True, form="entry_point"),
    Option("discriminator", "factory that builds D (for state_dict files)", metavar="MODULE:CALLABLE", group=LOADING,
           toml=True, form="entry_point"),
    Option("kwargs", "keyword arguments for the factories, as a JSON object", type=dict, metavar="JSON",
           group=LOADING, toml=True),
    Option("generator_kwargs", "keyword arguments for G's factory only", type=dict, group=LOADING, flag=False),
    Option("discriminator_kwargs", "keyword arguments for D's factory only", type=dict, group=LOADING, flag=False),
    Option("g_key", "key of G's state_dict in the checkpoint", group=LOADING,
           shown_default="recognised by name: generator, G, netG, ..."),
    Option("d_key", "key of D's state_dict in the checkpoint", group=LOADING,
           shown_default="recognised by name: discriminator, D, netD, ..."),
    Option("discriminator_file", "D in a file of its own (.pt2, TorchScript or state_dict)", metavar="PATH",
           group=LOADING),
    Option("trust_checkpoint", "allow unpickling arbitrary objects: this runs code from the file; only for files "
           "you made", type=bool, default=False, group=LOADING),
    # as TrainConfig's z_dim; a typo beyond it would allocate samples x z_dim floats
    Option("z_dim", "G's latent size", type=int, range=(1, 2**16), group=LOADING, toml=True,
           shown_default="from the checkpoint, else G's first layer"),
    Option("z_dist", "latent distribution", choices=("normal", "uniform"),
           shown_default="from the checkpoint, else normal", group=LOADING, toml=True),
    # a conditional G has at least two classes to choose from
    Option("num_classes", "classes of a conditional G, called as G(z, labels)", type=int, range=(2, 2**16),
           group=LOADING, toml=True,
           shown_default="from the checkpoint, else G's first Embedding, else none: G is called as G(z)"),
    Option("thresholds", "the engine's thresholds (ganlint.diagnostics.thresholds.Thresholds)", type=object,
           flag=False, toml=False),  # [tool.ganlint.thresholds] is a table of its own (gating.settings)
    Option("config", "read [tool.ganlint] from this file", metavar="PYPROJECT", group=GATING,
           shown_default="the nearest pyproject.toml", api=False),
    Option("no_config", "ignore [tool.ganlint] settings", type=bool, default=False, group=GATING, api=False),
)
OPTION = {o.name: o for o in OPTIONS}
# The integer options' ranges, (lowest, highest), for the API, the command line and [tool.ganlint] alike.
OPTION_RANGES: dict[str, tuple[int, int]] = {o.name: o.range for o in OPTIONS if o.range is not None}
# The older spellings check() still takes: old keyword -> option.
ALIASES = {"discriminator_path": "discriminator_file", "trust": "trust_checkpoint"}


def spell_flag(name: str) -> str:
    """An option (or load_checkpoint's parameter) as `ganlint check` spells it: samples -> --samples,
    discriminator_path -> --discriminator-file; a name with no flag stays as it is."""
    row = OPTION.get(ALIASES.get(name, name))
    return row.cli_flag if row is not None and row.flag else name


def spell_pytest(given: set[str]) -> Callable[[str], str]:
    """The pytest plugin's spelling: --ganlint-NAME for the options that came from such an option, else the
    fixture's keyword (the library's name)."""
    return lambda name: OPTION[name].pytest_flag if name in given else name


def range_error(name: str, value: Any) -> Any:
    """None when `value` is not given (None) or an integer in the option's range; else the ConfigError."""
    low, high = OPTION_RANGES[name]
    if value is None or (not isinstance(value, bool) and isinstance(value, int) and low <= value <= high):
        return None
    from ganlint.errors import ConfigError
    from ganlint.loaders.errors import naming, option

    return naming(ConfigError, f"{option(name)} must be between {low:,} and {high:,} (an integer), got {value!r}")


def check_options(**values: Any) -> None:
    """ConfigError naming the option and the value unless each given value is an integer in its OPTION_RANGES
    range; None means "not given" and passes."""
    for name, value in values.items():
        error = range_error(name, value)
        if error is not None:
            raise error


@dataclass(frozen=True)
class CheckOptions:
    """What check() runs with: one field per API row of OPTIONS, with its default (None: not given, the
    checkpoint or the data decides). Build it with from_given(), which checks every value."""

    generator: str | None = None
    discriminator: str | None = None
    kwargs: dict | None = None
    generator_kwargs: dict | None = None
    discriminator_kwargs: dict | None = None
    g_key: str | None = None
    d_key: str | None = None
    discriminator_file: Any = None  # str | os.PathLike
    trust_checkpoint: bool = False
    z_dim: int | None = None
    z_dist: str | None = None
    num_classes: int | None = None
    data: str | None = None
    data_root: str | None = None
    history: Any = None  # str | os.PathLike
    samples: int = DEFAULT_SAMPLES
    seed: int = 0
    d_output: str | None = None
    g_loss: str | None = None
    bn_mode: str = "auto"
    device: str = "cpu"
    thresholds: Any = None  # a Thresholds; None: DEFAULT_THRESHOLDS
    fail_on: Any = None  # a --fail-on spec (str or list) or a FailPolicy; None: the default policy

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The keywords check() takes (older spellings included)."""
        return (*(f.name for f in dataclasses.fields(cls)), *ALIASES)

    @classmethod
    def from_given(cls, base: CheckOptions | None = None, **given: Any) -> CheckOptions:
        """`base` (default: all defaults) with the given values, None meaning "not given"; older spellings
        (ALIASES) taken. Raises TypeError for an unknown keyword and ConfigError for a bad value, naming
        the option."""
        from ganlint.errors import ConfigError
        from ganlint.loaders.errors import naming, option

        unknown = sorted(set(given) - set(cls.names()))
        if unknown:
            raise TypeError(f"check() got unexpected keyword argument(s) {', '.join(unknown)}; it takes "
                            f"{', '.join(cls.names())}")
        for old, new in ALIASES.items():
            if old in given:
                old_value = given.pop(old)
                value = given.get(new)
                if new == "trust_checkpoint":
                    value = value or None  # False is "not given" for a switch
                if old_value is not None and value is not None and value != old_value:
                    raise naming(ConfigError, f"{option(new)} and {old} are the same option (the older spelling); "
                                 "give one")
                given[new] = value if value is not None else old_value
        values = {k: v for k, v in given.items() if v is not None}
        if "trust_checkpoint" in values:
            values["trust_checkpoint"] = bool(values["trust_checkpoint"])
        options = dataclasses.replace(base or cls(), **values)
        check_options(**{n: getattr(options, n) for n in OPTION_RANGES})
        return options.normalized()

    def normalized(self) -> CheckOptions:
        """The choices in their canonical spelling (aliases resolved); ConfigError naming a bad one."""
        from ganlint.errors import ConfigError
        from ganlint.loaders.errors import naming, option
        from ganlint.vocabulary import D_RETURN_ALIASES, d_returns
        from ganlint.vocabulary import g_loss as vocab_g_loss

        changes: dict[str, Any] = {}
        if self.d_output is not None:
            if not isinstance(self.d_output, str) or d_returns(self.d_output) is None:
                raise naming(ConfigError, f"{option('d_output')} must be one of {', '.join(D_RETURNS)} (or "
                             f"{', '.join(D_RETURN_ALIASES)}), got {self.d_output!r}")
            changes["d_output"] = d_returns(self.d_output)
        if self.g_loss is not None:
            if vocab_g_loss(self.g_loss) is None:
                raise naming(ConfigError, f"{option('g_loss')} must be one of {g_loss_choices()}, "
                             f"got {self.g_loss!r}")
            changes["g_loss"] = vocab_g_loss(self.g_loss)
        if self.bn_mode not in BN_MODES:
            raise naming(ConfigError, f"{option('bn_mode')} must be one of {', '.join(BN_MODES)}, "
                         f"got {self.bn_mode!r}")
        return dataclasses.replace(self, **changes) if changes else self

    def load_kwargs(self) -> dict[str, Any]:
        """The keywords of ganlint.loaders.load_checkpoint (the loader's own names)."""
        return {"generator": self.generator, "discriminator": self.discriminator, "kwargs": self.kwargs,
                "generator_kwargs": self.generator_kwargs, "discriminator_kwargs": self.discriminator_kwargs,
                "g_key": self.g_key, "d_key": self.d_key, "discriminator_path": self.discriminator_file,
                "trust": self.trust_checkpoint, "z_dim": self.z_dim, "z_dist": self.z_dist,
                "num_classes": self.num_classes, "device": self.device}


# CheckOptions' fields are the table's API rows, with the same defaults (one table, checked at import).
assert {f.name: f.default for f in dataclasses.fields(CheckOptions)} == {o.name: o.default for o in OPTIONS if o.api}
