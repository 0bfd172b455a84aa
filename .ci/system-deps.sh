#!/usr/bin/env bash
# Installs the Debian packages the full test suite needs (as root), or names what is missing.
set -u
PACKAGES="ffmpeg nginx-core chromium fonts-dejavu-core gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base
gstreamer1.0-plugins-good gstreamer1.0-plugins-bad python3-gi python3-gst-1.0 prometheus systemd"

missing() {
  local m=()
  command -v ffmpeg >/dev/null || m+=(ffmpeg)
  command -v ffprobe >/dev/null || m+=(ffprobe)
  [ -x /usr/sbin/nginx ] || command -v nginx >/dev/null || m+=(nginx)
  [ -x /usr/bin/chromium ] || m+=(chromium)
  command -v promtool >/dev/null || m+=(promtool)  # prometheus: checks deploy/prometheus's alert rules
  command -v systemd-analyze >/dev/null || m+=(systemd-analyze)  # systemd: verifies deploy/systemd's units
  /usr/bin/python3 -c 'import gi; gi.require_version("GstRtspServer", "1.0"); from gi.repository import GstRtspServer' \
    >/dev/null 2>&1 || m+=(gst-rtsp-server)
  echo "${m[@]:-}"
}

need=$(missing)
[ -z "$need" ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "installing Debian packages for the tests (missing: $need)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  # shellcheck disable=SC2086
  apt-get install -y -q --no-install-recommends $PACKAGES >/dev/null
  need=$(missing)
  [ -z "$need" ] && exit 0
  echo "still missing after apt-get: $need" >&2
  exit 1
fi
echo "missing system tools: $need" >&2
echo "install them with: sudo apt-get install $(echo $PACKAGES)" >&2
if [ "${CI:-}" = "true" ]; then
  exit 1
fi
echo "(tests that need them will be skipped)" >&2
exit 0
