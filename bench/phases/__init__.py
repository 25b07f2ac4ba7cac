"""One module per benchmark phase; bench/run.py runs them and collects their metrics."""
