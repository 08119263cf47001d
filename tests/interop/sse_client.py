#!/usr/bin/env python3
"""Reads a Server-Sent Events stream from the gateway with httpx-sse.

Usage: sse_client.py URL

Prints one line per event: the event type, a tab, and the data. Exits 0
when the stream ended (whatever its events), 1 on a transport error or a
response that is not an event stream.
"""

import sys

import httpx
from httpx_sse import connect_sse


def main() -> int:
    url = sys.argv[1]
    with httpx.Client(timeout=30.0) as client:
        with connect_sse(client, "GET", url) as source:
            if source.response.status_code != 200:
                print(f"status {source.response.status_code}", file=sys.stderr)
                return 1
            for event in source.iter_sse():
                print(f"{event.event}\t{event.data}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
