#!/usr/bin/env bash
# Copy the API console (Swagger UI) from the swagger-ui-dist release pinned in tests/e2e/package.json
# into the package, so that /docs is served from our own files: no CDN, and the wheel carries it.
# To update: change the pin, `npm install` in tests/e2e, run this script, commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
source_dir=tests/e2e/node_modules/swagger-ui-dist
target=src/fashion_classifier/web/static/vendor/swagger-ui
[ -d "$source_dir" ] || (cd tests/e2e && npm ci --ignore-scripts --no-audit --no-fund)
rm -rf "$target"
mkdir -p "$target"
cp "$source_dir"/{swagger-ui-bundle.js,swagger-ui-bundle.js.LICENSE.txt,swagger-ui.css,LICENSE,NOTICE} "$target"/
version=$(node -p "require('./$source_dir/package.json').version")
echo "swagger-ui-dist $version from the npm registry, unmodified (Apache-2.0, see LICENSE)" > "$target/VERSION"
echo "vendored swagger-ui-dist $version into $target"
