#!/usr/bin/env bash
# Execute the notebooks headless, top to bottom, as CI does; a cell that
# throws fails the run. Executed copies go to build/notebooks/ (git keeps the
# notebooks with their outputs stripped; this script checks that too).
#
# Installs nothing itself. Needs:
#   - Debian packages: apt-get install -y --no-install-recommends \
#       jupyter-nbconvert jupyter-client python3-nbclient python3-ipykernel
#   - npm ci (tslab, the TypeScript kernel, is a devDependency)
#
# Usage: scripts/run-notebooks.sh [notebook.ipynb ...]   (default: notebooks/*.ipynb)
# TYCHE_SKIP_BUILD=1 reuses an existing dist/ instead of running `npm run build`.
set -euo pipefail
cd "$(dirname "$0")/.."

for cmd in node python3 jupyter; do
  command -v "$cmd" >/dev/null || { echo "run-notebooks: $cmd not found (see the header of $0)" >&2; exit 1; }
done
jupyter nbconvert --version >/dev/null 2>&1 || { echo "run-notebooks: jupyter nbconvert not found (apt-get install jupyter-nbconvert)" >&2; exit 1; }
[ -x node_modules/.bin/tslab ] || { echo "run-notebooks: tslab not installed; run npm ci" >&2; exit 1; }

if [ "$#" -gt 0 ]; then notebooks=("$@"); else notebooks=(notebooks/*.ipynb); fi

# notebooks are kept in git without outputs
/usr/bin/python3 - "${notebooks[@]}" <<'PY'
import json, sys
dirty = [p for p in sys.argv[1:] if any(c.get('outputs') or c.get('execution_count') for c in json.load(open(p))['cells'] if c['cell_type'] == 'code')]
if dirty:
    sys.exit('run-notebooks: outputs must be stripped before committing: ' + ', '.join(dirty) +
             "\n  strip them with: jupyter nbconvert --clear-output --inplace <notebook>")
PY

# the notebooks import the built library from ../dist
if [ "${TYCHE_SKIP_BUILD:-}" != 1 ]; then npm run build --silent; fi

# register the tslab kernel inside the repo's build folder, not the user's Jupyter
npx tslab install --python=/usr/bin/python3 --binary="$PWD/scripts/tslab-kernel.cjs" --prefix=build/jupyter >/dev/null
export JUPYTER_PATH="$PWD/build/jupyter/share/jupyter"

# one nbconvert per notebook; a kernel that never starts (an infrastructure failure, not a cell's)
# gets one more try, a cell that throws fails at once
start=$(date +%s)
mkdir -p build/notebooks
for nb in "${notebooks[@]}"; do
  for attempt in 1 2; do
    log="build/notebooks/$(basename "$nb" .ipynb).log"
    if jupyter nbconvert --to notebook --execute \
         --ExecutePreprocessor.kernel_name=tslab --ExecutePreprocessor.timeout=900 \
         --output-dir build/notebooks "$nb" 2>&1 | tee "$log"; then
      break
    fi
    if [ "$attempt" = 1 ] && grep -q "Kernel didn't respond" "$log"; then
      echo "run-notebooks: the kernel for $nb did not start; trying once more" >&2
      continue
    fi
    echo "run-notebooks: $nb failed (log: $log)" >&2
    exit 1
  done
done
echo "run-notebooks: ${#notebooks[@]} notebook(s) executed in $(( $(date +%s) - start )) s; outputs in build/notebooks/"
