"""Reports of a run: the live console, the verdict table, and files (JSON) for machines."""
