"""Source trees and mapping files -> input candidates, with every skipped path accounted for.

Directory links are followed (a subject folder may be a link), except one that leads back
into a folder it was reached from (a loop): that link is quarantined ``unreadable``. Links to
nothing, link loops between files, folders that cannot be listed and anything that is not a
regular file (FIFO, socket, device) are quarantined here, unread, with the reason in the
detail. Files matching a source's ``exclude`` patterns are counted, never silently dropped.
"""

from __future__ import annotations

import csv
import errno
import fnmatch
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from medshift.config.ingest import SourceConfig

MAPPING_COLUMNS = ("path", "class")


@dataclass(frozen=True)
class Candidate:
    """One input file and what its source says about it."""

    path: str
    rel: str
    source: SourceConfig
    given_class: str | None = None
    given_subject: str | None = None
    given_view: str | None = None


@dataclass
class Discovery:
    """What a source holds: candidates, paths quarantined unread, excluded file count."""

    candidates: list[Candidate] = field(default_factory=list)
    quarantine: list[dict] = field(default_factory=list)
    excluded: int = 0


def discover(source: SourceConfig) -> Discovery:
    """Every file under a source tree, or the rows of a CSV mapping file, in sorted order."""
    root = Path(source.path)
    found = Discovery()
    if source.kind == "csv":
        found.candidates = mapping_candidates(root, source)
        return found
    _walk(root, root, source, frozenset({os.path.realpath(root)}), found)
    return found


def _skip(found: Discovery, path: Path, detail: str) -> None:
    found.quarantine.append({"path": str(path), "reason": "unreadable", "detail": detail})


def _walk(folder: Path, root: Path, source: SourceConfig, ancestors: frozenset[str],
          found: Discovery) -> None:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        _skip(found, folder, f"folder cannot be listed: {exc.strerror or exc}")
        return
    for entry in entries:
        full = Path(entry.path)
        rel = full.relative_to(root).as_posix()
        kind = _kind(full)
        if kind == "dir":
            real = os.path.realpath(full)
            if real in ancestors:
                _skip(found, full, f"directory link loop: leads back to {real}")
            else:
                _walk(full, root, source, ancestors | {real}, found)
        elif any(fnmatch.fnmatch(rel, pattern) for pattern in source.exclude):
            found.excluded += 1
        elif kind == "file":
            found.candidates.append(Candidate(str(full), rel, source))
        else:
            _skip(found, full, kind)


def _kind(path: Path) -> str:
    """'dir', 'file', or why the path is no input file."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "link loop: the link resolves to itself"
        if os.path.islink(path):
            return f"dangling link to {os.readlink(path)!r}"
        return f"{type(exc).__name__}: {exc.strerror or exc}"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    return "not a regular file (FIFO, socket or device)"


def read_mapping(mapping: Path) -> list[dict[str, str]]:
    """The rows of a mapping CSV (UTF-8, no byte-order mark, columns path and class).

    Raises:
        ValueError: the file cannot be decoded, starts with a byte-order mark, or lacks a
            column; the message names the file and the cause in one line.
    """
    data = mapping.read_bytes()
    if data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        raise ValueError(f"{mapping}: starts with a byte-order mark (as spreadsheet programs "
                         f"write); save it as plain UTF-8 without BOM")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{mapping}: not UTF-8 text (byte {exc.start})") from None
    rows = list(csv.DictReader(text.splitlines()))
    header = set(rows[0]) if rows else set(next(csv.reader(text.splitlines()), []))
    missing = sorted(set(MAPPING_COLUMNS) - header)
    if missing:
        raise ValueError(f"{mapping}: mapping CSV lacks columns {missing} "
                         f"(has {sorted(header)})")
    return rows


def mapping_candidates(mapping: Path, source: SourceConfig) -> list[Candidate]:
    """One candidate per mapping row; paths are relative to the mapping file's folder."""
    return [Candidate(str(mapping.parent / r["path"]), r["path"], source, r["class"] or None,
                      r.get("subject_id") or None, r.get("view") or None)
            for r in read_mapping(mapping)]
