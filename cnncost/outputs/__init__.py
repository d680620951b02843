"""A report, a comparison and their parts in every output format (the registry's figures)."""
