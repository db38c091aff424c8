#!/usr/bin/env bash
# System packages the tests need: Chromium for browser tests, Tesseract for OCR, a CJK
# font so screenshots and page images of Chinese text show characters, not boxes.
# Installed only when missing, so repeated `make test` runs do nothing here.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v tesseract >/dev/null 2>&1 || need+=(tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim)
fc-list :lang=zh family 2>/dev/null | grep -q "Noto Sans CJK" || need+=(fonts-noto-cjk fontconfig)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing system packages: ${need[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
