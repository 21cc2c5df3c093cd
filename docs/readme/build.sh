#!/usr/bin/env bash
# Rebuild README.md from the per-part sections in docs/readme/ (each part's owner edits its own file).
set -euo pipefail
cd "$(dirname "$0")"
parts=(_head foundation default patchmatch masks evaluate training models tdanet forensics apps _tail)
{
  for p in "${parts[@]}"; do
    sed -e 's#(\.\./img/#(docs/img/#g' -e 's#(\.\./figures/#(docs/figures/#g' \
      -e 's#(\.\./\([A-Za-z0-9_-]*\.md\)#(docs/\1#g' "$p.md"
    echo
  done
} > ../../README.md
echo "wrote README.md ($(wc -l < ../../README.md) lines)"
