"""System programs the BI tests need: PostgreSQL server binaries and headless Chromium.

Both come from Debian packages (`postgresql`, `chromium`). Locally a missing program skips the
tests that need it; in CI (env CI=true) it FAILS them, so a CI image without them cannot pass
silently. `python -m tests.support.system install` installs both with apt-get (root, network),
`python -m tests.support.system check` prints what was found.

- `PostgresServer`: a throwaway server in a temp dir (initdb, pg_ctl) on a free port (the BI,
  publishing and dbt cross-engine tests share it), superuser
  `postgres` with a password over TCP (scram-sha-256), so a login role's password is really
  checked. initdb refuses to run as root, so as root every server command runs as the `postgres`
  OS user (`runuser -u postgres --`) and the temp dir is chowned to it.
- `chromium()`: the headless browser command line, network and background services off, a fresh
  profile per call; `render_page()` loads a local file and returns the DOM after scripts ran plus a
  screenshot.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

APT_PACKAGES = ["postgresql", "chromium"]
CHROMIUM_NAMES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(what: str, found) -> None:
    """Skip (locally) or fail (CI=true) when `found` is falsy."""
    if found:
        return
    import pytest

    msg = (f"{what} not found: install the Debian package(s) {' '.join(APT_PACKAGES)} "
           f"(python -m tests.support.system install)")
    if in_ci():
        pytest.fail(msg + " — CI=true, so this is a failure, not a skip", pytrace=False)
    pytest.skip(msg)


# ---------------------------------------------------------------------------------------------- PostgreSQL
def find_pg_bindir() -> Path | None:
    env = os.environ.get("CRMWH_PG_BINDIR")
    cands = ([env] if env else []) + sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for cand in cands:
        if Path(cand, "initdb").exists() and Path(cand, "pg_ctl").exists():
            return Path(cand)
    exe = shutil.which("initdb")
    return Path(exe).parent if exe and Path(exe).with_name("pg_ctl").exists() else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self, bindir: Path, **settings: str):
        self.bindir = bindir
        self.settings = settings  # extra server settings, e.g. work_mem="64MB"
        self.as_root = os.geteuid() == 0
        self.base = Path(tempfile.mkdtemp(prefix="crmwh_pg_"))
        self.data = self.base / "data"
        self.port = _free_port()
        self.user = "postgres"
        self.password = secrets.token_hex(12)

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = list(args)
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=120)

    def start(self) -> "PostgresServer":
        pwfile = self.base / "pw"
        pwfile.write_text(self.password)
        if self.as_root:
            shutil.chown(self.base, "postgres", "postgres")
            shutil.chown(pwfile, "postgres", "postgres")
        os.chmod(self.base, 0o700)
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", self.user, "--pwfile", str(pwfile),
                  "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale")
        pwfile.unlink()
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.base / "log"), "-w",
                  "-o", f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off "
                        f"-c synchronous_commit=off -c full_page_writes=off"
                        + "".join(f" -c {k}={v}" for k, v in self.settings.items()), "start")
        return self

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop", check=False)
        shutil.rmtree(self.base, ignore_errors=True)

    def dsn(self, dbname: str = "postgres", user: str | None = None, password: str | None = None) -> str:
        user = user or self.user
        password = self.password if password is None and user == self.user else (password or "")
        return f"host=127.0.0.1 port={self.port} dbname={dbname} user={user} password={password} connect_timeout=10"

    def env(self, dbname: str) -> dict:
        """The dbt profile's environment (profiles.yml, target postgres) for this server."""
        return {"CRMWH_DBT_TARGET": "postgres", "CRMWH_PG_HOST": "127.0.0.1", "CRMWH_PG_PORT": str(self.port),
                "CRMWH_PG_USER": self.user, "CRMWH_PG_PASSWORD": self.password, "CRMWH_PG_DBNAME": dbname}

    def connect(self, dbname: str = "postgres", user: str | None = None, password: str | None = None):
        import psycopg2

        deadline = time.time() + 30
        while True:
            try:
                con = psycopg2.connect(self.dsn(dbname, user, password))
                con.autocommit = True
                return con
            except psycopg2.OperationalError as exc:
                if "password authentication failed" in str(exc) or time.time() > deadline:
                    raise
                time.sleep(0.2)


# ---------------------------------------------------------------------------------------------- Chromium
def find_chromium() -> str | None:
    env = os.environ.get("CRMWH_CHROMIUM")
    if env and Path(env).exists():
        return env
    for name in CHROMIUM_NAMES:
        exe = shutil.which(name)
        if exe:
            return exe
    return None


def chromium(exe: str, profile: Path, *extra: str) -> list[str]:
    cmd = [exe, "--headless", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-extensions", "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
           "--disable-dev-shm-usage", f"--user-data-dir={profile}",
           # no network at all: a self-contained page needs none, and a CDN link would fail to load
           "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost", "--proxy-server=127.0.0.1:9"]
    if os.geteuid() == 0:
        cmd.append("--no-sandbox")
    return cmd + list(extra)


def render_page(page: Path, screenshot: Path | None = None, *, width: int = 1400, height: int = 5200,
                budget_ms: int = 10000, timeout: float = 90) -> str:
    """Load `page` in headless Chromium, let its scripts run, return the DOM; optionally save a PNG."""
    exe = find_chromium()
    if not exe:
        raise FileNotFoundError("chromium")
    url = Path(page).resolve().as_uri()
    args = [f"--window-size={width},{height}", f"--virtual-time-budget={budget_ms}",
            "--run-all-compositor-stages-before-draw", "--dump-dom"]
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        screenshot.unlink(missing_ok=True)
        args.append(f"--screenshot={screenshot}")   # one launch: the DOM after scripts ran, then the picture
    with tempfile.TemporaryDirectory(prefix="crmwh_chromium_") as prof:
        dom = subprocess.run(chromium(exe, Path(prof), *args, url), capture_output=True, text=True, timeout=timeout)
    if dom.returncode != 0 or "<html" not in dom.stdout:
        raise RuntimeError(f"chromium failed ({dom.returncode}): {dom.stderr[-2000:]}")
    if screenshot is not None and not screenshot.exists():
        raise RuntimeError(f"chromium wrote no screenshot: {dom.stderr[-2000:]}")
    return dom.stdout


def install() -> int:
    """apt-get the Debian packages (root or sudo, network)."""
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run([*sudo, "apt-get", "update"], check=False)
    return subprocess.run([*sudo, "apt-get", "install", "-y", "--no-install-recommends", *APT_PACKAGES],
                          check=False).returncode


def main(argv: list[str]) -> int:
    if argv[:1] == ["install"]:
        return install()
    print(f"postgresql bindir: {find_pg_bindir()}")
    print(f"chromium:          {find_chromium()}")
    return 0 if find_pg_bindir() and find_chromium() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
