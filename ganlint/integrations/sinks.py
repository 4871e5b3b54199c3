"""Sinks: ganlint's telemetry, label, findings and sample pictures written to TensorBoard, W&B and MLflow.

    loggers = Loggers.open(["tensorboard:tb", "wandb:my-project", "mlflow"], run_name="ring8-wgan")
    loggers.telemetry(frame)            # every finite value as the scalar ganlint/<column> at its row's step
    loggers.diagnosis(step, diagnosis)  # the label (text and index), its legend, confidence, summary, findings
    loggers.picture(step, "samples/step_000500.png")
    loggers.close()                     # flushes all; finishes only the runs ganlint started

    publish_run_folder(loggers, "runs/ring8", diagnosis)  # a finished run folder, after the fact

`--log-to` names a Target ("tensorboard:DIR", "wandb[:PROJECT]", "mlflow[:URI]", see parse_target); a
user's own SummaryWriter, wandb run, mlflow run or Lightning logger is accepted too (Loggers.open), and stays
theirs: ganlint flushes it, never closes or finishes it.

Each library is an optional extra, imported inside the sink that uses it, never by this module's import.
A sink that fails (a full disk, a network error, a library bug) warns once and is switched off: a user's
training run must never be lost because a logger failed.

Step axes: TensorBoard's global_step and MLflow's `step=` are the run's step. W&B gets no `step=` (its step
must only grow, so it would clash with the user's own wandb.log calls and the rows would be dropped): every
dict carries "ganlint/step", which `define_metric` makes the x axis of every ganlint/* key.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import os
import tempfile
import time
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganlint.errors import ConfigError
from ganlint.vocabulary import LABELS

if TYPE_CHECKING:  # type hints only: importing this module stays free of pandas and every logger
    import pandas as pd

    from ganlint.diagnostics.findings import Diagnosis

log = logging.getLogger(__name__)

KINDS = ("tensorboard", "wandb", "mlflow")
# The package each kind imports (torch.utils.tensorboard needs the tensorboard package), for the install hint.
PACKAGES = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow"}
FORMS = "tensorboard:DIR, wandb, wandb:PROJECT, mlflow, mlflow:URI"
ACCEPTED = (f"a spec ({FORMS}), a Target, a torch SummaryWriter, a wandb run or the wandb module, the mlflow "
            "module or an mlflow ActiveRun, or a Lightning TensorBoardLogger, WandbLogger or MLFlowLogger")
PREFIX = "ganlint/"
STEP_KEY = "ganlint/step"  # W&B's x axis for every ganlint/* key
# What label_index means, written once per logger run: "0 diverged, 1 vanishing-gradient, ..., 7 inconclusive".
LEGEND = ", ".join(f"{i} {label}" for i, label in enumerate(LABELS))
# MLflow's limits per log_batch call (its REST API refuses more): 1000 metrics, 100 params.
MLFLOW_METRICS_PER_BATCH = 1000
MLFLOW_PARAMS_PER_BATCH = 100


def label_index(label: str) -> int | None:
    """The label's number on the ganlint/label_index axis (its place in vocabulary.LABELS; see LEGEND)."""
    return LABELS.index(label) if label in LABELS else None


@dataclass(frozen=True)
class Target:
    """A logger ganlint opens itself: what `--log-to` names.

    Attributes:
        kind: one of KINDS.
        where: tensorboard: the log folder (required; a run writes DIR/<run name>, a suite's run
            DIR/<suite>/<run>); wandb: the project (optional); mlflow: the tracking URI (optional; default:
            MLflow's own, MLFLOW_TRACKING_URI).
    """

    kind: str
    where: str | None = None


def _check_target(t: Target) -> Target:
    if t.kind not in KINDS:
        raise ConfigError(f"cannot log to {t.kind!r}; valid forms: {FORMS}")
    if t.kind == "tensorboard" and not t.where:
        raise ConfigError(f"logging to tensorboard needs its folder (tensorboard:DIR); valid forms: {FORMS}")
    if t.where is not None and not t.where.strip():
        raise ConfigError(f"an empty {t.kind} {'project' if t.kind == 'wandb' else 'location'}; valid forms: {FORMS}")
    package = PACKAGES[t.kind]
    if importlib.util.find_spec(package) is None:  # find_spec does not import it
        raise ConfigError(f"logging to {t.kind} needs the {package} package: pip install 'ganlint[{t.kind}]'")
    return t


