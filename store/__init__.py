"""DuckDB storage: schema migrations and every SQL statement the pipeline runs."""
