#!/usr/bin/env python3
"""BAD: exits at once with an error, before reading init."""
import sys

print("cannot start: no config", file=sys.stderr)
sys.exit(3)
