/* lifecircle map helpers: popups built on click from compact feature properties.
   LC (set by the page) holds the category names, thresholds and labels. */
function lcFmtDist(d, limit) {
  if (d === null || d === undefined) { return LC.t.none_in_reach.replace("{limit}", Math.round(limit)); }
  return Math.round(d) + " m";
}
function lcPct(s) {
  if (s === null || s === undefined) { return "–"; }
  return Math.round(s * 100) + "%";
}
function lcEsc(s) {
  return String(s === null || s === undefined ? "" : s)
    .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
function lcUnitPopup(p) {
  var h = "<div class='lc-popup'><b>" + LC.t.unit + " " + lcEsc(p.id) + "</b>";
  if (p.name && p.name !== p.id) { h += " " + lcEsc(p.name); }
  h += "<br>" + LC.t.residents + ": " + Math.round(p.res).toLocaleString();
  if (!(p.res > 0)) { return h + " (" + LC.t.no_residents + ")</div>"; }
  if (p.complete !== null && p.complete !== undefined) {
    h += "<br>" + LC.t.complete_share + ": " + lcPct(p.complete);
  }
  h += "<table class='lc-table'><tr><th>" + LC.t.category + "</th><th>" + LC.t.coverage +
       "</th><th>" + LC.t.median_distance_m + "</th></tr>";
  for (var i = 0; i < LC.cats.length; i++) {
    if (!LC.cats[i].required) { continue; }
    var s = p.s[i];
    var cls = (s !== null && s >= LC.unitShare) ? "lc-ok" : "lc-miss";
    h += "<tr class='" + cls + "'><td>" + lcEsc(LC.cats[i].name) + "</td><td>" + lcPct(s) +
         "</td><td>" + lcFmtDist(p.d[i], LC.cats[i].limit) + "</td></tr>";
  }
  h += "</table>";
  var miss = [];
  for (var j = 0; j < LC.cats.length; j++) {
    if (LC.cats[j].required && p.s[j] !== null && p.s[j] < LC.unitShare) {
      var far = (p.d[j] === null || p.d[j] === undefined) ? lcFmtDist(null, LC.cats[j].limit)
        : LC.t.nearest_at.replace("{distance}", lcFmtDist(p.d[j], LC.cats[j].limit));
      miss.push(lcEsc(LC.cats[j].name) + " (" + far + ")");
    }
  }
  h += "<b>" + LC.t.missing + ":</b> " + (miss.length ? miss.join("; ") : LC.t.missing_none);
  return h + "</div>";
}
function lcFacilityPopup(p) {
  return "<div class='lc-popup'><b>" + lcEsc(p.name || p.id) + "</b><br>" + lcEsc(p.cat) +
    "<br>" + LC.t.residents + ": " + Math.round(p.served).toLocaleString() + "</div>";
}
function lcResidentPopup(p) {
  return "<div class='lc-popup'>" + LC.t.residents + ": " + Math.round(p.res) + "<br>" +
    LC.t.unit + ": " + lcEsc(p.unit) + "<br>" + LC.t.distance_m + ": " +
    lcFmtDist(p.d, p.limit) + "</div>";
}
function lcSitePopup(p) {
  return "<div class='lc-popup'><b>" + LC.t.proposed_site.replace("{rank}", p.rank) + "</b> (" +
    lcEsc(p.cat) + ")<br>" + LC.t.new_residents + ": " + Math.round(p.gain).toLocaleString() +
    "<br>" + LC.t.cumulative_share + ": " + lcPct(p.share) +
    (p.street ? "<br>" + LC.t.street + ": " + lcEsc(p.street) : "") +
    "<br>" + LC.t.units_gaining + ": " + lcEsc(p.units) + "</div>";
}
/* Per-feature binders, named so that the Python side only refers to them. Popups pan
   clear of the title panel (top left) and the layer list (right). */
var LC_POPUP = {maxWidth: 420, autoPanPaddingTopLeft: [60, 150], autoPanPaddingBottomRight: [330, 30]};
function lcBindUnit(feature, layer) {
  layer.bindPopup(function () { return lcUnitPopup(feature.properties); }, LC_POPUP);
  layer.bindTooltip(feature.properties.id + ": " + lcPct(feature.properties.value));
}
function lcBindFacility(feature, layer) {
  layer.bindPopup(function () { return lcFacilityPopup(feature.properties); }, LC_POPUP);
}
function lcBindResident(feature, layer) {
  layer.bindPopup(function () { return lcResidentPopup(feature.properties); }, LC_POPUP);
}
function lcBindSite(feature, layer) {
  var p = feature.properties;
  layer.setIcon(L.divIcon({html: "<div class='lc-site'>" + p.rank + "</div>",
    className: "lc-site-icon", iconSize: [28, 28], iconAnchor: [14, 14]}));
  layer.setZIndexOffset(1000);
  layer.bindTooltip(LC.t.proposed_site.replace("{rank}", p.rank));
  layer.bindPopup(function () { return lcSitePopup(p); }, LC_POPUP);
}
function lcGapPopup(p) {
  return "<div class='lc-popup'><b>" + LC.t.gap.replace("{rank}", p.rank) + "</b><br>" +
    LC.t.uncovered_residents + ": " + Math.round(p.res).toLocaleString() + "<br>" +
    LC.t.units + ": " + lcEsc(p.units) + "<br>" +
    LC.t.nearest_facility + ": " + (p.nearest ? lcEsc(p.nearest) + " (" + lcFmtDist(p.d, p.limit) + ")" : lcFmtDist(null, p.limit)) +
    "</div>";
}
function lcBindGap(feature, layer) {
  layer.bindPopup(function () { return lcGapPopup(feature.properties); }, LC_POPUP);
}
/* A facility marker in a cluster: row = [lat, lon, name, category, served, colour]. */
function lcClusterMarker(row) {
  var icon = L.divIcon({html: "<div class='lc-dot' style='background:" + row[5] + "'></div>",
    className: "lc-dot-icon", iconSize: [14, 14], iconAnchor: [7, 7]});
  var marker = L.marker(new L.LatLng(row[0], row[1]), {icon: icon});
  marker.bindPopup(function () {
    return lcFacilityPopup({name: row[2], cat: row[3], served: row[4]});
  }, LC_POPUP);
  return marker;
}
/* Integer streams from lifecircle.maps.compact.encode_ints (zigzag, 5-bit groups). */
function lcDecode(s) {
  var out = new Float64Array(s.length), i = 0, j = 0, n = s.length;
  while (i < n) {
    var f = 1, r = 0, b;
    do { b = s.charCodeAt(i++) - 63; r += (b & 31) * f; f *= 32; } while (b >= 32);
    out[j++] = r % 2 ? -(r + 1) / 2 : r / 2;
  }
  return out.subarray(0, j);
}
/* Residents not covered, for large studies: one circle per unit (its area in proportion to
   the unit's uncovered residents, the largest of radius R.r metres, the darker the larger their
   share of the unit's residents) below zoom R.z, the points themselves in view
   from zoom R.z on. R.a: [lat, lon, residents, uncovered, points] per unit (1e-5 degree),
   R.u: the units' ids, R.p: [dlat, dlon, residents, metres or -1] per point, in unit order. */
function lcResidents(map, group, R) {
  var renderer = L.canvas({padding: 0.3});
  var state = {mode: null, shown: 0, zoom: R.z};
  var pts = null;
  window.LC_RESIDENTS = state;
  function points() {
    if (pts !== null) { return pts; }
    var v = lcDecode(R.p), n = v.length / 4, lat = 0, lon = 0, a = 0, left = R.a.length ? R.a[0][4] : 0;
    pts = {lat: new Float64Array(n), lon: new Float64Array(n), res: new Float64Array(n),
           d: new Float64Array(n), unit: new Int32Array(n)};
    for (var i = 0; i < n; i++) {
      while (left === 0) { a += 1; left = R.a[a][4]; }
      lat += v[4 * i]; lon += v[4 * i + 1];
      pts.lat[i] = lat / 1e5; pts.lon[i] = lon / 1e5; pts.res[i] = v[4 * i + 2];
      pts.d[i] = v[4 * i + 3]; pts.unit[i] = a; left -= 1;
    }
    return pts;
  }
  function aggPopup(a, uid) {
    return "<div class='lc-popup'><b>" + LC.t.unit + " " + lcEsc(uid) + "</b><br>" +
      LC.t.residents + ": " + Math.round(a[2]).toLocaleString() + "<br>" +
      LC.t.uncovered_residents + ": " + Math.round(a[3]).toLocaleString() + " (" +
      lcPct(a[2] > 0 ? a[3] / a[2] : null) + ")</div>";
  }
  function drawAggregates() {
    var most = 0;
    R.a.forEach(function (a) { most = Math.max(most, a[3]); });
    R.a.forEach(function (a, i) {
      var share = a[2] > 0 ? a[3] / a[2] : 0;
      var mk = L.circle([a[0] / 1e5, a[1] / 1e5], {renderer: renderer,
        radius: R.r * Math.sqrt(a[3] / Math.max(most, 1)), weight: 0.8, color: "#7f0000",
        fillColor: "#e34a33", fillOpacity: 0.25 + 0.6 * share});
      mk.bindPopup(function () { return aggPopup(a, R.u[i]); }, LC_POPUP);
      mk.bindTooltip(lcEsc(R.u[i]) + ": " + Math.round(a[3]).toLocaleString() + " (" + lcPct(share) + ")");
      group.addLayer(mk);
    });
    return R.a.length;
  }
  function drawPoints() {
    var p = points(), b = map.getBounds().pad(0.25), shown = 0;
    var s = b.getSouth(), w = b.getWest(), nb = b.getNorth(), e = b.getEast();
    for (var i = 0; i < p.lat.length && shown < R.cap; i++) {
      if (p.lat[i] < s || p.lat[i] > nb || p.lon[i] < w || p.lon[i] > e) { continue; }
      var q = {res: p.res[i], unit: R.u[p.unit[i]], d: p.d[i] < 0 ? null : p.d[i], limit: R.limit};
      var mk = L.circleMarker([p.lat[i], p.lon[i]], {renderer: renderer,
        radius: Math.min(14, 2 + Math.sqrt(Math.max(q.res, 0)) / 2.5), weight: 0.5,
        color: "#7f0000", fillColor: "#e34a33", fillOpacity: 0.6});
      mk.bindPopup(lcResidentPopup.bind(null, q), LC_POPUP);
      group.addLayer(mk);
      shown += 1;
    }
    return shown;
  }
  function draw() {
    if (!map.hasLayer(group)) { return; }
    var mode = map.getZoom() >= R.z ? "detail" : "aggregate";
    if (mode === "aggregate" && state.mode === "aggregate") { return; }
    group.clearLayers();
    state.shown = mode === "detail" ? drawPoints() : drawAggregates();
    state.mode = mode;
  }
  map.on("zoomend moveend", draw);
  group.on("add", function () { state.mode = null; draw(); });
  draw();
}
/* The study's own streets as a light base layer (pages with no web tiles): S.layers, each
   with n: vertices per line and c: [dlat, dlon] per vertex (1e-5 degree). Drawn on one
   canvas of the map's size once per frame after a move (Web Mercator, as Leaflet's tiles):
   lines out of view, or under half a pixel across, are left out of that frame. */
function lcStreets(map, parent, S) {
  var pane = map.createPane("lcStreets");
  pane.style.zIndex = 250;
  pane.style.pointerEvents = "none";
  var stats = {lines: 0, vertices: 0, draws: 0, drawn: 0};
  window.LC_STREETS = stats;
  var layers = S.layers.map(function (s) {
    var n = lcDecode(s.n), c = lcDecode(s.c), m = c.length / 2;
    var x = new Float64Array(m), y = new Float64Array(m), box = new Float64Array(4 * n.length);
    var lat = 0, lon = 0, j = 0;
    for (var i = 0; i < n.length; i++) {
      var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (var k = 0; k < n[i]; k++, j++) {
        lat += c[2 * j]; lon += c[2 * j + 1];
        var phi = lat / 1e5 * Math.PI / 180;
        x[j] = (lon / 1e5 + 180) / 360;
        y[j] = 0.5 - Math.log(Math.tan(Math.PI / 4 + phi / 2)) / (2 * Math.PI);
        x0 = Math.min(x0, x[j]); x1 = Math.max(x1, x[j]); y0 = Math.min(y0, y[j]); y1 = Math.max(y1, y[j]);
      }
      box[4 * i] = x0; box[4 * i + 1] = y0; box[4 * i + 2] = x1; box[4 * i + 3] = y1;
    }
    stats.lines += n.length; stats.vertices += m;
    return {n: n, x: x, y: y, box: box, colour: s.colour, weight: s.weight};
  });
  var canvas = L.DomUtil.create("canvas", "lc-streets", pane);
  canvas.style.position = "absolute";
  var pending = false;
  function draw() {
    pending = false;
    var size = map.getSize(), topLeft = map.containerPointToLayerPoint([0, 0]);
    var world = topLeft.add(map.getPixelOrigin()), scale = 256 * Math.pow(2, map.getZoom());
    var wx0 = world.x / scale, wy0 = world.y / scale;
    var wx1 = (world.x + size.x) / scale, wy1 = (world.y + size.y) / scale, tiny = 0.5 / scale;
    L.DomUtil.setPosition(canvas, topLeft);
    canvas.width = size.x; canvas.height = size.y;
    canvas.style.display = "";
    var ctx = canvas.getContext("2d"), drawn = 0;
    ctx.lineJoin = "round"; ctx.lineCap = "round";
    layers.forEach(function (l) {
      ctx.beginPath();
      ctx.strokeStyle = l.colour; ctx.lineWidth = l.weight;
      for (var i = 0, j = 0; i < l.n.length; j += l.n[i], i++) {
        var b = 4 * i;
        if (l.box[b] > wx1 || l.box[b + 2] < wx0 || l.box[b + 1] > wy1 || l.box[b + 3] < wy0) { continue; }
        if (l.box[b + 2] - l.box[b] < tiny && l.box[b + 3] - l.box[b + 1] < tiny) { continue; }
        ctx.moveTo(l.x[j] * scale - world.x, l.y[j] * scale - world.y);
        for (var k = 1; k < l.n[i]; k++) { ctx.lineTo(l.x[j + k] * scale - world.x, l.y[j + k] * scale - world.y); }
        drawn += 1;
      }
      ctx.stroke();
    });
    stats.draws += 1; stats.drawn = drawn;
  }
  function later() {
    if (!pending) { pending = true; L.Util.requestAnimFrame(draw); }
  }
  map.on("zoomstart", function () { canvas.style.display = "none"; });
  map.on("moveend zoomend resize viewreset", later);
  later();
}
/* Polygons as compact rings (lifecircle.maps.coverage_map.polygon_rings): R.np polygons per
   feature, R.nr rings per polygon (the outer one first), R.nv vertices per ring, R.c
   [dlat, dlon] per vertex (1e-5 degree), R.f each feature's label and colour. Each feature is
   one L.polygon, as L.geoJSON would make it, with its label on hover. */
function lcRings(map, parent, R) {
  var np = lcDecode(R.np), nr = lcDecode(R.nr), nv = lcDecode(R.nv), c = lcDecode(R.c);
  var lat = 0, lon = 0, j = 0, p = 0, r = 0;
  for (var f = 0; f < np.length; f++) {
    var polys = [];
    for (var a = 0; a < np[f]; a++, p++) {
      var rings = [];
      for (var b = 0; b < nr[p]; b++, r++) {
        var ring = new Array(nv[r]);
        for (var k = 0; k < nv[r]; k++, j++) {
          lat += c[2 * j]; lon += c[2 * j + 1];
          ring[k] = [lat / 1e5, lon / 1e5];
        }
        rings.push(ring);
      }
      polys.push(rings);
    }
    var props = R.f[f];
    var layer = L.polygon(polys.length === 1 ? polys[0] : polys, {fillColor: props.colour,
      color: props.colour, weight: 1, fillOpacity: 0.15});
    layer.bindTooltip(lcEsc(props.label), {sticky: true});
    parent.addLayer(layer);
  }
}
