"""The benchmarks' command for ``passport`` (entry point ``passport.commands``): ``bench``, the
engine against its peers, in one process on the same inputs."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("bench")
@click.option("--quick", is_flag=True, help="Few repeats and 2,000 accuracy pairs (a smoke run).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the figures as JSON to this file.")
@click.option("--no-startup", is_flag=True, help="Skip the cold/warm numba cache start runs.")
@click.option("--no-accuracy", is_flag=True, help="Skip the accuracy table.")
@click.option("--no-extras", is_flag=True,
              help="Skip other areas' sections (bench/cards.py, bench/api.py, ...).")
def bench_command(quick: bool, as_json: bool, out_path: Path | None, no_startup: bool,
                  no_accuracy: bool, no_extras: bool) -> None:
    """Time the geodistance engine against geopy, haversine, numpy, BallTree and pyproj.

    Prints min and median per call, the ratio to the fastest row of each task, the
    accuracy against the WGS84 geodesic and cold/warm start times. Peers that are not
    installed are listed as skipped (`make bench` installs them).

    Example: passport bench --quick --out bench/results/quick.json
    """
    from bench.runner import format_text, run

    result = run(quick=quick, startup=not no_startup, accuracy=not no_accuracy,
                 extras=not no_extras)
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    if as_json:
        click.echo(json.dumps(result, default=str))
    else:
        click.echo(format_text(result))
