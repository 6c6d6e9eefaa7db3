#!/usr/bin/env bash
# Stops the engine scripts/docker-up.sh started (by the pid in its pid file) and, with --purge, deletes its
# directory, images included.
#
#   scripts/docker-down.sh [--purge] [dir]
set -euo pipefail

PURGE=false
if [[ "${1:-}" == "--purge" ]]; then
  PURGE=true
  shift
fi
DIR=${1:-${OPENFLOW_DOCKER_DIR:-/tmp/openflow-docker}}
PIDFILE="$DIR/dockerd.pid"

if [[ -f "$PIDFILE" ]]; then
  pid=$(cat "$PIDFILE")
  if kill -0 "$pid" 2>/dev/null; then
    # dockerd stops its containers (10 s grace each, in parallel) and its containerd before it exits.
    kill -TERM "$pid"
    for _ in $(seq 1 300); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "dockerd ($pid) did not exit within 30 s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$PIDFILE"
fi

if $PURGE; then
  # A killed engine can leave overlay mounts behind; unmount them before deleting.
  { grep -o " $DIR/[^ ]*" /proc/mounts || true; } | sort -r | while read -r mnt; do umount -l "$mnt" 2>/dev/null || true; done
  rm -rf "$DIR"
fi
