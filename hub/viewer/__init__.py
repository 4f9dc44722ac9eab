"""The local Hub's Dataset Viewer: the datasets-server API over a revision's Parquet files (DuckDB)."""
