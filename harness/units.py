"""Time units of the simulator: every time in the harness is an int of nanoseconds."""

SECOND = 1_000_000_000
MILLI = 1_000_000
