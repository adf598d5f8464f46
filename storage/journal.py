"""The ingest journal: acknowledged batches, appended and fsynced before DuckDB has them.

The writer answers an export once its batch is in the journal on disk, then hands DuckDB
whole row groups of spans at a time, which DuckDB writes compressed straight to the
database file instead of through its own WAL (measured: about twice the rows per second).
A batch leaves the journal only after DuckDB has committed it; whatever is still in the
journal when a process dies is committed when the database is next opened (the writer's
duplicate check drops what had already made it).

The journal is a directory beside the database (``<db>.journal``) of numbered segment
files. Each record is one batch: a header (magic, payload length, CRC-32 of the payload)
and, per table, its name and the table as an Arrow IPC stream. A record cut short by a
crash was never acknowledged (the fsync comes before the answer), so reading stops there.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa

from storage.batch import Batch

__all__ = ["Journal", "Record", "encode_batch", "journal_dir", "pending_segments", "read_segment"]

logger = logging.getLogger(__name__)

_MAGIC = b"GJR1"
_HEADER = struct.Struct("<4sII")  # magic, payload bytes, CRC-32 of the payload
_NAME = struct.Struct("<H")
_SIZE = struct.Struct("<Q")
_SUFFIX = ".seg"


def journal_dir(database_path: str | Path) -> Path:
    return Path(f"{database_path}.journal")


def pending_segments(directory: Path) -> list[Path]:
    """The segment files in ``directory``, oldest first."""
    if not directory.is_dir():
        return []
    segments = [path for path in directory.glob(f"*{_SUFFIX}") if path.stem.isdigit()]
    return sorted(segments, key=lambda path: int(path.stem))


# a record as the pieces to write: its header, then per table a name header and the IPC
# stream, which is written from Arrow's buffer without a copy
Record = list[bytes | pa.Buffer]


def encode_batch(batch: Batch) -> Record:
    body: Record = []
    for name, table in batch.tables.items():
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as stream:
            stream.write_table(table)
        ipc = sink.getvalue()
        encoded = name.encode()
        body += [_NAME.pack(len(encoded)) + encoded + _SIZE.pack(ipc.size), ipc]
    crc = 0
    for part in body:
        crc = zlib.crc32(part, crc)
    return [_HEADER.pack(_MAGIC, sum(len(part) for part in body), crc), *body]


def _decode_payload(payload: memoryview) -> Batch:
    tables: dict[str, pa.Table] = {}
    at = 0
    while at < len(payload):
        (name_size,) = _NAME.unpack_from(payload, at)
        at += _NAME.size
        name = bytes(payload[at : at + name_size]).decode()
        at += name_size
        (ipc_size,) = _SIZE.unpack_from(payload, at)
        at += _SIZE.size
        tables[name] = pa.ipc.open_stream(pa.py_buffer(payload[at : at + ipc_size])).read_all()
        at += ipc_size
    return Batch(tables)


def read_segment(path: Path) -> Iterator[Batch]:
    """The batches in one segment, up to the first record that is cut short or damaged."""
    data = memoryview(path.read_bytes())
    at = 0
    while at < len(data):
        if len(data) - at < _HEADER.size:
            logger.warning("%s: a record header cut short at byte %d (not acknowledged); ignored", path, at)
            return
        magic, size, crc = _HEADER.unpack_from(data, at)
        payload = data[at + _HEADER.size : at + _HEADER.size + size]
        if magic != _MAGIC or len(payload) != size or zlib.crc32(payload) != crc:
            logger.warning("%s: the record at byte %d is cut short or damaged (not acknowledged); ignored", path, at)
            return
        yield _decode_payload(payload)
        at += _HEADER.size + size


class Journal:
    """Appends records to the newest segment; the writer discards segments once committed."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        existing = pending_segments(directory)
        self._number = int(existing[-1].stem) if existing else 0
        self._sealed: list[Path] = []
        self._file: BinaryIO | None = None  # opened by the first append after a rotation

    @property
    def current(self) -> Path:
        return self._segment(self._number)

    def append(self, records: list[Record]) -> None:
        """Write ``records`` and fsync: once this returns they survive a crash.

        If writing fails (a full disk), the segment may end in a torn record, which ends
        reading it: it is sealed, later records go to a new segment, and the caller fails
        the batches.
        """
        try:
            if self._file is None:
                self._file = self._open_next()
            for record in records:
                for part in record:
                    self._file.write(part)
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError:
            self._seal()
            raise

    def rotate(self) -> list[Path]:
        """Seal the current segment; return the segments sealed since the last rotation."""
        self._seal()
        sealed, self._sealed = self._sealed, []
        return sealed

    def close(self) -> None:
        for segment in self.rotate():
            if segment.exists() and segment.stat().st_size == 0:
                segment.unlink()

    def _seal(self) -> None:
        if self._file is None:
            return
        self._sealed.append(self.current)
        with suppress(OSError, ValueError):
            self._file.close()
        self._file = None

    def _segment(self, number: int) -> Path:
        return self.directory / f"{number:08d}{_SUFFIX}"

    def _open_next(self) -> BinaryIO:
        self._number += 1
        handle = self._segment(self._number).open("xb")
        _fsync_directory(self.directory)  # the new file's name survives a crash too
        return handle


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
