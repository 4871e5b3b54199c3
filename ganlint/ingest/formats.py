"""Training logs that are not plain tables: Hugging Face's trainer_state.json and TensorBoard events.

    raw = read_json_log(Path("checkpoint-600/trainer_state.json"))   # one row per log_history entry
    raw = read_tensorboard(Path("runs/exp1"))                         # one column per scalar tag
    df = to_telemetry(raw)                                            # then onto ganlint's schema

Each reader returns the log as a raw table, with the log's own names and a `step` column;
ganlint.ingest.to_telemetry maps it. An empty log is a DataError saying so.
"""

from __future__ import annotations

import json
import warnings
from io import StringIO
from pathlib import Path

import pandas as pd

from ganlint.errors import DataError

EVENT_PREFIX = "events.out.tfevents."
TENSORBOARD_HINT = "reading TensorBoard logs needs the tensorboard package: pip install 'ganlint[tensorboard]'"


def empty_log(path: Path, why: str = "") -> DataError:
    return DataError(f"the log {str(path)!r} is empty{f' ({why})' if why else ''}")


def is_event_file(path: Path) -> bool:
    return path.name.startswith(EVENT_PREFIX)


def event_files(folder: Path) -> list[Path]:
    """TensorBoard event files in folder and below (add_scalars writes one subfolder per curve)."""
    return sorted(f for f in folder.rglob(EVENT_PREFIX + "*") if f.is_file())


def read_json_log(path: Path) -> pd.DataFrame:
    """A .json log: Hugging Face's trainer_state.json (its `log_history`, a list of dicts with `step`,
    `epoch` and the logged values), a JSON list of records, or JSON lines under a .json name."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read {str(path)!r}: {getattr(e, 'strerror', None) or e}") from None
    if not text.strip():
        raise empty_log(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        if e.msg == "Extra data":  # one JSON object per line
            try:
                return pd.read_json(StringIO(text), lines=True)
            except ValueError as e2:
                raise DataError(f"cannot read {str(path)!r} as JSON lines: {e2}") from None
        raise DataError(f"{str(path)!r} is not valid JSON: {e}") from None
    if isinstance(data, dict) and "log_history" in data:
        records, what = data["log_history"], "log_history"
    elif isinstance(data, list):
        records, what = data, "the list"
    else:
        raise DataError(f"{str(path)!r} is JSON but neither a Hugging Face trainer_state.json (no log_history) "
                        f"nor a list of records")
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise DataError(f"{str(path)!r}: {what} must be a list of objects (one per logging step)")
    if not records:
        raise empty_log(path, f"{what} has no entries")
    return pd.DataFrame.from_records(records)


def _accumulator_module():
    """tensorboard's event reader, imported only here: tensorboard is an optional extra."""
    try:
        with warnings.catch_warnings():
            # Depending on the versions installed, importing tensorboard makes its dependencies (protobuf,
            # pkg_resources, numpy aliases) warn about their own deprecations. Harmless to us, and under
            # `-W error` (ganlint's test suite, some users' CI) they would turn a read into a crash.
            warnings.simplefilter("ignore", DeprecationWarning)
            from tensorboard.backend.event_processing import event_accumulator
            from tensorboard.util import tensor_util
    except ImportError:
        raise DataError(TENSORBOARD_HINT) from None
    return event_accumulator, tensor_util


def _scalars(acc, tensor_util) -> dict[str, dict[int, float]]:
    """{tag: {step: value}} of a loaded EventAccumulator: classic scalars, and TF2-style scalars that are
    stored as tensors of the "scalars" plugin (tf.summary.scalar, add_scalar(new_style=True))."""
    out: dict[str, dict[int, float]] = {}
    tags = acc.Tags()
    for tag in tags.get("scalars", []):
        out[tag] = {int(e.step): float(e.value) for e in acc.Scalars(tag)}  # a restarted step: the last value
    for tag in tags.get("tensors", []):
        if acc.SummaryMetadata(tag).plugin_data.plugin_name == "scalars":
            out.setdefault(tag, {}).update(
                {int(e.step): float(tensor_util.make_ndarray(e.tensor_proto)) for e in acc.Tensors(tag)})
    return out


def read_tensorboard(path: Path) -> pd.DataFrame:
    """Scalars of a TensorBoard run (a folder, or one events.out.tfevents.* file): one column per tag,
    one row per step. add_scalars' curves, written to subfolders `<tag>_<name>`, are named after their
    subfolder (`loss_D`). A folder holding several runs (several folders of event files side by side) is
    refused: their steps would mix."""
    ea, tensor_util = _accumulator_module()
    if path.is_file():
        sources = [(path, "")]
    else:
        dirs = sorted({f.parent for f in event_files(path)})
        if not dirs:
            raise DataError(f"{str(path)!r} holds no TensorBoard event files ({EVENT_PREFIX}*)")
        runs = [d for d in dirs if not any(o in d.parents for o in dirs)]
        if len(runs) > 1:
            names = ", ".join(d.relative_to(path).as_posix() for d in runs[:6])
            raise DataError(f"{str(path)!r} holds {len(runs)} TensorBoard runs ({names}); point at one of them")
        sources = [(d, "" if d == runs[0] else d.relative_to(runs[0]).as_posix()) for d in dirs]
    columns: dict[str, dict[int, float]] = {}
    for src, sub in sources:
        # 0 keeps every scalar: the default keeps a random sample of 10,000 per tag.
        acc = ea.EventAccumulator(str(src), size_guidance={ea.SCALARS: 0, ea.TENSORS: 0, ea.IMAGES: 1,
                                                          ea.AUDIO: 1, ea.HISTOGRAMS: 1, ea.COMPRESSED_HISTOGRAMS: 1})
        try:
            acc.Reload()
            found = _scalars(acc, tensor_util)
        except Exception as e:  # a truncated or foreign file: tensorboard raises many types
            raise DataError(f"cannot read the TensorBoard events in {str(src)!r}: {type(e).__name__}: {e}") from None
        for tag, points in found.items():
            name = tag if not sub else sub if sub.startswith(tag.replace("/", "_") + "_") else f"{sub}/{tag}"
            columns[name if name not in columns else f"{sub}/{tag}"] = points
    columns.pop("step", None)  # TensorBoard's own step is the step
    if not columns:
        raise empty_log(path, "no scalars")
    df = pd.DataFrame(columns).sort_index()
    df.insert(0, "step", df.index.astype("int64"))
    return df.reset_index(drop=True)
