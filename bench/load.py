"""Bulk-load benchmark data into the database of DATABASE_URL (already migrated):

    python -m bench.load --tickets N [--agents N] [--customers N] [--seed N]

Bench databases only: every user shares one weak password (bench/data.py).
"""

import time

import click
from flask.cli import ScriptInfo, with_appcontext

from bench.data import BENCH_PASSWORD, load
from ccr import create_app


@click.command()
@click.option("--tickets", type=click.IntRange(min=0), default=1_000_000, show_default=True)
@click.option("--agents", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--customers", type=click.IntRange(min=1), default=100_000, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@with_appcontext
def bench_load(tickets: int, agents: int, customers: int, seed: int) -> None:
    """Bulk-load realistic benchmark data (bench databases only: one weak shared password)."""
    started = time.perf_counter()
    result = load(tickets, agents=agents, customers=customers, seed=seed, progress=click.echo)
    click.echo(
        f"Loaded {result.tickets:,} tickets and {result.messages:,} messages in "
        f"{time.perf_counter() - started:.1f} s (admin id {result.admin_id}; "
        f"password for every bench user: {BENCH_PASSWORD})."
    )


if __name__ == "__main__":
    bench_load(obj=ScriptInfo(create_app=create_app))
