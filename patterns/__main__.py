"""``python -m patterns catalog [--json]``: list the implemented patterns."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")  # before aws_cdk loads

from patterns import catalog


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m patterns")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("catalog", help="list the implemented patterns")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.add_argument("--markdown", action="store_true", help="the README table")
    listing.add_argument("--update-readme", metavar="PATH", help="rewrite the generated parts of a README")
    args = parser.parse_args(argv)
    entries = catalog.entries()
    if args.update_readme:
        path = Path(args.update_readme)
        path.write_text(catalog.render_readme(path.read_text()))
        print(f"{path}: {len(entries)} patterns")
    elif args.json:
        json.dump([e.to_json() for e in entries], sys.stdout, indent=2)
        print()
    elif args.markdown:
        print(catalog.readme_table())
    else:
        width = max((len(e.name) for e in entries), default=4)
        for e in entries:
            print(f"{e.number:>2}  {e.name:<{width}}  {e.construct:<24} {e.demo_stack}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
