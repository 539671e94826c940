#!/bin/sh
# Runs a command as a lab container: in the pod's cgroup, its network namespace, and a private mount
# namespace whose /etc/hosts and /etc/resolv.conf are the lab's (Service names resolve through the hosts
# file and through cluster DNS). Every step execs, so the PID that started this script is the container's PID.
#   pod-exec.sh CGROUP_DIR NETNS_PATH HOSTS_FILE RESOLV_FILE COMMAND [ARGS...]
set -e
cgroup="$1"; netns="$2"; hosts="$3"; resolv="$4"; shift 4
# The lab's `sluice` command lives beside this script.
PATH="${0%/*}:$PATH"; export PATH
echo $$ > "$cgroup/cgroup.procs"
exec nsenter --net="$netns" -- unshare --mount --propagation private -- \
  sh -c 'mount --bind "$0" /etc/hosts && mount --bind "$1" /etc/resolv.conf && shift && exec "$@"' "$hosts" "$resolv" "$@"