def parse_target(text: str) -> Target:
    """A `--log-to` value as a Target: "tensorboard:DIR", "wandb", "wandb:PROJECT", "mlflow", "mlflow:URI".

    Raises:
        ConfigError: one line: the text is none of those forms, or the logger's package is not installed
            (with its install hint), so a command fails before any training.
    """
    kind, sep, where = str(text).strip().partition(":")
    if kind.lower() not in KINDS:
        raise ConfigError(f"cannot log to {text!r}; valid forms: {FORMS}")
    if sep and not where:
        raise ConfigError(f"{text!r} names no {'folder' if kind.lower() == 'tensorboard' else 'value'} after "
                          f"':'; valid forms: {FORMS}")
    return _check_target(Target(kind.lower(), where or None))


class _Sink:
    """One logger run. Subclasses write; Loggers catches their errors."""

    kind = ""

    def __init__(self, owned: bool, where: str) -> None:
        self.owned = owned  # ganlint opened it, so ganlint closes it
        self.where = where
        self.off = False
        self.legend_written = False

    def __str__(self) -> str:
        return f"{self.kind} ({self.where})"

    def telemetry(self, rows: list[tuple[int, dict[str, float]]]) -> None:
        raise NotImplementedError

    def diagnosis(self, step: int, v: _Verdict) -> None:
        raise NotImplementedError

    def picture(self, step: int, png: Path, tag: str) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.flush()


@dataclass(frozen=True)
class _Verdict:
    """A diagnosis in the shapes the sinks write, built once for all of them."""

    label: str
    index: int | None
    confidence: float
    summary: str
    findings: pd.DataFrame
    markdown: str


def _markdown(frame: pd.DataFrame) -> str:
    """A DataFrame as a markdown table (pandas' to_markdown needs tabulate, which ganlint does not require)."""
    import pandas as pd

    def cell(v: Any) -> str:
        if v is None or v is pd.NA or (isinstance(v, float) and not math.isfinite(v)):
            return ""
        text = f"{v:.4g}" if isinstance(v, float) else str(v)
        return text.replace("|", "\\|").replace("\n", " ")

    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.astype(object).itertuples(index=False)]
    return "\n".join([head, rule, *body])


class _TensorBoard(_Sink):
    kind = "tensorboard"

    def __init__(self, writer: Any, owned: bool) -> None:
        super().__init__(owned, str(getattr(writer, "log_dir", None) or writer.get_logdir()))
        self.w = writer

    @classmethod
    def open(cls, folder: str, run_name: str, group: str | None, config: Mapping | None) -> _TensorBoard:
        from torch.utils.tensorboard import SummaryWriter

        # DIR/<group>/<run>: two suites logged to one DIR each keep their runs (TensorBoard shows the
        # folders as runs, and a second writer in one folder would interleave two runs' curves).
        log_dir = Path(folder).joinpath(*[p for p in (group, run_name) if p])
        sink = cls(SummaryWriter(log_dir=str(log_dir)), owned=True)
        if config:
            sink.w.add_text(f"{PREFIX}config", "```\n" + json.dumps(dict(config), indent=2, default=str) + "\n```", 0)
        return sink

    def telemetry(self, rows: list[tuple[int, dict[str, float]]]) -> None:
        # One event per step holding every column, the records add_scalar writes one value at a time: a row of
        # 19 columns cost 2.2 ms through add_scalar and 0.4 ms so (2-core CPU), against a few ms per training
        # step of a small GAN. SummaryWriter has no public call for it; _get_file_writer is what add_scalar uses.
        from tensorboard.compat.proto.summary_pb2 import Summary

        writer = self.w._get_file_writer()
        for step, values in rows:
            writer.add_summary(Summary(value=[Summary.Value(tag=k, simple_value=v) for k, v in values.items()]), step)

    def diagnosis(self, step: int, v: _Verdict) -> None:
        if not self.legend_written:
            self.w.add_text(f"{PREFIX}legend", f"ganlint/label_index: {LEGEND}", step)
            self.legend_written = True
        self.w.add_text(f"{PREFIX}label", v.label, step)
        if v.index is not None:
            self.w.add_scalar(f"{PREFIX}label_index", v.index, step)
        self.w.add_scalar(f"{PREFIX}confidence", v.confidence, step)
        self.w.add_text(f"{PREFIX}summary", v.summary, step)
        self.w.add_text(f"{PREFIX}findings", v.markdown, step)

    def picture(self, step: int, png: Path, tag: str) -> None:
        import numpy as np
        from PIL import Image  # pillow comes with matplotlib, a ganlint dependency

        with Image.open(png) as im:
            pixels = np.asarray(im.convert("RGB"))
        self.w.add_image(tag, pixels, step, dataformats="HWC")

    def flush(self) -> None:
        self.w.flush()

    def close(self) -> None:
        if self.owned:
            self.w.close()
        else:
            self.w.flush()


