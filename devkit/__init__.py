"""Development tools beside the product: embedded PostgreSQL and brokers, dev sinks,
`postino dev` and `postino bench`. Installed in a checkout (`make install`), never
shipped in the production image; `worker` never imports this package.
"""
