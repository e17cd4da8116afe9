"""Names other clients made since the shell last looked (issue 24): a completion from
names older than the TTL says the list may be partial and is made again when the
fresh names come."""

from __future__ import annotations

import time

from sdamanager_stub.testing import running_simulator
from smclient.api.address import Address
from smclient.completion import ShellCompleter, usage_hint
from smclient.live_names import LiveNames
from smclient.transport import Connection


def test_names_older_than_the_ttl_are_refreshed_and_the_menu_made_again():
    with running_simulator(backends=1, devices=8) as sim:
        for n in range(5):
            sim.manager.create_token(f"first{n}")
        arrived: list[str] = []
        live = LiveNames(Connection(Address(sim.host, sim.port), timeout=5), ttl=0.2, on_update=arrived.append)
        try:
            live.names("tokens")  # the shell's first look
            deadline = time.monotonic() + 10
            while "tokens" not in arrived:
                assert time.monotonic() < deadline, "the tokens never came"
                time.sleep(0.01)
            completer = ShellCompleter(live)
            assert len(completer.complete("delete token ")) == 5
            assert completer.waiting is None  # fresh: nothing to wait for
            for n in range(4):  # another client makes more
                sim.manager.create_token(f"later{n}")
            time.sleep(0.25)  # the names are now older than the TTL
            hint = "".join(text for _, text in usage_hint("delete token ", live))
            assert "(refreshing: the list may be partial)" in hint
            arrived.clear()
            assert len(completer.complete("delete token ")) == 5  # shown at once, from the cache
            assert completer.waiting == ("delete token ", "tokens")  # and again when the fresh come
            deadline = time.monotonic() + 10
            while "tokens" not in arrived:
                assert time.monotonic() < deadline, "the refresh never came"
                time.sleep(0.01)
            assert len(completer.complete("delete token ")) == 9
        finally:
            live.close()
