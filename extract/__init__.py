"""From raw bytes to documents and claims. Pure, except the HTTP edge in fetch.py."""
