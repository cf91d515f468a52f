#!/usr/bin/env python3
"""A WRONG kafka node: ``kafka.py`` acknowledging sends it writes to its file only every
second, so a kill of n1 loses acknowledged sends (and hands their offsets out again)."""

import os
import sys

os.environ["KAFKA_LOSE_UNFLUSHED"] = "1"
here = os.path.dirname(os.path.abspath(__file__))
os.execv(sys.executable, [sys.executable, os.path.join(here, "kafka.py"), *sys.argv[1:]])
