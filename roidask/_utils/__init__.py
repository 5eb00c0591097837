"""Rules shared by every layer: argument checks, dtypes, docstrings, warnings."""
