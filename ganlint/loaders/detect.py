"""What a checkpoint file is, decided from its contents, never from its name.

Users rename files freely (a TorchScript program saved as `G.pth`, an export saved as `.bin`), and the
name is also the one thing an attacker controls for free, so the loader routes on bytes. Layouts, as
written by torch 2.15 (all three zip kinds put their entries under one top folder, named after the file):

    torch.save (zip)      ROOT/data.pkl, ROOT/data/0.., ROOT/version, ROOT/byteorder,
                          ROOT/.format_version, ROOT/.storage_alignment, ROOT/.data/serialization_id
    torch.jit.save        ROOT/data.pkl, ROOT/data/0.., ROOT/code/__torch__/...py (+ .debug_pkl),
                          ROOT/constants.pkl, ROOT/version, ROOT/byteorder (traced: + traced_inputs.pkl)
    torch.export.save     ROOT/archive_format ("pt2"), ROOT/archive_version, ROOT/models/model.json,
                          ROOT/data/weights/weight_N + model_weights_config.json,
                          ROOT/data/constants/model_constants_config.json, ROOT/data/sample_inputs/model.pt
    torch.save (legacy)   not a zip: a pickle of torch's magic number 0x1950a86a20f9469cfc6c, then pickles
    safetensors           8-byte little-endian header length, a JSON header, then raw tensor bytes

A TorchScript zip also has data.pkl, so `code/` (or constants.pkl) is what tells it from torch.save.
Anything else (an empty file, a zip cut short, random bytes, JSON renamed .pt) is a CheckpointError that
says what the file looks like instead.
"""

from __future__ import annotations

import io
import json
import os
import pickletools
import zipfile
from pathlib import Path

from ganlint.loaders.errors import CheckpointError
from ganlint.schema import CONFIG_FILE

