"""`postino contracts`: check or write the generated contract files in schemas/generated/:
a JSON Schema per topic value and the AsyncAPI document (`schemas.export`), and the
OpenAPI document of the HTTP API (`worker.ingress.openapi`, every route declared).

Without `--write` it only checks, and exits 1 naming the stale files (what CI and
the staleness test do); `make schemas` runs it with `--write`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import schemas
from schemas import export

GENERATED = Path(schemas.__file__).resolve().parent / "generated"
OPENAPI_FILE = "openapi.json"
_GENERATED_SUFFIXES = (".schema.json", export.ASYNCAPI_FILE, OPENAPI_FILE)


def openapi_document() -> dict[str, Any]:
    from worker.ingress import app, openapi  # importing the app declares every route

    _ = app
    return openapi.document()


def rendered() -> dict[str, str]:
    """File name -> content of every generated contract file."""
    files = export.rendered()
    files[OPENAPI_FILE] = json.dumps(openapi_document(), indent=2, ensure_ascii=False) + "\n"
    return files


def stale(folder: Path = GENERATED) -> list[str]:
    """Files that are missing, different from a fresh rendering, or no longer generated."""
    wanted = rendered()
    found = {p.name for p in folder.glob("*") if p.name.endswith(_GENERATED_SUFFIXES)}
    differ = [
        name
        for name, text in wanted.items()
        if not (folder / name).is_file() or (folder / name).read_text() != text
    ]
    return sorted(differ + [name for name in found if name not in wanted])


def write(folder: Path = GENERATED) -> list[str]:
    """Bring the folder up to date; returns the names written or removed."""
    folder.mkdir(parents=True, exist_ok=True)
    changed = stale(folder)
    wanted = rendered()
    for name in changed:
        path = folder / name
        if name in wanted:
            path.write_text(wanted[name])
        else:
            path.unlink()
    return changed


def _command(_: Any, args: argparse.Namespace) -> int:
    folder = Path(args.dir) if args.dir else GENERATED
    if args.write:
        changed = write(folder)
        print(f"{len(changed)} file(s) updated in {folder}: {', '.join(changed) or 'none'}")
        return 0
    outdated = stale(folder)
    if outdated:
        print(f"stale contract files in {folder}: {', '.join(outdated)}")
        print("run `make schemas` (postino contracts --write) and commit the result")
        return 1
    print(f"contract files in {folder} are up to date")
    return 0


def register(sub: Any, commands: dict[str, Callable[..., int]]) -> None:
    parser = sub.add_parser(
        "contracts", help="check (or --write) the JSON Schemas, AsyncAPI and OpenAPI documents"
    )
    parser.add_argument("--write", action="store_true", help="write the files instead of checking")
    parser.add_argument("--dir", help="output folder (default: schemas/generated)")
    commands["contracts"] = _command
