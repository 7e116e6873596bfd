"""A throwaway single-node Slurm cluster on this machine, for tests/test_grid.py and by hand.

Debian's ``slurm-wlm`` (slurmctld + slurmd, Slurm 22.05 on Debian 12) runs as one node with a
minimal ``slurm.conf`` in a temporary folder: no munge (``auth/none``), no cgroups, no
accounting database, its own ports. Clients (``sbatch``, ``squeue``, submitit) find it through
``$SLURM_CONF``. Without accounting ``sacct`` answers nothing, so submitit learns that a job ended
from its result file (every ordinary success or failure); a job killed outright would not be seen.

By hand::

    python tests/slurm_local.py start /tmp/slurm   # prints: export SLURM_CONF=/tmp/slurm/slurm.conf
    python tests/slurm_local.py stop /tmp/slurm
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

DAEMONS = ("slurmctld", "slurmd")


def why_not() -> str | None:
    """Why a local Slurm cannot be started here, or None."""
    missing = [d for d in (*DAEMONS, "sbatch", "squeue", "sinfo") if shutil.which(d) is None
               and not Path("/usr/sbin", d).exists()]
    if missing:
        return (f"Slurm is not installed ({', '.join(missing)} missing); on Debian/Ubuntu: "
                "apt-get install slurm-wlm")
    if os.name != "posix" or os.geteuid() != 0:
        return "starting slurmctld/slurmd for a test needs root (they run as SlurmUser=root here)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _daemon(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


def write_config(folder: Path) -> Path:
    """slurm.conf for one node (this host, as ``slurmd -C`` describes it) and one partition ``debug``."""
    folder.mkdir(parents=True, exist_ok=True)
    for sub in ("state", "spool"):
        (folder / sub).mkdir(exist_ok=True)
    node = subprocess.run([_daemon("slurmd"), "-C"], capture_output=True, text=True, timeout=30).stdout
    node_line = next(line for line in node.splitlines() if line.startswith("NodeName="))
    host = node_line.split()[0].split("=", 1)[1]
    conf = folder / "slurm.conf"
    conf.write_text("\n".join([
        "ClusterName=sernbtest",
        f"SlurmctldHost={host}(127.0.0.1)",
        "SlurmUser=root", "SlurmdUser=root",
        f"SlurmctldPort={_free_port()}", f"SlurmdPort={_free_port()}",
        "AuthType=auth/none", "CredType=cred/none",
        f"StateSaveLocation={folder / 'state'}", f"SlurmdSpoolDir={folder / 'spool'}",
        f"SlurmctldPidFile={folder / 'slurmctld.pid'}", f"SlurmdPidFile={folder / 'slurmd.pid'}",
        f"SlurmctldLogFile={folder / 'slurmctld.log'}", f"SlurmdLogFile={folder / 'slurmd.log'}",
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "MpiDefault=none",
        "SchedulerType=sched/backfill", "SelectType=select/cons_tres", "SelectTypeParameters=CR_Core",
        "ReturnToService=2", "AccountingStorageType=accounting_storage/none",
        "JobAcctGatherType=jobacct_gather/none", "JobCompType=jobcomp/none",
        "SlurmctldTimeout=30", "SlurmdTimeout=30", "InactiveLimit=0", "KillWait=5", "MinJobAge=300",
        f"{node_line} State=UNKNOWN",
        f"PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO",
        "",
    ]))
    return conf


def start(folder: str | os.PathLike, timeout: float = 60) -> dict[str, str]:
    """Start slurmctld and slurmd on a fresh config in ``folder``; wait until the node is idle.

    Returns the environment clients need (``SLURM_CONF``). Raises RuntimeError with the daemons'
    log tails when the node does not come up.
    """
    folder = Path(folder)
    conf = write_config(folder)
    env = {**os.environ, "SLURM_CONF": str(conf)}
    for name in DAEMONS:
        subprocess.run([_daemon(name), "-f", str(conf)], env=env, check=True, timeout=30,
                       capture_output=True)
    deadline = time.time() + timeout
    state = ""
    while time.time() < deadline:
        out = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True, timeout=30)
        state = out.stdout.strip() or out.stderr.strip()
        if state.startswith("idle"):
            return {"SLURM_CONF": str(conf)}
        time.sleep(1)
    logs = "\n".join(f"--- {p.name}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-15:])
                     for p in sorted(folder.glob("*.log")))
    stop(folder)
    raise RuntimeError(f"the local Slurm node did not become idle in {timeout:.0f} s (sinfo: {state!r})\n{logs}")


def stop(folder: str | os.PathLike) -> None:
    """Stop the daemons started by :func:`start` in ``folder`` (by their pid files)."""
    for name in DAEMONS:
        pid_file = Path(folder) / f"{name}.pid"
        try:
            os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
        except (OSError, ValueError):
            continue
    time.sleep(1)


if __name__ == "__main__":
    action, where = sys.argv[1], sys.argv[2]
    if action == "start":
        reason = why_not()
        if reason:
            sys.exit(reason)
        print(f"export SLURM_CONF={start(where)['SLURM_CONF']}")
    else:
        stop(where)
