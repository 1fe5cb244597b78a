#!/usr/bin/env sh
# Step 2: run the committed render of this pipeline once, to try it before scheduling it.
#
# The API and namespace come from the environment (or add --api-url/--namespace):
#   KFP_API_URL=https://kubeflow.example.com/pipeline KFP_NAMESPACE=team-1 ./run-once.sh
# Extra arguments are passed on, e.g. `./run-once.sh --param top_n=3`.
set -eu
cd "$(dirname "$0")"
exec kfp-gitops run \
  --pipeline-folder RENDERED_PIPELINE \
  --experiment daily-digest \
  --create-experiment \
  --name "try-daily-digest" \
  --watch \
  "$@"
