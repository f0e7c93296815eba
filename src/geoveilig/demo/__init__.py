"""Synthetic demo data for Helmond. Everything here is generated and says so; only the
yearly totals come from the municipality's published table (see ``demo.incidents``)."""

from .incidents import SEED, generate_incidents, read_seed_table, to_csv, yearly_counts

__all__ = ["SEED", "generate_incidents", "read_seed_table", "to_csv", "yearly_counts"]
