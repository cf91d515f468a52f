#!/usr/bin/env python3
"""A correct broadcast node that learns its neighbours from ``topology`` (as most
Maelstrom broadcast programs do), not from ``init``: ``broadcast.py`` with
BROADCAST_TOPOLOGY=1. A restarted node gets ``init`` and must get ``topology`` again."""

import os
import sys

os.environ["BROADCAST_TOPOLOGY"] = "1"
here = os.path.dirname(os.path.abspath(__file__))
os.execv(sys.executable, [sys.executable, os.path.join(here, "broadcast.py"), *sys.argv[1:]])
