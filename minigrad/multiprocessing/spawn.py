"""``spawn`` / ``start_processes``: run ``fn(i, *args)`` in ``nprocs`` processes and wait, as
torch.multiprocessing.spawn: the first process to fail stops the others, and its exception (with the child's
traceback) or exit code is raised in the parent as ``ProcessRaisedException`` / ``ProcessExitedException``.

The child writes its traceback to an error file as plain UTF-8 text (PyTorch pickles it; minigrad reads no pickle
from a file).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable


class ProcessException(Exception):
    """A spawned process failed: ``error_index`` (its ``i``) and ``error_pid``."""

    def __init__(self, msg: str, error_index: int, error_pid: int) -> None:
        super().__init__(msg)
        self.msg = msg
        self.error_index = error_index
        self.error_pid = error_pid

    def __reduce__(self) -> tuple:
        return type(self), (self.msg, self.error_index, self.error_pid)


class ProcessRaisedException(ProcessException):
    """A spawned process raised: the message ends with the child's traceback."""


class ProcessExitedException(ProcessException):
    """A spawned process exited with a non-zero ``exit_code`` (negative: killed by signal ``signal_name``)."""

    def __init__(self, msg: str, error_index: int, error_pid: int, exit_code: int,
                 signal_name: str | None = None) -> None:
        super().__init__(msg, error_index, error_pid)
        self.exit_code = exit_code
        self.signal_name = signal_name

    def __reduce__(self) -> tuple:
        return type(self), (self.msg, self.error_index, self.error_pid, self.exit_code, self.signal_name)


def _wrap(fn: Callable, i: int, args: tuple, error_file: str) -> None:
    """The child's entry point: ``fn(i, *args)``; an exception's traceback goes to ``error_file``, exit code 1."""
    try:
        fn(i, *args)
    except KeyboardInterrupt:
        pass   # SIGINT from the parent stopping us
    except Exception:
        with open(error_file, "w", encoding="utf-8") as handle:
            handle.write(traceback.format_exc())
        sys.exit(1)


class ProcessContext:
    """The started processes of ``start_processes(join=False)``; ``join()`` until it returns True."""

    def __init__(self, processes: list, error_files: list) -> None:
        self.error_files = error_files
        self.processes = processes
        self.sentinels = {process.sentinel: index for index, process in enumerate(processes)}

    def pids(self) -> list[int]:
        """The processes' ids, by index."""
        return [int(process.pid) for process in self.processes]

    def _join_all(self, timeout: float) -> None:
        end = time.monotonic() + timeout
        for process in self.processes:
            process.join(max(0.0, end - time.monotonic()))

    def join(self, timeout: float | None = None, grace_period: float | None = None) -> bool:
        """Wait (up to ``timeout`` seconds) for a process to end. True once all ended well, False while some
        still run; if one failed: stop the others (SIGTERM after ``grace_period``, then SIGKILL) and raise
        ``ProcessRaisedException`` (it raised) or ``ProcessExitedException`` (it exited non-zero or was killed)."""
        if not self.sentinels:
            return True
        ready = multiprocessing.connection.wait(self.sentinels.keys(), timeout=timeout)
        error_index = None
        for sentinel in ready:
            index = self.sentinels.pop(sentinel)
            self.processes[index].join()
            if self.processes[index].exitcode != 0:
                error_index = index
                break
        if error_index is None:
            return not self.sentinels
        if grace_period is not None:
            self._join_all(grace_period)
        for process in self.processes:
            if process.is_alive():
                process.terminate()
        self._join_all(30 if grace_period is None else grace_period)
        for process in self.processes:
            if process.is_alive():
                process.kill()
            process.join()
        failed = self.processes[error_index]
        if not os.access(self.error_files[error_index], os.R_OK):
            code = failed.exitcode
            if code < 0:
                try:
                    name = signal.Signals(-code).name
                except ValueError:
                    name = f"<Unknown signal {-code}>"
                raise ProcessExitedException(f"process {error_index:d} terminated with signal {name}",
                                             error_index=error_index, error_pid=failed.pid, exit_code=code,
                                             signal_name=name)
            raise ProcessExitedException(f"process {error_index:d} terminated with exit code {code:d}",
                                         error_index=error_index, error_pid=failed.pid, exit_code=code)
        with open(self.error_files[error_index], encoding="utf-8") as handle:
            trace = handle.read()
        os.unlink(self.error_files[error_index])
        raise ProcessRaisedException(f"\n\n-- Process {error_index:d} terminated with the following error:\n{trace}",
                                     error_index, failed.pid)


class SpawnContext(ProcessContext):
    """``ProcessContext``'s name before PyTorch 1.4."""

    def __init__(self, processes: list, error_files: list) -> None:
        warnings.warn("SpawnContext is renamed to ProcessContext since 1.4 release.", stacklevel=2)
        super().__init__(processes, error_files)


def start_processes(fn: Callable, args: tuple = (), nprocs: int = 1, join: bool = True, daemon: bool = False,
                    start_method: str = "spawn") -> ProcessContext | None:
    """Start ``nprocs`` processes of ``start_method`` ("spawn", "fork" or "forkserver") running ``fn(i, *args)``
    for i in 0..nprocs-1; with ``join`` wait for all (raising as ``ProcessContext.join``) and return None, else
    return the ``ProcessContext``."""
    context = multiprocessing.get_context(start_method)
    processes, error_files = [], []
    for i in range(nprocs):
        # an error file per process: a non-empty one says it raised (not a pickle: plain text)
        handle, name = tempfile.mkstemp(prefix="minigrad-errorfile-", suffix=".txt")
        os.close(handle)
        os.unlink(name)
        process = context.Process(target=_wrap, args=(fn, i, args, name), daemon=daemon)
        process.start()
        processes.append(process)
        error_files.append(name)
    started = ProcessContext(processes, error_files)
    if not join:
        return started
    while not started.join():
        pass
    return None


def spawn(fn: Callable, args: tuple = (), nprocs: int = 1, join: bool = True, daemon: bool = False,
          start_method: str = "spawn") -> ProcessContext | None:
    """``start_processes`` with the "spawn" start method, always, as PyTorch's (another ``start_method`` warns
    and is ignored: use ``start_processes`` for it). ``fn`` must be importable (defined at a module's top level)."""
    if start_method != "spawn":
        warnings.warn(f"This method only supports start_method=spawn (got: {start_method}).\n"
                      "To use a different start_method use:\n\t\t minigrad.multiprocessing.start_processes(...)",
                      FutureWarning, stacklevel=2)
    return start_processes(fn, args, nprocs, join, daemon, start_method="spawn")


__all__ = ["ProcessContext", "ProcessException", "ProcessExitedException", "ProcessRaisedException", "SpawnContext",
           "spawn", "start_processes"]
