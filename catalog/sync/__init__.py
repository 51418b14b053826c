"""Sync: the desired Atlas entity graph for builds and deployments, diffed against Atlas and written
through the typed client in dependency-ordered batches."""
