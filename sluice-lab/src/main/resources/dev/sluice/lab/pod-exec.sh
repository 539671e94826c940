#!/bin/sh
# Starts a lab container, or runs a command inside a running one. Every step that does not have to fork
# execs, so the PID that ran this script is the one the lab records (see each mode).
#
#   pod-exec.sh run CGROUP NETNS PIDNS HOSTS RESOLV NAME CAPS COMMAND [ARGS...]
#     A new container: in the pod's cgroup and network namespace, and namespaces of its own: mount (the lab's
#     /etc/hosts and /etc/resolv.conf bound over the machine's), UTS (hostname NAME), and with PIDNS=pid a PID
#     namespace with its own /proc, whose PID 1 is the small init below (it forwards SIGTERM to the command and
#     ends with it, so the kernel then ends whatever else is left in the namespace). With PIDNS=host the command
#     sees the machine's processes (the cluster DNS pod reads the lab's state, which names them). Capabilities:
#     CAPS as setpriv's --bounding-set (the container runtime's default set), none inheritable.
#   pod-exec.sh exec CGROUP TARGET_PID NAME CAPS COMMAND [ARGS...]
#     COMMAND inside the running container whose init has (host) PID TARGET_PID: its cgroup, its network, mount,
#     UTS and PID namespaces, and the same capabilities, as `kubectl exec` does.
set -e
self="$0"
# The lab's `sluice` command lives beside this script.
PATH="${0%/*}:$PATH"; export PATH
mode="$1"; shift
case "$mode" in
run)
  cgroup="$1"; netns="$2"; pidns="$3"; shift 3
  echo $$ > "$cgroup/cgroup.procs"
  if [ "$pidns" = pid ]; then
    # unshare forks the namespace's PID 1 and waits for it; --kill-child: if unshare is killed, so is the container.
    exec nsenter --net="$netns" -- unshare --mount --propagation private --uts --pid --fork --kill-child --mount-proc -- \
      sh "$self" setup init "$@"
  fi
  exec nsenter --net="$netns" -- unshare --mount --propagation private --uts -- sh "$self" setup exec "$@"
  ;;
setup)
  how="$1"; hosts="$2"; resolv="$3"; name="$4"; caps="$5"; shift 5
  mount --bind "$hosts" /etc/hosts
  mount --bind "$resolv" /etc/resolv.conf
  hostname "$name"
  HOSTNAME="$name"; export HOSTNAME
  if [ "$how" = init ]; then
    exec setpriv --inh-caps=-all --bounding-set="$caps" -- sh "$self" init "$@"
  fi
  exec setpriv --inh-caps=-all --bounding-set="$caps" -- "$@"
  ;;
init)
  "$@" &
  child=$!
  trap 'kill -TERM "$child" 2>/dev/null || true' TERM INT
  status=0
  wait "$child" || status=$?
  # wait returns early when the trap ran: wait again until the command has really ended.
  while kill -0 "$child" 2>/dev/null; do
    status=0
    wait "$child" || status=$?
  done
  exit "$status"
  ;;
exec)
  cgroup="$1"; target="$2"; name="$3"; caps="$4"; shift 4
  echo $$ > "$cgroup/cgroup.procs"
  HOSTNAME="$name"; export HOSTNAME
  # nsenter forks to enter the PID namespace and does not pass signals on: the command ends with it (pdeathsig).
  exec nsenter --target "$target" --net --mount --uts --pid -- \
    setpriv --pdeathsig TERM --inh-caps=-all --bounding-set="$caps" -- "$@"
  ;;
*)
  echo "pod-exec.sh: unknown mode '$mode'" >&2
  exit 2
  ;;
esac
