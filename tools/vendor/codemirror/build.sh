#!/bin/sh
# Rebuilds the vendored CodeMirror 6 bundle from the exact versions pinned in package-lock.json:
#   src/databoard/web/static/vendor/codemirror/codemirror.min.js  (one minified IIFE: window.DataboardCodeMirror)
#   src/databoard/web/static/vendor/codemirror/LICENSE            (CodeMirror's MIT license)
#   src/databoard/web/static/vendor/codemirror/LICENSES.txt       (licenses of every bundled package)
# Needs node and npm (network access to the npm registry for `npm ci`). Run from anywhere.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="$here/../../../src/databoard/web/static/vendor/codemirror"
cd "$here"

# --ignore-scripts: nothing from the registry runs here; esbuild's binary comes from its
# optional platform package (@esbuild/<os>-<arch>) and works without its postinstall step.
npm ci --ignore-scripts --no-audit --no-fund

versions=$(node -e '
  const names = ["codemirror", "@codemirror/state", "@codemirror/view", "@codemirror/language",
                 "@codemirror/commands", "@codemirror/lang-python"];
  const v = {};
  for (const n of names) v[n] = JSON.parse(require("fs").readFileSync("node_modules/" + n + "/package.json", "utf8")).version;
  process.stdout.write(JSON.stringify(v));')

mkdir -p "$out"
meta=$(mktemp)
trap 'rm -f "$meta"' EXIT
./node_modules/.bin/esbuild entry.js --bundle --minify --format=iife --global-name=DataboardCodeMirror \
  --target=es2020 --legal-comments=none --metafile="$meta" \
  --define:__DATABOARD_CM_VERSIONS__="$versions" \
  --banner:js="/* CodeMirror 6 for databoard (window.DataboardCodeMirror). MIT licensed: see LICENSE and LICENSES.txt. Built by tools/vendor/codemirror/build.sh. */" \
  --outfile="$out/codemirror.min.js"

cp node_modules/codemirror/LICENSE "$out/LICENSE"
node collect-licenses.mjs "$meta" "$out/LICENSES.txt"
ls -l "$out"
