/* geoveilig planning map: fetches the layers from the OGC API, shows them with legends and
 * requests deployment recommendations. The API key lives in sessionStorage (never in a URL). */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("config").textContent);
  var API = cfg.api;
  var KEY_STORE = "geoveilig.apiKey";

  var LABELS = {
    code: "Code", name: "Naam", wijk_code: "Wijk", buurt_code: "Buurt", wijk_name: "Wijk",
    buurt_name: "Buurt", count: "Aantal", crime_type: "Misdrijftype", label: "Naam",
    period: "Periode", coverage_share: "Gedekt (aandeel)", fully_covered: "Wijkdekkend",
    active_teams: "Actieve teams", teams_in_formation: "Teams in oprichting",
    whatsapp_groups: "WhatsApp-groepen", type_label: "Soort", status_label: "Status",
    risk: "Risico", rank: "Rang", percentile: "Percentiel", gi_z: "Gi* z", gi_class: "Gi*",
    method: "Methode", expected_covered: "Verwacht gedekt", share_of_risk: "Deel van risico",
    date: "Datum", type: "Soort", start: "Vanaf", end: "Tot", occurred_at: "Moment",
    distance_to_existing_m: "Afstand tot bestaande (m)", explanation: "Toelichting",
    backtest_score: "Backtest", suppressed: "Onderdrukt (klein aantal)", status: "Status",
    planned_start: "Gepland vanaf", planned_end: "Gepland tot", plan_id: "Plan",
    plan_rank: "Rang in plan", kind: "Soort", effect_ready: "Effect meetbaar"
  };
  var STATUS_COLORS = { gepland: "#ff7f00", "geplaatst": "#e31a1c", "beëindigd": "#7f7f7f",
                        geannuleerd: "#cccccc" };

  // What each collection looks like on the map. Collections the caller may not see are not
  // listed by /collections, so they never appear here.
  var SPECS = [
    { id: "wijken", title: "Misdrijven per wijk", kind: "choropleth", column: "count",
      scheme: ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"], show: true,
      params: function (s) { return { crimeType: s.crimeType, year: s.year }; } },
    { id: "buurten", title: "Misdrijven per buurt", kind: "choropleth", column: "count",
      scheme: ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"],
      params: function (s) { return { crimeType: s.crimeType, year: s.year }; } },
    { id: "hotspots", title: "Hotspots (risico per cel)", kind: "choropleth",
      column: "percentile", scheme: ["#fff5eb", "#fdbe85", "#fd8d3c", "#e6550d", "#a63603"],
      outlineWhere: { gi_class: "hot" },
      params: function (s) { return { crimeType: s.crimeType }; } },
    { id: "prevention-coverage", title: "Dekking preventiegroepen", kind: "choropleth",
      column: "coverage_share", scheme: ["#edf8e9", "#bae4b3", "#74c476", "#31a354", "#006d2c"],
      params: function () { return {}; } },
    { id: "prevention-groups", title: "Preventiegroepen", kind: "areas", color: "#2b8cbe",
      params: function () { return {}; } },
    { id: "deployments", title: "Inzet (gepland, geplaatst, beëindigd)", kind: "points",
      colorBy: "status", colors: STATUS_COLORS, color: "#ff7f00", actions: true,
      params: function () { return {}; } },
    { id: "recommendations", title: "Aanbevolen plaatsen (opgeslagen plan)", kind: "points",
      color: "#6a3d9a", params: function (s) { return { planId: s.planId }; } },
    { id: "incidents", title: "Incidenten (politie)", kind: "points", color: "#000000",
      radius: 3, params: function (s) {
        return { crimeType: s.crimeType, datetime: s.year + "-01-01T00:00:00Z/" +
          (Number(s.year) + 1) + "-01-01T00:00:00Z" };
      } }
  ];

  var state = { crimeType: cfg.defaultCrimeType, year: String(cfg.defaultYear), planId: null };
  var map = L.map("map", { zoomControl: true }).setView(cfg.center, 13);
  L.control.scale({ imperial: false }).addTo(map);
  var control = L.control.layers({}, {}, { collapsed: false }).addTo(map);
  var legend = L.control({ position: "bottomright" });
  legend.onAdd = function () {
    this._div = L.DomUtil.create("div", "legend");
    return this._div;
  };
  legend.addTo(map);

  var layers = {};      // id -> {spec, group, data, edges}
  var planLayer = L.layerGroup().addTo(map);
  var lastPlan = null;

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
  function fetchAll(url, features) {
    features = features || [];
    return getJSON(url).then(function (res) {
      var fc = res.body || {};
      features = features.concat(fc.features || []);
      var next = (fc.links || []).filter(function (l) { return l.rel === "next"; })[0];
      return next ? fetchAll(next.href, features) : features;
    });
  }
  function popup(props) {
    var rows = [];
    for (var k in props) {
      if (k.charAt(0) === "_" || props[k] === null || props[k] === undefined) continue;
      var v = props[k];
      if (typeof v === "number" && !Number.isInteger(v)) v = v.toFixed(3);
      if (typeof v === "object") v = JSON.stringify(v);
      rows.push("<tr><th>" + esc(LABELS[k] || k) + "</th><td>" + esc(v) + "</td></tr>");
    }
    return '<div class="popup"><table>' + rows.join("") + "</table></div>";
  }
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
  function fmt(x) {
    if (Number.isInteger(x) || Math.abs(x) >= 10) return Math.round(x).toLocaleString("nl-NL");
    return x.toFixed(2).replace(".", ",");
  }

  // --- layers ------------------------------------------------------------------------------
  function draw(entry) {
    var spec = entry.spec;
    entry.group.clearLayers();
    var feats = entry.data || [];
    if (spec.kind === "choropleth") {
      entry.edges = breaks(feats.map(function (f) { return f.properties[spec.column]; }));
    }
    var gj = L.geoJSON({ type: "FeatureCollection", features: feats }, {
      style: function (f) {
        if (spec.kind === "choropleth") {
          var hot = spec.outlineWhere && Object.keys(spec.outlineWhere).every(function (k) {
            return f.properties[k] === spec.outlineWhere[k];
          });
          return { fillColor: colourOf(f.properties[spec.column], entry.edges, spec.scheme),
                   color: hot ? "#000" : "#666", weight: hot ? 2 : 0.7, fillOpacity: 0.65 };
        }
        return { color: spec.color, weight: 1.5, fillColor: spec.color, fillOpacity: 0.25 };
      },
      pointToLayer: function (f, latlng) {
        var c = spec.colorBy ? (spec.colors[f.properties[spec.colorBy]] || spec.color) : spec.color;
        return L.circleMarker(latlng, { radius: spec.radius || 7, color: "#222", weight: 1,
                                        fillColor: c, fillOpacity: 0.9 });
      },
      onEachFeature: function (f, layer) {
        layer.bindPopup(popup(f.properties) + (spec.actions ? actionsHtml(f.properties) : ""));
      }
    });
    gj.addTo(entry.group);
    updateLegend();
  }

  function load(entry) {
    var spec = entry.spec;
    var url = API + "/collections/" + spec.id + "/items?" +
      query(Object.assign({ limit: 10000 }, spec.params(state)));
    entry.loading = true;
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

  function updateLegend() {
    var parts = [];
    SPECS.forEach(function (spec) {
      var e = layers[spec.id];
      if (!e || !map.hasLayer(e.group)) return;
      var html = '<div class="item" data-legend="' + spec.id + '"><b>' + esc(spec.title) + "</b>";
      if (spec.kind === "choropleth" && e.edges) {
        for (var i = 0; i < e.edges.length - 1; i++) {
          html += "<div><i style=\"background:" + colourOf(e.edges[i], e.edges, spec.scheme) +
            "\"></i>" + fmt(e.edges[i]) + " – " + fmt(e.edges[i + 1]) + "</div>";
        }
        if (spec.outlineWhere) html += '<div><i style="border:2px solid #000"></i>significante hotspot (Gi*)</div>';
      } else if (spec.kind === "points" && spec.colorBy) {
        var seen = {};
        (e.data || []).forEach(function (f) { seen[f.properties[spec.colorBy]] = true; });
        Object.keys(seen).forEach(function (t) {
          html += '<div><i class="dot" style="background:' + (spec.colors[t] || spec.color) +
            '"></i>' + esc(t) + "</div>";
        });
      } else {
        html += '<div><i class="' + (spec.kind === "points" ? "dot" : "") +
          '" style="background:' + spec.color + '"></i>' + esc(spec.title) + "</div>";
      }
      parts.push(html + "</div>");
    });
    var el = legend._div;
    el.innerHTML = parts.join("") || "<i>Geen lagen aan</i>";
  }

  function setupLayers(available) {
    Object.keys(layers).forEach(function (id) {
      control.removeLayer(layers[id].group);
      map.removeLayer(layers[id].group);
    });
    layers = {};
    SPECS.forEach(function (spec) {
      if (available.indexOf(spec.id) < 0) return;
      var entry = { spec: spec, group: L.layerGroup() };
      layers[spec.id] = entry;
      control.addOverlay(entry.group, spec.title);
      if (spec.show) { entry.group.addTo(map); load(entry); }
    });
    document.body.setAttribute("data-layers", Object.keys(layers).join(","));
    updateLegend();
  }

  map.on("overlayadd", function (e) {
    Object.keys(layers).forEach(function (id) {
      var entry = layers[id];
      if (entry.group === e.layer && !entry.data && !entry.loading) load(entry);
    });
    updateLegend();
  });
  map.on("overlayremove", updateLegend);

  function reloadVisible() {
    Object.keys(layers).forEach(function (id) {
      var entry = layers[id];
      entry.data = null;
      if (map.hasLayer(entry.group)) load(entry);
    });
  }

  // --- outlines and base map -----------------------------------------------------------------
  var outlines = L.layerGroup().addTo(map);
  var blank = L.layerGroup();
  var bases = { "Geen achtergrond (grenzen)": blank };
  if (cfg.basemapUrl) {
    var osm = L.tileLayer(cfg.basemapUrl, { attribution: cfg.basemapAttribution, maxZoom: 19 });
    bases["Achtergrondkaart (online)"] = osm;
    var failed = 0;
    osm.on("tileerror", function () {
      failed += 1;
      if (failed === 3 && map.hasLayer(osm)) {
        map.removeLayer(osm);
        blank.addTo(map);
        message("Geen verbinding met de achtergrondkaart: alleen de grenzen worden getoond.", true);
      }
    });
    osm.addTo(map);
  } else {
    blank.addTo(map);
  }
  Object.keys(bases).forEach(function (name) { control.addBaseLayer(bases[name], name); });
  fetchAll(API + "/collections/wijken/items?" + query({ limit: 1000, crimeType: "totaal" }))
    .then(function (features) {
      var gj = L.geoJSON({ type: "FeatureCollection", features: features },
        { style: { color: "#444", weight: 1.5, fill: false }, interactive: false });
      gj.addTo(outlines);
      if (features.length) map.fitBounds(gj.getBounds());
    }).catch(function (err) { message("Wijkgrenzen niet geladen: " + err.message); });

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
    var text = "doel " + fmt(Number(s.objective)) +
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
          " – verwacht gedekt " + Number(p.expected_covered).toFixed(2) : "")));
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
