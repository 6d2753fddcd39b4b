"""`python -m devkit.reference [--check]`: write the generated reference pages, or only
say which are stale (exit 1)."""

from __future__ import annotations

import argparse
import sys

from devkit.reference import stale, write


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m devkit.reference", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report stale pages")
    args = parser.parse_args()
    if args.check:
        pages = stale()
        for page in pages:
            print(f"stale: {page} (run `make reference`)", file=sys.stderr)
        return 1 if pages else 0
    for page in write():
        print(f"wrote {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
