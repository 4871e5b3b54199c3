"""W&B offline in tests: an environment that writes only under a tmp folder, and a reader of its run files
(wandb 0.31 ships none: its files are read back here as the records they are)."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def offline(tmp_path: Path, monkeypatch: Any) -> Iterator[Any]:
    """For a fixture: W&B offline, silent, no git/code capture, no key, no ~/.config/wandb; yields the wandb
    module and stops its service after (no process left behind)."""
    for name, value in {"WANDB_MODE": "offline", "WANDB_DIR": str(tmp_path), "WANDB_SILENT": "true",
                        "WANDB_CONFIG_DIR": str(tmp_path / "config"), "WANDB_CACHE_DIR": str(tmp_path / "cache"),
                        "WANDB_DATA_DIR": str(tmp_path / "data"), "WANDB_DISABLE_GIT": "true",
                        "WANDB_DISABLE_CODE": "true", "WANDB_CONSOLE": "off", "WANDB_X_DISABLE_STATS": "true"}.items():
        monkeypatch.setenv(name, value)
    for name in ("WANDB_API_KEY", "WANDB_BASE_URL", "WANDB_ENTITY", "WANDB_PROJECT", "WANDB_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    import wandb

    yield wandb
    wandb.teardown()


def records(path: Path) -> Iterator[Any]:
    """The records of a W&B run file: a 7-byte header (":W&B", 0xBEE1, version 1), then LevelDB log blocks of
    32 KiB whose chunks (crc32c 4, length 2, type 1: full/first/middle/last) hold serialized Record protos."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, block, pending = 7, 32768, b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a chunk header is padding
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        chunk, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        if kind == 0 and length == 0:
            continue
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            yield record


def history(path: Path) -> list[dict[str, Any]]:
    """The history rows of a W&B run file, as {key: value} (nested keys joined by "/")."""
    import json

    return [{i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in r.history.item}
            for r in records(path) if r.WhichOneof("record_type") == "history"]
