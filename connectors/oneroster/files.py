"""The files of one exchange (a zip, or a folder), each opened only when asked for, as a
stream within caps.

An exchange is a path an operator configured, but what lies in it is the exporter's: so a
member is read only when the connector needs it, never inflated whole into memory, and
refused (SourceError, naming the file) when it is not a regular file, is a symlink leading out
of the folder, inflates past the size cap, or inflates suspiciously far for its compressed
size (a zip bomb). Python's zipfile docs, "Decompression pitfalls", say why each check.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from mis_sync.core.errors import SourceError

MB = 1024 * 1024
# Below this a member's ratio is not judged: a small file of repeated IDs compresses well.
RATIO_FLOOR = 1 * MB


class Caps:
    """How much one file may hold: `max_bytes` read (inflated), and for a zip member at most
    `max_ratio` times its compressed size."""

    def __init__(self, max_bytes: int, max_ratio: int) -> None:
        self.max_bytes, self.max_ratio = max_bytes, max_ratio


class Files:
    """The CSV files of an exchange by name (matched case-insensitively), opened on demand."""

    def __init__(self, where: Path, caps: Caps) -> None:
        self.where, self.caps = where, caps
        self.names: dict[str, str] = {}  # lower-cased name -> name as the exporter wrote it

    def has(self, name: str) -> bool:
        return name.lower() in self.names

    def listing(self) -> list[str]:
        return sorted(self.names.values())

    def open(self, name: str) -> BinaryIO:  # pragma: no cover - see the two kinds below
        raise NotImplementedError


class _Folder(Files):
    def __init__(self, where: Path, caps: Caps) -> None:
        super().__init__(where, caps)
        self.real = where.resolve()
        for entry in where.iterdir():
            if entry.name.lower().endswith(".csv"):
                self.names.setdefault(entry.name.lower(), entry.name)

    def open(self, name: str) -> BinaryIO:
        path = self.where / self.names[name.lower()]
        real = path.resolve()
        if path.is_symlink() and not real.is_relative_to(self.real):
            raise SourceError(f"{path}: a symlink leading out of the exchange's folder; refused")
        return _Capped(_open_regular(real, shown=path), path.name, self.caps, None)


class _Zip(Files):
    def __init__(self, where: Path, caps: Caps, archive: zipfile.ZipFile) -> None:
        super().__init__(where, caps)
        self.archive = archive
        names = [i.filename for i in archive.infolist() if not i.is_dir()]
        csvs = [n for n in names if n.lower().endswith(".csv")]
        # Zipping a folder puts its files under the folder's name: accept one such level.
        prefix = ""
        if "manifest.csv" not in (n.lower() for n in csvs):
            nested = [n for n in csvs if n.count("/") == 1 and n.lower().endswith("/manifest.csv")]
            if len(nested) == 1:
                prefix = nested[0][: -len("manifest.csv")]
        self.members = {}
        for n in csvs:
            short = n.removeprefix(prefix)
            if n.startswith(prefix) and "/" not in short:
                self.names.setdefault(short.lower(), short)
                self.members.setdefault(short.lower(), n)

    def open(self, name: str) -> BinaryIO:
        info = self.archive.getinfo(self.members[name.lower()])
        shown = f"{self.where}: {self.names[name.lower()]}"
        caps = self.caps
        if info.file_size > caps.max_bytes:
            raise SourceError(
                f"{shown}: inflates to {info.file_size // MB} MB, over the cap of"
                f" {caps.max_bytes // MB} MB (option max_file_mb)"
            )
        _check_ratio(shown, info.file_size, info.compress_size, caps)
        try:
            member = self.archive.open(info)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError) as exc:
            raise SourceError(f"{shown}: cannot be read from the zip: {exc}") from None
        return _Capped(member, shown, caps, info.compress_size)


@contextlib.contextmanager
def opened(path: Path, caps: Caps) -> Iterator[Files]:
    """The exchange at `path`, held open while its files are read."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file or folder") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot be read: {exc.strerror}") from None
    if stat.S_ISDIR(mode):
        yield _Folder(path, caps)
        return
    raw = _open_regular(path, shown=path)
    try:
        try:
            archive = zipfile.ZipFile(raw)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise SourceError(f"{path}: not a readable zip file or a folder: {exc}") from None
        with archive:
            yield _Zip(path, caps, archive)
    finally:
        raw.close()


def _open_regular(path: Path, *, shown) -> BinaryIO:
    """Open a file only if it is a regular one: a FIFO or a device would block or never end.

    O_NONBLOCK makes opening a FIFO return at once, and the check is on the opened file
    itself, so nothing can be swapped in between the check and the read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise SourceError(f"{shown}: cannot be read: {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise SourceError(
            f"{shown}: not a regular file (a FIFO, device or socket); only regular files are read"
        )
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def _check_ratio(shown: str, inflated: int, compressed: int | None, caps: Caps) -> None:
    if compressed is None or inflated <= RATIO_FLOOR:
        return
    if inflated > caps.max_ratio * max(compressed, 1):
        raise SourceError(
            f"{shown}: inflates more than {caps.max_ratio} times its compressed size"
            " (a zip bomb?); refused (option max_zip_ratio)"
        )


class _Capped(io.RawIOBase):
    """A stream that fails, naming the file, once more than the caps allow has come out of it.

    The member's declared sizes are checked before it is opened; this holds even when they lie.
    """

    def __init__(self, inner: BinaryIO, shown, caps: Caps, compressed: int | None) -> None:
        self.inner, self.shown, self.caps, self.compressed = inner, shown, caps, compressed
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self.inner.read(len(buffer))
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise SourceError(f"{self.shown}: cannot be read: {exc}") from None
        self.count += len(data)
        if self.count > self.caps.max_bytes:
            raise SourceError(
                f"{self.shown}: more than {self.caps.max_bytes // MB} MB, the cap"
                " (option max_file_mb)"
            )
        _check_ratio(self.shown, self.count, self.compressed, self.caps)
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.inner.close()
        super().close()
