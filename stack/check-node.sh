#!/usr/bin/env bash
# Prints the Node that runs `npm start` / `npm test` and refuses any other major than the project's
# (.nvmrc). `./run npm test` provides it on a machine whose own Node is another version.
set -euo pipefail
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
wanted="$(tr -d ' \t\r\nv' <"$REPO_DIR/.nvmrc")"
actual="$(node --version)"
printf 'node %s (%s)\n' "$actual" "$(command -v node)"
actual="${actual#v}"
if [ "${actual%%.*}" != "${wanted%%.*}" ]; then
  printf 'ERROR: this project runs on Node %s (.nvmrc: %s), not %s. Run it through ./run, e.g. ./run npm ci && ./run npm test\n' \
    "${wanted%%.*}" "$wanted" "$actual" >&2
  exit 1
fi
