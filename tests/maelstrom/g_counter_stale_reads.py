#!/usr/bin/env python3
"""A WRONG g-counter node: ``g_counter.py`` trusting seq-kv's reads to be current."""

import os
import sys

os.environ["G_COUNTER_STALE_READS"] = "1"
here = os.path.dirname(os.path.abspath(__file__))
os.execv(sys.executable, [sys.executable, os.path.join(here, "g_counter.py"), *sys.argv[1:]])
