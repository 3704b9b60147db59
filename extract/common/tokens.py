"""A file-backed token store for OAuth credentials that rotate.

amoCRM refresh tokens are single-use and Bitrix24 hands out a new refresh token on every refresh:
losing the new one locks the integration out. So:

- `save()` writes atomically: a temp file in the same directory (mode 0600), fsync, rename over
  the old file, fsync the directory. A crash leaves the old file or the new one, never half.
- `rotate(key, exchange)` is the one way to refresh: under an exclusive `fcntl` lock on
  `<key>.lock` (so two processes never spend the same refresh token) it reads the current pair,
  calls `exchange(current) -> new`, **persists `new` and only then returns it** to the caller,
  who may use it. If `exchange` raises, the old pair stays.
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
from extract.common.redact import register_secret

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

    def load(self, key: str) -> dict[str, Any] | None:
        path = self._path(key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except ValueError:
            raise ConfigError(str(path), "token file is not valid JSON") from None
        for f in _SECRET_FIELDS:
            register_secret(data.get(f))
        return data

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
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    @contextlib.contextmanager
    def locked(self, key: str) -> Iterator[None]:
        """Exclusive inter-process lock for one key (blocks until free)."""
        self._ensure_dir()
        with open(self.directory / f"{key}.lock", "a") as fh:  # noqa: PTH123
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
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
