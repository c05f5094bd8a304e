"""Reports built from an analysed network: summaries and diffs, as data and as text."""
