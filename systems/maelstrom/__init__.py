"""Maelstrom programs as a system under test (``--system maelstrom --bin PATH``)."""
