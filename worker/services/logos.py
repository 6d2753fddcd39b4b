"""Service logos (IO's `Logo`: a base64 PNG): checked before anything is kept.

One module on purpose: the organisation and service logos of IO's sender API are
the same kind of image under the same rules, so the two can share it. A logo is
refused unless it decodes as strict base64 to at most `MAX_BYTES`, starts with the
PNG signature and a well-formed `IHDR` chunk (CRC checked) of a sane size, and ends
with an `IEND` chunk.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

MAX_BYTES = 512 * 1024
MAX_SIDE = 4096
_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_IEND = b"\x00\x00\x00\x00IEND\xae\x42\x60\x82"


class InvalidLogo(ValueError):
    """Why a logo was refused (the text of the 400)."""


@dataclass(frozen=True, slots=True)
class Png:
    data: bytes
    width: int
    height: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def decode_png(text: str) -> Png:
    """The PNG a base64 text holds, or `InvalidLogo`."""
    if len(text) > (MAX_BYTES * 4) // 3 + 4:
        raise InvalidLogo(f"logo: larger than {MAX_BYTES // 1024} KiB")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidLogo("logo: not base64") from exc
    if len(data) > MAX_BYTES:
        raise InvalidLogo(f"logo: larger than {MAX_BYTES // 1024} KiB")
    if not data.startswith(_SIGNATURE) or len(data) < len(_SIGNATURE) + 25 + len(_IEND):
        raise InvalidLogo("logo: not a PNG image")
    length, kind = struct.unpack(">I4s", data[8:16])
    if kind != b"IHDR" or length != 13:
        raise InvalidLogo("logo: not a PNG image (no IHDR chunk first)")
    header, crc = data[16:29], struct.unpack(">I", data[29:33])[0]
    if zlib.crc32(b"IHDR" + header) != crc:
        raise InvalidLogo("logo: damaged PNG (IHDR checksum)")
    width, height = struct.unpack(">II", header[:8])
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise InvalidLogo(f"logo: width and height from 1 to {MAX_SIDE} pixels")
    if not data.endswith(_IEND):
        raise InvalidLogo("logo: truncated PNG (no IEND chunk)")
    return Png(data, width, height)


class LogoStore(Protocol):
    async def put(self, service_id: str, png: Png, at: datetime) -> None: ...

    async def get(self, service_id: str) -> bytes | None: ...
