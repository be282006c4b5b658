"""Writing output files all or nothing: a temporary file in the target's folder, renamed into place
once complete, so an error or an interrupt never leaves a half-written model, image or JSON."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ngvk.engine.errors import NgvkError


def check_writable(path: str | Path) -> None:
    """A one-line NgvkError now, before any work, when `path` could not be written later."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise NgvkError(f"cannot write {path}: folder {folder} does not exist")
    if path.is_dir():
        raise NgvkError(f"cannot write {path}: it is a folder")
    try:
        with tempfile.NamedTemporaryFile(prefix=f".{path.stem}.", dir=folder):
            pass
    except OSError as error:
        raise NgvkError(f"cannot write {path}: {error.strerror or error}") from None


def write_atomically(path: str | Path, write) -> None:
    """Call `write(temporary_path)`, then rename the result to `path`."""
    path = Path(path)
    check_writable(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=folder)
    except OSError as error:
        raise NgvkError(f"cannot write {path}: {error.strerror or error}") from None
    os.close(handle)
    try:
        write(temporary)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes it private; give it the usual mode
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise NgvkError(f"cannot write {path}: {error.strerror or error}") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
