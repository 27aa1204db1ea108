"""From raw bytes to documents and claims. Pure, except the edge modules fetch.py and files.py."""
