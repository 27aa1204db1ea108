"""Wiring: the stages glue storage to the pure core; the Prefect flow and the CLI sequence them."""
