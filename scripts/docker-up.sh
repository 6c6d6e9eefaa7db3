#!/usr/bin/env bash
# Starts a private Docker engine for the tests and prints the DOCKER_HOST to use.
#
#   scripts/docker-up.sh [dir]      dir defaults to $OPENFLOW_DOCKER_DIR or /tmp/openflow-docker
#
# The engine keeps everything under <dir> (images, containers, its socket, its pid file) and leaves the host's
# network alone: no iptables rules, no masquerading, no ip_forward change, no default docker0 bridge. User-defined
# bridge networks still work, and containers on one still find each other by name through Docker's DNS.
# Running it again while the engine answers only prints the DOCKER_HOST line.
set -euo pipefail

DIR=${1:-${OPENFLOW_DOCKER_DIR:-/tmp/openflow-docker}}
SOCK="$DIR/docker.sock"
PIDFILE="$DIR/dockerd.pid"
export DOCKER_HOST="unix://$SOCK"

answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if ! command -v dockerd >/dev/null 2>&1; then
  echo "installing docker.io" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends docker.io >/dev/null
fi

mkdir -p "$DIR/root" "$DIR/exec"
if [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null && answers; then
  echo "DOCKER_HOST=$DOCKER_HOST"
  exit 0
fi

# Without the default bridge, Docker has no address for `host-gateway` and writes `<nil>` into /etc/hosts; the
# host's own primary address stands in, so host.docker.internal resolves inside containers.
GATEWAY_IP=$(ip -4 route get 1.1.1.1 2>/dev/null | grep -oP 'src \K[0-9.]+' || hostname -I | cut -d' ' -f1)

# setsid: the engine must not share the caller's process group, so a Ctrl-C in a test run does not take it down.
setsid dockerd \
  --data-root "$DIR/root" \
  --exec-root "$DIR/exec" \
  --pidfile "$PIDFILE" \
  -H "$DOCKER_HOST" \
  --iptables=false --ip-masq=false --ip-forward=false --bridge=none \
  ${GATEWAY_IP:+--host-gateway-ip "$GATEWAY_IP"} \
  >"$DIR/dockerd.log" 2>&1 </dev/null &

for _ in $(seq 1 300); do
  if answers; then
    echo "DOCKER_HOST=$DOCKER_HOST"
    exit 0
  fi
  sleep 0.1
done
echo "dockerd did not answer on $SOCK within 30 s; its log:" >&2
tail -n 40 "$DIR/dockerd.log" >&2
exit 1
