#!/usr/bin/env bash
# Build the GPU image (docker/Dockerfile) from the repository root.
#
#   docker/build.sh [--base IMAGE] [--tag TAG] [--push]
#
# --base: another verl/vLLM base image (default: the Dockerfile's, verlai/verl:vllm024.dev2)
# --tag:  the image name (default: anatomy-r1-verl:<version of setup.py>)
# --push: docker push the tag afterwards (every node of the cluster must be able to pull it)
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(python3 -c "import re; print(re.search(r'version=\"([^\"]+)\"', open('setup.py').read()).group(1))")
tag="anatomy-r1-verl:${version}" base="" push=0
while [ $# -gt 0 ]; do
  case "$1" in
    --base) base="$2"; shift 2 ;;
    --tag) tag="$2"; shift 2 ;;
    --push) push=1; shift ;;
    *) echo "usage: docker/build.sh [--base IMAGE] [--tag TAG] [--push]" >&2; exit 2 ;;
  esac
done
args=(-f docker/Dockerfile -t "$tag")
[ -n "$base" ] && args+=(--build-arg "BASE_IMAGE=$base")
docker build "${args[@]}" .
echo "built $tag"
if [ "$push" = 1 ]; then docker push "$tag"; fi
