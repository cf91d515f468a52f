#!/bin/sh
# A WRONG kafka node: kafka.py acknowledging sends it writes to its file only every
# second, so a kill of n1 loses acknowledged sends (and reuses their offsets).
KAFKA_LOSE_UNFLUSHED=1 exec python3 "$(dirname "$0")/kafka.py" "$@"
