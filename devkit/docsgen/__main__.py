"""`python -m devkit.docsgen [--write]`: check (or write) the generated doc pages."""

from __future__ import annotations

import argparse
import sys

from devkit.docsgen import ROOT, stale, write


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m devkit.docsgen", description=__doc__)
    parser.add_argument("--write", action="store_true", help="write the stale pages")
    args = parser.parse_args()
    if args.write:
        changed = write()
        print(f"{len(changed)} page(s) updated under {ROOT / 'docs'}")
        for path in changed:
            print(f"  {path.relative_to(ROOT)}")
        return 0
    outdated = stale()
    for path in outdated:
        print(f"stale: {path.relative_to(ROOT)} (run make reference)", file=sys.stderr)
    return 1 if outdated else 0


if __name__ == "__main__":
    sys.exit(main())
