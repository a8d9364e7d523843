"""Run one mirror in a child process (the fault tests kill it): argv = settings JSON, store, options JSON."""

from __future__ import annotations

import json
import sys

from maint.config import load_settings, store_config
from maint.facts.opencart import get_store_facts
from maint.inventory import load_inventory
from maint.mirror.run import MirrorOptions, apply_mirror, prepare
from maint.mirror.sshmux import SshMux
from maint.remote.ssh import connect


def main() -> None:
    settings_raw, store, options_raw, mirror_root = sys.argv[1:5]
    settings = load_settings(json.loads(settings_raw))
    cfg = store_config(settings, load_inventory(settings.inventory), store, {"mirror_root": mirror_root})
    opts = json.loads(options_raw)
    options = MirrorOptions(**{k: tuple(v) if isinstance(v, list) else v for k, v in opts.items()})
    conn = connect(cfg)
    facts = get_store_facts(conn, cfg)
    with SshMux(cfg) as mux:
        prep = prepare(conn, cfg, facts, options, mux)
        print("APPLYING", flush=True)
        apply_mirror(conn, prep, mux)
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
