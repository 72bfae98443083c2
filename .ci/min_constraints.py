"""Print pip constraints that install the lowest versions pyproject.toml declares for the CDK stack.

The floors are read from pyproject.toml (never copied), so the min check cannot drift from what the
package claims. Every other package keeps its pin from constraints.txt, except the ones aws-cdk-lib
itself pins tightly (its jsii runtime and asset packages): those are left to pip, which picks the
versions the floor release accepts.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The packages whose declared floor the min check installs.
FLOORED = ("aws-cdk-lib", "constructs", "cdk-nag")
#: Pinned by aws-cdk-lib's own metadata: the floor release decides them.
FOLLOWERS = re.compile(r"^(aws-cdk\.|jsii$|publication$|typeguard$|cattrs$|attrs$)")


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~\[;]", requirement, maxsplit=1)[0].lower()


def floors(pyproject: dict) -> dict[str, str]:
    """The ``>=`` bound of each FLOORED requirement, wherever pyproject declares it."""
    project = pyproject["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements.extend(extra)
    found: dict[str, str] = {}
    for requirement in requirements:
        name = _name(requirement)
        match = re.search(r">=\s*([\w.]+)", requirement)
        if name in FLOORED and match:
            found[name] = match.group(1)
    missing = sorted(set(FLOORED) - set(found))
    if missing:
        raise SystemExit(f"pyproject.toml declares no '>=' floor for {', '.join(missing)}")
    return found


def main() -> None:
    lowest = floors(tomllib.loads((ROOT / "pyproject.toml").read_text()))
    lines = [f"{name}=={version}" for name, version in sorted(lowest.items())]
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        name = _name(line)
        if not name or name.startswith("#") or name in lowest or FOLLOWERS.match(name):
            continue
        lines.append(line)
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
