"""`eosbench validate PROFILE`: check a profile and show the cells it would run, running nothing."""

from __future__ import annotations

import click

from bench import profile as profiles
from bench.estimate import estimate
from bench.sweep import plan


@click.command()
@click.argument("profile_path", metavar="PROFILE", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE")
def validate(profile_path: str, overrides: tuple[str, ...]) -> None:
    """Validate PROFILE; print its cells in run order and how long the run will take on the embedded broker."""
    profile = profiles.load(profile_path, list(overrides))
    profiles.check_fits_embedded(profile)  # validate speaks of the embedded cluster: it contacts none
    cells = plan(profile)
    expected = estimate(profile, cells)
    click.echo(f"{profile_path}: valid. {profile.description}")
    click.echo(f"{len(cells)} cells ({len(cells) // profile.repeat} x {profile.repeat} repetitions, {profile.order}), "
               f"{expected.line()}")
    for planned in cells:
        click.echo(f"  {planned.ordinal:4d}  r{planned.repetition}  {planned.cell_id}")
