"""`eosbench profiles`: the profiles that ship with eosbench, what each asks and how long it measures."""

from __future__ import annotations

import click

from bench.profile import SHIPPED, load, shipped
from bench.sweep import measurement_seconds, plan


@click.command()
def profiles() -> None:
    """List the shipped profiles: a name runs as it is (`eosbench run quick`), and
    `eosbench validate NAME` lists its cells."""
    paths = shipped()
    width = max(len(p.stem) for p in paths)
    for path in paths:
        profile = load(path)
        cells = plan(profile)
        minutes = measurement_seconds(profile, cells) / 60
        click.echo(f"{path.stem:<{width}}  {len(cells):4d} cells  {minutes:5.1f} min  {profile.description}")
    click.echo(f"(min: warm-up and measurement; topics, drains and the broker's start come on top. Files: {SHIPPED})")
