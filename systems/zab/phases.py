"""A ZAB server's phases (``zab_state``) and its tick timer, shared by its roles."""

ELECTION = "ELECTION"
DISCOVERY = "DISCOVERY"
SYNCHRONIZATION = "SYNCHRONIZATION"
BROADCAST = "BROADCAST"

TICK_TIMER = "tick"
