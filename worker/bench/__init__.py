"""Benchmarks (`postino bench`): this machine's ceilings measured next to our hot paths.

- `run`: the whole run (JSON); `harness`: embedded stack and options; `workload`: service, citizens,
  bodies and records; `loadgen`: a cheap raw-asyncio HTTP/1.1 load generator;
- `ingress`, `deliver`, `e2e`: the three comparisons; `bare_ingress`, `pipeline`: the
  ceilings; `procs`: subprocesses and /proc readings; `report`: table and JSON.
"""
