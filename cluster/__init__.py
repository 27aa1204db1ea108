"""Embeddings and themes. Pure, except the embedding edge in embed.py."""
