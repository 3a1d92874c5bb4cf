#!/usr/bin/env bash
# Debian packages the test suite needs. As root (CI) they are installed; anyone else is told
# the exact command, because we will not sudo on someone's machine behind their back.
#   tools/system-deps.sh          install what is missing (root) or say what to install
#   tools/system-deps.sh --list   only print what is missing, one package a line
#   tools/system-deps.sh --serve  only what `make run` needs (nginx)
set -euo pipefail

missing=()
# `fashion-classifier serve` starts nginx before the app's workers (src/fashion_classifier/web/nginx.py).
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ "${1:-}" != "--serve" ]; then
[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] || missing+=(dataset-fashion-mnist)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# A CJK font, so that the Chinese pages render in the browser tests' screenshots.
[ -n "$(fc-list :lang=zh 2>/dev/null)" ] || missing+=(fonts-wqy-microhei)
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
# Non-garment pictures the shipped model's verdict is tested on (training/outliers.py, "eval").
[ -d /usr/share/fonts/opentype/urw-base35 ] || missing+=(fonts-urw-base35)
[ -d /usr/share/fonts/truetype/freefont ] || missing+=(fonts-freefont-ttf)
[ -d /usr/share/icons/gnome ] || missing+=(gnome-icon-theme)
[ -d /usr/share/icons/elementary-xfce ] || missing+=(elementary-xfce-icon-theme)
# npm installs axe-core for the accessibility check (tests/e2e/package.json).
command -v npm >/dev/null 2>&1 || missing+=(npm)
fi

if [ "${1:-}" = "--list" ]; then
  [ ${#missing[@]} -eq 0 ] || printf '%s\n' "${missing[@]}"
  exit 0
fi
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || echo "apt-get update failed; trying the install with the cached package lists"
  apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
else
  echo "The tests need these Debian packages: ${missing[*]}" >&2
  echo "Install them with:  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