class _Wandb(_Sink):
    kind = "wandb"

    def __init__(self, run: Any, owned: bool) -> None:
        super().__init__(owned, f"run {getattr(run, 'name', None) or getattr(run, 'id', '?')}")
        self.run = run
        # ganlint's own x axis, so its rows never pass `step=` (see the module docstring).
        run.define_metric(STEP_KEY)
        run.define_metric(f"{PREFIX}*", step_metric=STEP_KEY)

    @classmethod
    def open(cls, project: str | None, run_name: str, group: str | None, config: Mapping | None) -> _Wandb:
        import wandb

        # WANDB_MODE and the rest of the user's environment decide online/offline. "create_new": a run of
        # the user's own that is still active is left alone (the default would hand back theirs, which
        # ganlint would then finish).
        run = wandb.init(project=project, name=run_name or None, group=group,
                         config=dict(config) if config else None, reinit="create_new")
        return cls(run, owned=True)

    def telemetry(self, rows: list[tuple[int, dict[str, float]]]) -> None:
        for step, values in rows:  # one call per row: a dict, never a call per value
            self.run.log({STEP_KEY: step, **values})

    def diagnosis(self, step: int, v: _Verdict) -> None:
        import wandb

        if not self.legend_written:
            self.run.summary[f"{PREFIX}legend"] = LEGEND
            self.legend_written = True
        findings = v.findings.astype(object).where(v.findings.notna(), None)
        row = {STEP_KEY: step, f"{PREFIX}label": v.label, f"{PREFIX}confidence": v.confidence,
               f"{PREFIX}summary": v.summary, f"{PREFIX}findings": wandb.Table(dataframe=findings)}
        if v.index is not None:
            row[f"{PREFIX}label_index"] = v.index
        self.run.log(row)

    def picture(self, step: int, png: Path, tag: str) -> None:
        import wandb

        self.run.log({STEP_KEY: step, tag: wandb.Image(str(png))})

    def close(self) -> None:
        if self.owned:
            self.run.finish()


