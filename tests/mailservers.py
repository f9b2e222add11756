"""A real, throwaway Dovecot IMAP server for tests (the `dovecot` session fixture).

One unprivileged Dovecot instance runs for the whole session on a free 127.0.0.1 port, with
its own config, base_dir, state, log and mail folders, so it never meets a system Dovecot
(Debian's package may start one on port 143).

Users: one passwd-file per user, BASE/users/<address>. (One shared file appended to would not
do: Dovecot stat()s a passwd-file at most once per second, so a user added in the same second
as any earlier login stays unknown until the clock ticks. A per-user file is read on its first
lookup.) So `add_user` / `new_account` work at once, without a reload.

As root, Dovecot runs as the OS user `mailtest` (created if missing) in a folder under /tmp
that this user can reach; otherwise it runs as the current user. Needs Debian's
dovecot-imapd (`dovecot` and `doveadm`); without it the tests that use it are skipped.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.servers import free_port

MAIL_USER = "mailtest"  # the OS user Dovecot runs as when the tests run as root
DOMAIN = "acme.test"
# Login names may use these (Dovecot's default auth_username_chars, plus "+").
USERNAME_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_@+"
)
START_TIMEOUT = 5.0
STOP_TIMEOUT = 10.0

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {base}/run
state_dir = {base}/state
instance_name = test-dovecot
log_path = {base}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
auth_username_chars = {username_chars}
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_location = maildir:{base}/mail/%u/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/users/%u
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {base}/users/%u
  default_fields = uid={user} gid={group} home={base}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
  # No auth penalty: without this socket the auth process gives up on it, so a failed
  # login does not make the next ones from 127.0.0.1 wait 2, 4, 8... seconds.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
protocol imap {{
  # Dovecot's default is 10 per user and IP; tests may hold more connections than that.
  mail_max_userip_connections = 100
}}
"""


def find_binary(name: str, *fallbacks: str) -> str | None:
    """`name` on PATH, else the first fallback path that is executable."""
    found = shutil.which(name)
    if found:
        return found
    for path in fallbacks:
        if os.access(path, os.X_OK):
            return path
    return None


