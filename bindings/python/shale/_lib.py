"""Finding and loading libshale.so, and the ctypes prototypes of every function in shale.h.

Lookup order:
  1. the SHALE_LIBRARY environment variable (a file, or a directory holding libshale.so);
  2. libshale.so next to this package's files;
  3. a SwiftPM build folder: walking up from this package, the first directory holding
     `.build/release/libshale.so` or `.build/debug/libshale.so` (the newer one when both exist).

Other modules reach the C functions as attributes of `lib`. This file declares every
function of shale.h (checkpoints, restore, clone and readers included), in header order, so
that a library missing one fails at import with the function named.
"""

from __future__ import annotations

import ctypes
import os
from ctypes import POINTER, c_char, c_char_p, c_int, c_int64, c_size_t, c_uint64, c_void_p
from pathlib import Path
from typing import Any, List, Optional, Sequence

LIBRARY_NAME = "libshale.so"
ENV_VAR = "SHALE_LIBRARY"

#: The version of shale.h these prototypes were written against.
HEADER_VERSION = "0.1.0"


def _candidates() -> List[Path]:
    """Every place looked at, in order (used for the error message too)."""
    here = Path(__file__).resolve().parent
    found: List[Path] = [here / LIBRARY_NAME]
    for folder in (here, *here.parents):
        builds = [folder / ".build" / kind / LIBRARY_NAME for kind in ("release", "debug")]
        existing = [p for p in builds if p.is_file()]
        if existing:
            # Both exist: prefer the one built last, so a stale release build does not win.
            existing.sort(key=lambda p: p.stat().st_mtime, reverse=True)
            found.extend(existing)
            break
    return found


def find_library() -> Path:
    """The path of the library to load; ImportError naming every place tried if none."""
    env = os.environ.get(ENV_VAR)
    if env:
        path = Path(env)
        if path.is_dir():
            path = path / LIBRARY_NAME
        if not path.is_file():
            raise ImportError(f"{ENV_VAR}={env!r} does not name an existing {LIBRARY_NAME}")
        return path
    tried = _candidates()
    for path in tried:
        if path.is_file():
            return path
    here = Path(__file__).resolve().parent
    raise ImportError(
        f"cannot find {LIBRARY_NAME}: set {ENV_VAR} to its path, copy it next to {here}, "
        f"or build it with `swift build --product shale` (looked at {tried[0]} and for "
        f".build/{{release,debug}}/{LIBRARY_NAME} in every folder above {here})"
    )


def _load() -> ctypes.CDLL:
    path = find_library()
    try:
        return ctypes.CDLL(str(path))
    except OSError as e:
        raise ImportError(f"cannot load {path}: {e}") from e


lib = _load()
library_path: str = getattr(lib, "_name", "")


def declare(name: str, restype: Any, argtypes: Sequence[Any], required: bool = True) -> Any:
    """Sets the prototype of one C function. A missing optional function returns None."""
    try:
        fn = getattr(lib, name)
    except AttributeError:
        if not required:
            return None
        raise ImportError(
            f"{library_path} has no {name}(): the library and this binding disagree "
            f"(binding written for shale.h {HEADER_VERSION})"
        ) from None
    fn.restype = restype
    fn.argtypes = list(argtypes)
    return fn


# Argument types. Handles are opaque pointers, carried as c_void_p (64-bit safe; never c_int).
_ptr = c_void_p
_pptr = POINTER(c_void_p)
_psize = POINTER(c_size_t)
_bytes = c_void_p  # (pointer, length) buffers: Python bytes convert to c_void_p directly
_cstr = c_char_p

# Prototypes, in the order of shale.h.
declare("shale_errmsg", c_char_p, [])
declare("shale_status_name", c_char_p, [c_int])
declare("shale_version", c_char_p, [])
declare("shale_free", None, [c_void_p])

declare("shale_options_new", _ptr, [])
declare("shale_options_set", c_int, [_ptr, _cstr, _cstr])
declare("shale_options_free", None, [_ptr])