class _Mlflow(_Sink):
    kind = "mlflow"

    def __init__(self, client: Any, run_id: str, owned: bool) -> None:
        super().__init__(owned, f"run {run_id} at {client.tracking_uri}")
        self.client = client
        self.run_id = run_id

    @classmethod
    def start(cls, uri: str | None, run_name: str, group: str | None, config: Mapping | None) -> _Mlflow:
        """A run of ganlint's own, made with the client so the user's active run stays theirs (mlflow.log_*
        in their code keeps writing to it). When a run is active in this process, ganlint's is nested under
        it (mlflow.parentRunId), in the same experiment."""
        import mlflow
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=uri or mlflow.get_tracking_uri())
        active = mlflow.active_run() if uri is None else None
        tags = {"mlflow.parentRunId": active.info.run_id} if active else {}
        if group:
            tags["ganlint.group"] = group  # a suite's runs: search_runs(filter_string="tags.`ganlint.group` = ...")
        if active:
            experiment = active.info.experiment_id
        elif uri is None:
            # mlflow.set_experiment / MLFLOW_EXPERIMENT_NAME / _ID, as mlflow.start_run would choose.
            from mlflow.tracking.fluent import _get_experiment_id

            experiment = _get_experiment_id()
        else:
            name = os.environ.get("MLFLOW_EXPERIMENT_NAME")
            found = client.get_experiment_by_name(name) if name else None
            experiment = (found.experiment_id if found else client.create_experiment(name)) if name else "0"
        run = client.create_run(experiment, run_name=run_name or None, tags=tags)
        sink = cls(client, run.info.run_id, owned=True)
        if config:
            from mlflow.entities import Param

            params = [Param(k, str(v)[:6000]) for k, v in _flat(config)]
            for i in range(0, len(params), MLFLOW_PARAMS_PER_BATCH):
                client.log_batch(sink.run_id, params=params[i:i + MLFLOW_PARAMS_PER_BATCH])
        return sink

    def telemetry(self, rows: list[tuple[int, dict[str, float]]]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, step) for step, values in rows for k, v in values.items()]
        for i in range(0, len(metrics), MLFLOW_METRICS_PER_BATCH):
            self.client.log_batch(self.run_id, metrics=metrics[i:i + MLFLOW_METRICS_PER_BATCH])

    def diagnosis(self, step: int, v: _Verdict) -> None:
        from mlflow.entities import Metric, RunTag

        now = int(time.time() * 1000)
        tags = [RunTag("ganlint.label", v.label), RunTag("ganlint.summary", v.summary[:5000]),
                RunTag("ganlint.label_step", str(step))]
        if not self.legend_written:
            tags.append(RunTag("ganlint.legend", LEGEND))
        metrics = [Metric(f"{PREFIX}confidence", v.confidence, now, step)]
        if v.index is not None:
            metrics.append(Metric(f"{PREFIX}label_index", v.index, now, step))
        self.client.log_batch(self.run_id, metrics=metrics, tags=tags)
        self.legend_written = True
        self.client.log_text(self.run_id, f"label: {v.label}\n\n{v.summary}\n\n{v.markdown}\n",
                             f"ganlint/findings/step_{step:06d}.md")
        findings = v.findings.astype(object).where(v.findings.notna(), None)
        self.client.log_table(self.run_id, findings, f"ganlint/findings/step_{step:06d}.json")

    def picture(self, step: int, png: Path, tag: str) -> None:
        try:
            from PIL import Image  # pillow comes with matplotlib, a ganlint dependency
        except ImportError:
            Image = None
        if Image is not None:  # a time-stepped image: MLflow's UI shows it on the step slider
            with Image.open(png) as im:
                self.client.log_image(self.run_id, im.convert("RGB"), key=tag, step=step)
            return
        with tempfile.TemporaryDirectory() as tmp:  # else a plain artifact named by its step
            named = Path(tmp) / f"step_{step:06d}.png"
            named.write_bytes(Path(png).read_bytes())
            self.client.log_artifact(self.run_id, str(named), tag)

    def close(self) -> None:
        if self.owned:
            self.client.set_terminated(self.run_id, "FINISHED")


