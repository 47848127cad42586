"""Docker HEALTHCHECK: exit 0 if the bot's HTTP server answers GET /healthz with 200, else 1.
Reads UNITBOT_HTTP_LISTEN (host:port; 0.0.0.0 or :: means this container's loopback). Stdlib only."""

from __future__ import annotations

import os
import sys
import urllib.request


def main() -> int:
    host, _, port = os.environ.get("UNITBOT_HTTP_LISTEN", "127.0.0.1:8080").rpartition(":")
    host = host.strip("[]")
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=4) as response:
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"healthcheck: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
