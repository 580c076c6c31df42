"""One run per out_dir, on the kernel's file locks: a second run into an out_dir that a live run holds, on this host or
another that shares the folder, stops at once with a one-line error naming that run's process and host.

The lock is `flock` on out_dir/.lock. The kernel releases it when its holder dies, however it dies (SIGKILL too), so
no stale lock is ever taken over by guesswork, and a reused process id fools nothing. Forked children inherit it: a
parent killed while its workers still write keeps the out_dir held until the last of them ends. This is written on
fcntl rather than the filelock package because filelock (4.3) closes its descriptor in forked children: a killed
parent then frees the out_dir under its running workers (measured). A filesystem without kernel locks gets a
warning and filelock's SoftFileLock, a lock file that a killed run leaves behind. Light on imports (no torch).
"""

import errno
import fcntl
import os
import socket
import sys

from robustness.config import fail

_HELD = {}  # out_dir's real path -> the open descriptor (or soft lock) that holds it, until this process ends


def claim(out_dir):
    """Hold `out_dir` for this process (and the children it forks) until it ends; a one-line error if another live
    run holds it. Claiming again from the holding process is a no-op."""
    os.makedirs(out_dir, exist_ok=True)
    key = os.path.realpath(out_dir)
    if key in _HELD:
        return
    path = os.path.join(out_dir, '.lock')
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(descriptor, 256).decode('utf-8', 'replace').strip() or 'a process that is starting'
        os.close(descriptor)
        fail(f"out_dir: {out_dir} is in use by another run ({holder}); wait for it to finish, or choose another "
             f"--out_dir")
    except OSError as error:
        os.close(descriptor)
        if error.errno not in (errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL):
            raise
        _HELD[key] = _soft_claim(out_dir, path)
        return
    os.ftruncate(descriptor, 0)
    os.write(descriptor, f"process {os.getpid()} on {socket.gethostname()}".encode())
    _HELD[key] = descriptor


def _soft_claim(out_dir, path):
    """The fallback where flock is not supported: a lock file created exclusively (filelock's SoftFileLock)."""
    import filelock
    print(f"warning: {out_dir} has no kernel file locks; using the lock file {path}.soft instead (a killed run leaves "
          f"it behind: remove it by hand)", file=sys.stderr)
    lock = filelock.SoftFileLock(path + '.soft')
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        fail(f"out_dir: {out_dir} is in use by another run (its lock file {path}.soft exists); wait for it to finish, "
             f"or choose another --out_dir")
    return lock
