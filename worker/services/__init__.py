"""The verbs: plain async functions over structs and ports (no aiohttp, no aiokafka)."""
