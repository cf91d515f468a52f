#!/usr/bin/env python3
"""BAD: reads everything and never answers."""
import sys

for _line in sys.stdin:
    pass
