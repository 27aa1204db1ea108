"""Shared plain-data models, settings and errors."""
