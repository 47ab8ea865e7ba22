#!/usr/bin/env bash
# Start a one-node SLURM cluster on localhost (as root): MariaDB, munge, slurmdbd, slurmctld, slurmd.
# Debian packages: slurm-wlm slurmdbd munge mariadb-server. The node advertises one "gpu" GRES
# backed by /dev/null, so that jobs asking for --gpus=1 are scheduled (and get CUDA_VISIBLE_DEVICES);
# TensorFlow then finds no real GPU and runs on the CPU. Two partitions share the node, as on a real
# cluster the "cpu" partition refuses any job that asks for a GPU: its QOS allows none and denies
# (not queues) a job over the limit.
set -euo pipefail
CPUS=$(nproc)
MEM=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 2048 ))
mkdir -p /etc/slurm /var/spool/slurmd /var/spool/slurmctld /var/log/slurm /run/munge /run/mysqld
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=caelatent
SlurmctldHost=localhost
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SlurmUser=root
SlurmdUser=root
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmdSpoolDir=/var/spool/slurmd
StateSaveLocation=/var/spool/slurmctld
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStorageTRES=gres/gpu
AccountingStorageEnforce=associations,limits,qos
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
AccountingStoreFlags=job_comment
MinJobAge=3600
GresTypes=gpu
NodeName=localhost CPUs=$CPUS RealMemory=$MEM Gres=gpu:1 State=UNKNOWN
PartitionName=cpu Nodes=localhost Default=YES MaxTime=INFINITE State=UP QOS=cpuonly
PartitionName=gpu Nodes=localhost MaxTime=INFINITE State=UP
CONF
echo "NodeName=localhost Name=gpu File=/dev/null" > /etc/slurm/gres.conf
cat > /etc/slurm/slurmdbd.conf <<CONF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
PidFile=/run/slurmdbd.pid
LogFile=/var/log/slurm/slurmdbd.log
CONF
chmod 600 /etc/slurm/slurmdbd.conf

# MariaDB
chown mysql:mysql /run/mysqld
if ! mysqladmin ping >/dev/null 2>&1; then
    (mysqld_safe --user=mysql >/var/log/slurm/mysqld_safe.log 2>&1 &)
    for _ in $(seq 60); do mysqladmin ping >/dev/null 2>&1 && break; sleep 1; done
fi
mysql -e "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm';
          GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"

# munge
[ -s /etc/munge/munge.key ] || (mungekey --create 2>/dev/null || create-munge-key -f)
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
pgrep -x munged >/dev/null || runuser -u munge -- munged
for _ in $(seq 20); do munge -n | unmunge >/dev/null 2>&1 && break; sleep 0.5; done

# SLURM daemons
pgrep -x slurmdbd >/dev/null || slurmdbd
for _ in $(seq 60); do sacctmgr -n list cluster >/dev/null 2>&1 && break; sleep 1; done
sacctmgr -i add cluster caelatent >/dev/null 2>&1 || true
sacctmgr -i add qos cpuonly >/dev/null 2>&1 || true
pgrep -x slurmctld >/dev/null || slurmctld
# a new accounting database knows the gres/gpu TRES only once slurmctld has registered
# AccountingStorageTRES with slurmdbd: limit the QOS after that, or sacctmgr refuses the limit
# ("no TRES known by type gres/gpu") on a machine that never ran the cluster
for _ in $(seq 60); do sacctmgr -n -P list tres 2>/dev/null | grep -q "^gres|gpu|" && break; sleep 1; done
sacctmgr -i modify qos cpuonly set MaxTRESPerJob=gres/gpu=0 Flags=DenyOnLimit >/dev/null
pgrep -x slurmd >/dev/null || slurmd
for _ in $(seq 60); do sinfo -h -o %T 2>/dev/null | grep -qE "idle|mixed|alloc" && break; sleep 1; done
sinfo
