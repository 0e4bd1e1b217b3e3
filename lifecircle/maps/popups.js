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
function lcBindFacility(feature, layer) { layer.bindPopup(lcFacilityPopup(feature.properties), LC_POPUP); }
function lcBindResident(feature, layer) { layer.bindPopup(lcResidentPopup(feature.properties), LC_POPUP); }
function lcBindSite(feature, layer) {
  var p = feature.properties;
  layer.setIcon(L.divIcon({html: "<div class='lc-site'>" + p.rank + "</div>",
    className: "lc-site-icon", iconSize: [28, 28], iconAnchor: [14, 14]}));
  layer.setZIndexOffset(1000);
  layer.bindTooltip(LC.t.proposed_site.replace("{rank}", p.rank));
  layer.bindPopup(lcSitePopup(p), LC_POPUP);
}
function lcBindLabel(feature, layer) { layer.bindTooltip(lcEsc(feature.properties.label), {sticky: true}); }
function lcGapPopup(p) {
  return "<div class='lc-popup'><b>" + LC.t.gap.replace("{rank}", p.rank) + "</b><br>" +
    LC.t.uncovered_residents + ": " + Math.round(p.res).toLocaleString() + "<br>" +
    LC.t.units + ": " + lcEsc(p.units) + "<br>" +
    LC.t.nearest_facility + ": " + (p.nearest ? lcEsc(p.nearest) + " (" + lcFmtDist(p.d, p.limit) + ")" : lcFmtDist(null, p.limit)) +
    "</div>";
}
function lcBindGap(feature, layer) { layer.bindPopup(lcGapPopup(feature.properties), LC_POPUP); }
/* A facility marker in a cluster: row = [lat, lon, name, category, served, colour]. */
function lcClusterMarker(row) {
  var icon = L.divIcon({html: "<div class='lc-dot' style='background:" + row[5] + "'></div>",
    className: "lc-dot-icon", iconSize: [14, 14], iconAnchor: [7, 7]});
  var marker = L.marker(new L.LatLng(row[0], row[1]), {icon: icon});
  marker.bindPopup(lcFacilityPopup({name: row[2], cat: row[3], served: row[4]}), LC_POPUP);
  return marker;
}
