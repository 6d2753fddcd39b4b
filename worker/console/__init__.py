"""The operator console: flow sampling, broker watch, cached figures, timelines."""
