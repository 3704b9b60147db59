"""The `crmwh` command: one entry point for the sandbox, the pipeline and its reports.

Each area owns its sub-commands (the generator's live in sandbox/generator/cli.py); this module
only mounts them, so that `crmwh --help` shows the whole tool.
"""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

import crmwh  # noqa: F401  (switches off usage statistics before anything else is imported)
from crmwh.privacy import PROJECT_ROOT

console = Console()
app = typer.Typer(help="crm-sales-warehouse: Bitrix24 and amoCRM into a BI-ready sales warehouse.",
                  no_args_is_help=True, add_completion=False)
sandbox_app = typer.Typer(help="The CRM sandbox: generate a sales department, serve it as Bitrix24/amoCRM APIs.",
                          no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")

try:  # the generator's own commands (generate, mutate) join `crmwh sandbox`
    from sandbox.generator.cli import app as _generator_app

    sandbox_app.registered_commands.extend(_generator_app.registered_commands)
except ImportError:  # pragma: no cover - only while the generator package is being written
    pass

DEFAULT_DEMO_DIR = PROJECT_ROOT / "sandbox_data" / "demo"


def _load_faults(faults: Optional[str]):
    from sandbox.common.faults import FaultConfig

    if not faults:
        return None
    text = Path(faults).read_text(encoding="utf-8") if Path(faults).is_file() else faults
    try:
        return FaultConfig.from_dict(json.loads(text))
    except (ValueError, TypeError) as exc:
        raise typer.BadParameter(f"--faults must be a JSON object or a JSON file: {exc}") from exc


def _print_servers(data_dir: Path, servers: dict) -> None:
    """Each account's API address and sandbox credentials, whole (URLs must be copyable)."""
    from sandbox.state import load_manifest

    console.rule(f"Sandbox CRM servers ({data_dir})")
    for acc in load_manifest(data_dir)["accounts"]:
        url = servers[acc["account"]].url
        creds = acc.get("credentials", {})
        console.print(f"[bold]{acc['account']}[/bold] ({acc['system']}, branches: {', '.join(acc.get('branches', []))})")
        if acc["system"] == "bitrix24":
            console.print(f"  webhook URL:      {url}/rest/{creds.get('webhook_user_id')}/{creds.get('webhook_code')}/",
                          soft_wrap=True)
            console.print(f"  OAuth client_id:  {creds.get('oauth_client_id')}  (token endpoint {url}/oauth/token/)",
                          soft_wrap=True)
        else:
            console.print(f"  API base URL:     {url}/api/v4/", soft_wrap=True)
            console.print(f"  OAuth client_id:  {creds.get('client_id')}  (token endpoint {url}/oauth2/access_token)",
                          soft_wrap=True)
            console.print("  long-lived token: in manifest.json (credentials.long_lived_token)")
    console.print(f"URLs and credentials are also in [bold]{data_dir / 'servers.json'}[/bold]. "
                  "They are sandbox-only and open no real portal.", soft_wrap=True)


def _stop_on_sigterm() -> threading.Event:
    """An event SIGTERM sets (a clean stop: the servers are stopped, exit status 0)."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    return stop


def _wait_forever(servers: dict, stop: threading.Event | None = None) -> None:
    stop = stop or _stop_on_sigterm()
    console.print("Serving. Press Ctrl-C to stop.")
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        for s in servers.values():
            s.stop()


@sandbox_app.command("serve")
def sandbox_serve(
    data: Path = typer.Option(DEFAULT_DEMO_DIR, "--data", help="Directory written by `crmwh sandbox generate`."),
    limits: bool = typer.Option(True, "--limits/--no-limits", help="Enforce the real services' rate limits."),
    faults: Optional[str] = typer.Option(None, help="Fault injection settings: a JSON object or a JSON file."),
    base_port: int = typer.Option(0, help="First port (one per account); 0 picks free ports."),
    request_log_dir: Optional[Path] = typer.Option(None, help="Append every request served to JSON lines here."),
) -> None:
    """Serve every CRM account of a generated sandbox on 127.0.0.1 until stopped."""
    from sandbox.serve import serve_all

    if request_log_dir:
        request_log_dir.mkdir(parents=True, exist_ok=True)
    # Before the servers start: servers.json tells a client (or a test) they are up, and a SIGTERM
    # sent right after must still stop them cleanly, not kill the process.
    stop = _stop_on_sigterm()
    servers = serve_all(data, limits=limits, faults=_load_faults(faults), base_port=base_port,
                        log_dir=request_log_dir)
    _print_servers(data, servers)
    _wait_forever(servers, stop)


def _print_summary(summary) -> None:
    from rich.table import Table

    table = Table(title=f"Rows landed ({summary.job}, run {summary.run_id[:8]})")
    for col in ("landing table", "rows", "requests"):
        table.add_column(col, justify="right" if col != "landing table" else "left")
    for key in sorted(summary.rows):
        table.add_row(key, f"{summary.rows[key]:,}", str(summary.requests.get(key, 0)))
    if summary.rows:
        console.print(table)
    console.print(f"Assets materialized: {len(summary.materialized)}; "
                  f"checks passed: {len(summary.checks_passed)}, failed: {len(summary.checks_failed)}")
    for asset, check, severity in summary.checks_failed:
        colour = "red" if severity.upper() == "ERROR" else "yellow"
        console.print(f"  [{colour}]✗ {asset} · {check} ({severity})[/{colour}]")
    for step, message in summary.failures:
        console.print(f"  [red]step {step} failed:[/red] {message}", soft_wrap=True)
    quality = summary.metadata.get("quality/lead_junk_flags", {})
    if quality.get("data_docs"):
        console.print(f"Data-quality report (Great Expectations Data Docs): {quality['data_docs']}", soft_wrap=True)
    console.print("[green]Run succeeded.[/green]" if summary.success else "[red]Run failed.[/red]")


@app.command()
def run(
    full: bool = typer.Option(False, "--full", help="Re-read everything and scan for deletions (else incremental)."),
    account: Optional[list[str]] = typer.Option(None, "--account", help="Only this account (repeatable)."),
) -> None:
    """Run the pipeline once: extract, build the marts, check quality."""
    from crmwh.pipeline import run_with_progress

    summary = run_with_progress(console, full=full, accounts=account or None)
    _print_summary(summary)
    raise typer.Exit(0 if summary.success else 1)


@app.command()
def doctor() -> None:
    """Check configuration, credentials and connectivity of every account, and the warehouse."""
    from crmwh.doctor import run_doctor

    findings = run_doctor()
    for f in findings:
        mark = "[green]✓[/green]" if f.ok else "[red]✗[/red]"
        console.print(f"{mark} {f.what}: {f.detail}", soft_wrap=True)
    raise typer.Exit(0 if all(f.ok for f in findings) else 1)


@app.command()
def publish() -> None:
    """Publish the marts to BI (bi.duckdb, reports, exports, PostgreSQL) if quality allows it."""
    import dagster as dg

    from crmwh.pipeline import summarize
    from orchestration.definitions import defs

    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(asset_selection=[dg.AssetKey(["publish", "bi"])],
                                    instance=dg.DagsterInstance.get(), raise_on_error=False,
                                    run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}})
    summary = summarize(result)
    meta = summary.metadata.get("publish/bi", {})
    for key in ("bi_duckdb", "report_ru", "report_en", "exports"):
        if key in meta:
            console.print(f"{key}: {meta[key]}", soft_wrap=True)
    for _, message in summary.failures:
        console.print(f"[red]{message}[/red]", soft_wrap=True)
    raise typer.Exit(0 if summary.success else 1)


@app.command()
def export(
    xlsx: bool = typer.Option(True, "--xlsx/--no-xlsx", help="Excel files with readable headers."),
    parquet: bool = typer.Option(True, "--parquet/--no-parquet", help="Parquet files."),
    lang: str = typer.Option("ru", help="Header language: ru or en."),
    out: Optional[Path] = typer.Option(None, help="Output folder (default: beside the warehouse, reports/)."),
) -> None:
    """Export every published mart to Parquet and XLSX."""
    from extract.common.config import Settings
    from warehouse.exports import export_marts

    wh = Path(Settings().warehouse_path).resolve()
    bi = wh.with_name("bi.duckdb")
    if not bi.exists():
        console.print(f"[red]{bi} does not exist: run `crmwh run` (or `crmwh publish`) first[/red]")
        raise typer.Exit(1)
    result = export_marts(bi, out or wh.parent / "reports", parquet=parquet, xlsx=xlsx, lang=lang)
    for name, rows in sorted(result.rows.items()):
        console.print(f"{name}: {rows:,} rows")
    console.print(f"Exports in {result.out_dir}", soft_wrap=True)


@app.command()
def ui(port: int = typer.Option(3000, help="Port of the Dagster UI (127.0.0.1).")) -> None:
    """Open the Dagster UI on the pipeline's definitions (dagster dev)."""
    import os
    import sys

    from crmwh.privacy import ensure_dagster_home

    ensure_dagster_home()
    dagster = Path(sys.executable).with_name("dagster")
    os.execv(str(dagster), [str(dagster), "dev", "-m", "orchestration.definitions", "-h", "127.0.0.1", "-p", str(port)])


@app.command()
def demo(
    data: Path = typer.Option(DEFAULT_DEMO_DIR, "--data", help="Where the demo CRM lives."),
    leads: int = typer.Option(20_000, help="Leads to generate if the demo CRM does not exist yet."),
    seed: int = typer.Option(42, help="Generator seed."),
    regenerate: bool = typer.Option(False, help="Generate a new CRM and start the warehouse afresh."),
    serve: bool = typer.Option(False, "--serve/--no-serve", help="Keep serving the sandbox afterwards."),
) -> None:
    """The whole pipeline on a generated demo CRM served as Bitrix24 + amoCRM, with real rate limits."""
    import os
    import shutil

    from crmwh.pipeline import run_with_progress
    from crmwh.sandbox_link import link_sandbox
    from sandbox.generator import generate
    from sandbox.serve import serve_all

    warehouse = Path(os.environ.get("CRMWH_WAREHOUSE_PATH") or PROJECT_ROOT / "warehouse" / "crm.duckdb")
    tokens = data / ".tokens"
    if regenerate or not (data / "manifest.json").exists():
        console.print(f"Generating a demo CRM with {leads:,} leads (seed {seed}) into {data} …")
        if data.exists():
            shutil.rmtree(data)
        generate(data, seed=seed, leads=leads)
        # A new CRM: the old warehouse and stored tokens belong to the previous one.
        for stale in (warehouse, warehouse.with_name(warehouse.name + ".wal")):
            stale.unlink(missing_ok=True)
    servers = serve_all(data, limits=True)
    try:
        _print_servers(data, servers)
        accounts_file, _ = link_sandbox(data)  # the accounts file and secret variables, as in production
        os.environ["CRMWH_ACCOUNTS_FILE"] = str(accounts_file)
        os.environ["CRMWH_WAREHOUSE_PATH"] = str(warehouse)
        os.environ["CRMWH_TOKEN_DIR"] = str(tokens)
        # The head of sales' plans file: the generator writes the one this demo company keeps.
        os.environ.setdefault("CRMWH_PLANS_FILE", str(data / "truth" / "plans.xlsx"))
        warehouse.parent.mkdir(parents=True, exist_ok=True)
        first = not warehouse.exists()
        console.print("Running the pipeline on the demo CRM (extract → dbt → quality → marts → publish) …")
        summary = run_with_progress(console, full=first)
        _print_summary(summary)
        console.rule("Where everything is")
        console.print(f"Warehouse (DuckDB):      {warehouse}", soft_wrap=True)
        published = summary.metadata.get("publish/bi", {})
        for key, label in (("bi_duckdb", "BI file (read-only):    "), ("report_ru", "Report (Russian):       "),
                           ("report_en", "Report (English):       "), ("exports", "Exports (Parquet):      ")):
            if key in published:
                console.print(f"{label} {published[key]}", soft_wrap=True)
        quality = summary.metadata.get("quality/lead_junk_flags", {})
        if quality.get("data_docs"):
            console.print(f"Data-quality report:     {quality['data_docs']}", soft_wrap=True)
        console.print(f"Sandbox CRM and truth:   {data}", soft_wrap=True)
        console.print("Dagster UI:              crmwh ui", soft_wrap=True)
        if serve:
            _wait_forever(servers)
        if not summary.success:
            raise typer.Exit(1)
    finally:
        for s in servers.values():
            s.stop()


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
