"""The local AWS stand-in: moto's server, bound to loopback, handling one request at a time.

Why not `moto_server`: it serves requests on many threads, and moto's TransactWriteItems deep-copies
each table it touches and restores that copy when the transaction fails. Two transactions at once
can therefore undo each other's committed writes, which DynamoDB never does (its transactions are
serializable). Serving requests one at a time gives the stand-in that isolation, so concurrency
tests exercise our conditional writes, not moto's races.

Usage: python moto_serve.py HOST PORT
"""

import os
import signal
import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("the stand-in only listens on loopback")
    os.environ.setdefault("MOTO_PORT", str(port))
    # The stand-in's state is in memory and disposable: exit at once, without the seconds that
    # tearing down moto's object graph takes, so stopping `make dev` or a test run is immediate.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: os._exit(0))
    run_simple(
        host,
        port,
        DomainDispatcherApplication(create_backend_app),
        threaded=False,
        use_reloader=False,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
