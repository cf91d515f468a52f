#!/bin/sh
# A WRONG broadcast node: broadcast.py sending each value once, never retrying, so a
# value gossiped across a partition never reaches the other side.
BROADCAST_NO_RETRY=1 exec python3 "$(dirname "$0")/broadcast.py" "$@"
