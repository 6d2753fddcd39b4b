"""The pure core: records, batch results, dead letters, due headers, the error taxonomy.

Nothing here does I/O or imports an I/O library (aiokafka, asyncpg, aiohttp): services,
adapters and the consumer loop all build on these types, so they sit below everything
else (an import-linter contract in pyproject.toml keeps it that way).
"""