def ensure_os_user(name: str) -> pwd.struct_passwd:
    """The OS user `name`, created (no home, no login shell) if missing; root only."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    result = subprocess.run(
        ["useradd", "-M", "-s", "/usr/sbin/nologin", name], capture_output=True, text=True
    )
    try:  # a parallel test process may have created it first: then useradd failed, but fine
        return pwd.getpwnam(name)
    except KeyError:
        raise RuntimeError(f"cannot create OS user {name}: {result.stderr.strip()}") from None


class Dovecot:
    """A running Dovecot: where it listens, its users, and IMAP helpers for tests.

    Every helper opens its own IMAP connection and logs out again. Message contents are read
    with BODY.PEEK[] and folders are opened read-only, so helpers never set \\Seen.
    """

    def __init__(self, base: Path, port: int, as_user: str | None):
        self.host = "127.0.0.1"
        self.port = port
        self.base = base
        self.users_dir = base / "users"
        self.config_file = base / "dovecot.conf"
        self.log_file = base / "dovecot.log"
        self._as_user = as_user  # run dovecot/doveadm as this OS user (we are root), or None
        self._process: subprocess.Popen | None = None
        self._lock = threading.Lock()

    # -- the server ------------------------------------------------------------------------

    def _command(self, *args: str) -> list[str]:
        return ["runuser", "-u", self._as_user, "--", *args] if self._as_user else list(args)

    def start(self, dovecot_binary: str) -> None:
        # -F keeps the master in the foreground as our child (through runuser), so stop() can
        # reap it: a daemonized master would stay a zombie where PID 1 does not reap orphans.
        stderr = open(self.base / "dovecot.stderr", "wb")  # noqa: SIM115 - closed below
        try:
            self._process = subprocess.Popen(
                self._command(dovecot_binary, "-F", "-c", str(self.config_file)),
                stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr,
            )
        finally:
            stderr.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"Dovecot did not start on port {self.port}:\n{self.log()}")

    def stop(self) -> None:
        """`kill $(cat BASE/run/master.pid)`, then wait for the master to exit."""
        process, self._process = self._process, None
        if process is None:
            return
        pid_file = self.base / "run" / "master.pid"
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            pid = None  # it never got as far as writing it
        if pid is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            process.kill()
            process.wait(STOP_TIMEOUT)

    def log(self) -> str:
        """Dovecot's log (and what it printed before its log was open), for failing tests."""
        parts = []
        for path in (self.base / "dovecot.stderr", self.log_file):
            try:
                text = path.read_text(errors="replace")
            except OSError:
                continue
            if text.strip():
                parts.append(f"--- {path.name}\n{text}")
        return "\n".join(parts) or "(Dovecot wrote no log)"

    # -- users -----------------------------------------------------------------------------

    def add_user(self, address: str, password: str) -> None:
        """Add an IMAP login (passwd-file line `address:{PLAIN}password::::::`); works at once.

        Adding an address again with the same password does nothing; with another password
        it is refused (Dovecot could go on using the old one for up to a second).
        """
        if not address.strip(".") or not set(address) <= USERNAME_CHARS:
            raise ValueError(f"not usable as a Dovecot login here: {address!r}")
        if not password or any(c in password for c in ":\r\n\0"):
            raise ValueError(f"not usable in a passwd-file: {password!r}")
        line = f"{address}:{{PLAIN}}{password}::::::\n"
        path = self.users_dir / address
        with self._lock:
            if path.exists():
                if path.read_text() == line:
                    return
                raise ValueError(f"{address} exists already, with another password")
            # Written aside and renamed into place: Dovecot never reads half a line.
            fd, temporary = tempfile.mkstemp(dir=self.base / "users.new")
            with os.fdopen(fd, "w") as file:
                file.write(line)
            os.chmod(temporary, 0o640)
            if self._as_user:
                user = pwd.getpwnam(self._as_user)
                os.chown(temporary, user.pw_uid, user.pw_gid)
            os.replace(temporary, path)

    def new_account(self, prefix: str = "box") -> tuple[str, str]:
        """A new user with its own empty mailbox: (address, password)."""
        address = f"{prefix}-{uuid.uuid4().hex[:8]}@{DOMAIN}"
        password = uuid.uuid4().hex
        self.add_user(address, password)
        return address, password

    # -- IMAP helpers ----------------------------------------------------------------------

    def client(self, address: str, password: str):
        """A logged-in imapclient.IMAPClient; the caller logs out."""
        from imapclient import IMAPClient

        client = IMAPClient(self.host, self.port, ssl=False, timeout=10)
        try:
            client.login(address, password)
        except BaseException:
            client.shutdown()
            raise
        return client

    def _session(self, address: str, password: str):
        return _LoggedIn(self.client(address, password))

    def create_folder(self, address: str, password: str, name: str) -> None:
        with self._session(address, password) as client:
            client.create_folder(name)

    def append(self, address: str, password: str, raw: bytes, folder: str = "INBOX",
               flags: tuple | list = (), msg_time=None) -> int | None:
        """APPEND a raw message (delivery); returns its UID (from UIDPLUS' APPENDUID)."""
        with self._session(address, password) as client:
            response = client.append(folder, raw, flags=tuple(flags), msg_time=msg_time)
        match = re.search(rb"\[APPENDUID \d+ (\d+)\]", response or b"")
        return int(match.group(1)) if match else None

    def messages(self, address: str, password: str, folder: str = "INBOX") -> dict[int, bytes]:
        """{uid: raw bytes} of a folder, read with BODY.PEEK[] (sets no flags)."""
        with self._session(address, password) as client:
            client.select_folder(folder, readonly=True)
            fetched = client.fetch(client.search("ALL"), ["BODY.PEEK[]"])
        return {uid: data[b"BODY[]"] for uid, data in fetched.items()}

    def seen_flags(self, address: str, password: str,
                   folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        """{uid: flags} of a folder (e.g. to assert mail was not marked \\Seen).

        Leaves out \\Recent, which is about IMAP sessions, not about the message.
        """
        with self._session(address, password) as client:
            client.select_folder(folder, readonly=True)
            fetched = client.fetch(client.search("ALL"), ["FLAGS"])
        return {
            uid: tuple(flag for flag in data[b"FLAGS"] if flag != b"\\Recent")
            for uid, data in fetched.items()
        }

    def uidvalidity(self, address: str, password: str, folder: str = "INBOX") -> int:
        with self._session(address, password) as client:
            return client.folder_status(folder, ["UIDVALIDITY"])[b"UIDVALIDITY"]

    def change_uidvalidity(self, address: str, password: str,
                           folder: str = "INBOX") -> tuple[int, int]:
        """Give `folder` a new UIDVALIDITY, as a server does after rebuilding its index.

        Runs `doveadm mailbox update --uid-validity OLD+1` on the folder. Messages, their
        flags and their UIDs stay as they were: only UIDVALIDITY changes, so a client must
        throw away what it remembered by UID. Works on INBOX too (IMAP cannot DELETE INBOX,
        so delete-and-recreate can't be used for it). A connection that has the folder
        selected meanwhile is dropped by Dovecot (its next command gets EOF). Returns
        (old, new).
        """
        old = self.uidvalidity(address, password, folder)
        doveadm = find_binary("doveadm", "/usr/bin/doveadm")
        if doveadm is None:
            raise RuntimeError("doveadm not found (Debian's dovecot-core ships it)")
        result = subprocess.run(
            self._command(doveadm, "-c", str(self.config_file), "mailbox", "update",
                          "-u", address, "--uid-validity", str(old + 1), folder),
            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30,
        )
        if result.returncode != 0:
            raise RuntimeError(f"doveadm mailbox update failed: {result.stderr.strip()}")
        new = self.uidvalidity(address, password, folder)
        assert new != old, f"UIDVALIDITY of {folder} did not change ({old})"
        return old, new


class _LoggedIn:
    """`with` block around a logged-in client: logs out (or at least closes) at the end."""

    def __init__(self, client):
        self.client = client

    def __enter__(self):
        return self.client

    def __exit__(self, *exc_info):
        try:
            self.client.logout()
        except Exception:
            self.client.shutdown()


def prepare_base(base: Path, port: int, user: pwd.struct_passwd) -> None:
    """Write the config; make the folders Dovecot wants and the (empty) users folder."""
    for name in ("run", "state", "mail", "users", "users.new"):
        (base / name).mkdir(exist_ok=True)
    group = grp.getgrgid(user.pw_gid).gr_name
    (base / "dovecot.conf").write_text(CONFIG.format(
        base=base, user=user.pw_name, group=group, uid=user.pw_uid, gid=user.pw_gid, port=port,
        username_chars="".join(sorted(USERNAME_CHARS)),
    ))


def launch(binary: str, base: Path, user: pwd.struct_passwd, as_user: str | None) -> Dovecot:
    """Write the config into `base` (owned by the mail user), start Dovecot on a free port."""
    server = Dovecot(base, free_port(), as_user)
    prepare_base(base, server.port, user)
    if as_user:
        for path in [base, *base.rglob("*")]:
            os.chown(path, user.pw_uid, user.pw_gid)
    server.start(binary)
    return server


@pytest.fixture(scope="session")
def dovecot(tmp_path_factory):
    """One Dovecot IMAP server for the whole session: a `Dovecot` (host, port, helpers)."""
    binary = find_binary("dovecot", "/usr/sbin/dovecot")
    if binary is None:
        pytest.skip("dovecot binary not found: apt-get install dovecot-imapd")

    keep = tmp_path_factory.mktemp("dovecot")  # what is left for a post-mortem: the log
    if os.geteuid() == 0:
        # pytest's own folders under /tmp/pytest-of-root are 0700: mailtest could not reach
        # them. So a folder of its own under /tmp, owned by mailtest, removed at the end.
        user = ensure_os_user(MAIL_USER)
        base = Path(tempfile.mkdtemp(prefix="hd-dovecot-", dir="/tmp"))
        os.chmod(base, 0o755)
        as_user = user.pw_name
    else:
        user = pwd.getpwuid(os.geteuid())
        base = keep / "base"
        base.mkdir()
        as_user = None

    server = None
    try:
        server = launch(binary, base, user, as_user)
        yield server
    finally:
        if server is not None:
            server.stop()
        if as_user:
            if (base / "dovecot.log").exists():
                shutil.copy(base / "dovecot.log", keep / "dovecot.log")
            shutil.rmtree(base, ignore_errors=True)
