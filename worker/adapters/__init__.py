"""Adapters: the only modules that talk to Kafka, PostgreSQL, SMTP and HTTP peers."""
