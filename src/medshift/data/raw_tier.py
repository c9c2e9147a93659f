"""Check the raw data tier before DVC hashes it (the ``check_raw`` stage).

DVC hashes ``data/raw`` as the ingest stage's dependency. It fails deep inside with a bare
``[Errno 2]`` on a link to nothing or a link loop between files, and it does not look inside
linked folders at all, so a change there would not re-run ingestion. This check names the
first bad link in one line, and fingerprints every linked folder (relative path, size and
mtime of each file) into the report the ingest stage also depends on.
"""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

from medshift.config.ingest import SourceConfig


class RawTierError(ValueError):
    """A link inside the raw tier that DVC cannot hash."""


def check_raw_tier(raw: Path, sources: tuple[SourceConfig, ...] = ()) -> dict:
    """Find links DVC cannot hash and fingerprint linked folders.

    Args:
        raw: the raw tier (``data/raw``).
        sources: params.ingest.sources, to list those outside the tier.

    Returns:
        ``{"raw", "linked_folders": {path: fingerprint}, "sources_outside_raw": [...]}``,
        deterministic for unchanged data (DVC compares it).

    Raises:
        RawTierError: one line naming the first bad link and how many there are.
    """
    problems, linked = [], {}
    for dirpath, dirnames, filenames in os.walk(raw):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            if not path.is_symlink():
                continue
            try:
                os.stat(path)
            except OSError as exc:
                problems.append(_describe(path, exc))
                continue
            if path.is_dir():
                linked[path.relative_to(raw).as_posix()] = _fingerprint(path)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise RawTierError(f"{problems[0]}{more}; DVC cannot hash the raw tier {raw}: remove "
                           f"the link or point it at a file")
    root = os.path.realpath(raw)
    outside = [s.path for s in sources
               if os.path.commonpath([root, os.path.realpath(s.path)]) != root]
    return {"raw": str(raw), "linked_folders": linked, "sources_outside_raw": outside}


def _describe(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return f"{path}: link loop"
    return f"{path}: dangling link to {os.readlink(path)!r}"


def _fingerprint(folder: Path) -> str:
    """sha256 of (relative path, size, mtime) of every file under a linked folder."""
    digest = hashlib.sha256()
    seen = {os.path.realpath(folder)}
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        keep = []
        for d in sorted(dirnames):
            real = os.path.realpath(Path(dirpath) / d)
            if real not in seen:
                seen.add(real)
                keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            path = Path(dirpath) / name
            try:
                st = os.stat(path)
            except OSError:
                continue  # ingestion quarantines it; DVC never looks inside linked folders
            rel = path.relative_to(folder).as_posix()
            digest.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]
