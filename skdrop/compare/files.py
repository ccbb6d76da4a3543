"""The files ``python -m skdrop compare`` writes: checked first, written whole.

Every output path is checked before any model is fitted, by writing a
scratch file in its folder: permissions, read-only file systems and full
disks show up there, not after the whole run. Reports are then written to a
temporary file in the target's folder and renamed over the target only once
every report is complete, so a failed write, a full disk or an interrupt
leaves the previous reports exactly as they were.
"""

import contextlib
import os
import secrets
import signal
import stat
import threading


def check_output_path(path, suffixes=None):
    """The problem with writing a report to ``path``, or ``None``.

    Refused: an empty path, a directory, a missing folder, a file that is
    not a regular file (``/dev/full``, a pipe: a rename would replace the
    device itself), a file without write permission, a folder where no file
    can be created, and a suffix other than ``suffixes``.
    """
    if not path:
        return "the path is empty"
    if path.endswith((os.sep, os.altsep or os.sep)):
        return f"{path!r} names a folder, not a file"
    target = os.path.realpath(path)
    folder = os.path.dirname(target)
    if os.path.isdir(target):
        return f"{path!r} is a directory"
    if not os.path.isdir(folder):
        return f"folder {folder!r} does not exist"
    if os.path.exists(target):
        if not stat.S_ISREG(os.stat(target).st_mode):
            return f"{path!r} is not a regular file"
        if not os.access(target, os.W_OK):
            return f"{path!r} cannot be written"
    if suffixes and os.path.splitext(path)[1].lower() not in suffixes:
        return f"{path!r} must end in one of {', '.join(suffixes)}"
    if _name_too_long(target):
        return f"{path!r} cannot be written (file name too long)"
    try:
        _write_scratch_file(target)
    except OSError as exc:
        return f"{path!r} cannot be written ({exc.strerror or exc})"
    return None


def _name_too_long(target):
    # The scratch file has a shortened name of its own, so the target's
    # length is checked against the file system's limit here.
    folder, name = os.path.split(target)
    try:
        return len(os.fsencode(name)) > os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):  # no limit known
        return False


def _write_scratch_file(target):
    # os.access trusts permission bits only: root passes it on a read-only
    # file system or a full disk, where creating the temporary file that
    # write_all will create is the real test.
    fd, scratch = _create_temporary(target)
    try:
        os.write(fd, b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
        os.unlink(scratch)


def same_file(first, second):
    """Whether two paths name one file (through links, or as the same path)."""
    try:
        return os.path.samefile(first, second)
    except OSError:  # one does not exist yet
        return os.path.realpath(first) == os.path.realpath(second)


def write_all(outputs):
    """Write every report, then put them all in place.

    Parameters
    ----------
    outputs : list of (path, mode, write)
        ``write(stream)`` writes one report to a stream opened with ``mode``
        (``"w"`` for text, ``"wb"`` for bytes).

    Raises
    ------
    OSError
        If a report cannot be written; no target has been changed then. (Only
        a rename failing part-way, within one folder, would leave some
        reports renewed: it needs the folder's permissions changed during
        the run.)
    """
    written = []
    try:
        for path, mode, write in outputs:
            target = os.path.realpath(path)
            fd, temporary = _create_temporary(target)
            written.append((temporary, target))
            encoding = "utf-8" if "b" not in mode else None
            with open(fd, mode, encoding=encoding) as stream:
                write(stream)
                stream.flush()
                os.fsync(stream.fileno())
        with _interrupt_deferred():
            for temporary, target in written:
                os.replace(temporary, target)
            written.clear()
    finally:
        for temporary, _ in written:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def _create_temporary(target):
    """A new file beside ``target``, readable as a file ``open`` creates would be."""
    folder, name = os.path.split(target)
    while True:
        # A shortened name: the file system's limit (often 255 bytes) must
        # not refuse the temporary name of a target it accepts.
        temporary = os.path.join(folder, f".{name[:200]}.{secrets.token_hex(4)}.tmp")
        try:
            # Mode 0o666 and the umask, as for open(path, "w"); an existing
            # target's own mode is kept below.
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        with contextlib.suppress(OSError):
            os.chmod(temporary, stat.S_IMODE(os.stat(target).st_mode))
        return fd, temporary


@contextlib.contextmanager
def _interrupt_deferred():
    """Ignore Ctrl-C while the reports are renamed into place.

    The renames take microseconds; an interrupt between two of them would
    leave some reports new and others old. One that arrives meanwhile is
    dropped: the job is complete by then. (Blocking the signal in this
    thread would not do: the kernel hands it to any thread that does not
    block it, such as BLAS's, and Python raises it here all the same.)
    """
    previous = signal.getsignal(signal.SIGINT)
    if previous is None or threading.current_thread() is not threading.main_thread():
        yield  # a handler Python did not install, or not ours to change
        return
    signal.signal(signal.SIGINT, lambda signum, frame: None)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
