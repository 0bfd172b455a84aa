#!/usr/bin/env bash
# Re-vendor the front-end assets from the npm registry at the pinned versions (see README.md here).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund htmx.org@2.0.11 hls.js@1.7.4 leaflet@1.9.4 leaflet.markercluster@1.5.3 jquery@3.8.0 >/dev/null
m=node_modules
cp $m/htmx.org/dist/htmx.min.js "$here/htmx/"
cp $m/hls.js/dist/hls.min.js "$here/hls/"
cp $m/leaflet/dist/leaflet.js $m/leaflet/dist/leaflet.css "$here/leaflet/"
cp $m/leaflet/dist/images/* "$here/leaflet/images/"
cp $m/leaflet.markercluster/dist/{leaflet.markercluster.js,MarkerCluster.css,MarkerCluster.Default.css} "$here/markercluster/"
cp $m/jquery/dist/jquery.min.js "$here/jquery/"
mkdir -p "$here/leaflet-heat"
# folium's HeatMap plugin expects folium's own build of leaflet.heat (with its weights patch): copy it from the package
"$here/../../.venv/bin/python" -c 'import folium, pathlib; print(pathlib.Path(folium.__file__).parent / "templates" / "leaflet_heat.min.js")' | xargs -I{} cp {} "$here/leaflet-heat/"
sed -i 's#//\# sourceMappingURL=.*##' "$here"/*/*.js
echo "vendored into $here"
