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


def _wait_forever(servers: dict) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
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
    servers = serve_all(data, limits=limits, faults=_load_faults(faults), base_port=base_port,
                        log_dir=request_log_dir)
    _print_servers(data, servers)
    _wait_forever(servers)


@app.command()
def demo(
    data: Path = typer.Option(DEFAULT_DEMO_DIR, "--data", help="Where the demo CRM lives."),
    leads: int = typer.Option(20_000, help="Leads to generate if the demo CRM does not exist yet."),
    seed: int = typer.Option(42, help="Generator seed."),
    regenerate: bool = typer.Option(False, help="Generate again even if the demo CRM exists."),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Keep serving after the checks."),
) -> None:
    """Generate a demo sales department (once), serve it as Bitrix24 and amoCRM, check each server answers."""
    import requests

    from sandbox.generator import generate
    from sandbox.serve import serve_all

    if regenerate or not (data / "manifest.json").exists():
        console.print(f"Generating a demo CRM with {leads:,} leads (seed {seed}) into {data} …")
        generate(data, seed=seed, leads=leads)
    servers = serve_all(data, limits=True)
    _print_servers(data, servers)
    for name, srv in servers.items():
        stats = requests.get(f"{srv.url}/_sandbox/stats", timeout=5).json()
        console.print(f"[green]✓[/green] {name} answers at {srv.url} ({stats.get('app')})")
    if serve:
        _wait_forever(servers)
    else:
        for s in servers.values():
            s.stop()


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