def _flat(d: Mapping, prefix: str = "") -> Iterable[tuple[str, Any]]:
    """A nested config as dotted keys: {"a": {"b": 1}} -> ("a.b", 1)."""
    for k, v in d.items():
        if isinstance(v, Mapping):
            yield from _flat(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


def _is_module(obj: Any, name: str) -> bool:
    return isinstance(obj, types.ModuleType) and obj.__name__ == name


def _from_library(obj: Any, package: str) -> bool:
    return type(obj).__module__.split(".")[0] == package


def _adopt(obj: Any, run_name: str = "ganlint", config: Mapping | None = None) -> _Sink | None:
    """A sink for an object the user already has (theirs: never closed by ganlint), or None if unknown.
    Recognised by duck typing: neither Lightning nor a logger library is imported to check."""
    if all(hasattr(obj, a) for a in ("add_scalar", "add_text", "add_image", "flush")):
        return _TensorBoard(obj, owned=False)  # torch's SummaryWriter (tensorboardX's too)
    if _is_module(obj, "wandb"):
        if obj.run is None:
            raise ConfigError("the wandb module has no active run: call wandb.init() first, or log to 'wandb' "
                              "to have ganlint start one")
        return _Wandb(obj.run, owned=False)
    if _from_library(obj, "wandb") and hasattr(obj, "log") and hasattr(obj, "define_metric"):
        return _Wandb(obj, owned=False)
    if _is_module(obj, "mlflow"):
        active = obj.active_run()
        if active is None:  # start one of ganlint's own, ended on close
            return _Mlflow.start(None, run_name, None, config)
        from mlflow.tracking import MlflowClient

        return _Mlflow(MlflowClient(tracking_uri=obj.get_tracking_uri()), active.info.run_id, owned=False)
    if _from_library(obj, "mlflow") and hasattr(getattr(obj, "info", None), "run_id"):  # an ActiveRun
        import mlflow
        from mlflow.tracking import MlflowClient

        return _Mlflow(MlflowClient(tracking_uri=mlflow.get_tracking_uri()), obj.info.run_id, owned=False)
    if hasattr(type(obj), "experiment"):  # a Lightning logger: its experiment is the library's object
        experiment = obj.experiment
        if _from_library(experiment, "mlflow") and hasattr(experiment, "log_batch"):  # MLFlowLogger's client
            return _Mlflow(experiment, obj.run_id, owned=False)
        return _adopt(experiment, run_name, config)
    return None


class Loggers:
    """The logger runs of one ganlint run; a failing sink warns once (log.warning) and is switched off, never
    stopping training (a user's run must never be lost because a logger failed)."""

    def __init__(self, sinks: list[_Sink] | None = None) -> None:
        self.sinks = list(sinks or [])
        self.closed = False

    @classmethod
    def open(cls, items: Any, *, run_name: str, config: Mapping | None = None,
             group: str | None = None) -> Loggers:
        """Open each item as a sink.

        Args:
            items: Targets, spec strings ("tensorboard:DIR", "wandb[:PROJECT]", "mlflow[:URI]"), or objects the
                user has (a SummaryWriter, a wandb run or the wandb module, the mlflow module or an ActiveRun,
                a Lightning TensorBoardLogger / WandbLogger / MLFlowLogger); one item alone is accepted too.
            run_name: the run's name: TensorBoard's sub-folder DIR/run_name, W&B's and MLflow's run name.
            config: the run's config: W&B's run config, MLflow's params (dotted keys), TensorBoard text.
            group: what the run belongs to (a suite's folder name): W&B's run group, TensorBoard's
                DIR/group/run_name, MLflow's tag ganlint.group.

        A Target ganlint opens (a TensorBoard writer, a W&B run, an MLflow run, nested under the active MLflow
        run if there is one) is closed by `close`; objects users pass are flushed, never closed.

        Raises:
            ConfigError: a bad spec, a missing library, an object that is none of the accepted kinds, or a
                Target its library fails to open (no W&B login, an unreachable server, MLflow refusing a store).
        """
        if isinstance(items, (str, Target)) or not isinstance(items, Iterable):
            items = [items]
        opened = cls()
        try:
            for item in items:
                if isinstance(item, (str, Target)):
                    t = parse_target(item) if isinstance(item, str) else _check_target(item)
                    try:
                        if t.kind == "tensorboard":
                            sink: _Sink = _TensorBoard.open(t.where, run_name, group, config)
                        elif t.kind == "wandb":
                            sink = _Wandb.open(t.where, run_name, group, config)
                        else:
                            sink = _Mlflow.start(t.where, run_name, group, config)
                    except Exception as e:
                        # Before anything trains (train, the Monitor) or after a run is saved (a suite): the caller
                        # loses nothing by stopping, and a logger the user asked for is never silently missing.
                        first = " ".join(str(e).split())[:1000]  # one line, the library's own words (its hint is often last)
                        raise ConfigError(f"cannot log to {t.kind}: {type(e).__name__}: {first}") from e
                else:
                    sink = _adopt(item, run_name, config)
                    if sink is None:
                        raise ConfigError(f"cannot log to a {type(item).__name__}; accepted: {ACCEPTED}")
                log.info("logging to %s", sink)
                opened.sinks.append(sink)
        except BaseException:
            opened.close()  # what was opened before the bad item
            raise
        return opened

    def __bool__(self) -> bool:
        return any(not s.off for s in self.sinks)

    def __enter__(self) -> Loggers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _each(self, method: str, *args: Any) -> None:
        for s in self.sinks:
            if s.off:
                continue
            try:
                getattr(s, method)(*args)
            except Exception as e:
                s.off = True
                log.warning("logging to %s failed (%s: %s); ganlint stops logging to it, the run goes on", s,
                            type(e).__name__, e)

    def telemetry(self, frame: pd.DataFrame) -> None:
        """Rows in ganlint's telemetry schema: each finite value as the scalar ganlint/<column> at its row's step
        (non-numeric columns and rows without a step are skipped)."""
        if not self or "step" not in frame.columns or not len(frame):
            return
        import numpy as np
        import pandas as pd

        columns = [c for c in frame.columns if c != "step" and pd.api.types.is_numeric_dtype(frame[c])
                   and not pd.api.types.is_bool_dtype(frame[c])]
        steps = pd.to_numeric(frame["step"], errors="coerce").to_numpy(dtype=float)
        values = frame[columns].to_numpy(dtype=float, na_value=np.nan)
        keys = [f"{PREFIX}{c}" for c in columns]
        rows = [(int(step), {k: float(v) for k, v in zip(keys, row, strict=True) if math.isfinite(v)})
                for step, row in zip(steps, values, strict=True) if math.isfinite(step)]
        rows = [r for r in rows if r[1]]
        if rows:
            self._each("telemetry", rows)

    def diagnosis(self, step: int, diagnosis: Diagnosis) -> None:
        """The label as text (ganlint/label) and as a number (ganlint/label_index, with LEGEND once per logger
        run), the confidence, the summary line and the findings table, at `step`."""
        if not self:
            return
        findings = diagnosis.findings_frame()
        v = _Verdict(diagnosis.label, label_index(diagnosis.label), float(diagnosis.confidence), diagnosis.summary,
                     findings, _markdown(findings))
        self._each("diagnosis", int(step), v)

    def picture(self, step: int, png: str | os.PathLike, tag: str = "ganlint/samples") -> None:
        """A PNG file (a sample grid) as an image at `step`."""
        if self:
            self._each("picture", int(step), Path(png), tag)

    def flush(self) -> None:
        self._each("flush")

    def close(self) -> None:
        """Flush all; close or finish only what ganlint opened. Idempotent."""
        if self.closed:
            return
        self.closed = True
        for s in self.sinks:
            try:
                s.close()  # also a sink switched off: a run ganlint started must still end
            except Exception as e:
                if not s.off:
                    log.warning("closing %s failed: %s: %s", s, type(e).__name__, e)
            s.off = True


def publish_run_folder(loggers: Loggers, folder: str | os.PathLike, diagnosis: Diagnosis | None = None) -> None:
    """Send a finished run folder after the fact: every telemetry row, each samples/step_NNNNNN.png at its step,
    and `diagnosis` (when given) at the last step.

    Raises:
        DataError: the folder holds no telemetry that ganlint can read.
    """
    from ganlint.ingest.telemetry import load_telemetry
    from ganlint.training.run import SAMPLES_DIR

    frame, _ = load_telemetry(folder)
    loggers.telemetry(frame)
    pictures = []
    for png in sorted((Path(folder) / SAMPLES_DIR).glob("step_*.png")):
        try:
            pictures.append((int(png.stem.split("_", 1)[1]), png))
        except ValueError:
            log.warning("skipping %s: not named step_NNNNNN.png", png)
    for step, png in pictures:
        loggers.picture(step, png)
    if diagnosis is not None:
        steps = [int(frame["step"].max())] if "step" in frame.columns and len(frame) else []
        loggers.diagnosis(max(steps + [s for s, _ in pictures], default=0), diagnosis)
