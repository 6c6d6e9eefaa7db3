#!/usr/bin/env bash
# Builds the images the Docker tests run, without a registry: `docker import` of a root filesystem made from this
# machine's own binaries, their shared libraries and the project's files.
#
#   scripts/build-local-image.sh [node-red|nginx|all]     (default all; needs DOCKER_HOST, see scripts/docker-up.sh)
#
#   openflow/node-red:local   node + node-red's dependency closure at /app/node_modules + nodered/ at
#                             /opt/openflow/nodered; runs red.js with --userDir /data --settings /data/settings.cjs,
#                             the same contract as deploy/node-red/Dockerfile.
#   openflow/nginx:local      Debian's nginx (nginx-light) with the paths the shipped deploy/nginx config expects.
#
# Each image carries a hash of what went into it and is rebuilt only when that changes.
set -euo pipefail
cd "$(dirname "$0")/.."

WHAT=${1:-all}
NODE_RED_IMAGE=${NODE_RED_IMAGE:-openflow/node-red:local}
NGINX_IMAGE=${NGINX_IMAGE:-openflow/nginx:local}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# Copies a binary and every library ldd names to the same paths under the root filesystem.
add_binary() {
  local root=$1 src=$2 dest=$3
  install -D -m 0755 "$(readlink -f "$src")" "$root$dest"
  ldd "$src" | grep -oE '/[^ ]+' | while read -r lib; do
    install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
  done
}

add_base() {
  local root=$1
  mkdir -p "$root/etc" "$root/tmp" "$root/data"
  chmod 1777 "$root/tmp"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnginx:x:101:101:nginx:/nonexistent:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnginx:x:101:\nnogroup:x:65534:\n' >"$root/etc/group"
  printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
}

current_hash() {
  docker image inspect --format '{{index .Config.Labels "org.openflow.build"}}' "$1" 2>/dev/null || true
}

import_image() {
  local root=$1 image=$2 hash=$3
  shift 3
  local changes=(-c "LABEL org.openflow.build=$hash")
  for c in "$@"; do changes+=(-c "$c"); done
  tar -C "$root" -c . | docker import "${changes[@]}" - "$image" >/dev/null
  echo "built $image"
}

build_node_red() {
  local version hash
  version=$(node -p "require('./node_modules/node-red/package.json').version")
  hash=$( {
    sha256sum /usr/bin/node package-lock.json
    find nodered -type f -print0 | sort -z | xargs -0 sha256sum
  } | sha256sum | cut -c1-16)
  if [[ "$(current_hash "$NODE_RED_IMAGE")" == "$hash" ]]; then
    echo "$NODE_RED_IMAGE is up to date"
    return
  fi
  local root="$WORK/node-red"
  add_base "$root"
  add_binary "$root" /usr/bin/node /usr/local/bin/node
  mkdir -p "$root/app/node_modules" "$root/opt/openflow"
  # node-red and everything it depends on, as npm installed them (nested copies included).
  { echo node_modules/node-red; npm query '#node-red *' | node -e '
      let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
        for (const l of new Set(JSON.parse(s).map((p) => p.location))) console.log(l);
      });'; } | sort -u | while read -r dir; do
    mkdir -p "$root/app/$(dirname "$dir")"
    [[ -e "$root/app/$dir" ]] || cp -a "$dir" "$root/app/$dir"
  done
  cp -a nodered "$root/opt/openflow/nodered"
  import_image "$root" "$NODE_RED_IMAGE" "$hash" \
    "LABEL org.openflow.node-red-version=$version" \
    'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    'ENV NODE_ENV=production' \
    'WORKDIR /app' \
    'EXPOSE 1880' \
    'CMD ["/usr/local/bin/node","/app/node_modules/node-red/red.js","--userDir","/data","--settings","/data/settings.cjs"]'
}

build_nginx() {
  command -v nginx >/dev/null || { echo "nginx is not installed (apt-get install nginx-light)" >&2; exit 1; }
  local hash
  hash=$(sha256sum "$(command -v nginx)" /etc/nginx/mime.types | sha256sum | cut -c1-16)
  if [[ "$(current_hash "$NGINX_IMAGE")" == "$hash" ]]; then
    echo "$NGINX_IMAGE is up to date"
    return
  fi
  local root="$WORK/nginx"
  add_base "$root"
  add_binary "$root" "$(command -v nginx)" /usr/sbin/nginx
  mkdir -p "$root/etc/nginx/conf.d" "$root/etc/nginx/certs" "$root/var/log/nginx" "$root/run" "$root/var/lock"
  for d in body proxy fastcgi scgi uwsgi; do mkdir -p "$root/var/lib/nginx/$d"; done
  cp /etc/nginx/mime.types "$root/etc/nginx/mime.types"
  import_image "$root" "$NGINX_IMAGE" "$hash" \
    'ENV PATH=/usr/sbin:/usr/bin:/bin' \
    'CMD ["/usr/sbin/nginx","-g","daemon off;"]'
}

case "$WHAT" in
  node-red) build_node_red ;;
  nginx) build_nginx ;;
  all) build_node_red; build_nginx ;;
  *) echo "usage: $0 [node-red|nginx|all]" >&2; exit 2 ;;
esac
