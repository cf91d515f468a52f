#!/usr/bin/env python3
"""A WRONG broadcast node: ``broadcast.py`` sending each value once and never again, so a
value gossiped across a partition never reaches the other side."""

import os
import sys

os.environ["BROADCAST_NO_RETRY"] = "1"
here = os.path.dirname(os.path.abspath(__file__))
os.execv(sys.executable, [sys.executable, os.path.join(here, "broadcast.py"), *sys.argv[1:]])
