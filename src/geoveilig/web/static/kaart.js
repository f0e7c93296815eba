/* geoveilig planning map: fetches the layers from the OGC API (the hotspot and incident layers
 * as vector tiles), shows them with Dutch popups and legends and requests deployment
 * recommendations. Labels, units and formats of the properties come from the layer catalogue
 * (geoveilig.layers.FIELDS, in the page config). The API key lives in sessionStorage (never in
 * a URL). */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("config").textContent);
  var API = cfg.api;
  var KEY_STORE = "geoveilig.apiKey";
  var FIELDS = cfg.fields || {};
  var STATUS_COLORS = { gepland: "#ff7f00", "geplaatst": "#e31a1c", "beëindigd": "#7f7f7f",
                        geannuleerd: "#cccccc" };
  var COUNT_SCHEME = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"];

  // What each collection looks like on the map. "choropleth" layers colour the areas and are
  // exclusive (one at a time); "overlay" layers (points, groups) lie on top of them.
  // Collections the caller may not see are not listed by /collections, so they never appear.
  var SPECS = [
    { id: "wijken", title: "Misdrijven per wijk", group: "choropleth", kind: "choropleth",
      column: "count", scheme: COUNT_SCHEME, show: true, unit: "aantal misdrijven",
      params: function (s) { return { crimeType: s.crimeType, year: s.year }; } },
    { id: "buurten", title: "Misdrijven per buurt", group: "choropleth", kind: "choropleth",
      column: "count", scheme: COUNT_SCHEME, unit: "aantal misdrijven",
      params: function (s) { return { crimeType: s.crimeType, year: s.year }; } },
    { id: "hotspots", title: "Hotspots (risico per cel van 125 m)", group: "choropleth",
      kind: "classes", tiles: true, column: "risk_class",
      scheme: ["#fdd0a2", "#fdae6b", "#fd8d3c", "#e6550d", "#a63603"],
      params: function (s) { return { crimeType: s.crimeType }; } },
    { id: "prevention-coverage", title: "Dekking preventiegroepen", group: "choropleth",
      kind: "choropleth", column: "coverage_share", share: true,
      scheme: ["#edf8e9", "#bae4b3", "#74c476", "#31a354", "#006d2c"],
      params: function () { return {}; } },
    { id: "prevention-groups", title: "Preventiegroepen", group: "overlay", kind: "areas",
      color: "#2b8cbe", params: function () { return {}; } },
    { id: "deployments", title: "Inzet (gepland, geplaatst, beëindigd)", group: "overlay",
      kind: "points", colorBy: "status", colors: STATUS_COLORS, color: "#ff7f00",
      actions: true, params: function () { return {}; } },
    { id: "recommendations", title: "Aanbevolen plaatsen (opgeslagen plan)", group: "overlay",
      kind: "points", color: "#6a3d9a", params: function (s) { return { planId: s.planId }; } },
    { id: "incidents", title: "Incidenten (politie)", group: "overlay", kind: "points",
      tiles: true, color: "#000000", radius: 3,
      params: function (s) { return { crimeType: s.crimeType }; } }
  ];

  var state = { crimeType: cfg.defaultCrimeType, year: String(cfg.defaultYear), planId: null };
  var map = L.map("map", { zoomControl: false }).setView(cfg.center, 13);
  L.control.zoom({ zoomInTitle: "Inzoomen", zoomOutTitle: "Uitzoomen" }).addTo(map);
  // Leaflet.VectorGrid 1.3 draws tile points as CircleMarkers without a latitude/longitude,
  // which Leaflet 1.9's event handling asks for on a click: compute it from the tile's
  // coordinates and the point's pixel position in the tile.
  var circleLatLng = L.CircleMarker.prototype.getLatLng;
  L.CircleMarker.prototype.getLatLng = function () {
    var r = this._renderer;
    if (this._latlng || !r || !r._tileCoord || !this._point) return circleLatLng.call(this);
    var c = r._tileCoord;
    return map.unproject(L.point(c.x * r._size.x, c.y * r._size.y).add(this._point), c.z);
  };
  map.attributionControl.setPrefix(false);
  map.on("popupopen", function (e) {  // Dutch for screen readers too
    var close = e.popup.getElement().querySelector(".leaflet-popup-close-button");
    if (close) close.setAttribute("aria-label", "Sluiten");
  });
  map.createPane("choropleth").style.zIndex = 350;   // colours under outlines and points
  var outlinePane = map.createPane("outlines");
  outlinePane.style.zIndex = 380;
  outlinePane.style.pointerEvents = "none";
  map.createPane("points").style.zIndex = 450;
  L.control.scale({ imperial: false }).addTo(map);
  var legend = L.control({ position: "bottomright" });
  legend.onAdd = function () {
    this._div = L.DomUtil.create("div", "legend");
    this._div.setAttribute("aria-label", "Legenda");
    this._div.setAttribute("role", "region");
    return this._div;
  };
  legend.addTo(map);

  var layers = {};      // id -> {spec, group, data, edges, meta}
  var planLayer = L.layerGroup().addTo(map);
  var lastPlan = null;
  var unlabelled = {};  // property names without a Dutch label: never shown (tests read them)

  // --- helpers -----------------------------------------------------------------------------
  function key() { return sessionStorage.getItem(KEY_STORE); }
  function headers(extra) {
    var h = { Accept: "application/geo+json, application/json" };
    if (key()) h.Authorization = "Bearer " + key();
    for (var k in extra || {}) h[k] = extra[k];
    return h;
  }
  function esc(v) {
    return String(v).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function message(text, info) {
    var el = document.getElementById("message");
    if (!text) { el.hidden = true; return; }
    el.textContent = text;
    el.className = info ? "info" : "";
    el.hidden = false;
  }
  function problemText(body, status) {
    if (body && (body.detail || body.title)) return (body.title ? body.title + ": " : "") +
      (body.detail || "");
    return "De server gaf een fout (" + status + ").";
  }
  function getJSON(url, opts) {
    return fetch(url, opts || { headers: headers() }).then(function (r) {
      return r.text().then(function (t) {
        var body = null;
        try { body = t ? JSON.parse(t) : null; } catch (e) { body = null; }
        if (!r.ok) {
          var err = new Error(problemText(body, r.status));
          err.status = r.status;
          throw err;
        }
        return { body: body, response: r };
      });
    });
  }
  function query(params) {
    var q = [];
    for (var k in params) {
      if (params[k] !== undefined && params[k] !== null && params[k] !== "") {
        q.push(encodeURIComponent(k) + "=" + encodeURIComponent(params[k]));
      }
    }
    return q.join("&");
  }
  function fetchAll(url, features, first) {
    features = features || [];
    return getJSON(url).then(function (res) {
      var fc = res.body || {};
      first = first || fc;
      features = features.concat(fc.features || []);
      var next = (fc.links || []).filter(function (l) { return l.rel === "next"; })[0];
      if (next) return fetchAll(next.href, features, first);
      features.parameters = first.parameters || null;
      return features;
    });
  }

  // Dutch number and date formats (decimal comma, day-month-year)
  function fmtNum(x, digits) {
    if (typeof x !== "number" || !isFinite(x)) return "onbekend";
    var d = digits !== undefined ? digits : (Number.isInteger(x) || Math.abs(x) >= 100 ? 0 :
      (Math.abs(x) >= 1 ? 2 : 3));
    return x.toLocaleString("nl-NL", { minimumFractionDigits: 0, maximumFractionDigits: d });
  }
  function fmtShare(x) {
    return typeof x === "number" && isFinite(x) ? fmtNum(100 * x, 1) + "%" : "onbekend";
  }
  function fmtDate(iso, withTime) {
    var m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}))?/.exec(String(iso));
    if (!m) return String(iso);
    return m[3] + "-" + m[2] + "-" + m[1] + (withTime && m[4] ? " " + m[4] + ":" + m[5] : "");
  }
  function fmtValue(name, v) {
    var f = FIELDS[name] || {};
    if (f.values && f.values[v] !== undefined) return f.values[v];
    if (typeof v === "boolean" || f.kind === "bool") return v === true || v === "true" ? "ja" : "nee";
    if (f.kind === "share") return fmtShare(Number(v));
    if (f.kind === "integer" || f.kind === "number" || typeof v === "number") {
      var n = Number(v);
      if (!isFinite(n)) return String(v);
      return fmtNum(n, f.kind === "integer" ? 0 : undefined) + (f.unit ? " " + f.unit : "");
    }
    if (f.kind === "date") return fmtDate(v, false);
    if (f.kind === "datetime") return fmtDate(v, true);
    if (typeof v === "object") return JSON.stringify(v);
    return String(v) + (f.unit ? " " + f.unit : "");
  }
  function noteUnlabelled(name) {
    unlabelled[name] = true;
    document.body.setAttribute("data-unlabelled", Object.keys(unlabelled).sort().join(","));
  }
  function popup(props) {
    var rows = [];
    for (var k in props) {
      var v = props[k];
      if (k.charAt(0) === "_" || v === null || v === undefined || v === "") continue;
      var f = FIELDS[k];
      if (!f) { noteUnlabelled(k); continue; }
      if (f.hidden) continue;
      rows.push("<tr><th scope=\"row\">" + esc(f.label) + "</th><td>" + esc(fmtValue(k, v)) +
        "</td></tr>");
    }
    if (props.count === null && props.count_suppressed) {
      rows.unshift("<tr><th scope=\"row\">" + esc(FIELDS.count.label) +
        "</th><td>1 tot 4 (niet getoond)</td></tr>");
    }
    return '<div class="popup"><table>' + rows.join("") + "</table></div>";
  }
  // quantile classes over the values present (null: not shown)
  function breaks(values) {
    var v = values.filter(function (x) { return typeof x === "number" && isFinite(x); })
      .sort(function (a, b) { return a - b; });
    if (!v.length) return [0, 1];
    var edges = [];
    for (var i = 0; i <= 5; i++) edges.push(v[Math.min(v.length - 1, Math.floor(i * (v.length - 1) / 5))]);
    edges = edges.filter(function (x, i) { return i === 0 || x > edges[i - 1]; });
    if (edges.length < 2) edges.push(edges[0] + 1);
    return edges;
  }
  function colourOf(value, edges, scheme) {
    if (typeof value !== "number" || !isFinite(value)) return "#d9d9d9";
    var i = 0;
    while (i < edges.length - 2 && value >= edges[i + 1]) i++;
    return scheme[Math.round(i * (scheme.length - 1) / Math.max(edges.length - 2, 1))];
  }
  function classColour(spec, cls, n) {  // class 1..n of a surface with n classes
    return spec.scheme[Math.round((cls - 1) * (spec.scheme.length - 1) / Math.max(n - 1, 1))];
  }
  function fmtEdge(spec, x) { return spec.share ? fmtShare(x) : fmtNum(x); }
  function crimeTypeLabel() {
    var hit = cfg.crimeTypes.filter(function (c) { return c[0] === state.crimeType; })[0];
    return hit ? hit[1] : state.crimeType;
  }
  // make a drawn feature reachable with the keyboard: Tab to it, Enter opens its popup
  function focusable(layer, name) {
    var el = layer.getElement && layer.getElement();
    if (!el) return;
    el.setAttribute("tabindex", "0");
    el.setAttribute("role", "button");
    el.setAttribute("aria-label", name);
    el.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" || ev.key === " ") {
        ev.preventDefault();
        layer.openPopup();
      }
    });
  }
  function featureName(spec, p) {
    var name = p.name || p.label || p.buurt_name || p.incident_id || spec.title;
    if (spec.column && p[spec.column] !== undefined) {
      name += ": " + (p[spec.column] === null ? "niet getoond" : fmtValue(spec.column, p[spec.column]));
    }
    return name;
  }

  // --- layers ------------------------------------------------------------------------------
  function draw(entry) {
    var spec = entry.spec;
    entry.group.clearLayers();
    var feats = entry.data || [];
    if (spec.kind === "choropleth") {
      entry.edges = breaks(feats.map(function (f) { return f.properties[spec.column]; }));
    }
    var pane = spec.group === "choropleth" ? "choropleth" : "points";
    var gj = L.geoJSON({ type: "FeatureCollection", features: feats }, {
      pane: pane,
      style: function (f) {
        if (spec.kind === "choropleth") {
          return { fillColor: colourOf(f.properties[spec.column], entry.edges, spec.scheme),
                   color: "#666", weight: 0.7, fillOpacity: 0.7 };
        }
        return { color: spec.color, weight: 1.5, fillColor: spec.color, fillOpacity: 0.25 };
      },
      pointToLayer: function (f, latlng) {
        var c = spec.colorBy ? (spec.colors[f.properties[spec.colorBy]] || spec.color) : spec.color;
        return L.circleMarker(latlng, { radius: spec.radius || 7, color: "#222", weight: 1,
                                        fillColor: c, fillOpacity: 0.9, pane: pane });
      },
      onEachFeature: function (f, layer) {
        layer.bindPopup(popup(f.properties) + (spec.actions ? actionsHtml(f.properties) : ""));
      }
    });
    gj.addTo(entry.group);
    gj.eachLayer(function (l) { focusable(l, featureName(spec, l.feature.properties)); });
    var first = feats[0] && feats[0].properties;
    if (first && first.crime_type_label) {
      entry.meta = { title: spec.title + ": " + crimeTypeLabel() + ", " + first.period };
    } else if (first && first.date) {
      entry.meta = { title: spec.title + " op " + fmtDate(first.date) };
    }
    updateLegend();
  }

  // the hotspot and incident layers: OGC API vector tiles (MVT) drawn by Leaflet.VectorGrid
  function tileLayer(entry) {
    var spec = entry.spec;
    var seen = {};
    var url = API + "/collections/" + spec.id + "/tiles/WebMercatorQuad/{z}/{y}/{x}?" +
      query(spec.params(state));
    var styles = {};
    styles[spec.id] = function (p) {
      seen[p.cell_id || p.incident_id || JSON.stringify(p)] = true;
      if (spec.kind === "classes") {
        var n = Math.max((entry.meta && entry.meta.breaks ? entry.meta.breaks.length : 6) - 1, 1);
        if (!p.risk_class) return { stroke: false, fill: false, fillOpacity: 0, opacity: 0 };
        var hot = p.gi_class === "hot";
        return { fill: true, fillColor: classColour(spec, Math.min(p.risk_class, n), n),
                 fillOpacity: 0.75, color: hot ? "#000" : "#888", weight: hot ? 1.5 : 0.3 };
      }
      var inYear = !p.occurred_at || String(p.occurred_at).slice(0, 4) === state.year;
      if (!inYear) return { radius: 0.01, stroke: false, fill: false, opacity: 0, fillOpacity: 0 };
      return { radius: spec.radius || 4, fill: true, fillColor: spec.color, fillOpacity: 0.9,
               color: "#fff", weight: 1 };
    };
    var grid = L.vectorGrid.protobuf(url, {
      vectorTileLayerStyles: styles, interactive: true, maxNativeZoom: 20, pane:
        spec.group === "choropleth" ? "choropleth" : "points",
      rendererFactory: L.svg.tile, fetchOptions: { headers: headers({ Accept: "application/vnd.mapbox-vector-tile" }) },
      getFeatureId: function (f) { return f.properties.cell_id || f.properties.incident_id; }
    });
    grid.on("click", function (e) {
      var at = e.latlng || (e.originalEvent && map.mouseEventToLatLng(e.originalEvent));
      L.popup().setLatLng(at).setContent(popup(e.layer.properties)).openOn(map);
    });
    grid.on("load", function () {
      document.body.setAttribute("data-loaded-" + spec.id, String(Object.keys(seen).length));
    });
    return grid;
  }

  function load(entry) {
    var spec = entry.spec;
    entry.loading = true;
    if (spec.tiles) {
      // the hotspot legend (classes, period, method) from the layer's metadata: one feature
      var meta = spec.kind === "classes" ?
        getJSON(API + "/collections/" + spec.id + "/items?" +
                query(Object.assign({ limit: 1 }, spec.params(state)))).then(function (res) {
          var p = (res.body || {}).parameters || {};
          var period = p.origin ? fmtDate(p.origin) + " tot " + fmtDate(p.window_end) : "";
          entry.meta = { breaks: p.risk_breaks || [],
                         title: "Hotspots: " + crimeTypeLabel() + (period ? ", " + period : "") +
                           (p.method_label ? " (" + p.method_label + ")" : "") };
        }) : Promise.resolve(entry.meta = { title: spec.title + ": " + crimeTypeLabel() + ", " + state.year });
      return meta.then(function () {
        entry.group.clearLayers();
        entry.group.addLayer(tileLayer(entry));
        entry.data = [];
        entry.loading = false;
        updateLegend();
      }).catch(function (err) {
        entry.loading = false;
        message("Laag '" + spec.title + "' niet geladen: " + err.message);
      });
    }
    var url = API + "/collections/" + spec.id + "/items?" +
      query(Object.assign({ limit: 10000 }, spec.params(state)));
    return fetchAll(url).then(function (features) {
      entry.data = features;
      entry.loading = false;
      draw(entry);
      document.body.setAttribute("data-loaded-" + spec.id, String(features.length));
    }).catch(function (err) {
      entry.loading = false;
      message("Laag '" + spec.title + "' niet geladen: " + err.message);
    });
  }

  function legendTitle(spec, e) {
    return (e.meta && e.meta.title) || spec.title;
  }
  function updateLegend() {
    var parts = [];
    SPECS.forEach(function (spec) {
      var e = layers[spec.id];
      if (!e || !map.hasLayer(e.group)) return;
      var html = '<div class="item" data-legend="' + spec.id + '"><b>' +
        esc(legendTitle(spec, e)) + "</b>";
      if (spec.unit) html += '<div class="unit">' + esc(spec.unit) + "</div>";
      if (spec.kind === "choropleth" && e.edges) {
        for (var i = 0; i < e.edges.length - 1; i++) {
          html += "<div><i style=\"background:" + colourOf(e.edges[i], e.edges, spec.scheme) +
            "\"></i>" + fmtEdge(spec, e.edges[i]) + " – " + fmtEdge(spec, e.edges[i + 1]) + "</div>";
        }
        if ((e.data || []).some(function (f) { return f.properties[spec.column] === null; })) {
          html += '<div><i style="background:#d9d9d9"></i>1 tot 4: niet getoond</div>';
        }
      } else if (spec.kind === "classes" && e.meta && e.meta.breaks) {
        var b = e.meta.breaks, n = b.length - 1;
        html += '<div class="unit">risico (relatief), vijf klassen met elk een vijfde van de ' +
          "cellen met risico</div>";
        for (var c = n; c >= 1; c--) {
          html += '<div data-class="' + c + '"><i style="background:' + classColour(spec, c, n) +
            '"></i>' + fmtNum(b[c - 1]) + " – " + fmtNum(b[c]) + "</div>";
        }
        html += '<div><i style="background:transparent"></i>geen risico (doorzichtig)</div>';
        html += '<div><i style="border:2px solid #000"></i>significante hotspot (Gi*)</div>';
      } else if ((spec.kind === "choropleth" || spec.kind === "classes") && !e.meta) {
        html += "<div>wordt geladen…</div>";
      } else if (spec.kind === "points" && spec.colorBy) {
        var seen = {};
        (e.data || []).forEach(function (f) { seen[f.properties[spec.colorBy]] = true; });
        Object.keys(seen).forEach(function (t) {
          html += '<div><i class="dot" style="background:' + (spec.colors[t] || spec.color) +
            '"></i>' + esc(fmtValue(spec.colorBy, t)) + "</div>";
        });
      } else {
        html += '<div><i class="' + (spec.kind === "points" ? "dot" : "") +
          '" style="background:' + spec.color + '"></i>' + esc(legendTitle(spec, e)) + "</div>";
      }
      parts.push(html + "</div>");
    });
    var el = legend._div;
    el.innerHTML = parts.join("") || "<i>Geen lagen aan</i>";
    var print = document.getElementById("print-layers");
    if (print) {
      print.textContent = SPECS.filter(function (s) {
        return layers[s.id] && map.hasLayer(layers[s.id].group);
      }).map(function (s) { return legendTitle(s, layers[s.id]); }).join("; ");
    }
  }

  // the layer choices in the side panel: radio buttons for the colour maps (one at a time),
  // check boxes for what lies on top
  function choice(spec, entry) {
    var box = document.getElementById(spec.group === "choropleth" ? "choropleths" : "overlays");
    var label = document.createElement("label");
    label.className = "check";
    label.setAttribute("data-layer", spec.id);
    var input = document.createElement("input");
    input.type = spec.group === "choropleth" ? "radio" : "checkbox";
    input.name = spec.group === "choropleth" ? "choropleth" : "overlay-" + spec.id;
    input.value = spec.id;
    input.checked = !!spec.show;
    input.addEventListener("change", function () { setVisible(spec.group, spec.id, input.checked); });
    label.appendChild(input);
    label.appendChild(document.createTextNode(spec.title));
    box.appendChild(label);
  }
  function setVisible(group, id, on) {
    if (group === "choropleth") {  // exclusive: switch every other colour map off
      Object.keys(layers).forEach(function (other) {
        var e = layers[other];
        if (e.spec.group === "choropleth" && other !== id && map.hasLayer(e.group)) map.removeLayer(e.group);
      });
    }
    var entry = layers[id];
    if (entry) {
      if (on) {
        entry.group.addTo(map);
        if (!entry.data && !entry.loading) load(entry);
        else if (entry.data && !entry.spec.tiles && !entry.group.getLayers().length) draw(entry);
      } else {
        map.removeLayer(entry.group);
      }
    }
    updateLegend();
  }

  function setupLayers(available) {
    Object.keys(layers).forEach(function (id) { map.removeLayer(layers[id].group); });
    layers = {};
    SPECS.forEach(function (spec) { document.body.removeAttribute("data-loaded-" + spec.id); });
    ["choropleths", "overlays"].forEach(function (id) {
      var box = document.getElementById(id);
      Array.prototype.slice.call(box.querySelectorAll("label")).forEach(function (l) { l.remove(); });
    });
    var none = document.createElement("label");
    none.className = "check";
    none.setAttribute("data-layer", "");
    none.innerHTML = '<input type="radio" name="choropleth" value="">geen kleurkaart';
    none.firstChild.addEventListener("change", function () { setVisible("choropleth", null, true); });
    document.getElementById("choropleths").appendChild(none);
    SPECS.forEach(function (spec) {
      if (available.indexOf(spec.id) < 0) return;
      var entry = { spec: spec, group: L.layerGroup() };
      layers[spec.id] = entry;
      choice(spec, entry);
      if (spec.show) { entry.group.addTo(map); load(entry); }
    });
    document.body.setAttribute("data-layers", Object.keys(layers).join(","));
    updateLegend();
  }

  function reloadVisible() {
    Object.keys(layers).forEach(function (id) {
      var entry = layers[id];
      entry.data = null;
      entry.meta = null;
      if (map.hasLayer(entry.group)) load(entry);
    });
  }

  // --- outlines, wijk names and base map -------------------------------------------------------
  var outlines = L.layerGroup().addTo(map);
  var names = L.layerGroup().addTo(map);
  var blank = L.layerGroup();
  var bases = [["grenzen", "Geen achtergrond (alleen grenzen)", blank]];
  var basemap = null;
  if (cfg.basemapUrl) {
    basemap = L.tileLayer(cfg.basemapUrl, { attribution: cfg.basemapAttribution, maxZoom: 19 });
    bases.unshift(["pdok", "Achtergrondkaart (BRT grijs, PDOK, online)", basemap]);
    var failed = 0;
    basemap.on("tileerror", function () {
      failed += 1;
      if (failed === 3 && map.hasLayer(basemap)) {
        map.removeLayer(basemap);
        blank.addTo(map);
        document.querySelector('#bases input[value="grenzen"]').checked = true;
        document.body.setAttribute("data-basemap", "grenzen");
        message("Geen verbinding met de achtergrondkaart: alleen de grenzen worden getoond.", true);
      }
    });
  }
  bases.forEach(function (b, i) {
    var label = document.createElement("label");
    label.className = "check";
    var input = document.createElement("input");
    input.type = "radio";
    input.name = "basemap";
    input.value = b[0];
    input.checked = i === 0;
    input.addEventListener("change", function () {
      bases.forEach(function (o) { if (map.hasLayer(o[2])) map.removeLayer(o[2]); });
      b[2].addTo(map);
      document.body.setAttribute("data-basemap", b[0]);
    });
    label.appendChild(input);
    label.appendChild(document.createTextNode(b[1]));
    document.getElementById("bases").appendChild(label);
  });
  bases[0][2].addTo(map);
  document.body.setAttribute("data-basemap", bases[0][0]);
  document.getElementById("wijk-names").addEventListener("change", function (ev) {
    if (ev.target.checked) names.addTo(map); else map.removeLayer(names);
  });
  fetchAll(API + "/collections/wijken/items?" + query({ limit: 1000, crimeType: "totaal" }))
    .then(function (features) {
      var gj = L.geoJSON({ type: "FeatureCollection", features: features },
        { style: { color: "#444", weight: 1.5, fill: false }, interactive: false, pane: "outlines" });
      gj.addTo(outlines);
      features.forEach(function (f) {  // wijk names as permanent labels at the centre
        var c = L.geoJSON(f).getBounds().getCenter();
        L.tooltip({ permanent: true, direction: "center", className: "wijk-name", interactive: false })
          .setLatLng(c).setContent(esc(f.properties.name)).addTo(names);
      });
      if (features.length) map.fitBounds(gj.getBounds());
    }).catch(function (err) { message("Wijkgrenzen niet geladen: " + err.message); });

  // --- print / PDF of the current map ----------------------------------------------------------
  document.getElementById("print").addEventListener("click", function () {
    document.getElementById("print-date").textContent = new Date().toLocaleString("nl-NL");
    updateLegend();
    window.print();
  });
  window.addEventListener("beforeprint", function () { map.invalidateSize(); });
  window.addEventListener("afterprint", function () { map.invalidateSize(); });

  // --- login -------------------------------------------------------------------------------
  function refreshCollections() {
    return getJSON(API + "/collections").then(function (res) {
      var ids = (res.body.collections || []).map(function (c) { return c.id; });
      var role = ids.indexOf("incidents") >= 0 ? "Politie" :
        (ids.indexOf("prevention-groups") >= 0 ? "Gemeente (analist)" : "Publiek");
      document.getElementById("role-label").textContent = role;
      document.getElementById("logout").hidden = !key();
      document.getElementById("login-form").hidden = !!key();
      document.getElementById("planning").hidden = ids.indexOf("recommendations") < 0;
      document.body.setAttribute("data-role", role);
      setupLayers(ids);
      if (ids.indexOf("deployments") >= 0) {
        loadDeployments().catch(function (err) { message("Inzet niet geladen: " + err.message); });
      } else {
        document.getElementById("cycle").hidden = true;
      }
    });
  }
  document.getElementById("login-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var input = document.getElementById("api-key");
    var value = input.value.trim();
    if (!value) { message("Vul een API-sleutel in."); return; }
    sessionStorage.setItem(KEY_STORE, value);
    input.value = "";
    message(null);
    refreshCollections().catch(function (err) {
      sessionStorage.removeItem(KEY_STORE);
      message(err.status === 401 ? "Onbekende of ingetrokken API-sleutel." : err.message);
      refreshCollections();
    });
  });
  document.getElementById("logout").addEventListener("click", function () {
    sessionStorage.removeItem(KEY_STORE);
    planLayer.clearLayers();
    document.getElementById("plan-result").hidden = true;
    refreshCollections();
  });

  // --- filters -------------------------------------------------------------------------------
  var ctSelect = document.getElementById("crime-type");
  cfg.crimeTypes.forEach(function (c) {
    var o = document.createElement("option");
    o.value = c[0]; o.textContent = c[1];
    if (c[0] === state.crimeType) o.selected = true;
    ctSelect.appendChild(o);
  });
  var yearSelect = document.getElementById("year");
  cfg.years.forEach(function (y) {
    var o = document.createElement("option");
    o.value = String(y); o.textContent = String(y);
    if (String(y) === state.year) o.selected = true;
    yearSelect.appendChild(o);
  });
  ctSelect.addEventListener("change", function () { state.crimeType = ctSelect.value; reloadVisible(); });
  yearSelect.addEventListener("change", function () { state.year = yearSelect.value; reloadVisible(); });
  if (cfg.synthetic) {
    document.getElementById("source-note").textContent =
      "Let op: dit zijn SYNTHETISCHE demo-gegevens, geen echte incidenten.";
    document.getElementById("print-banner").hidden = false;  // on every printed page
  }

  // --- planning ------------------------------------------------------------------------------
  var kindSelect = document.getElementById("plan-kind");
  function syncPlanForm() {
    var tent = kindSelect.value === "buurttent";
    document.querySelectorAll(".radius, .window").forEach(function (el) { el.hidden = tent; });
    document.querySelectorAll(".year").forEach(function (el) { el.hidden = !tent; });
    var radius = document.getElementById("plan-radius");
    if (kindSelect.value === "cameras" && radius.value === "150") radius.value = "75";
    if (kindSelect.value === "alarms" && radius.value === "75") radius.value = "150";
    if (tent) document.getElementById("plan-count").value = "17";
  }
  kindSelect.addEventListener("change", syncPlanForm);
  document.getElementById("plan-keep").checked = cfg.keepExisting !== false;
  syncPlanForm();

  function objectiveText(s) {
    if (s.objective === undefined) return "";
    var text = "doel " + fmtNum(Number(s.objective)) +
      (s.objectiveUnit ? " = " + s.objectiveUnit : "");
    if (s.gap !== undefined && s.gap !== null) {
      text += "; afstand tot optimum ≤ " + (100 * s.gap).toFixed(1).replace(".", ",") + "%";
    }
    return text;
  }

  function showPlan(fc) {
    lastPlan = fc;
    planLayer.clearLayers();
    var list = document.getElementById("plan-sites");
    list.innerHTML = "";
    var order = { nieuw: 0, gepland: 0, verplaatst: 1, bestaand: 2 };
    var feats = (fc.features || []).slice().sort(function (a, b) {  // new, moves, units kept
      return (order[a.properties.status] || 0) - (order[b.properties.status] || 0);
    });
    feats.forEach(function (f, i) {
      var rank = f.properties.rank || i + 1;
      var c = f.geometry.coordinates;
      var p = f.properties;
      var existing = p.status === "bestaand";
      L.marker([c[1], c[0]], { icon: L.divIcon({
        className: "site-marker" + (existing ? " existing" : ""),
        html: existing ? "•" : String(rank), iconSize: [22, 22] }) })
        .bindPopup(popup(p)).addTo(planLayer);
      var li = document.createElement("li");
      if (!existing && p.rank > 0) {
        var box = document.createElement("input");
        box.type = "checkbox";
        box.className = "site-select";
        box.value = String(p.rank);
        box.checked = p.status !== "verplaatst";
        box.setAttribute("aria-label", "plaats " + p.rank + " inzetten");
        li.appendChild(box);
      }
      li.appendChild(document.createTextNode(
        (p.status ? p.status + ": " : "") + (p.buurt_name || p.buurt_code || "") +
        (p.date ? " – " + p.date : "") +
        (p.expected_covered !== undefined && p.expected_covered !== null ?
          " – verwacht gedekt " + fmtNum(Number(p.expected_covered), 2) : "")));
      list.appendChild(li);
    });
    var s = fc.summary || fc.properties || {};
    state.planId = s.planId || null;
    var counts = s.newSites !== undefined ?
      s.newSites + " nieuwe plaatsen, " + s.moves + " verplaatsing(en), " + s.kept +
        " blijven staan" : feats.length + " plaatsen";
    var objective = objectiveText(s);
    document.getElementById("plan-summary").textContent =
      (s.planId ? "Plan " + s.planId + ": " : "") + counts + (objective ? "; " + objective : "");
    document.getElementById("plan-result").hidden = false;
    document.getElementById("plan-save").disabled = !s.planId;
    document.body.setAttribute("data-plan-sites", String(feats.length));
    if (s.planId) document.body.setAttribute("data-plan-id", String(s.planId));
    if (feats.length) map.fitBounds(L.geoJSON(fc).getBounds().pad(0.3));
  }

  function poll(url, started) {
    return getJSON(url).then(function (res) {
      var job = res.body || {};
      if (job.status === "done" || job.status === "successful" || job.type === "FeatureCollection") {
        if (job.type === "FeatureCollection") return job;
        var link = (job.links || []).filter(function (l) { return l.rel === "results"; })[0];
        return getJSON(link ? link.href : url + "/results").then(function (r) { return r.body; });
      }
      if (job.status === "failed") throw new Error(job.detail || job.message || "De berekening is mislukt.");
      if (Date.now() - started > 120000) throw new Error("De berekening duurt te lang; probeer het later opnieuw.");
      document.getElementById("plan-progress-text").textContent =
        "Bezig met berekenen… " + (job.progress !== undefined ? Math.round(job.progress) + "%" : "");
      return new Promise(function (resolve) { setTimeout(resolve, 500); }).then(function () {
        return poll(url, started);
      });
    });
  }

  document.getElementById("plan-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    message(null);
    var kind = kindSelect.value;
    var body = { count: Number(document.getElementById("plan-count").value),
                 keepExisting: document.getElementById("plan-keep").checked };
    if (kind === "buurttent") {
      body.year = Number(document.getElementById("plan-year").value);
    } else {
      body.radius = Number(document.getElementById("plan-radius").value);
      body.window = document.getElementById("plan-window").value;
    }
    var progress = document.getElementById("plan-progress");
    var button = document.getElementById("plan-submit");
    progress.hidden = false;
    button.disabled = true;
    document.getElementById("plan-progress-text").textContent = "Bezig met berekenen…";
    getJSON(API + "/recommendations/" + kind, {
      method: "POST", headers: headers({ "Content-Type": "application/json" }),
      body: JSON.stringify(body)
    }).then(function (res) {
      var b = res.body || {};
      if (b.type === "FeatureCollection") return b;
      var loc = res.response.headers.get("Location") ||
        ((b.links || []).filter(function (l) { return l.rel === "monitor" || l.rel === "status"; })[0] || {}).href;
      if (!loc) throw new Error("Onverwacht antwoord van de server.");
      return poll(loc, Date.now());
    }).then(function (fc) {
      showPlan(fc);
      var rec = layers.recommendations;
      if (rec && map.hasLayer(rec.group)) load(rec);
      if (layers.deployments) loadDeployments().catch(function () {});
    }).catch(function (err) {
      message("Advies niet gelukt: " + err.message);
    }).then(function () {
      progress.hidden = true;
      button.disabled = false;
    });
  });

  // --- the deployment cycle: save a plan, place, end, evaluate -------------------------------
  function dateOnly(iso) { return iso ? String(iso).slice(0, 10) : ""; }
  function actionsHtml(p) {
    var id = esc(p.id);
    var html = '<div class="dep-actions" data-dep="' + id + '">';
    if (p.status === "gepland") {
      html += '<input type="date" class="dep-date" value="' + esc(dateOnly(p.planned_start)) +
        '" aria-label="datum"><button type="button" data-dep-action="place" data-id="' + id +
        '">geplaatst op datum</button><button type="button" data-dep-action="cancel" data-id="' +
        id + '">annuleren</button>';
    } else if (p.status === "geplaatst") {
      html += '<input type="date" class="dep-date" value="' + esc(dateOnly(p.planned_end)) +
        '" aria-label="datum"><button type="button" data-dep-action="end" data-id="' + id +
        '">beëindigen</button>';
    }
    if (p.effect_ready) {
      html += '<a href="#" data-dep-action="effect" data-id="' + id + '">effect bekijken</a>';
    } else if (p.status === "geplaatst" || p.status === "beëindigd") {
      html += '<span class="hint">effect: nog te vroeg (te weinig gegevens na plaatsing)</span>';
    }
    return html + "</div>";
  }

  function loadDeployments() {
    var entry = layers.deployments;
    var url = API + "/collections/deployments/items?limit=10000";
    return fetchAll(url).then(function (features) {
      if (entry) {
        entry.data = features;
        if (map.hasLayer(entry.group)) draw(entry);
      }
      var list = document.getElementById("deployment-list");
      list.innerHTML = "";
      var shown = features.filter(function (f) {
        return f.properties.plan_id !== null && f.properties.plan_id !== undefined;
      });
      shown.forEach(function (f) {
        var p = f.properties;
        var li = document.createElement("li");
        li.setAttribute("data-deployment", String(p.id));
        li.setAttribute("data-status", p.status);
        li.innerHTML = "<b>" + esc(p.label) + "</b><br>" + esc(p.status) +
          (p.start ? " sinds " + esc(dateOnly(p.start)) : "") +
          (p.end ? " tot " + esc(dateOnly(p.end)) : "") +
          (p.status === "gepland" && p.planned_start ? " vanaf " + esc(dateOnly(p.planned_start)) : "") +
          actionsHtml(p);
        list.appendChild(li);
      });
      document.getElementById("cycle").hidden = !shown.length;
      document.body.setAttribute("data-deployments", String(features.length));
      document.body.setAttribute("data-loaded-deployments", String(features.length));
    });
  }

  function changeDeployment(id, body) {
    return getJSON(API + "/deployments/" + encodeURIComponent(id), {
      method: "PATCH", headers: headers({ "Content-Type": "application/json" }),
      body: JSON.stringify(body)
    });
  }

  function showEffect(id) {
    var box = document.getElementById("effect-result");
    box.hidden = false;
    box.textContent = "Effect van inzet " + id + " wordt berekend…";
    var url = API + "/deployments/" + encodeURIComponent(id) + "/effect";
    return getJSON(url).then(function (res) {
      var b = res.body || {};
      if (b.verdict !== undefined) return b;
      var loc = res.response.headers.get("Location");
      if (!loc) throw new Error("Onverwacht antwoord van de server.");
      return poll(loc, Date.now());
    }).then(function (e) {
      var pct = function (x) { return (100 * x).toFixed(0) + "%"; };
      box.textContent = "Inzet " + id + ": " + e.verdict + " (schatting " +
        pct(e.estimate) + ", 95%-interval " + pct(e.ci_low - 1) + " tot " + pct(e.ci_high - 1) +
        "; " + e.n_treated_cells + " cellen tegen " + e.n_control_cells + " controlecellen)";
      document.body.setAttribute("data-effect", e.label);
    }).catch(function (err) {
      box.textContent = "Effect niet te berekenen: " + err.message;
      document.body.setAttribute("data-effect", "fout");
    });
  }

  document.addEventListener("click", function (ev) {
    var el = ev.target.closest ? ev.target.closest("[data-dep-action]") : null;
    if (!el) return;
    ev.preventDefault();
    var id = el.getAttribute("data-id");
    var action = el.getAttribute("data-dep-action");
    if (action === "effect") { showEffect(id); return; }
    var wrap = el.closest(".dep-actions");
    var dateInput = wrap ? wrap.querySelector(".dep-date") : null;
    var at = dateInput ? dateInput.value : "";
    var body = action === "cancel" ? { status: "geannuleerd" } :
      { status: action === "place" ? "geplaatst" : "beëindigd", at: at };
    if (action !== "cancel" && !at) { message("Kies eerst een datum."); return; }
    message(null);
    changeDeployment(id, body).then(function () {
      map.closePopup();
      return loadDeployments();
    }).catch(function (err) {
      message("Wijziging niet gelukt: " + err.message);
    });
  });

  document.getElementById("plan-save").addEventListener("click", function () {
    if (!state.planId) return;
    var ranks = Array.prototype.map.call(
      document.querySelectorAll("#plan-sites input.site-select:checked"),
      function (b) { return Number(b.value); });
    if (!ranks.length) { message("Kies minstens één plaats om in te zetten."); return; }
    message(null);
    getJSON(API + "/deployments", {
      method: "POST", headers: headers({ "Content-Type": "application/json" }),
      body: JSON.stringify({ planId: state.planId, ranks: ranks })
    }).then(function (res) {
      var n = ((res.body || {}).deployments || []).length;
      message("Plan " + state.planId + " opgeslagen: " + n + " geplande inzet(ten).", true);
      return loadDeployments();
    }).catch(function (err) {
      message("Plan opslaan niet gelukt: " + err.message);
    });
  });

  // OWASP CSV injection: the same rule as geoveilig.safecsv.neutralise (a text cell that
  // starts with = + - @ tab or CR, and is not a plain number, gets a leading quote).
  var DANGEROUS = /^[=+\-@\t\r]/;
  var NUMBER = /^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$/;
  function safeCell(v) {
    return DANGEROUS.test(v) && !NUMBER.test(v) ? "'" + v : v;
  }
  function download(name, type, text) {
    var a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([text], { type: type }));
    a.download = name;
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 0);
  }
  document.getElementById("download-geojson").addEventListener("click", function () {
    if (lastPlan) download("advies.geojson", "application/geo+json", JSON.stringify(lastPlan));
  });
  document.getElementById("download-csv").addEventListener("click", function () {
    if (!lastPlan) return;
    var feats = lastPlan.features || [];
    var cols = {};
    feats.forEach(function (f) { Object.keys(f.properties).forEach(function (k) { cols[k] = true; }); });
    var names = Object.keys(cols);
    var lines = [names.concat(["lon", "lat"]).join(";")];
    feats.forEach(function (f) {
      var row = names.map(function (k) {
        var v = f.properties[k];
        v = safeCell(v === null || v === undefined ? "" : String(v));
        return /[;"\n]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v;
      });
      lines.push(row.concat([f.geometry.coordinates[0], f.geometry.coordinates[1]]).join(";"));
    });
    download("advies.csv", "text/csv", lines.join("\n") + "\n");
  });

  refreshCollections().catch(function (err) {
    if (err.status === 401) {
      sessionStorage.removeItem(KEY_STORE);
      return refreshCollections();
    }
    message("Kan de API niet bereiken: " + err.message);
  });
})();
