"""Xet storage for the local Hub: hashes, xorb and shard formats, the CAS store and API.

See hub/README.md ("Xet") for the routes and what is verified.
"""
