"""pbregister: a primary-backup replicated register, an example system for the harness.

``server.py`` is the replica, ``client.py`` the client library serving the register
workload, ``spec.py`` what the harness sees (registered through the ``harness.systems``
and ``harness.bugs`` entry points in pyproject.toml).
"""
