"""The extraction as a separate process, for the crash tests: `python -m tests.reliability.crash_runner
CONFIG.json`. CONFIG: {"accounts": [AccountConfig dicts], "settings": {Settings fields},
"entities": {"bitrix24": [...] | null, "amocrm": [...] | null}, "crash": "" | "after_token_save" |
"in_token_save" | "after_merges:N"}. Secrets come from the environment, as in production.

Prints READY once imported (the test's kill timer starts there), DONE at the end. Exit 3 with the
message on stderr when the warehouse is locked by another run."""

from __future__ import annotations

import json
import os
import signal
import sys


def main(path: str) -> int:
    cfg = json.loads(open(path, encoding="utf-8").read())  # noqa: PTH123
    from extract.amocrm import extract_account
    from extract.bitrix24 import Bitrix24Extractor
    from extract.common import tokens
    from extract.common.config import AccountConfig, Settings
    from warehouse.landing import Warehouse, WarehouseLocked

    crash = cfg.get("crash") or ""
    if crash == "after_token_save":  # SIGKILL right after the rotated pair is persisted, before use
        real_save = tokens.TokenStore.save

        def save_then_die(self, key, data):
            real_save(self, key, data)
            os.kill(os.getpid(), signal.SIGKILL)

        tokens.TokenStore.save = save_then_die
    elif crash == "in_token_save":  # SIGKILL with the new pair written to the temp file, not renamed
        def die(*_a, **_k):
            os.kill(os.getpid(), signal.SIGKILL)

        tokens.os.replace = die
    elif crash.startswith("after_merges:"):  # SIGKILL right after the N-th committed chunk: mid-scan
        limit, real_merge, count = int(crash.split(":", 1)[1]), Warehouse.merge, [0]

        def merge_then_die(self, *a, **k):
            out = real_merge(self, *a, **k)
            count[0] += 1
            if count[0] >= limit:
                os.kill(os.getpid(), signal.SIGKILL)
            return out

        Warehouse.merge = merge_then_die
    settings = Settings(**cfg["settings"])
    accounts = [AccountConfig(**a) for a in cfg["accounts"]]
    print("READY", flush=True)
    try:
        wh = Warehouse(settings.warehouse_path)
    except WarehouseLocked as exc:
        print(str(exc), file=sys.stderr, flush=True)
        return 3
    failed = []
    with wh:
        for acc in accounts:
            wanted = cfg["entities"].get(acc.system)
            if acc.system == "bitrix24":
                ex = Bitrix24Extractor(acc, wh, settings)
                try:
                    runs = ex.run(wanted)
                finally:
                    ex.client.close()
            else:
                runs = extract_account(acc, wh, settings=settings, entities=wanted)
            failed += [(r.entity, r.error) for r in runs if r.status != "success"]
    if failed:
        print(json.dumps(failed), file=sys.stderr, flush=True)
        return 1
    print("DONE", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
