"""Writing a file ops generates: atomically, and never through a name someone planted.

A fixed temporary name beside the target (``x.rules.yaml.tmp``) is a trap in any folder
another user can write to (a shared or CI workspace, a checkout): a symbolic link planted
at that name makes ``open(..., "w")`` truncate and overwrite whatever it points to, and a
``chmod`` by path changes that file's mode. So the temporary is made by ``mkstemp``
(``O_CREAT | O_EXCL``: a new file, never an existing name or link), its mode set on the
open descriptor, and it is renamed over the target: a reader sees the old file or the new
one, never half, and a link at the target's own name is replaced, not followed.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable

GENERATED_MODE = 0o644  # rule files, converted SLOs: read by Prometheus, checked into Git
PRIVATE_MODE = 0o600  # files holding step output: as private as the run state


def write_atomically(
    path: str,
    data: str | bytes,
    *,
    mode: int = GENERATED_MODE,
    durable: bool = False,
    before_replace: Callable[[], None] = lambda: None,
) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8) and give it ``mode``.

    ``durable``: synced to disk before the rename, and the folder after it, so a power loss
    leaves the old file or the new one. ``before_replace`` runs once the new file is whole,
    just before the rename (a test's window; nothing is replaced if it raises). Raises
    ``OSError``; the caller names the file.
    """
    content = data.encode("utf-8") if isinstance(data, str) else data
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(
        dir=directory, prefix=_temporary_prefix(path, directory), suffix=".tmp"
    )
    try:
        try:
            os.fchmod(handle, mode)
            view = memoryview(content)
            while view:
                view = view[os.write(handle, view) :]
            if durable:
                os.fsync(handle)
        finally:
            os.close(handle)
        before_replace()
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    if durable:
        folder = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


_TEMPORARY_EXTRA = len("..") + 8 + len(".tmp")  # around the name: dots, mkstemp's 8, suffix


def _temporary_prefix(path: str, directory: str) -> str:
    """``.NAME.``, with NAME cut (at a character, counted in bytes) so that the temporary's
    name stays within the folder's NAME_MAX: a target whose name fits (a 236-character
    service's ``.rules.yaml``) once failed because its temporary's did not."""
    try:
        name_max = os.pathconf(directory, "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    encoded = os.fsencode(os.path.basename(path))[: max(0, name_max - _TEMPORARY_EXTRA)]
    return f".{encoded.decode('utf-8', 'ignore')}."  # a character cut in two is left out
