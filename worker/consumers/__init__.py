"""Consumers: one generic at-least-once loop, one small binding per topic."""
