"""Synthetic demo data for Helmond (and, scaled, for any other configured gemeente).
Everything here is generated and says so; only Helmond's yearly totals come from the
municipality's published table (see ``demo.incidents``)."""

from .incidents import (
    SEED,
    generate_for_gemeenten,
    generate_generic,
    generate_incidents,
    read_seed_table,
    to_csv,
    yearly_counts,
)

__all__ = ["SEED", "generate_for_gemeenten", "generate_generic", "generate_incidents",
           "read_seed_table", "to_csv", "yearly_counts"]
