"""Real servers on loopback for tests and benchmarks: PostgreSQL and Dovecot from Debian's packages.

Both run from a temporary directory with a self-contained configuration, on a free port, as `nobody`
when we are root (PostgreSQL refuses root; Dovecot's helpers run as nobody and must read their files).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

IS_ROOT = os.geteuid() == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_nobody(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "nobody", "--", *cmd] if IS_ROOT else cmd


def _world_readable_tmp(prefix: str) -> Path:
    d = Path(tempfile.mkdtemp(prefix=prefix))
    d.chmod(0o755)
    if IS_ROOT:
        shutil.chown(d, "nobody")
    return d


# -- PostgreSQL ------------------------------------------------------------------------------------
def pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


@dataclass
class Postgres:
    dir: Path
    port: int
    bindir: Path

    @property
    def admin_url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        subprocess.run(_as_nobody([str(self.bindir / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate",
                                   "stop"]), capture_output=True, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


def start_postgres() -> Postgres:
    bindir = pg_bin()
    if bindir is None:
        raise FileNotFoundError("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    d = _world_readable_tmp("bot-pg-")
    port = free_port()
    subprocess.run(_as_nobody([str(bindir / "initdb"), "-D", str(d / "data"), "-U", "postgres", "--auth=trust",
                               "-E", "UTF8", "--locale=C.UTF-8", "-N"]), check=True, capture_output=True, timeout=120)
    subprocess.run(_as_nobody([str(bindir / "pg_ctl"), "-D", str(d / "data"), "-w", "-l", str(d / "log"), "-o",
                               f"-c listen_addresses=127.0.0.1 -p {port} -k {d} -c fsync=off "
                               "-c full_page_writes=off -c max_connections=200",
                               "start"]), check=True, capture_output=True, timeout=120)
    return Postgres(d, port, bindir)


# -- Dovecot ---------------------------------------------------------------------------------------
DOVECOT_CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login{oauth_mechanisms}
default_internal_user = {user}
default_login_user = {user}
first_valid_uid = 0
mail_location = maildir:{d}/mail/%u:LAYOUT=fs
mail_uid = {user}
mail_gid = {group}
protocol imap {{
  mail_max_userip_connections = 50
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
}}
passdb {{
  driver = passwd-file
  args = {d}/passwd
}}
{oauth_passdb}userdb {{
  driver = static
  args = uid={user} gid={group} home={d}/mail/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
"""


@dataclass
class Dovecot:
    dir: Path
    port: int
    proc: subprocess.Popen
    user: str = "bot"
    password: str = "secret"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self) -> str:
        try:
            return (self.dir / "dovecot.log").read_text()
        except OSError:
            return ""


OAUTH_PASSDB = """\
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {d}/oauth2.conf.ext
}}
"""
OAUTH_CONF = """\
introspection_mode = post
introspection_url = {url}
username_attribute = username
active_attribute = active
active_value = true
"""


def start_dovecot(oauth_introspection_url: str | None = None) -> Dovecot:
    """Dovecot on a free loopback port; with `oauth_introspection_url`, it also accepts XOAUTH2 and
    OAUTHBEARER logins, checking each token at that RFC 7662 introspection endpoint."""
    exe = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not Path(exe).exists():
        raise FileNotFoundError("Dovecot is not installed (Debian: apt-get install dovecot-imapd)")
    d = _world_readable_tmp("bot-dovecot-")
    port = free_port()
    user = "nobody" if IS_ROOT else os.environ.get("USER", "nobody")
    group = "nogroup" if IS_ROOT else str(os.getgid())
    for sub in ("run", "state", "mail"):
        (d / sub).mkdir()
        if IS_ROOT:
            shutil.chown(d / sub, "nobody")
    oauth = oauth_introspection_url is not None
    (d / "dovecot.conf").write_text(DOVECOT_CONF.format(
        d=d, port=port, user=user, group=group, oauth_mechanisms=" xoauth2 oauthbearer" if oauth else "",
        oauth_passdb=OAUTH_PASSDB.format(d=d) if oauth else ""))
    (d / "passwd").write_text("bot:{PLAIN}secret::::::\nother:{PLAIN}secret::::::\n")
    files = ["dovecot.conf", "passwd"]
    if oauth:
        (d / "oauth2.conf.ext").write_text(OAUTH_CONF.format(url=oauth_introspection_url))
        files.append("oauth2.conf.ext")
    for f in files:
        (d / f).chmod(0o644)
    proc = subprocess.Popen([exe, "-F", "-c", str(d / "dovecot.conf")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dovecot exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                if s.recv(100).startswith(b"* OK"):
                    return Dovecot(d, port, proc)
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("dovecot did not start within 15 s")
