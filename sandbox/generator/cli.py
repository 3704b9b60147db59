"""`crmwh sandbox generate|mutate`: the generator's typer sub-app (mounted by crmwh.cli)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sandbox.generator import world as W
from sandbox.generator.core import generate as _generate
from sandbox.generator.mutate import mutate as _mutate

app = typer.Typer(help="Generate and mutate the sandbox CRM state (Bitrix24 + amoCRM).", no_args_is_help=True)
console = Console()


@app.command("generate")
def generate_cmd(
    out: Path = typer.Option(..., "--out", help="Directory to write the sandbox state into."),
    seed: int = typer.Option(42, "--seed"),
    leads: int = typer.Option(10_000, "--leads", help="Total leads across all accounts."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="YYYY-MM-DD (default: today, Moscow)."),
    months: int = typer.Option(12, "--months", help="History length in months."),
    second_portal: bool = typer.Option(False, "--second-portal", help="Add the Bitrix24 portal b24-spb."),
) -> None:
    """Generate a deterministic sandbox: DuckDB per account, truth Parquet, plans CSV/XLSX."""
    accounts = W.DEFAULT_ACCOUNTS + (["b24-spb"] if second_portal else [])
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as bar:
        tasks: dict[str, int] = {}

        def progress(account: str, done: int, total: int) -> None:
            if account not in tasks:
                tasks[account] = bar.add_task(account, total=total)
            bar.update(tasks[account], completed=done)

        manifest = _generate(out, seed=seed, leads=leads, as_of=as_of, accounts=accounts, months=months,
                             progress=progress)
    console.print(f"[green]sandbox written to {out}[/] as_of={manifest['as_of']} "
                  f"accounts={', '.join(a['account'] for a in manifest['accounts'])}")


@app.command("mutate")
def mutate_cmd(
    data: Path = typer.Option(..., "--data", help="A generated sandbox directory."),
    seed: int = typer.Option(..., "--seed"),
    changes: int = typer.Option(200, "--changes", help="Number of CRM changes across accounts."),
) -> None:
    """Apply one day of CRM work offline and write mutations/NNNN.json."""
    with console.status("mutating"):
        summary = _mutate(data, seed=seed, changes=changes)
    counts = {a: {k: sum(len(v) for v in x[k].values()) for k in ("changed", "added", "deleted")}
              for a, x in summary["accounts"].items()}
    console.print(f"[green]mutation {summary['number']:04d}[/] as_of -> {summary['as_of_after']}")
    console.print_json(json.dumps(counts))
