"""Container HEALTHCHECK: GET /health on the port the configuration gives; exit 0 when healthy.

    python healthcheck.py [CONFIG]

The slim image has no curl. The port and address come from the same configuration as the
server's (the `CRYPTOVIZ_*` variables, and CONFIG if the server was started with one), so a
changed port needs no second setting.
"""

from __future__ import annotations

import json
import sys
import urllib.request

from cryptoviz.config import load_config

WILDCARDS = {"0.0.0.0", "::", ""}


def main(argv: list[str]) -> int:
    server = load_config(argv[0] if argv else None).server
    host = "127.0.0.1" if server.host in WILDCARDS else server.host
    if ":" in host:
        host = f"[{host}]"
    try:
        with urllib.request.urlopen(f"http://{host}:{server.port}/health", timeout=4) as response:
            status = json.load(response)["data"]["status"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    if status != "ok":
        print(f"unhealthy: status {status!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
