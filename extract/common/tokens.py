"""A file-backed token store for OAuth credentials that rotate.

amoCRM refresh tokens are single-use and Bitrix24 hands out a new refresh token on every refresh:
losing the new one locks the integration out. So:

- `save()` writes atomically: a temp file in the same directory (mode 0600), fsync, rename over
  the old file, fsync the directory. A crash leaves the old file or the new one, never half.
- `rotate(key, exchange)` is the one way to refresh: under an exclusive `fcntl` lock on
  `<key>.lock` (so two processes never spend the same refresh token) it reads the current pair,
  calls `exchange(current) -> new`, **persists `new` and only then returns it** to the caller,
  who may use it. If `exchange` raises, the old pair stays.
- A crash between the fsynced temp file and the rename leaves the only copy of a pair the server
  already issued (and of the refresh token it did not yet spend) in `.<key>.XXXXXXXX.tmp`. So
  `load()` returns the newest complete pair of the file and such temp files (a half-written temp
  does not parse and is ignored), and taking the lock (`locked()`, hence every `rotate()`)
  promotes that newest temp over `<key>.json` — under the lock no save is in flight, so no temp
  can be a write in progress. Mode 0600 throughout.
- Values are never logged; `load()` registers them with the redactor.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

from extract.common.errors import ConfigError
from extract.common.redact import get_logger, register_secret

log = get_logger(__name__)

_SECRET_FIELDS = ("access_token", "refresh_token", "client_secret", "long_lived_token")


class TokenStore:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def _path(self, key: str) -> Path:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", key):
            raise ValueError(f"token key {key!r} must be [A-Za-z0-9_.-]+")
        return self.directory / f"{key}.json"

    def _ensure_dir(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _temps(self, key: str) -> list[tuple[int, Path, dict[str, Any] | None]]:
        """The temp files `save()` left for `key` (mtime_ns, path, parsed pair or None if it is not
        a complete JSON object), newest first."""
        name = re.compile(rf"\.{re.escape(key)}\.[a-z0-9_]{{8}}\.tmp")
        found = []
        try:
            entries = list(os.scandir(self.directory))
        except FileNotFoundError:
            return []
        for entry in entries:
            if not name.fullmatch(entry.name):
                continue
            try:
                mtime = entry.stat().st_mtime_ns
                data = json.loads(Path(entry.path).read_text(encoding="utf-8"))
            except FileNotFoundError:
                continue  # renamed meanwhile by its writer
            except (ValueError, OSError):
                data = None
            found.append((mtime, Path(entry.path), data if isinstance(data, dict) and data else None))
        return sorted(found, key=lambda t: t[0], reverse=True)

    def _newer_temp(self, key: str) -> tuple[Path, dict[str, Any]] | None:
        """The newest complete temp file of `key` if it is at least as new as `<key>.json`."""
        try:
            current = self._path(key).stat().st_mtime_ns
        except FileNotFoundError:
            current = -1
        for mtime, tmp, data in self._temps(key):
            if data is not None:
                return (tmp, data) if mtime >= current else None
        return None

    def load(self, key: str) -> dict[str, Any] | None:
        path = self._path(key)
        recovered = self._newer_temp(key)
        if recovered is not None:
            data = recovered[1]
            self._try_promote(key)
        else:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                return None
            except ValueError:
                raise ConfigError(str(path), "token file is not valid JSON") from None
        for f in _SECRET_FIELDS:
            register_secret(data.get(f))
        return data

    def _promote(self, key: str) -> None:
        """Under the lock: move a complete temp file newer than `<key>.json` over it (an
        interrupted save); drop the other temp files of `key` (half-written or older)."""
        recovered = self._newer_temp(key)
        for _, tmp, _ in self._temps(key):
            if recovered is not None and tmp == recovered[0]:
                continue
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        if recovered is None:
            return
        tmp, data = recovered
        for f in _SECRET_FIELDS:
            register_secret(data.get(f))
        os.chmod(tmp, 0o600)
        os.replace(tmp, self._path(key))
        self._fsync_dir()
        log.warning("token store: recovered the %s token pair from an interrupted save", key)

    def _try_promote(self, key: str) -> None:
        """Promote now if the lock is free (it is not while a rotation — ours or another
        process's — is under way; the next `locked()` promotes then)."""
        with open(self.directory / f"{key}.lock", "a") as fh:  # noqa: PTH123
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            try:
                self._promote(key)
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _fsync_dir(self) -> None:
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def save(self, key: str, data: dict[str, Any]) -> None:
        self._ensure_dir()
        path = self._path(key)
        for f in _SECRET_FIELDS:
            register_secret(data.get(f))
        fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=self.directory)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        self._fsync_dir()

    @contextlib.contextmanager
    def locked(self, key: str) -> Iterator[None]:
        """Exclusive inter-process lock for one key (blocks until free)."""
        self._ensure_dir()
        with open(self.directory / f"{key}.lock", "a") as fh:  # noqa: PTH123
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                self._promote(key)
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def rotate(self, key: str, exchange: Callable[[dict[str, Any] | None], dict[str, Any]]) -> dict[str, Any]:
        """Refresh under the lock: current → exchange → persist → return the persisted pair."""
        with self.locked(key):
            current = self.load(key)
            new = exchange(current)
            self.save(key, new)
            return new