declare("shale_open", c_int, [_cstr, _ptr, _pptr])
declare("shale_close", c_int, [_ptr])
declare("shale_put", c_int, [_ptr, _bytes, c_size_t, _bytes, c_size_t])
declare("shale_delete", c_int, [_ptr, _bytes, c_size_t])
declare("shale_get", c_int, [_ptr, _bytes, c_size_t, _pptr, _psize])
declare("shale_flush", c_int, [_ptr])
declare("shale_stats_json", c_int, [_ptr, _pptr])

declare("shale_batch_new", _ptr, [])
declare("shale_batch_put", c_int, [_ptr, _bytes, c_size_t, _bytes, c_size_t])
declare("shale_batch_delete", c_int, [_ptr, _bytes, c_size_t])
declare("shale_batch_count", c_size_t, [_ptr])
declare("shale_batch_clear", None, [_ptr])
declare("shale_batch_free", None, [_ptr])
declare("shale_write", c_int, [_ptr, _ptr])

declare("shale_snapshot_create", c_int, [_ptr, _pptr])
declare("shale_snapshot_get", c_int, [_ptr, _bytes, c_size_t, _pptr, _psize])
declare("shale_snapshot_release", None, [_ptr])

declare("shale_scan", c_int, [_ptr, _ptr, _bytes, c_size_t, _bytes, c_size_t, _pptr])
declare("shale_iter_next", c_int, [_ptr, _pptr, _psize, _pptr, _psize])
declare("shale_iter_free", None, [_ptr])


class CheckpointInfo(ctypes.Structure):
    """`shale_checkpoint_info`: one entry of the array shale_checkpoint_list returns."""

    _fields_ = [
        ("id", c_char * 37),  # UUID text, NUL-terminated
        ("name", c_char * 64),  # "" when unnamed
        ("manifest_id", c_uint64),
        ("sequence", c_uint64),
        ("create_time_ms", c_int64),  # unix ms
        ("expire_time_ms", c_int64),  # 0 = never expires
    ]


#: Size of the id buffer shale_checkpoint_create writes (UUID text and its NUL).
CHECKPOINT_ID_BYTES = 37

# id_out (char[37]) is passed as a ctypes string buffer; the list comes back as one block
# (read through CheckpointInfo, then freed with shale_free).
declare("shale_checkpoint_create", c_int, [_ptr, _cstr, c_int64, c_int, POINTER(c_char)])
declare("shale_checkpoint_list", c_int, [_cstr, _pptr, _psize])
declare("shale_checkpoint_refresh", c_int, [_cstr, _cstr, c_int64])
declare("shale_checkpoint_delete", c_int, [_cstr, _cstr])
declare("shale_restore", c_int, [_cstr, _cstr])
declare("shale_clone", c_int, [_cstr, _cstr, _cstr])

declare("shale_reader_open", c_int, [_cstr, _cstr, _pptr])
declare("shale_reader_get", c_int, [_ptr, _bytes, c_size_t, _pptr, _psize])
declare("shale_reader_scan", c_int, [_ptr, _bytes, c_size_t, _bytes, c_size_t, _pptr])
declare("shale_reader_close", c_int, [_ptr])


def copy_bytes(address: Optional[int], length: int) -> bytes:
    """Copies (address, length) from C memory into bytes."""
    if not length:
        return b""
    if not address:
        raise RuntimeError("libshale returned a NULL pointer with a non-zero length")
    return ctypes.string_at(address, length)


def take_buffer(ptr: c_void_p, length: int) -> bytes:
    """Copies a buffer Shale handed over into bytes, then frees it with shale_free."""
    try:
        return copy_bytes(ptr.value, length)
    finally:
        lib.shale_free(ptr)


def take_string(ptr: c_void_p) -> Optional[str]:
    """Copies a NUL-terminated string Shale handed over, then frees it."""
    if not ptr.value:
        return None
    try:
        return ctypes.string_at(ptr.value).decode("utf-8", errors="replace")
    finally:
        lib.shale_free(ptr)
