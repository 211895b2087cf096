#!/usr/bin/env bash
# Kept for old scripts: `anatomy-r1 submit` (docs/cluster.md) does the submission.
exec anatomy-r1 submit "$@"
