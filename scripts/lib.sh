# Shared by ./sluice and scripts/test: find a JDK >= 25, install missing Debian/Ubuntu packages, build.
# Sourced, not run. Sets JAVA_HOME.

export SLUICE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SLUICE_JAR="$SLUICE_ROOT/sluice-cli/target/sluice.jar"
SLUICE_MIN_JAVA=25

# Packages the build, the runtime and the tests need (Debian/Ubuntu names), each with a file that proves it.
SLUICE_PACKAGES=(
  "clang:/usr/bin/clang"
  "llvm:/usr/bin/llvm-strip"
  "make:/usr/bin/make"
  "libbpf-dev:/usr/include/bpf/bpf_helpers.h"
  "libbpf1:$(ls /usr/lib/*/libbpf.so.1 2>/dev/null | head -n1 || true)"
  "linux-libc-dev:/usr/include/linux/bpf.h"
  "iproute2:/usr/sbin/ip"
  "util-linux:/usr/bin/nsenter"
  "bpftool:/usr/sbin/bpftool"
  "maven:/usr/bin/mvn"
  # The service-map UI's browser test (UiLabTest) drives headless Chromium.
  "chromium:/usr/bin/chromium"
  "tcpdump:/usr/bin/tcpdump"
  "iptables:/usr/sbin/iptables"
  "haproxy:/usr/sbin/haproxy"
  # Cluster DNS tests: dig in a pod, and a gRPC C-core client (c-ares resolver) by Service name.
  "bind9-dnsutils:/usr/bin/dig"
  "python3-grpcio:/usr/lib/python3/dist-packages/grpc/__init__.py"
  # deploy/kustomize/base is rendered by `kubectl kustomize` in sluice-install's tests.
  "kubernetes-client:/usr/bin/kubectl"
  # Hubble API tests: a Python client generated at test time from Hubble's protos (grpc_tools.protoc).
  "python3-grpc-tools:/usr/lib/python3/dist-packages/grpc_tools/protoc.py"
  # WireGuard between lab nodes on a kernel without the module (the agent runs wireguard-go); wg to inspect it;
  # nft for strict mode's counted drops.
  "wireguard-go:/usr/bin/wireguard-go"
  "wireguard-tools:/usr/bin/wg"
  "nftables:/usr/sbin/nft"
)

sluice_say() { echo "sluice: $*" >&2; }

# The Java feature version of the JDK at $1, or nothing.
sluice_java_version() {
  local home="$1" v=""
  [ -x "$home/bin/java" ] && [ -x "$home/bin/javac" ] || return 0
  if [ -f "$home/release" ]; then
    v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$home/release")
  fi
  if [ -z "$v" ]; then
    v=$("$home/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p')
  fi
  echo "$v"
}

# JAVA_HOME if it is a JDK >= 25, else the newest such JDK in the usual places, else the one on PATH.
sluice_find_jdk() {
  local candidates=() c v best="" bestv=0
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  for c in /usr/lib/jvm/* /usr/local/lib/jvm/* /opt/java/* /opt/jdk* "$HOME"/.sdkman/candidates/java/*; do
    [ -d "$c" ] && candidates+=("$c")
  done
  if command -v javac >/dev/null 2>&1; then
    candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")")
  fi
  for c in "${candidates[@]}"; do
    v=$(sluice_java_version "$c")
    if [ -n "$v" ] && [ "$v" -ge "$SLUICE_MIN_JAVA" ]; then
      # JAVA_HOME wins when it qualifies; otherwise take the newest.
      if [ -n "${JAVA_HOME:-}" ] && [ "$c" = "$JAVA_HOME" ]; then best="$c"; break; fi
      if [ "$v" -gt "$bestv" ]; then best="$c"; bestv="$v"; fi
    fi
  done
  if [ -z "$best" ]; then
    sluice_try_install_jdk && { sluice_find_jdk; return $?; }
    sluice_say "no JDK $SLUICE_MIN_JAVA or newer found (looked at \$JAVA_HOME, /usr/lib/jvm, /usr/local/lib/jvm, /opt and PATH)."
    sluice_say "Install one (e.g. Temurin $SLUICE_MIN_JAVA, or openjdk-$SLUICE_MIN_JAVA-jdk-headless where your distribution has it) and set JAVA_HOME."
    return 1
  fi
  export JAVA_HOME="$best"
}

# Newer Debian/Ubuntu releases package a JDK 25; older ones (Debian 12) do not.
sluice_try_install_jdk() {
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || return 1
  [ -z "${SLUICE_TRIED_JDK:-}" ] || return 1
  SLUICE_TRIED_JDK=1
  sluice_apt_update
  if apt-cache show "openjdk-$SLUICE_MIN_JAVA-jdk-headless" >/dev/null 2>&1; then
    sluice_say "installing openjdk-$SLUICE_MIN_JAVA-jdk-headless"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "openjdk-$SLUICE_MIN_JAVA-jdk-headless" >&2
    return 0
  fi
  return 1
}

sluice_apt_update() {
  if [ -z "${SLUICE_APT_UPDATED:-}" ]; then
    apt-get update -qq >&2 || sluice_say "apt-get update failed; trying with the package lists we have"
    SLUICE_APT_UPDATED=1
  fi
}

# Installs whichever of SLUICE_PACKAGES is missing (needs root and apt-get).
sluice_install_prereqs() {
  local missing=() entry pkg file
  for entry in "${SLUICE_PACKAGES[@]}"; do
    pkg="${entry%%:*}"; file="${entry#*:}"
    if [ -z "$file" ] || [ ! -e "$file" ]; then missing+=("$pkg"); fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    sluice_say "missing packages: ${missing[*]}. Run this command with sudo to install them, or: sudo apt-get install ${missing[*]}"
    return 1
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    sluice_say "missing packages: ${missing[*]}, and there is no apt-get to install them with"
    return 1
  fi
  sluice_say "installing ${missing[*]}"
  sluice_apt_update
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
}

# True if the CLI jar is missing or older than any source, pom or BPF file.
sluice_jar_stale() {
  [ -f "$SLUICE_JAR" ] || return 0
  [ -n "$(find "$SLUICE_ROOT/pom.xml" "$SLUICE_ROOT"/*/pom.xml "$SLUICE_ROOT/bpf" "$SLUICE_ROOT"/*/src/main \
      -newer "$SLUICE_JAR" -type f -print -quit 2>/dev/null)" ]
}

sluice_mvn() {
  (cd "$SLUICE_ROOT" && mvn -B -ntp -Dstyle.color=never "$@")
}

sluice_build() {
  sluice_say "building (JDK: $JAVA_HOME)"
  sluice_mvn -q install -DskipTests -pl sluice-cli -am >&2
}
