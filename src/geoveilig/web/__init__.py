"""Map pages: the self-contained folium export and (with the API) the planning map, with a
bundled copy of Leaflet so that nothing is loaded from a CDN."""
