"""A real SMTP server for tests (aiosmtpd), run as its own process on 127.0.0.1.

Every accepted message is written to OUT/<n>.eml, with its envelope in OUT/<n>.json, so a test reads
what a mail client would have received. Faults on request:
  --refuse SUBSTR       550 for RCPT TO addresses containing SUBSTR (a refused recipient)
  --defer SUBSTR        451 for RCPT TO addresses containing SUBSTR (a temporary failure, every time)
  --drop-at N           drop the connection, without an answer, when the N-th DATA arrives (once)
  --auth USER:PASS      require AUTH PLAIN/LOGIN with these credentials
Started and stopped by the `smtp_server` fixture in tests/conftest.py.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Capture:
    def __init__(self, out: Path, refuse: list[str], defer: list[str], drop_at: int) -> None:
        self.out, self.refuse, self.defer, self.drop_at = out, refuse, defer, drop_at
        self.count = 0
        self.data_seen = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if any(s in address for s in self.refuse):
            return "550 5.1.1 no such user here"
        if any(s in address for s in self.defer):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.data_seen += 1
            if self.drop_at and self.data_seen == self.drop_at:
                server.transport.close()
                return "421 dropped"  # never reaches the client: the transport is closed
            self.count += 1
            number = self.count
        (self.out / f"{number:06d}.eml").write_bytes(envelope.original_content or envelope.content)
        meta = {"from": envelope.mail_from, "to": list(envelope.rcpt_tos)}
        # written aside and renamed: a test polling recipients() never reads a half-written envelope
        part = self.out / f"{number:06d}.json.part"
        part.write_text(json.dumps(meta))
        part.rename(self.out / f"{number:06d}.json")
        return "250 Message accepted"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--refuse", action="append", default=[])
    parser.add_argument("--defer", action="append", default=[])
    parser.add_argument("--drop-at", type=int, default=0)
    parser.add_argument("--auth", default="")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = {}
    if args.auth:
        user, _, password = args.auth.partition(":")

        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = isinstance(data, LoginPassword) and data.login.decode() == user and data.password.decode() == password
            return AuthResult(success=ok, handled=False)

        kwargs = {"authenticator": authenticator, "auth_required": True, "auth_require_tls": False}
    controller = Controller(
        Capture(args.out, args.refuse, args.defer, args.drop_at), hostname="127.0.0.1", port=args.port, **kwargs
    )
    controller.start()
    (args.out / "ready").write_text("ok")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
