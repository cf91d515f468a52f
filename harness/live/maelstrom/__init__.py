"""Maelstrom programs under the harness: the harness is their network.

A Maelstrom node is any executable that reads one JSON message per line on stdin and
writes one per line on stdout (docs/maelstrom.md). Here the harness starts N copies of a
program as ``n1..nN``, sends ``init``, and routes every line they write by ``dest``:

- ``loop``: one thread, non-blocking pipes, timers on the monotonic clock.
- ``network``: routing by ``dest``, per-link latency, cuts (partitions), message counts
  and the message log the Lamport diagram is drawn from.
- ``nodes``: the program's processes (start, ``init``, kill, restart, pause, clock).
- ``services``: ``lin-kv``, ``seq-kv``, ``lww-kv``, ``lin-tso``, run by the harness.
- ``clients``: workload operations as Maelstrom requests, replies as completions.
- ``run``: one live run, from the config to the same output a simulated run has.
"""
