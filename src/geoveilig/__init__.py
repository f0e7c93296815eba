"""geoveilig: crime statistics per wijk and buurt, hotspots and deployment advice.

The package is a library first: plain functions over (Geo)DataFrames in EPSG:28992.
The CLI (``geoveilig``), the FastAPI app and the notebooks are thin edges around it.
"""

__version__ = "0.1.0"

RD_NEW = "EPSG:28992"
WGS84 = "EPSG:4326"
TIMEZONE = "Europe/Amsterdam"
