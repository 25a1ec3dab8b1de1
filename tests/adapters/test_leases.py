"""Leases: one holder at a time, taken over after expiry, or at once from a dead worker on this machine."""

import asyncio
import os
import socket
import subprocess
import sys

from bot.leases import acquire


async def test_one_holder_then_takeover_after_expiry(store):
    _, factory = store
    assert await acquire(factory, "imap:x", 0.3, owner="hostA:1")
    assert not await acquire(factory, "imap:x", 0.3, owner="hostB:2")
    assert await acquire(factory, "imap:x", 0.3, owner="hostA:1")  # renewal
    await asyncio.sleep(0.4)
    assert await acquire(factory, "imap:x", 5, owner="hostB:2")
    assert not await acquire(factory, "imap:x", 5, owner="hostA:1")


async def test_a_dead_worker_on_this_machine_loses_its_lease_at_once(store):
    _, factory = store
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    dead = f"{socket.gethostname()}:{proc.pid}"
    assert await acquire(factory, "imap:y", 600, owner=dead)
    assert await acquire(factory, "imap:y", 600, owner=f"{socket.gethostname()}:{os.getpid()}")
    alive = f"{socket.gethostname()}:{os.getppid()}"
    assert await acquire(factory, "imap:z", 600, owner=alive)
    assert not await acquire(factory, "imap:z", 600, owner=f"{socket.gethostname()}:{os.getpid()}")
