"""Benchmarks (`postino bench`): this machine's ceilings measured next to our hot paths.

- `run`: the whole run; `harness`: what its parts share (options, the embedded stack,
  the processes under test); `workload`: service, citizens, bodies and records;
  `loadgen`: a cheap raw-asyncio HTTP/1.1 load generator;
- `ingress`, `deliver`, `e2e`, `fullpipe`: the comparisons and scenarios;
  `bare_ingress`, `pipeline`: the ceilings; `sinks`: push, SMTP and callback receiver;
- `procs`: subprocesses and /proc readings; `meter`: CPU and Kafka requests per phase;
  `kafkacount`: Kafka requests counted in each process; `flame`: py-spy flame graphs;
  `report`: table and JSON.

Imports go one way: `run` -> scenarios -> `harness` -> `procs`; nothing imports `run`.
"""
