"""``python -m patterns catalog [--json]``: list the implemented patterns; ``diagram``: draw a stack."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
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
    listing.add_argument(
        "--assembly", metavar="DIR", help="draw the README diagrams from this synthesized demo app (Default: synth it)"
    )
    drawing = commands.add_parser("diagram", help="a Mermaid data-flow diagram of a synthesized stack")
    drawing.add_argument("source", help="a template .json file, or a cloud assembly folder (cdk.out)")
    drawing.add_argument("stack", nargs="?", help="the stack (id or name) in an assembly of several")
    drawing.add_argument("--plumbing", action="store_true", help="also roles, log groups, alarms, providers")
    drawing.add_argument("--direction", default="LR", choices=["LR", "TB", "RL", "BT"], help="Default: LR")
    drawing.add_argument("--markdown", action="store_true", help="wrapped in a ```mermaid block")
    args = parser.parse_args(argv)
    if args.command == "diagram":
        return _diagram(args)
    entries = catalog.entries()
    if args.update_readme:
        path = Path(args.update_readme)
        if args.assembly:
            diagrams = catalog.demo_diagrams(args.assembly)
        else:
            with tempfile.TemporaryDirectory(prefix="cdk.out-") as outdir:
                diagrams = catalog.demo_diagrams(_synth_demo_app(Path(outdir)))
        path.write_text(catalog.render_readme(path.read_text(), diagrams))
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


def _synth_demo_app(outdir: Path) -> Path:
    """Synthesize the demo app (demo/, next to app.py) with cdk.json's context, as ``cdk synth`` would."""
    try:
        from demo import build_all
    except ImportError as error:
        message = f"the demo stacks are not installed with the package: run this in the repository ({error})"
        raise SystemExit(message) from error
    from aws_cdk import App

    cdk_json = Path("cdk.json")
    context = json.loads(cdk_json.read_text()).get("context", {}) if cdk_json.is_file() else {}
    app = App(context=context, outdir=str(outdir))
    build_all(app)
    app.synth()
    return outdir


def _diagram(args: argparse.Namespace) -> int:
    from patterns import diagram

    try:
        template = diagram.load_template(args.source, args.stack)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    text = diagram.from_template(template, plumbing=args.plumbing, direction=args.direction)
    print(f"```mermaid\n{text}```" if args.markdown else text, end="\n" if args.markdown else "")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
