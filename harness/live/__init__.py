"""The live runtime: real OS processes instead of simulated nodes.

The simulator stays the default and the only place where a run is replayable byte for
byte. A live run shares everything else with it: the config, the seeded fault schedule
(``harness.faults``), the history format, the checkers and the reports. Here lives what a
live run adds: starting and ending processes (``procs``), and a nemesis that applies the
schedule on the wall clock (``nemesis``). Systems that run live (a real ZooKeeper
ensemble, Maelstrom programs) build on these two.
"""
