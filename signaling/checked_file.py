"""A deposited file served as what it is: its SHA-256 is the ETag, and it is hashed again
before it is sent, so a file changed on the pod's disk is refused, never served as evidence."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import hdrs, web

from courtroom.ledger import file_digest


class ChangedFile(Exception):
    def __init__(self, path: Path, expected: str, actual: str) -> None:
        super().__init__(f"{path.name}: expected sha256 {expected}, found {actual}")
        self.expected = expected
        self.actual = actual


class DepositedFileResponse(web.FileResponse):
    """aiohttp's FileResponse (ranges, sendfile) with the content hash as its ETag instead
    of the modification time and size, which say nothing about the bytes."""

    def __init__(self, path: Path, sha256: str, **kwargs: Any) -> None:
        super().__init__(path, **kwargs)
        self._sha256 = sha256
        self._headers[hdrs.ETAG] = f'"{sha256}"'

    @property  # type: ignore[override]
    def etag(self) -> Any:
        return super().etag

    @etag.setter
    def etag(self, value: Any) -> None:
        self._headers[hdrs.ETAG] = f'"{self._sha256}"'  # FileResponse would set the mtime one


async def checked(request: web.Request, path: Path, sha256: str, headers: dict[str, str]) -> web.StreamResponse:
    """304 when the client holds these bytes; else the file, once it hashes to `sha256`.
    Raises FileNotFoundError or ChangedFile."""
    tags = request.if_none_match
    if tags is not None and any(t.value in (sha256, "*") for t in tags):
        return web.Response(status=304, headers={"ETag": f'"{sha256}"'})
    actual, _ = await asyncio.to_thread(file_digest, path)
    if actual != sha256:
        raise ChangedFile(path, sha256, actual)
    return DepositedFileResponse(path, sha256, headers={k: v for k, v in headers.items() if k.lower() != "etag"})
