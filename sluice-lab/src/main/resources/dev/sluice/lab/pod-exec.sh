#!/bin/sh
# Runs a command as a lab container: in the pod's cgroup, its network namespace, and a private mount
# namespace whose /etc/hosts is the lab's (so Service names resolve). Every step execs, so the PID that
# started this script is the container's PID.
#   pod-exec.sh CGROUP_DIR NETNS_PATH HOSTS_FILE COMMAND [ARGS...]
set -e
cgroup="$1"; netns="$2"; hosts="$3"; shift 3
# The lab's `sluice` command lives beside this script.
PATH="${0%/*}:$PATH"; export PATH
echo $$ > "$cgroup/cgroup.procs"
exec nsenter --net="$netns" -- unshare --mount --propagation private -- \
  sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$hosts" "$@"
