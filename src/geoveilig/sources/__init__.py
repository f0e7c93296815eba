"""Published figures beside incidents: police counts per wijk/buurt and month, CBS key
figures per area and year, and the Veiligheidsmonitor's perception indicators.

``cbs`` fetches (OData v3 and v4, paged, retried, cached in the data directory with the table
id and retrieval date); ``parse`` turns the documented JSON layout into plain frames;
``mapping`` says how the police's crime classes relate to this project's categories;
``rates`` computes rates per 1,000 inhabitants/dwellings and the comparison of imported
incidents with published counts. Nothing here reads settings: the edges pass URLs and folders.

See ``docs/sources.md`` for the tables, their columns and classifications."""

from __future__ import annotations

SYNTHETIC = "synthetisch"
