"""Logos of organisations and services: base64 PNGs checked, stored,
and served to the citizen app.

A logo is accepted only when it is what IO asks for: a PNG (signature, then a
well-formed chunk sequence with valid CRCs, from IHDR to IEND), square, from
`MIN_SIDE` to `MAX_SIDE` pixels a side (IO's guide asks for 300 x 300), at most
the configured number of bytes. Nothing else of the image is decoded. A service
without a logo of its own shows its organisation's, as in IO.

The store is a port (`LogoStore`); every route that takes a logo (IO's sender
routes, the CMS's `PUT /manage/services/{id}/logo`) calls `save` here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

Kind = Literal["organization", "service"]
ORGANIZATION: Kind = "organization"
SERVICE: Kind = "service"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MIN_SIDE, MAX_SIDE = 300, 1000
#: Largest logo accepted by default (bytes, decoded).
DEFAULT_MAX_BYTES = 64 * 1024
# Valid (colour type, bit depths) pairs of the PNG specification, section 11.2.2.
_DEPTHS = {0: {1, 2, 4, 8, 16}, 2: {8, 16}, 3: {1, 2, 4, 8}, 4: {8, 16}, 6: {8, 16}}


class InvalidLogo(ValueError):
    """The logo is refused; the text says why (a 400's detail)."""


@dataclass(frozen=True, slots=True)
class Logo:
    png: bytes
    width: int
    height: int

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.png).hexdigest()[:32] + '"'


@dataclass(frozen=True, slots=True)
class StoredLogo:
    png: bytes
    etag: str
    updated_at: datetime


class LogoStore(Protocol):
    async def save(self, kind: Kind, owner: str, logo: Logo) -> None: ...

    async def organization_logo(self, fiscal_code: str) -> StoredLogo | None: ...

    async def service_logo(self, service_id: str) -> StoredLogo | None:
        """The service's own logo, else its organisation's; None when neither."""
        ...


def _chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of every chunk, checked: lengths in bounds, CRCs right, IEND last."""
    found: list[tuple[bytes, bytes]] = []
    at = len(PNG_SIGNATURE)
    while at < len(png):
        if at + 12 > len(png):
            raise InvalidLogo("logo: the PNG is truncated")
        length, kind = struct.unpack(">I4s", png[at : at + 8])
        end = at + 8 + length
        if end + 4 > len(png):
            raise InvalidLogo("logo: the PNG is truncated")
        data = png[at + 8 : end]
        (crc,) = struct.unpack(">I", png[end : end + 4])
        if zlib.crc32(kind + data) != crc:
            raise InvalidLogo(f"logo: PNG chunk {kind!r} has a bad CRC")
        found.append((kind, data))
        at = end + 4
        if kind == b"IEND":
            break
    if not found or found[-1][0] != b"IEND" or at != len(png):
        raise InvalidLogo("logo: the PNG does not end with its IEND chunk")
    return found


def _dimensions(ihdr: bytes) -> tuple[int, int]:
    if len(ihdr) != 13:
        raise InvalidLogo("logo: the PNG header (IHDR) is malformed")
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(
        ">IIBBBBB", ihdr
    )
    if depth not in _DEPTHS.get(colour, set()) or compression or filtering or interlace > 1:
        raise InvalidLogo("logo: the PNG header (IHDR) is malformed")
    return width, height


def parse_png(png: bytes) -> Logo:
    """The PNG checked as a logo (see the module docstring)."""
    if not png.startswith(PNG_SIGNATURE):
        raise InvalidLogo("logo: not a PNG image")
    chunks = _chunks(png)
    if chunks[0][0] != b"IHDR":
        raise InvalidLogo("logo: the PNG does not start with its IHDR chunk")
    width, height = _dimensions(chunks[0][1])
    if width != height or not MIN_SIDE <= width <= MAX_SIDE:
        raise InvalidLogo(
            f"logo: {width}x{height} pixels; expected a square from {MIN_SIDE}x{MIN_SIDE}"
            f" to {MAX_SIDE}x{MAX_SIDE} (IO asks for 300x300)"
        )
    if not any(kind == b"IDAT" for kind, _ in chunks):
        raise InvalidLogo("logo: the PNG has no image data")
    return Logo(png, width, height)


def decode_logo(text: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Logo:
    """IO's `Logo.logo` (base64 of a PNG) checked as a logo."""
    if len(text) > (max_bytes + 2) // 3 * 4 + 4:
        raise InvalidLogo(f"logo: larger than {max_bytes} bytes")
    try:
        png = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidLogo("logo: not base64") from exc
    if len(png) > max_bytes:
        raise InvalidLogo(f"logo: larger than {max_bytes} bytes")
    return parse_png(png)


async def save(
    store: LogoStore, kind: Kind, owner: str, text: str, max_bytes: int = DEFAULT_MAX_BYTES
) -> Logo:
    """Check and store the logo of an organisation (its fiscal code) or a service
    (its id); `InvalidLogo` when refused. The caller checks who may do it."""
    logo = decode_logo(text, max_bytes)
    await store.save(kind, owner, logo)
    return logo
