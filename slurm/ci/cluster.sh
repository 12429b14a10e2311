#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for CI and for trying the Slurm scripts on a laptop.
#
#   bash slurm/ci/cluster.sh start    # install (Debian/Ubuntu packages), configure, start; idempotent
#   bash slurm/ci/cluster.sh status   # is it up? (exit 0 when the node accepts jobs)
#   bash slurm/ci/cluster.sh stop     # stop slurmd, slurmctld and munged (only those started here)
#
# Needs root and apt (Debian 12 ships Slurm 22.05). Works without systemd (containers): the daemons
# are started directly. What makes it work in a container:
# - ProctrackType=proctrack/linuxproc, TaskPlugin=task/none, no job accounting: no cgroups are needed
#   (a container rarely may create cgroups);
# - a fake GPU GRES: Slurm drops a gpu entry without device files, so gres.conf lists one character
#   device per fake GPU (clones of /dev/null made with mknod, else /dev/null, /dev/zero, ...);
#   `--gres=gpu:1` then schedules and sets CUDA_VISIBLE_DEVICES (torch finds no CUDA, uses the CPU);
# - SlurmdParameters=config_overrides: the node may declare more CPUs than the machine has, so a few
#   small jobs run side by side.
# Settings (environment): GENLAB_SLURM_GPUS (fake GPUs, default 4), GENLAB_SLURM_CPUS (default 4 or
# the core count if larger). It never overwrites a slurm.conf it did not write.
set -euo pipefail

CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
MARK="# written by genlab slurm/ci/cluster.sh"
STATE=/var/spool/genlab-slurm
FAKE_DEV=$STATE/fakegpu
LOG=/var/log/genlab-slurm
NODE=$(hostname -s)
GPUS=${GENLAB_SLURM_GPUS:-4}
CPUS=${GENLAB_SLURM_CPUS:-$(( $(nproc) > 4 ? $(nproc) : 4 ))}

say() { echo "cluster.sh: $*"; }
die() { echo "cluster.sh: error: $*" >&2; exit 1; }

node_ready() {
    command -v sinfo >/dev/null 2>&1 || return 1
    local state
    state=$(timeout 10 sinfo -h -N -n "$NODE" -o %T 2>/dev/null | head -n1) || return 1
    [[ $state == idle* || $state == mix* || $state == alloc* ]]
}

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null \
        && command -v sbatch >/dev/null; then
        return
    fi
    command -v apt-get >/dev/null || die "slurmctld/slurmd/munge are missing and there is no apt-get; install Slurm and munge with your package manager"
    say "installing munge, slurmctld, slurmd, slurm-client (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends munge slurmctld slurmd slurm-client >/dev/null
}

write_config() {
    if [[ -f $CONF ]] && ! grep -qF "$MARK" "$CONF"; then
        die "$CONF exists and was not written by this script; refusing to overwrite a real cluster's configuration"
    fi
    local mem_mb
    mem_mb=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)
    mkdir -p "$CONF_DIR" "$STATE/ctld" "$STATE/d" "$FAKE_DEV" "$LOG"
    # Slurm wants character devices: clones of /dev/null (mknod), else the stock ones every container has.
    local files=() stock=(/dev/null /dev/zero /dev/full /dev/random /dev/urandom) i
    for ((i = 0; i < GPUS; i++)); do
        [[ -c $FAKE_DEV/gpu$i ]] || rm -f "$FAKE_DEV/gpu$i"
        if [[ -c $FAKE_DEV/gpu$i ]] || mknod "$FAKE_DEV/gpu$i" c 1 3 2>/dev/null; then
            files+=("$FAKE_DEV/gpu$i")
        elif ((i < ${#stock[@]})); then
            files+=("${stock[$i]}")
        fi
    done
    GPUS=${#files[@]}
    cat >"$CONF" <<EOF
$MARK: a one-node test cluster, not for production.
ClusterName=genlab
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# A requeued job waits cred_expire + 1 s before it may start again (default 120 s).
AuthInfo=cred_expire=15
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
# No cgroups in a container: track processes by parent pid, no task binding, no accounting.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=5,bf_interval=5
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
GresTypes=gpu
ReturnToService=2
JobRequeue=1
MailProg=/bin/true
# Keep finished jobs visible to scontrol for an hour (tests read their exit codes there).
MinJobAge=3600
KillWait=10
SlurmdTimeout=300
InactiveLimit=0
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$mem_mb Gres=gpu:$GPUS State=UNKNOWN
PartitionName=gpu Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
    cat >"$CONF_DIR/gres.conf" <<EOF
$MARK: fake GPUs (character devices that are not GPUs) so that --gres=gpu:N schedules.
AutoDetect=off
EOF
    for f in "${files[@]}"; do echo "NodeName=$NODE Name=gpu File=$f" >>"$CONF_DIR/gres.conf"; done
}

start_munge() {
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        return
    fi
    mkdir -p "$STATE" /run/munge /var/lib/munge /var/log/munge /etc/munge
    if [[ ! -s /etc/munge/munge.key ]]; then
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    fi
    chown -R munge:munge /run/munge /var/lib/munge /var/log/munge /etc/munge
    chmod 0700 /etc/munge /var/log/munge
    chmod 0400 /etc/munge/munge.key
    chmod 0755 /run/munge
    say "starting munged"
    runuser -u munge -- /usr/sbin/munged
    touch "$STATE/munged.started-here"
    for _ in $(seq 50); do
        munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && return
        sleep 0.2
    done
    die "munged did not start (see /var/log/munge/munged.log)"
}

pid_alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
    [[ $(id -u) == 0 ]] || die "run as root (it installs packages and starts system daemons)"
    if node_ready && pid_alive "$STATE/slurmctld.pid"; then
        say "already running (node $NODE); sinfo:"
        sinfo
        return
    fi
    install_packages
    write_config
    start_munge
    if ! pid_alive "$STATE/slurmctld.pid"; then
        say "starting slurmctld"
        # -c: forget jobs of a previous test cluster; -i: ignore state files written by another version.
        slurmctld -c -i
    fi
    if ! pid_alive "$STATE/slurmd.pid"; then
        say "starting slurmd"
        slurmd
    fi
    for _ in $(seq 60); do
        if node_ready; then
            say "up: node $NODE with $CPUS CPUs and $GPUS fake GPUs"
            sinfo
            return
        fi
        state=$(sinfo -h -N -n "$NODE" -o %T 2>/dev/null | head -n1 || true)
        if [[ $state == down* || $state == drain* ]]; then
            scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true
        fi
        sleep 1
    done
    tail -n 20 "$LOG/slurmctld.log" "$LOG/slurmd.log" >&2 || true
    die "the node did not become idle within 60 s (logs above, in $LOG)"
}

stop_pidfile() {
    local name=$1 file=$2
    if pid_alive "$file"; then
        local pid
        pid=$(cat "$file")
        say "stopping $name (pid $pid)"
        kill "$pid"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    fi
}

stop() {
    stop_pidfile slurmd "$STATE/slurmd.pid"
    stop_pidfile slurmctld "$STATE/slurmctld.pid"
    if [[ -f $STATE/munged.started-here ]]; then
        stop_pidfile munged /run/munge/munged.pid
        rm -f "$STATE/munged.started-here"
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status)
        if node_ready; then sinfo; else say "not running"; exit 1; fi ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
