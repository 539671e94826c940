#!/bin/sh
# Starts a lab container, or runs a command inside a running one. Every step that does not have to fork
# execs, so the PID that ran this script is the one the lab records (see each mode).
#
#   pod-exec.sh run CGROUP MORE_CGROUPS NETNS PIDNS HOSTS RESOLV NAME CAPS SECURITY ROOTFS EXIT_FILE COMMAND [ARGS...]
#     A new container: in the pod's cgroup (and, with MORE_CGROUPS, a ':'-separated list of cgroup directories of
#     cgroup v1 hierarchies, the pod's memory and cpu cgroups where v2 lacks those controllers) and network
#     namespace, and namespaces of its own: mount (the lab's /etc/hosts and /etc/resolv.conf bound over the
#     machine's; with ROOTFS=ro the root file system is remounted read-only in it), UTS (hostname NAME), and with
#     PIDNS=pid a PID namespace with its own /proc, whose PID 1 is the small init below (it forwards SIGTERM to the
#     command, writes the command's exit status to EXIT_FILE, and ends with it, so the kernel then ends whatever
#     else is left in the namespace). With PIDNS=host the command sees the machine's processes (the cluster DNS pod
#     reads the lab's state, which names them). Capabilities: CAPS as setpriv's --bounding-set (the container
#     runtime's default set, with the securityContext's add and drop), none inheritable; SECURITY is "-" or
#     setpriv options for the securityContext, separated by ',' (--reuid=1000,--regid=1000,--clear-groups,--no-new-privs).
#   pod-exec.sh exec CGROUP TARGET_PID NAME CAPS SECURITY COMMAND [ARGS...]
#     COMMAND inside the running container whose init has (host) PID TARGET_PID: its cgroup, its network, mount,
#     UTS and PID namespaces, and the same capabilities and user, as `kubectl exec` does.
set -e
self="$0"
# The lab's `sluice` command lives beside this script.
PATH="${0%/*}:$PATH"; export PATH
mode="$1"; shift
case "$mode" in
run)
  cgroup="$1"; more="$2"; netns="$3"; pidns="$4"; shift 4
  echo $$ > "$cgroup/cgroup.procs"
  if [ "$more" != - ]; then
    for c in $(echo "$more" | tr ':' ' '); do echo $$ > "$c/cgroup.procs"; done
  fi
  if [ "$pidns" = pid ]; then
    # unshare forks the namespace's PID 1 and waits for it; --kill-child: if unshare is killed, so is the container.
    exec nsenter --net="$netns" -- unshare --mount --propagation private --uts --pid --fork --kill-child --mount-proc -- \
      sh "$self" setup init "$@"
  fi
  exec nsenter --net="$netns" -- unshare --mount --propagation private --uts -- sh "$self" setup exec "$@"
  ;;
setup)
  how="$1"; hosts="$2"; resolv="$3"; name="$4"; caps="$5"; security="$6"; rootfs="$7"; exitfile="$8"; shift 8
  mount --bind "$hosts" /etc/hosts
  mount --bind "$resolv" /etc/resolv.conf
  hostname "$name"
  HOSTNAME="$name"; export HOSTNAME
  # The init reports the command's exit status through it. With a read-only root it is bound onto itself first: a
  # file open for writing through the root's mount would keep that mount from turning read-only (EBUSY).
  : > "$exitfile"
  if [ "$rootfs" = ro ]; then
    mount --bind "$exitfile" "$exitfile"
  fi
  exec 9>"$exitfile"
  if [ "$rootfs" = ro ]; then
    mount -o remount,bind,ro /
  fi
  opts=""
  [ "$security" = - ] || opts=$(echo "$security" | tr ',' ' ')
  if [ "$how" = init ]; then
    # The init keeps what it needs to start the command as its user (setuid, setgid, setpcap): the command gets CAPS.
    exec setpriv --inh-caps=-all --bounding-set="$caps,+setuid,+setgid,+setpcap" -- sh "$self" init "$caps" "$opts" "$@"
  fi
  exec 9>&-
  # shellcheck disable=SC2086 # the options are words without spaces
  exec setpriv --inh-caps=-all --bounding-set="$caps" $opts -- "$@"
  ;;
init)
  caps="$1"; opts="$2"; shift 2
  # shellcheck disable=SC2086
  setpriv --inh-caps=-all --bounding-set="$caps" $opts -- "$@" 9>&- &
  child=$!
  trap 'kill -TERM "$child" 2>/dev/null || true' TERM INT
  status=0
  wait "$child" || status=$?
  # wait returns early when the trap ran: wait again until the command has really ended.
  while kill -0 "$child" 2>/dev/null; do
    status=0
    wait "$child" || status=$?
  done
  echo "$status" >&9
  exit "$status"
  ;;
exec)
  cgroup="$1"; target="$2"; name="$3"; caps="$4"; security="$5"; shift 5
  echo $$ > "$cgroup/cgroup.procs"
  HOSTNAME="$name"; export HOSTNAME
  opts=""
  [ "$security" = - ] || opts=$(echo "$security" | tr ',' ' ')
  # nsenter forks to enter the PID namespace and does not pass signals on: the command ends with it (pdeathsig).
  # shellcheck disable=SC2086
  exec nsenter --target "$target" --net --mount --uts --pid -- \
    setpriv --pdeathsig TERM --inh-caps=-all --bounding-set="$caps" $opts -- "$@"
  ;;
*)
  echo "pod-exec.sh: unknown mode '$mode'" >&2
  exit 2
  ;;
esac
