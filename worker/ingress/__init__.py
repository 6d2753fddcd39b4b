"""aiohttp ingress: sender API, citizen API, admin API, health, metrics."""
