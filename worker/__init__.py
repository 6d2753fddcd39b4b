"""Postino: the delivery backend for IO messages."""