FORMATS = ("run-folder", "safetensors", "torch-zip", "torchscript", "export", "legacy-pickle")

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # torch.serialization.MAGIC_NUMBER, the first pickle of a legacy file
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
_HEAD = 512
# Other things people mistake for checkpoints, by their magic bytes.
_OTHER_MAGICS = (
    (b"\x1f\x8b", "a gzip-compressed file: decompress it first"),
    (b"\xfd7zXZ\x00", "an xz-compressed file: decompress it first"),
    (b"BZh", "a bzip2-compressed file: decompress it first"),
    (b"\x28\xb5\x2f\xfd", "a zstd-compressed file: decompress it first"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file (Keras/TensorFlow weights?), not a PyTorch checkpoint"),
    (b"\x93NUMPY", "a NumPy .npy array, not a checkpoint"),
    (b"version https://git-lfs", "a Git LFS pointer, not the file itself: run `git lfs pull`"),
)


def detect_format(path: str | os.PathLike) -> str:
    """One of FORMATS for `path`; CheckpointError saying what the file is instead when it is none."""
    p = Path(path)
    if p.is_dir():
        return _detect_folder(p)
    if not p.exists():
        raise CheckpointError(f"no such file or folder: {str(p)!r}")
    try:
        size = p.stat().st_size
        with p.open("rb") as f:
            head = f.read(_HEAD)
    except OSError as e:
        raise CheckpointError(f"cannot read {str(p)!r}: {e.strerror or e}") from None
    where = f"{str(p)!r}"
    if size == 0:
        raise CheckpointError(f"{where} is empty (0 bytes): not a checkpoint (was the save interrupted?)")
    if head.startswith(_ZIP_MAGICS):
        return _detect_zip(p, size)
    if head[:1] == b"\x80":
        return _detect_pickle(head, where)
    if _looks_like_safetensors(p, head, size):
        return "safetensors"
    for magic, what in _OTHER_MAGICS:
        if head.startswith(magic):
            raise CheckpointError(f"{where} is {what}")
    raise CheckpointError(f"{where} is {_describe_unknown(p, head, size)}; ganlint reads safetensors, torch.save, "
                          "TorchScript and torch.export (.pt2) files, and ganlint run folders")


def _detect_folder(p: Path) -> str:
    if (p / CONFIG_FILE).is_file():
        return "run-folder"
    files = sorted(f.name for f in p.iterdir() if f.is_file())
    hint = f"; it holds {', '.join(files[:5])}{' ...' if len(files) > 5 else ''}" if files else "; it is empty"
    raise CheckpointError(f"{str(p)!r} is a folder but not a ganlint run folder (no config.json){hint}: "
                          "give a checkpoint file or a run folder")


def zip_kind(names: list[str]) -> str | None:
    """'export', 'torchscript' or 'torch-zip' from a zip's entry names; None for any other zip."""
    rel = {n.split("/", 1)[1] if "/" in n else n for n in names}
    if "archive_format" in rel or any(r.startswith("models/") and r.endswith(".json") for r in rel):
        return "export"
    if "constants.pkl" in rel or any(r.startswith("code/") for r in rel):
        return "torchscript"
    if "data.pkl" in rel:
        return "torch-zip"
    return None


def _detect_zip(p: Path, size: int) -> str:
    try:
        with zipfile.ZipFile(p) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise CheckpointError(
            f"{str(p)!r} starts like a zip archive (the container torch.save, torch.jit.save and "
            f"torch.export.save write) but its end is missing or damaged: a truncated or corrupt file "
            f"({size} bytes; {e})") from None
    kind = zip_kind(names)
    if kind is None:
        shown = ", ".join(names[:5]) + (" ..." if len(names) > 5 else "") if names else "none"
        raise CheckpointError(f"{str(p)!r} is a zip archive but not a PyTorch one (entries: {shown})")
    return kind


def _detect_pickle(head: bytes, where: str) -> str:
    """Legacy torch.save pickles its magic number first; any other pickle is not a torch checkpoint."""
    first = None
    try:  # genops only decodes opcodes: nothing in the file runs
        for op, arg, _ in pickletools.genops(io.BytesIO(head)):
            if op.name in ("LONG1", "LONG4", "INT", "LONG", "BININT", "BININT1", "BININT2"):
                first = arg
                break
            if op.name not in ("PROTO", "FRAME"):
                break
    except Exception:  # a pickle cut inside the head, or bytes that only start like one
        first = None
    if first == _LEGACY_MAGIC:
        return "legacy-pickle"
    raise CheckpointError(f"{where} is a Python pickle that torch.save did not write (no torch magic number); "
                          "ganlint does not load plain pickles: save the state_dict with torch.save or safetensors")


def _looks_like_safetensors(p: Path, head: bytes, size: int) -> bool:
    """An 8-byte header length followed by '{'; a header that does not fit the file is an error."""
    if size < 10 or head[8:9] != b"{":
        return False
    n = int.from_bytes(head[:8], "little")
    where = f"{str(p)!r}"
    if n + 8 > size:
        if all(32 <= c < 127 or c in b"\r\n\t" for c in head[:8]):
            return False  # text that happens to have '{' as its 9th byte, e.g. JSON: described by the caller
        raise CheckpointError(f"{where} looks like a safetensors file but its header announces {n} bytes and the "
                              f"file has {size}: a truncated or corrupt file")
    try:
        with p.open("rb") as f:
            f.seek(8)
            header = json.loads(f.read(n))
        ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"]
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
        raise CheckpointError(f"{where} looks like a safetensors file but its header is damaged ({e})") from None
    if ends and max(ends) > size - 8 - n:
        raise CheckpointError(f"{where} is a safetensors file whose tensors run past its end ({size} bytes): "
                              "a truncated file")
    return True


def _describe_unknown(p: Path, head: bytes, size: int) -> str:
    text = head.lstrip()
    if text[:1] in (b"{", b"["):
        try:
            obj = json.loads(p.read_text()) if size < 50_000_000 else None
        except (ValueError, UnicodeDecodeError):
            obj = None
        if obj is not None:
            if isinstance(obj, dict) and "config" in obj and "dataset" in obj:
                return f"a ganlint run's config.json, not a checkpoint: pass the run folder {str(p.parent)!r}"
            return "a JSON text file, not a checkpoint"
    try:
        decoded = head.decode("utf-8")
    except UnicodeDecodeError:
        decoded = None
    if decoded is not None and sum(c.isprintable() or c in "\r\n\t" for c in decoded) >= 0.95 * len(decoded):
        first = decoded.strip().splitlines()[0][:40] if decoded.strip() else ""
        return f"a text file (it starts {first!r}), not a checkpoint"
    return f"unrecognised binary content ({size} bytes, starting {head[:8].hex(' ')})"
