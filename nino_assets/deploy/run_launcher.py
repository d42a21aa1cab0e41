"""The production instance's run launcher: Dagster's default one (each run in its own process, started by the code
server), with the health check that run monitoring needs to fail a run whose process is gone.

The default launcher cannot say whether a run's process still runs, so without this a run whose code server and
process were killed together (the OOM killer, `kill -9` of the service, a machine restart) stays STARTED for ever,
holding the warehouse pool, and every later run queues behind it. The code server records each run process's id in
the run's event log ("Started process for run (pid: N)"); runs that `nino` executes in its own process carry it as a
tag. The check needs the daemon on the code server's machine, as `nino deploy` runs them.
"""

from __future__ import annotations

import dagster as dg
from dagster._core.events import DagsterEventType
from dagster._core.launcher import DefaultRunLauncher
from dagster._core.launcher.base import CheckRunHealthResult, WorkerStatus

from nino_assets.shared.instance import PROCESS_TAG, process_is_running


def run_process_id(instance: dg.DagsterInstance, run: dg.DagsterRun) -> int | None:
    """The id of the process that executes `run`: the latest one its code server started for it (a resumed or
    re-launched run has several), or the `nino` process's for a run executed in process."""
    # the code server records it among the run's first engine events: no need to read a long run's whole log
    records = instance.get_records_for_run(run.run_id, of_type=DagsterEventType.ENGINE_EVENT, limit=200).records
    started = [
        int(data.metadata["pid"].value)
        for entry in (record.event_log_entry for record in records)
        if (data := entry.dagster_event.event_specific_data) is not None and "pid" in (data.metadata or {})
        and entry.message.startswith("Started process for run")
    ]
    if started:
        return started[-1]
    return int(run.tags[PROCESS_TAG]) if PROCESS_TAG in run.tags else None


class MonitoredRunLauncher(DefaultRunLauncher):
    """Launches runs against the code server, as `DefaultRunLauncher` does, and tells run monitoring whether each
    started run's process is still running."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        pid = run_process_id(self._instance, run)
        if pid is None:  # not yet recorded: nothing says it is gone
            return CheckRunHealthResult(WorkerStatus.RUNNING, "its process is not yet recorded")
        record = self._instance.get_run_record_by_id(run.run_id)
        since = record.start_time if record is not None else None
        if process_is_running(pid, since=since):
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"process {pid} runs")
        return CheckRunHealthResult(WorkerStatus.FAILED, f"its process {pid} is gone (killed, crashed or the "
                                                          "machine restarted) without ending the run")
