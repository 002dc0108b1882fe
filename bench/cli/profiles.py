"""`eosbench profiles`: the profiles that ship with eosbench, what each asks and how long it runs."""

from __future__ import annotations

import click

from bench.profile import SHIPPED, load, shipped
from bench.estimate import estimate
from bench.sweep import plan


@click.command()
def profiles() -> None:
    """List the shipped profiles: a name runs as it is (`eosbench run quick`), and
    `eosbench validate NAME` lists its cells."""
    paths = shipped()
    width = max(len(p.stem) for p in paths)
    for path in paths:
        profile = load(path)
        cells = plan(profile)
        minutes = estimate(profile, cells).wall_s / 60
        click.echo(f"{path.stem:<{width}}  {len(cells):4d} cells  {minutes:5.1f} min  {profile.description}")
    click.echo(f"(min: the expected wall time on 2 cores with the embedded broker, as `eosbench validate NAME` "
               f"details it. Files: {SHIPPED})")
